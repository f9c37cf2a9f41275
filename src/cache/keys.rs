//! An in-process cache of API key lookups, so a busy key costs one database
//! round trip per `ttl` rather than one per request.
//!
//! Revoking a key or deleting a tenant through this instance forgets its
//! entries at once. Other instances hear of it in one of two ways:
//!
//! * without Redis, they do not: their entries live at most [`BOUND`] (1 s),
//!   which bounds revocation across instances;
//! * with Redis, the revocation is broadcast (`cache::Broadcast`) and every
//!   instance forgets the entries when it hears it, so entries may live the
//!   longer configured `ttl`, but only while the broadcast is known to be
//!   heard: each instance's own heartbeat must have come back through its
//!   subscription within the last [`BOUND`]. Otherwise (Redis down, the
//!   subscription lost or stalled) entries again live at most [`BOUND`], and
//!   when the heartbeat returns the cache starts empty, as revocations may
//!   have been missed meanwhile.
//!
//! Expiry (`expires_at`) is checked on every request against the clock,
//! cached or not. Unknown keys are never cached.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::key::{Id, Key, Space, Unowned};
use super::local::{Entry, Local};
use super::redis_conn::Deadline;
use crate::db::ApiKeyRecord;

/// The most entries kept; past it, expired entries are dropped, then the
/// longest held.
const MAX_ENTRIES: usize = 200_000;

/// How long an entry may serve when revocations are not known to be heard,
/// and how long a heard heartbeat keeps the broadcast counted as heard.
pub const BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// A key's record and when it was read from the database.
#[derive(Debug, Clone)]
struct Cached {
    record: ApiKeyRecord,
    fetched: DateTime<Utc>,
}

impl Entry for Cached {
    type Rank = DateTime<Utc>;
    const NAME: &'static str = "API-key cache";
    fn rank(&self, _: DateTime<Utc>) -> DateTime<Utc> {
        self.fetched
    }
}

/// An API key is looked up by its hash to find its tenant, so its cache key
/// can carry no tenant; the tenant is in the record, which is how a deleted
/// tenant's keys are forgotten.
fn key(hash: &[u8; 32]) -> Key {
    Key::unowned(Unowned::FindsTheTenant, Space::ApiKey, Id::Digest(*hash))
}

#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    bound: Duration,
    entries: Local<Cached>,
    /// Until when the broadcast counts as heard.
    heard_until: Deadline,
}

impl KeyCache {
    /// `ttl` of zero disables the cache. Beyond [`BOUND`] it applies only
    /// while the broadcast is heard.
    pub fn new(ttl: std::time::Duration) -> Self {
        let ttl = Duration::from_std(ttl).unwrap_or_else(|_| Duration::zero());
        let bound = Duration::from_std(BOUND).unwrap_or_else(|_| Duration::zero());
        Self {
            ttl,
            bound: bound.min(ttl),
            entries: Local::new(MAX_ENTRIES),
            heard_until: Deadline::default(),
        }
    }

    /// Whether revocations from other instances are known to reach this one.
    pub fn hears_revocations(&self, at: Instant) -> bool {
        self.heard_until.is_ahead(at)
    }

    /// This instance's heartbeat came back through the broadcast at `at`:
    /// revocations are heard for [`BOUND`] more. After a silence, the cache
    /// is emptied first (revocations may have been missed).
    pub fn heard_heartbeat(&self, at: Instant) {
        if !self.hears_revocations(at) {
            self.entries.forget_where(|_, _| true);
        }
        self.heard_until.set(at + BOUND);
    }

    /// How long entries serve now.
    fn lifetime(&self) -> Duration {
        if self.hears_revocations(Instant::now()) {
            self.ttl
        } else {
            self.bound
        }
    }

    /// The record cached for the key whose hash is `hash`, if it was fetched
    /// less than its lifetime ago.
    pub fn get(&self, hash: &[u8; 32], now: DateTime<Utc>) -> Option<ApiKeyRecord> {
        if self.ttl.is_zero() {
            return None;
        }
        let cached = self.entries.get(&key(hash), now)?;
        (now - cached.fetched < self.lifetime()).then_some(cached.record)
    }

