//! A short-lived in-process cache of API key lookups, so a busy key costs
//! one database round trip per `ttl` rather than one per request.
//!
//! Revocation through this instance forgets the key at once; any other
//! instance stops accepting it when its entry expires, within `ttl`
//! (default 1 s, which bounds revocation across instances). Expiry
//! (`expires_at`) is checked on every request against the clock, cached or not.
//! Unknown keys are never cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::db::ApiKeyRecord;

/// The most entries kept; past it, expired entries are dropped, then all.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (ApiKeyRecord, DateTime<Utc>)>>,
    /// Bumped by every `forget`, so a lookup that started before a revocation
    /// cannot put the old record back.
    generation: AtomicU64,
}

impl KeyCache {
    /// `ttl` of zero disables the cache.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl: Duration::from_std(ttl).unwrap_or_else(|_| Duration::zero()),
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
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
        let entries = self.lock();
        let (record, fetched) = entries.get(hash)?;
        (now - *fetched < self.ttl).then(|| record.clone())
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

    /// Forgets the key `id` (after it was revoked through this instance).
    pub fn forget(&self, id: Uuid) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (record, _)| record.id != id);
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
        let off = KeyCache::new(std::time::Duration::ZERO);
        off.put("h", record(id), now, off.generation());
        assert!(off.get("h", now).is_none());
    }
}
