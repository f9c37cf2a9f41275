//! The cache room: one interface over two implementations, and the
//! broadcast beside them. It imports `access/` (and `db/`'s record types
//! it holds), nothing above.
//!
//! * [`key`]: typed keys. Every entry names its owner (a tenant, or why it
//!   has none), its space and its id; a tenant's Redis keys are hash-tagged
//!   `{t:<uuid>}` so they can live on Redis Cluster.
//! * [`Store`]: one cache of entries of one type, either [`local`] (in
//!   process, bounded, each entry with its own deadline) or [`shared`]
//!   (Redis, with an in-process copy to fall back on while Redis cannot
//!   answer, and for a few seconds after it could not). Reads and atomic
//!   read-modify-write updates, one key each.
//! * [`keys`]: the API-key cache, a near cache kept in process on every
//!   instance (a lookup must cost no round trip), invalidated through
//!   [`broadcast`].
//! * [`broadcast`]: Redis pub/sub carrying revocations and heartbeats.
//! * [`limiter`]: request budgets (GCRA), one Lua script per request in
//!   Redis, in process otherwise.
//!
//! The sign-in throttle (`auth::throttle`) keeps its counts in a [`Store`].

pub mod broadcast;
pub mod key;
pub mod keys;
pub mod limiter;
pub mod local;
mod redis_conn;
pub mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use broadcast::{Broadcast, HEARTBEAT, Notice};
pub use key::{Id, Key, Owner, Space, Unowned};
pub use limiter::{Budget, Limiter, Verdict};
pub use local::{Change, Entry, Local};
pub use shared::Shared;

/// How often a store that cannot reach Redis says so in the log.
const WARN_EVERY_SECS: i64 = 10;

/// One cache of `V` entries.
#[derive(Debug)]
pub enum Store<V> {
    /// In this process only.
    Local(Local<V>),
    /// In Redis, shared by every instance; while Redis cannot answer, the
    /// in-process `fallback` serves instead (each instance on its own until
    /// Redis is back, when the shared entries are used again and the
    /// fallback's are left to expire).
    Shared {
        redis: Arc<Shared>,
        fallback: Local<V>,
        /// When the last warning about Redis was logged (Unix seconds).
        warned_at: AtomicI64,
    },
}

impl<V: Entry + Serialize + DeserializeOwned> Store<V> {
    /// In process, at most `capacity` entries.
    pub fn local(capacity: usize) -> Self {
        Store::Local(Local::new(capacity))
    }

    /// In Redis, falling back to at most `capacity` entries in process.
    pub fn shared(redis: Arc<Shared>, capacity: usize) -> Self {
        Store::Shared {
            redis,
            fallback: Local::new(capacity),
            warned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// The entry at `key`, unless absent or expired.
    pub async fn get(&self, key: &Key, now: DateTime<Utc>) -> Option<V> {
        match self {
            Store::Local(local) => local.get(key, now),
            Store::Shared { fallback, .. } if !self.redis_up() => fallback.get(key, now),
            Store::Shared {
                redis,
                fallback,
                warned_at,
            } => match redis.get(key).await {
                Ok(value) => value,
                Err(error) => {
                    warn_fallback(warned_at, now, &error);
                    fallback.get(key, now)
                }
            },
        }
    }

    /// Reads the entry at `key`, lets `f` decide what becomes of it and
    /// applies that atomically; answers what `f` answered. `f` may run more
    /// than once (a shared entry another instance changed meanwhile), so it
    /// must only compute.
    pub async fn update<R>(&self, key: Key, now: DateTime<Utc>, mut f: impl FnMut(Option<&V>) -> (Change<V>, R)) -> R {
        match self {
            Store::Local(local) => local.update(key, now, f),
            Store::Shared { fallback, .. } if !self.redis_up() => fallback.update(key, now, f),
            Store::Shared {
                redis,
                fallback,
                warned_at,
            } => match redis.update(&key, now, &mut f).await {
                Ok(answer) => answer,
                Err(error) => {
                    warn_fallback(warned_at, now, &error);
                    fallback.update(key, now, f)
                }
            },
        }
    }

    fn redis_up(&self) -> bool {
        match self {
            Store::Local(_) => false,
            Store::Shared { redis, .. } => redis.is_up(),
        }
    }

    /// The in-process entries (the fallback's, for a shared store).
    pub fn local_len(&self) -> usize {
        match self {
            Store::Local(local) => local.len(),
            Store::Shared { fallback, .. } => fallback.len(),
        }
    }
}

fn warn_fallback(warned_at: &AtomicI64, now: DateTime<Utc>, error: &shared::SharedError) {
    let now = now.timestamp();
    let last = warned_at.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= WARN_EVERY_SECS
        && warned_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(%error, "the shared cache cannot reach Redis; counting in process meanwhile");
    }
}
