//! Access tokens are checked without a database round trip, so ending a
//! session (or changing a member's role) must reach every instance another
//! way. Each instance keeps a small set of sessions whose tokens it must
//! refuse: the instance that ends a session adds it at once; every instance
//! polls the sessions changed since its last poll every
//! [`POLL_INTERVAL`], so the bound across instances is that interval plus one
//! query. An entry is kept until every token issued before the change has
//! expired.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::db::{PlatformDb, SessionChange};

/// How often each instance asks which sessions changed.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);
/// Changes are re-read this far back on every poll, for writes that commit
/// after a later one.
const OVERLAP_SECS: i64 = 5;
/// How long a change matters: the longest access-token lifetime, plus the
/// clock skew tokens are allowed.
fn relevance() -> Duration {
    Duration::seconds(super::jwt::MAX_ACCESS_TTL_SECS + 120)
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Tokens of an older generation are refused; `i64::MAX` once revoked.
    min_generation: i64,
    forget_after: DateTime<Utc>,
}

/// The sessions whose older access tokens this instance refuses.
#[derive(Debug, Default)]
pub struct Revocations {
    entries: RwLock<HashMap<Uuid, Entry>>,
    cursor: Mutex<Option<DateTime<Utc>>>,
}

impl Revocations {
    /// Whether a token of `session` made in `generation` must be refused.
    pub fn refuses(&self, session: Uuid, generation: i64) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(&session).is_some_and(|e| generation < e.min_generation)
    }

    /// Refuses every token of `session` from now on.
    pub fn revoke(&self, session: Uuid, now: DateTime<Utc>) {
        self.apply(session, i64::MAX, now);
    }

    /// Refuses tokens of `session` made before `generation`.
    pub fn require_generation(&self, session: Uuid, generation: i64, now: DateTime<Utc>) {
        self.apply(session, generation, now);
    }

    fn apply(&self, session: Uuid, min_generation: i64, changed_at: DateTime<Utc>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(session).or_insert(Entry {
            min_generation,
            forget_after: changed_at + relevance(),
        });
        entry.min_generation = entry.min_generation.max(min_generation);
        entry.forget_after = entry.forget_after.max(changed_at + relevance());
    }

    fn take(&self, change: &SessionChange) {
        let min = if change.revoked { i64::MAX } else { change.generation };
        self.apply(change.id, min, change.changed_at);
    }

    /// Reads the sessions changed since the last poll (on the first poll,
    /// within the last token lifetime) and forgets entries no token can
    /// still need.
    pub async fn poll(&self, db: &PlatformDb, now: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
        let since = {
            let cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
            match *cursor {
                Some(at) => at - Duration::seconds(OVERLAP_SECS),
                None => now - relevance(),
            }
        };
        let changes = db.session_changes_since(since).await?;
        let newest = changes.iter().map(|c| c.changed_at).max();
        for change in &changes {
            if change.changed_at + relevance() > now {
                self.take(change);
            }
        }
        {
            let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
            let next = newest.unwrap_or(since + Duration::seconds(OVERLAP_SECS)).min(now);
            *cursor = Some(cursor.map_or(next, |c| c.max(next)));
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, e| e.forget_after > now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_sessions_and_old_generations_are_refused() {
        let set = Revocations::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Utc::now();
        assert!(!set.refuses(a, 0));
        set.require_generation(a, 2, now);
        assert!(set.refuses(a, 1));
        assert!(!set.refuses(a, 2));
        set.revoke(b, now);
        assert!(set.refuses(b, 1_000));
        // A later, lower generation never lowers the bar.
        set.require_generation(a, 1, now);
        assert!(set.refuses(a, 1));
    }
}
