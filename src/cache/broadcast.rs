//! The broadcast that keeps instances' caches agreeing.
//!
//! Revocations are broadcast between instances over Redis pub/sub (when
//! `REDIS_URL` is set), so each instance's API-key cache can keep entries
//! longer than the 1 s bound that holds without it (see [`super::keys`]).
//!
//! One channel, `<TENANTRY_REDIS_PREFIX>revocations`, carries four kinds of
//! message: `key:<id>` (a key was revoked), `tenant:<id>` (a tenant was
//! deleted, and with it its keys), `moved:<id>` (a tenant's data moved: its
//! placement is read again, sooner than the placement poll) and
//! `hb:<instance>` (a heartbeat). Every
//! instance publishes its heartbeat every [`HEARTBEAT`] and counts the
//! broadcast as heard only while its own heartbeat comes back through its
//! subscription: that proves the whole path, publish to delivery, works.
//!
//! A revocation is published once it is committed. If Redis cannot take it,
//! publishing is retried until it succeeds or until every cache entry that
//! could hold the key has expired (the configured lifetime), whichever comes
//! first; meanwhile the other instances still hear their own heartbeats only
//! if they reach Redis, which this instance cannot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::AsyncCommands;
use uuid::Uuid;

use super::keys::KeyCache;
use super::redis_conn::{ATTEMPT, Lazy};

/// How often each instance publishes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// What a message on the channel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    KeyRevoked(Uuid),
    TenantDeleted(Uuid),
    /// A tenant's data moved, or its plan changed: its placement and plan
    /// are read again.
    TenantMoved(Uuid),
    Heartbeat(u64),
}

impl Notice {
    fn encode(self) -> String {
        match self {
            Notice::KeyRevoked(id) => format!("key:{id}"),
            Notice::TenantDeleted(id) => format!("tenant:{id}"),
            Notice::TenantMoved(id) => format!("moved:{id}"),
            Notice::Heartbeat(instance) => format!("hb:{instance:016x}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, value) = text.split_once(':')?;
        match kind {
            "key" => Uuid::parse_str(value).ok().map(Notice::KeyRevoked),
            "tenant" => Uuid::parse_str(value).ok().map(Notice::TenantDeleted),
            "moved" => Uuid::parse_str(value).ok().map(Notice::TenantMoved),
            "hb" => u64::from_str_radix(value, 16).ok().map(Notice::Heartbeat),
            _ => None,
        }
    }
}

/// This instance's end of the channel.
pub struct Broadcast {
    redis: Lazy,
    channel: String,
    instance: u64,
    /// How long a revocation is worth retrying (the cache's longest lifetime).
    retry_for: Duration,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("channel", &self.channel)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Broadcast {
    /// Checks the URL; connecting happens in the background, so a server
    /// starts (with the 1 s bound) while Redis is away.
    pub fn new(url: &str, prefix: &str, retry_for: Duration) -> Result<Self, redis::RedisError> {
        Ok(Self {
            redis: Lazy::open(url)?,
            channel: format!("{prefix}revocations"),
            instance: rand::random(),
            retry_for,
        })
    }

    async fn publish_once(&self, notice: Notice) -> Result<(), String> {
        let attempt = async {
            let mut conn = self.redis.conn().await?;
            conn.publish::<_, _, ()>(&self.channel, notice.encode()).await
        };
        match tokio::time::timeout(ATTEMPT * 2, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    }

    /// Tells every instance of a revocation; retried in the background when
    /// Redis cannot take it now.
    pub async fn publish(self: &Arc<Self>, notice: Notice) {
        let Err(error) = self.publish_once(notice).await else {
            return;
        };
        tracing::warn!(%error, ?notice, "broadcasting a revocation failed; retrying");
        let this = self.clone();
        tokio::spawn(async move {
            let until = Instant::now() + this.retry_for;
            while Instant::now() < until {
                tokio::time::sleep(HEARTBEAT).await;
                if this.publish_once(notice).await.is_ok() {
                    tracing::info!(?notice, "revocation broadcast after a retry");
                    return;
                }
            }
            tracing::warn!(
                ?notice,
                "gave up broadcasting a revocation: every cached entry has expired"
            );
        });
    }

    /// Publishes this instance's heartbeat, forever.
    pub async fn beat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.publish_once(Notice::Heartbeat(self.instance)).await {
                tracing::debug!(%error, "publishing the heartbeat failed");
            }
        }
    }

    /// Listens on the channel, forever, reconnecting after a loss, and
    /// applies what it hears to `cache` (and a moved tenant's to `moved`).
    pub async fn listen(self: Arc<Self>, cache: Arc<KeyCache>, moved: Arc<dyn Fn(Uuid) + Send + Sync>) {
        loop {
            match tokio::time::timeout(ATTEMPT * 2, self.subscribe()).await {
                Ok(Ok(mut messages)) => {
                    tracing::debug!(channel = %self.channel, "listening for revocations");
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else {
                            continue;
                        };
                        match Notice::decode(&text) {
                            Some(Notice::KeyRevoked(id)) => cache.forget(id),
                            Some(Notice::TenantDeleted(id)) => cache.forget_tenant(id),
                            Some(Notice::TenantMoved(id)) => moved(id),
                            Some(Notice::Heartbeat(instance)) if instance == self.instance => {
                                cache.heard_heartbeat(Instant::now());
                            }
                            Some(Notice::Heartbeat(_)) => {}
                            None => tracing::debug!(%text, "ignoring an unknown message"),
                        }
                    }
                    tracing::warn!("the revocation subscription ended; reconnecting");
                }
                Ok(Err(error)) => tracing::warn!(%error, "subscribing to revocations failed; retrying"),
                Err(_) => tracing::warn!("subscribing to revocations timed out; retrying"),
            }
            tokio::time::sleep(HEARTBEAT).await;
        }
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSubStream, redis::RedisError> {
        let mut pubsub = self.redis.client().get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        Ok(pubsub.into_on_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_junk_is_ignored() {
        let id = Uuid::new_v4();
        for notice in [
            Notice::KeyRevoked(id),
            Notice::TenantDeleted(id),
            Notice::TenantMoved(id),
            Notice::Heartbeat(u64::MAX),
            Notice::Heartbeat(0),
        ] {
            assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        }
        for junk in ["", "key", "key:", "key:nope", "hb:zz", "other:1", ":"] {
            assert_eq!(Notice::decode(junk), None, "{junk}");
        }
    }
}
