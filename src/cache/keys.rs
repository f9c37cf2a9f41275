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

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::db::ApiKeyRecord;

/// The most entries kept; past it, expired entries are dropped, then all.
const MAX_ENTRIES: usize = 200_000;

/// How long an entry may serve when revocations are not known to be heard,
/// and how long a heard heartbeat keeps the broadcast counted as heard.
pub const BOUND: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    bound: Duration,
    entries: Mutex<HashMap<String, (ApiKeyRecord, DateTime<Utc>)>>,
    /// Bumped by every `forget`, so a lookup that started before a revocation
    /// cannot put the old record back.
    generation: AtomicU64,
    /// Until when the broadcast counts as heard, in microseconds since `epoch`
    /// (0: not heard).
    heard_until: AtomicU64,
    epoch: Instant,
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
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            heard_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether revocations from other instances are known to reach this one.
    pub fn hears_revocations(&self, at: Instant) -> bool {
        self.micros(at) < self.heard_until.load(Ordering::Acquire)
    }

    /// This instance's heartbeat came back through the broadcast at `at`:
    /// revocations are heard for [`BOUND`] more. After a silence, the cache
    /// is emptied first (revocations may have been missed).
    pub fn heard_heartbeat(&self, at: Instant) {
        if !self.hears_revocations(at) {
            self.forget_where(|_| true);
        }
        self.heard_until.store(self.micros(at + BOUND), Ordering::Release);
    }

    /// How long entries serve now.
    fn lifetime(&self) -> Duration {
        if self.hears_revocations(Instant::now()) {
            self.ttl
        } else {
            self.bound
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ApiKeyRecord, DateTime<Utc>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record cached for `hash`, if it was fetched less than `ttl` ago.
    pub fn get(&self, hash: &str, now: DateTime<Utc>) -> Option<ApiKeyRecord> {
        if self.ttl.is_zero() {
            return None;
        }
        let lifetime = self.lifetime();
        let entries = self.lock();
        let (record, fetched) = entries.get(hash)?;
        (now - *fetched < lifetime).then(|| record.clone())
    }

    /// Read before a lookup; pass to [`KeyCache::put`] with its result.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `record`, unless a key was forgotten since `generation` was read.
    pub fn put(&self, hash: &str, record: ApiKeyRecord, now: DateTime<Utc>, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if self.generation() != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (_, fetched)| now - *fetched < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash.to_owned(), (record, now));
    }

    /// Forgets the key `id` (revoked).
    pub fn forget(&self, id: Uuid) {
        self.forget_where(|record| record.id == id);
    }

    /// Forgets every key of `tenant` (deleted).
    pub fn forget_tenant(&self, tenant: Uuid) {
        self.forget_where(|record| record.tenant_id == tenant);
    }

    /// Forgets the entries `gone` picks, and keeps lookups already under way
    /// from putting them back.
    fn forget_where(&self, gone: impl Fn(&ApiKeyRecord) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (record, _)| !gone(record));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        cache.put("h", record(id), now, cache.generation());
        assert!(cache.get("h", now + Duration::milliseconds(999)).is_some());
        assert!(cache.get("h", now + Duration::seconds(1)).is_none());
        cache.put("h", record(id), now, cache.generation());
        cache.forget(id);
        assert!(cache.get("h", now).is_none());
        // A lookup that began before the revocation does not repopulate it.
        let before = cache.generation();
        cache.forget(id);
        cache.put("h", record(id), now, before);
        assert!(cache.get("h", now).is_none());
        // A tenant's deletion forgets all its keys.
        let tenant = Uuid::new_v4();
        cache.put(
            "h",
            ApiKeyRecord {
                tenant_id: tenant,
                ..record(id)
            },
            now,
            cache.generation(),
        );
        cache.put("i", record(Uuid::new_v4()), now, cache.generation());
        cache.forget_tenant(tenant);
        assert!(cache.get("h", now).is_none());
        assert!(cache.get("i", now).is_some());
        let off = KeyCache::new(std::time::Duration::ZERO);
        off.put("h", record(id), now, off.generation());
        assert!(off.get("h", now).is_none());
    }
}

#[cfg(test)]
mod heard {
    use super::*;

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
        cache.put("h", record.clone(), now, cache.generation());
        assert!(cache.get("h", now + Duration::milliseconds(999)).is_some());
        assert!(cache.get("h", now + Duration::seconds(30)).is_none());
        // Heard: the first heartbeat empties the cache, then entries serve the ttl.
        cache.heard_heartbeat(Instant::now());
        assert!(cache.get("h", now).is_none());
        cache.put("h", record.clone(), now, cache.generation());
        assert!(cache.get("h", now + Duration::seconds(30)).is_some());
        assert!(cache.get("h", now + Duration::seconds(60)).is_none());
        // A heartbeat counts for 1 s.
        let at = Instant::now();
        assert!(cache.hears_revocations(at));
        assert!(!cache.hears_revocations(at + BOUND + std::time::Duration::from_millis(1)));
        // Heard again after a silence: emptied again.
        cache.heard_until.store(0, Ordering::Release);
        assert!(
            cache.get("h", now + Duration::seconds(30)).is_none(),
            "silence: back to 1 s"
        );
        cache.heard_heartbeat(Instant::now());
        assert!(cache.get("h", now).is_none(), "emptied when heard again");
    }
}