    /// Read before a lookup; pass to [`KeyCache::put`] with its result.
    pub fn generation(&self) -> u64 {
        self.entries.generation()
    }

    /// Caches `record`, unless a key was forgotten since `generation` was read.
    pub fn put(&self, hash: &[u8; 32], record: ApiKeyRecord, now: DateTime<Utc>, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let until = now + self.ttl;
        self.entries
            .put_unless_forgotten(key(hash), Cached { record, fetched: now }, until, now, generation);
    }

    /// Forgets the key `id` (revoked).
    pub fn forget(&self, id: Uuid) {
        self.entries.forget_where(|_, cached| cached.record.id == id);
    }

    /// Forgets every key of `tenant` (deleted).
    pub fn forget_tenant(&self, tenant: Uuid) {
        self.entries.forget_where(|_, cached| cached.record.tenant_id == tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: [u8; 32] = [1; 32];
    const I: [u8; 32] = [2; 32];

    fn record(id: Uuid) -> ApiKeyRecord {
        ApiKeyRecord {
            tenant_id: Uuid::nil(),
            id,
            scopes: String::new(),
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn entries_live_for_the_ttl_and_revocation_forgets_them() {
        let cache = KeyCache::new(std::time::Duration::from_secs(1));
        let now = Utc::now();
        let id = Uuid::new_v4();
        cache.put(&H, record(id), now, cache.generation());
        assert!(cache.get(&H, now + Duration::milliseconds(999)).is_some());
        assert!(cache.get(&H, now + Duration::seconds(1)).is_none());
        cache.put(&H, record(id), now, cache.generation());
        cache.forget(id);
        assert!(cache.get(&H, now).is_none());
        // A lookup that began before the revocation does not repopulate it.
        let before = cache.generation();
        cache.forget(id);
        cache.put(&H, record(id), now, before);
        assert!(cache.get(&H, now).is_none());
        // A tenant's deletion forgets all its keys.
        let tenant = Uuid::new_v4();
        cache.put(
            &H,
            ApiKeyRecord {
                tenant_id: tenant,
                ..record(id)
            },
            now,
            cache.generation(),
        );
        cache.put(&I, record(Uuid::new_v4()), now, cache.generation());
        cache.forget_tenant(tenant);
        assert!(cache.get(&H, now).is_none());
        assert!(cache.get(&I, now).is_some());
        let off = KeyCache::new(std::time::Duration::ZERO);
        off.put(&H, record(id), now, off.generation());
        assert!(off.get(&H, now).is_none());
    }
}

#[cfg(test)]
mod heard {
    use super::*;

    const H: [u8; 32] = [1; 32];

    #[test]
    fn a_long_ttl_serves_only_while_the_broadcast_is_heard() {
        let cache = KeyCache::new(std::time::Duration::from_secs(60));
        let now = Utc::now();
        let id = Uuid::new_v4();
        let record = ApiKeyRecord {
            tenant_id: Uuid::nil(),
            id,
            scopes: String::new(),
            expires_at: None,
            revoked_at: None,
        };
        // Not heard yet: entries serve 1 s.
        cache.put(&H, record.clone(), now, cache.generation());
        assert!(cache.get(&H, now + Duration::milliseconds(999)).is_some());
        assert!(cache.get(&H, now + Duration::seconds(30)).is_none());
        // Heard: the first heartbeat empties the cache, then entries serve the ttl.
        cache.heard_heartbeat(Instant::now());
        assert!(cache.get(&H, now).is_none());
        cache.put(&H, record.clone(), now, cache.generation());
        assert!(cache.get(&H, now + Duration::seconds(30)).is_some());
        assert!(cache.get(&H, now + Duration::seconds(60)).is_none());
        // A heartbeat counts for 1 s.
        let at = Instant::now();
        assert!(cache.hears_revocations(at));
        assert!(!cache.hears_revocations(at + BOUND + std::time::Duration::from_millis(1)));
        // Heard again after a silence: emptied again.
        cache.heard_until.clear();
        assert!(
            cache.get(&H, now + Duration::seconds(30)).is_none(),
            "silence: back to 1 s"
        );
        cache.heard_heartbeat(Instant::now());
        assert!(cache.get(&H, now).is_none(), "emptied when heard again");
    }
}
