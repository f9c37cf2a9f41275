//! The Redis implementation: entries every instance shares, stored as JSON
//! under their typed key's Redis name and expiring with it (`PX`).
//!
//! An update reads the entry, computes the change in Rust and writes it with
//! a compare-and-set script (`GET` equal to what was read, then `SET … PX`
//! or `DEL`), retried with a short random pause when another writer came
//! in between, for up to [`CONTENTION`]. Every operation touches one key
//! (so it needs nothing more of a Redis Cluster than a cluster connection,
//! which the scale-out work adds). Each round trip is bounded by
//! [`ATTEMPT`]; after a failure to reach Redis the store counts as down for
//! [`DOWN_FOR`] and is not asked meanwhile, so an outage costs a request one
//! timeout at most every few seconds rather than one per operation. The
//! caller decides what a failure means (the cache's
//! [`Store`](super::Store) falls back to its in-process copy).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key::Key;
use super::local::Change;
pub use super::redis_conn::ATTEMPT;
use super::redis_conn::{Deadline, Lazy};

/// How long an update keeps retrying while other writers win the race.
pub const CONTENTION: Duration = Duration::from_secs(2);
/// How long Redis is left alone after it could not be reached.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

/// Compare-and-set: `ARGV[1]` is `1` when the entry was read as `ARGV[2]`,
/// `0` when it was absent; `ARGV[3]` empty deletes, else is stored for
/// `ARGV[4]` ms. Returns 1 when applied, 0 when the entry had changed.
const COMPARE_AND_SET: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
";

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("the entry kept changing for {CONTENTION:?}")]
    Contended,
    #[error("redis could not be reached moments ago; not asked again yet")]
    Down,
    #[error("cannot encode the entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One connection (multiplexed, reconnecting) to the Redis that holds the
/// shared entries.
pub struct Shared {
    redis: Lazy,
    prefix: String,
    script: redis::Script,
    /// Until when Redis counts as down.
    down_until: Deadline,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Checks the URL; connecting happens at first use, so a server starts
    /// while Redis is away.
    pub fn new(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            redis: Lazy::open(url)?,
            prefix: prefix.to_owned(),
            script: redis::Script::new(COMPARE_AND_SET),
            down_until: Deadline::default(),
        })
    }

    /// Whether Redis is worth asking now (not known to be down).
    pub fn is_up(&self) -> bool {
        !self.down_until.is_ahead(Instant::now())
    }

    /// Runs one round trip within [`ATTEMPT`]; a failure to reach Redis
    /// marks it down for [`DOWN_FOR`].
    async fn bounded<T>(&self, op: impl Future<Output = Result<T, SharedError>>) -> Result<T, SharedError> {
        if !self.is_up() {
            return Err(SharedError::Down);
        }
        let result = tokio::time::timeout(ATTEMPT, op)
            .await
            .unwrap_or(Err(SharedError::TimedOut(ATTEMPT)));
        if matches!(result, Err(SharedError::Redis(_) | SharedError::TimedOut(_))) {
            self.down_until.set(Instant::now() + DOWN_FOR);
        }
        result
    }

    /// Runs `script` over `keys` with integer `args` in one round trip,
    /// answering the integers it returns.
    pub async fn eval(&self, script: &redis::Script, keys: &[Key], args: &[i64]) -> Result<Vec<i64>, SharedError> {
        self.bounded(async {
            let mut conn = self.redis.conn().await?;
            let mut call = script.prepare_invoke();
            for key in keys {
                call.key(key.redis(&self.prefix));
            }
            for arg in args {
                call.arg(*arg);
            }
            Ok(call.invoke_async(&mut conn).await?)
        })
        .await
    }

    /// The entry at `key`; one that does not decode counts as absent.
    pub async fn get<V: DeserializeOwned>(&self, key: &Key) -> Result<Option<V>, SharedError> {
        let name = key.redis(&self.prefix);
        let raw: Option<String> = self
            .bounded(async {
                let mut conn = self.redis.conn().await?;
                Ok(redis::cmd("GET").arg(&name).query_async(&mut conn).await?)
            })
            .await?;
        Ok(raw.and_then(|raw| serde_json::from_str(&raw).ok()))
    }

    /// Reads the entry at `key`, lets `f` decide what becomes of it and
    /// writes that unless another writer came first, in which case it
    /// starts over (so `f` may run more than once).
    pub async fn update<V, R>(
        &self,
        key: &Key,
        now: DateTime<Utc>,
        mut f: impl FnMut(Option<&V>) -> (Change<V>, R),
    ) -> Result<R, SharedError>
    where
        V: Serialize + DeserializeOwned,
    {
        let name = key.redis(&self.prefix);
        let give_up = Instant::now() + CONTENTION;
        loop {
            let raw: Option<String> = self
                .bounded(async {
                    let mut conn = self.redis.conn().await?;
                    Ok(redis::cmd("GET").arg(&name).query_async(&mut conn).await?)
                })
                .await?;
            let current: Option<V> = raw.as_deref().and_then(|raw| serde_json::from_str(raw).ok());
            let (change, answer) = f(current.as_ref());
            let (value, ttl_ms) = match change {
                Change::Keep => return Ok(answer),
                Change::Remove if raw.is_none() => return Ok(answer),
                Change::Remove => (String::new(), 0),
                Change::Put(value, until) => {
                    let ms = (until - now).num_milliseconds().max(1);
                    (serde_json::to_string(&value)?, ms)
                }
            };
            let applied: i64 = self
                .bounded(async {
                    let mut conn = self.redis.conn().await?;
                    let mut call = self.script.key(&name);
                    call.arg(if raw.is_some() { "1" } else { "0" })
                        .arg(raw.as_deref().unwrap_or(""))
                        .arg(&value)
                        .arg(ttl_ms);
                    Ok(call.invoke_async(&mut conn).await?)
                })
                .await?;
            if applied == 1 {
                return Ok(answer);
            }
            if Instant::now() >= give_up {
                return Err(SharedError::Contended);
            }
            // Another writer won: let the others through before reading again.
            tokio::time::sleep(Duration::from_micros(rand::random_range(100..2_000))).await;
        }
    }
}
