//! The in-process implementation: a bounded map from [`Key`] to entries of
//! one type, each kept until its own deadline. Every operation takes one
//! short lock and never waits otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::key::Key;

/// What a cache holds. When it is full, entries of the lowest rank go
/// first (after the expired ones).
pub trait Entry: Clone + Send + Sync + 'static {
    type Rank: Ord + Copy;
    /// What the entries are, for the log.
    const NAME: &'static str;
    fn rank(&self, now: DateTime<Utc>) -> Self::Rank;
    /// Whether dropping this entry to make room deserves a warning.
    fn warn_if_evicted(&self, _now: DateTime<Utc>) -> bool {
        false
    }
}

/// What an update does to its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<V> {
    /// Leaves it as it is.
    Keep,
    /// Stores this value, kept until the given time.
    Put(V, DateTime<Utc>),
    /// Drops it.
    Remove,
}

struct Slot<V> {
    value: V,
    until: DateTime<Utc>,
}

/// At most `capacity` entries of type `V`.
pub struct Local<V> {
    capacity: usize,
    slots: Mutex<HashMap<Key, Slot<V>>>,
    /// Bumped by every forget, so a lookup that started before it cannot put
    /// an old value back (see [`Local::put_unless_forgotten`]).
    generation: AtomicU64,
}

impl<V> std::fmt::Debug for Local<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<V: Entry> Local<V> {
    /// At most `capacity` (at least 1) entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            slots: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Slot<V>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry at `key`, unless it has expired.
    pub fn get(&self, key: &Key, now: DateTime<Utc>) -> Option<V> {
        let slots = self.lock();
        let slot = slots.get(key)?;
        (slot.until > now).then(|| slot.value.clone())
    }

    /// How many entries are held (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read before a lookup whose result [`Local::put_unless_forgotten`]
    /// stores.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores `value` until `until`, unless something was forgotten since
    /// `generation` was read.
    pub fn put_unless_forgotten(&self, key: Key, value: V, until: DateTime<Utc>, now: DateTime<Utc>, generation: u64) {
        let mut slots = self.lock();
        if self.generation() != generation {
            return;
        }
        self.insert(&mut slots, key, Slot { value, until }, now);
    }

    /// Reads the entry at `key` (`None` when absent or expired), lets `f`
    /// decide what becomes of it, and applies that, all under one lock.
    pub fn update<R>(&self, key: Key, now: DateTime<Utc>, f: impl FnOnce(Option<&V>) -> (Change<V>, R)) -> R {
        let mut slots = self.lock();
        let current = slots.get(&key).filter(|slot| slot.until > now).map(|slot| &slot.value);
        let (change, answer) = f(current);
        match change {
            Change::Keep => {}
            Change::Put(value, until) => self.insert(&mut slots, key, Slot { value, until }, now),
            Change::Remove => {
                slots.remove(&key);
            }
        }
        answer
    }

    /// Drops the entries `gone` picks, and keeps lookups already under way
    /// from putting them back.
    pub fn forget_where(&self, gone: impl Fn(&Key, &V) -> bool) {
        let mut slots = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        slots.retain(|key, slot| !gone(key, &slot.value));
    }

    fn insert(&self, slots: &mut HashMap<Key, Slot<V>>, key: Key, slot: Slot<V>, now: DateTime<Utc>) {
        if !slots.contains_key(&key) && slots.len() >= self.capacity {
            self.make_room(slots, now);
        }
        slots.insert(key, slot);
    }

    /// Drops expired entries, then enough of the lowest-ranked others for
    /// some headroom, so a flood of new keys costs one sweep per many
    /// inserts.
    fn make_room(&self, slots: &mut HashMap<Key, Slot<V>>, now: DateTime<Utc>) {
        slots.retain(|_, slot| slot.until > now);
        let target = self.capacity.saturating_sub((self.capacity / 10).max(1));
        let excess = slots.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut ranked: Vec<(V::Rank, Key)> = slots.iter().map(|(key, slot)| (slot.value.rank(now), *key)).collect();
        ranked.select_nth_unstable_by_key(excess - 1, |(rank, _)| *rank);
        let mut warned = 0_usize;
        for (_, key) in &ranked[..excess] {
            if let Some(slot) = slots.remove(key) {
                warned += usize::from(slot.value.warn_if_evicted(now));
            }
        }
        if warned > 0 {
            tracing::warn!(
                cache = V::NAME,
                dropped = excess,
                warned,
                capacity = self.capacity,
                "in-process cache full of entries worth keeping; dropped the lowest-ranked"
            );
        } else {
            tracing::debug!(
                cache = V::NAME,
                dropped = excess,
                capacity = self.capacity,
                "in-process cache full; dropped the lowest-ranked live entries"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::key::{Id, Space, Unowned};

    #[derive(Debug, Clone, PartialEq)]
    struct Seen(i64);

    impl Entry for Seen {
        type Rank = i64;
        const NAME: &'static str = "test";
        fn rank(&self, _: DateTime<Utc>) -> i64 {
            self.0
        }
    }

    fn key(n: u8) -> Key {
        Key::unowned(Unowned::AcrossTenants, Space::ThrottleAccount, Id::Digest([n; 32]))
    }

    #[test]
    fn entries_expire_updates_are_atomic_and_forgetting_wins_over_a_late_put() {
        let cache = Local::<Seen>::new(100);
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(1);
        cache.update(key(1), now, |old| {
            assert_eq!(old, None);
            (Change::Put(Seen(1), later), ())
        });
        assert_eq!(cache.get(&key(1), now), Some(Seen(1)));
        assert_eq!(cache.get(&key(1), later), None, "expired at its deadline");
        let seen = cache.update(key(1), now, |old| (Change::Keep, old.cloned()));
        assert_eq!(seen, Some(Seen(1)));
        cache.update(key(1), now, |_| (Change::<Seen>::Remove, ()));
        assert_eq!(cache.get(&key(1), now), None);

        let before = cache.generation();
        cache.forget_where(|_, _| true);
        cache.put_unless_forgotten(key(2), Seen(2), later, now, before);
        assert_eq!(cache.get(&key(2), now), None, "a lookup from before the forget");
        cache.put_unless_forgotten(key(2), Seen(2), later, now, cache.generation());
        assert_eq!(cache.get(&key(2), now), Some(Seen(2)));
    }

    #[test]
    fn a_full_cache_drops_the_expired_then_the_lowest_ranked() {
        let cache = Local::<Seen>::new(10);
        let now = Utc::now();
        let soon = now + chrono::Duration::seconds(1);
        let later = now + chrono::Duration::hours(1);
        cache.put_unless_forgotten(key(0), Seen(100), soon, now, 0);
        for n in 1..10 {
            cache.put_unless_forgotten(key(n), Seen(i64::from(n)), later, now, 0);
        }
        // Full: the expired entry goes first, whatever its rank.
        cache.put_unless_forgotten(key(10), Seen(10), later, soon, 0);
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.get(&key(0), now), None);
        assert_eq!(cache.get(&key(1), soon), Some(Seen(1)));
        // Full of live entries: the lowest rank goes.
        cache.put_unless_forgotten(key(11), Seen(11), later, soon, 0);
        assert!(cache.len() <= 10);
        assert_eq!(cache.get(&key(1), soon), None, "lowest rank dropped");
        assert_eq!(cache.get(&key(2), soon), Some(Seen(2)));
        assert_eq!(cache.get(&key(11), soon), Some(Seen(11)));
    }
}
