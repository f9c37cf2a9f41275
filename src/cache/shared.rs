//! The Redis implementation: entries every instance shares, stored as JSON
//! under their typed key's Redis name and expiring with it (`PX`).
//!
//! An update reads the entry, computes the change in Rust and writes it with
//! a compare-and-set script (`GET` equal to what was read, then `SET … PX`
//! or `DEL`), retried when another instance wrote in between. Every
//! operation touches one key, so it works on one Redis and on a Cluster
//! alike. Each attempt is bounded by [`ATTEMPT`]; the caller decides what a
//! failure means (the cache's [`Store`](super::Store) falls back to its
//! in-process copy).

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::key::Key;
use super::local::Change;

/// How long one operation on Redis may take.
pub const ATTEMPT: Duration = Duration::from_millis(500);
/// Writes lost to another instance's before an update gives up.
const MAX_CONFLICTS: usize = 16;

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
    #[error("the entry kept changing under {MAX_CONFLICTS} attempts")]
    Contended,
    #[error("cannot encode the entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One connection (multiplexed, reconnecting) to the Redis that holds the
/// shared entries.
pub struct Shared {
    client: redis::Client,
    prefix: String,
    conn: Mutex<Option<ConnectionManager>>,
    script: redis::Script,
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
            client: redis::Client::open(url)?,
            prefix: prefix.to_owned(),
            conn: Mutex::new(None),
            script: redis::Script::new(COMPARE_AND_SET),
        })
    }

    async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ATTEMPT))
            .set_response_timeout(Some(ATTEMPT))
            .set_number_of_retries(1);
        let conn = self.client.get_connection_manager_with_config(config).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn bounded<T>(&self, op: impl Future<Output = Result<T, SharedError>>) -> Result<T, SharedError> {
        tokio::time::timeout(ATTEMPT, op)
            .await
            .unwrap_or(Err(SharedError::TimedOut(ATTEMPT)))
    }

    /// The entry at `key`; one that does not decode counts as absent.
    pub async fn get<V: DeserializeOwned>(&self, key: &Key) -> Result<Option<V>, SharedError> {
        let name = key.redis(&self.prefix);
        let raw: Option<String> = self
            .bounded(async {
                let mut conn = self.conn().await?;
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
        for _ in 0..MAX_CONFLICTS {
            let raw: Option<String> = self
                .bounded(async {
                    let mut conn = self.conn().await?;
                    Ok(redis::cmd("GET").arg(&name).query_async(&mut conn).await?)
                })
                .await?;
            let current: Option<V> = raw.as_deref().and_then(|raw| serde_json::from_str(raw).ok());
            let (change, answer) = f(current.as_ref());
            let (value, ttl_ms) = match change {
                Change::Keep => return Ok(answer),
                Change::Remove => (String::new(), 0),
                Change::Put(value, until) => {
                    let ms = (until - now).num_milliseconds().max(1);
                    (serde_json::to_string(&value)?, ms)
                }
            };
            let applied: i64 = self
                .bounded(async {
                    let mut conn = self.conn().await?;
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
        }
        Err(SharedError::Contended)
    }
}
