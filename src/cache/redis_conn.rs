//! Pieces the Redis side of the cache shares: one lazily opened, reconnecting
//! connection, and a deadline many tasks read without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

/// How long one round trip to Redis may take.
pub const ATTEMPT: Duration = Duration::from_millis(500);

/// A Redis client whose multiplexed connection is opened at first use (so a
/// server starts while Redis is away) and then shared.
pub struct Lazy {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
}

impl Lazy {
    /// Checks the URL; connects on the first [`Lazy::conn`].
    pub fn open(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: Mutex::new(None),
        })
    }

    /// The shared connection, opened now if it is not yet.
    pub async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
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

    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

/// A moment stored atomically (microseconds since the value was made; 0
/// means none), for "heard until" and "down until".
#[derive(Debug)]
pub struct Deadline {
    at: AtomicU64,
    epoch: Instant,
}

impl Default for Deadline {
    fn default() -> Self {
        Self {
            at: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Deadline {
    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether `at` is before the deadline.
    pub fn is_ahead(&self, at: Instant) -> bool {
        self.micros(at) < self.at.load(Ordering::Acquire)
    }

    pub fn set(&self, until: Instant) {
        self.at.store(self.micros(until), Ordering::Release);
    }

    /// No deadline: every moment is past it.
    #[cfg(test)]
    pub fn clear(&self) {
        self.at.store(0, Ordering::Release);
    }
}
