//! Application state: what every handler can reach, the after-commit
//! notices it sends, and the periodic work of a serving instance. Below
//! `api/` (handlers take it) and above `domain/`; the route tree and the
//! listener are in `server/`.

use std::sync::Arc;

use crate::access::{Principal, Scope};
use crate::auth::AuthState;
use crate::auth::usage::KeyUsage;
use crate::cache::keys::KeyCache;
use crate::cache::{Broadcast, Notice};
use crate::clock::Clock;
use crate::db::{Db, TenantDb};
use crate::domain::effects::Committed;
use crate::domain::people::People;
use crate::error::ApiError;
use crate::secret::Keys;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub key_usage: Arc<KeyUsage>,
    pub key_cache: Arc<KeyCache>,
    /// Revocations to and from other instances (with `REDIS_URL`).
    pub broadcast: Option<Arc<Broadcast>>,
    pub auth: Arc<AuthState>,
    pub max_body_bytes: usize,
    /// Request budgets (`api::rate` spends them).
    pub rates: Arc<Rates>,
}

/// The request budgets and where they are kept.
#[derive(Debug)]
pub struct Rates {
    /// Each tenant's (`limits.rate`) unless its plan says otherwise;
    /// `None` when off.
    pub tenant: Option<crate::config::Rate>,
    /// The plans' budgets (`[plans.<name>]`), by name.
    pub plans: std::collections::BTreeMap<String, crate::config::Plan>,
    /// Each client address's, where no credential opens the operation.
    pub anonymous: Option<crate::config::Rate>,
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub limiter: crate::cache::Limiter,
}

impl Rates {
    /// The tenant's and each credential's budget for a tenant on `plan`: the
    /// plan's, or for a tenant on none (or on a plan the configuration no
    /// longer names) the default tenant budget alone.
    pub fn of_plan(&self, plan: Option<&str>) -> crate::config::Plan {
        match plan.and_then(|name| self.plans.get(name)) {
            Some(plan) => *plan,
            None => crate::config::Plan {
                rate: self.tenant,
                credential_rate: None,
            },
        }
    }

    pub fn from_settings(settings: &crate::config::Settings, limiter: crate::cache::Limiter) -> Self {
        Self {
            tenant: settings.limits.rate,
            plans: settings.limits.plans.clone(),
            anonymous: settings.limits.rate_anonymous,
            trusted_proxies: settings.server.trusted_proxies.clone(),
            limiter,
        }
    }
}

impl AppState {
    /// The tenant handle for `principal`, if it holds `scope` (else 403).
    pub fn tenant_db(&self, principal: &Principal, scope: Scope) -> Result<TenantDb, ApiError> {
        Ok(self.db.scoped(&principal.require(scope)?))
    }

    /// The person flows' view of the state, now.
    pub fn people(&self) -> People<'_> {
        People {
            db: &self.db,
            keys: &self.keys,
            auth: &self.auth,
            now: self.clock.now(),
        }
    }

    /// Applies a committed change's effects — on this instance at once, on
    /// the others through the broadcast (keys, tenants) or their next poll of
    /// the sessions (within about half a second) — and hands back its
    /// result. The one place effects are applied.
    ///
    /// Within a request whose idempotency key's transaction is still open
    /// (`db::idempotency`), the effects wait for its commit.
    pub async fn apply<T>(&self, committed: Committed<T>) -> T {
        let (value, effects) = committed.into_parts();
        if effects.is_empty() {
            return value;
        }
        if let Some(claim) = crate::db::idempotency::current()
            && claim.is_parked()
        {
            let state = self.clone();
            claim.defer(Box::pin(async move { state.apply_effects(effects).await }));
            return value;
        }
        self.apply_effects(effects).await;
        value
    }

    async fn apply_effects(&self, effects: crate::domain::effects::Effects) {
        let now = self.clock.now();
        for id in &effects.sessions_ended {
            self.auth.revocations.revoke(*id, now);
        }
        for (id, generation) in &effects.sessions_bumped {
            self.auth.revocations.require_generation(*id, *generation, now);
        }
        for id in &effects.keys_revoked {
            self.key_cache.forget(*id);
            if let Some(broadcast) = &self.broadcast {
                broadcast.publish(Notice::KeyRevoked(*id)).await;
            }
        }
        if let Some(tenant) = effects.tenant_deleted {
            self.key_cache.forget_tenant(tenant);
            self.db.forget_tenant(tenant);
            if let Some(broadcast) = &self.broadcast {
                broadcast.publish(Notice::TenantDeleted(tenant)).await;
            }
        }
    }

    /// Takes in the sessions other instances ended or changed.
    pub async fn poll_revocations(&self) {
        if let Err(e) = self.auth.revocations.poll(&self.db.platform(), self.clock.now()).await {
            tracing::warn!(error = %e, "polling session revocations failed");
        }
    }

    /// Writes the batched `last_used_at` values; failed writes are retried
    /// on the next flush.
    pub async fn flush_key_usage(&self) {
        let uses = self.key_usage.drain();
        if uses.is_empty() {
            return;
        }
        if let Err(e) = self.db.platform().record_key_uses(&uses).await {
            tracing::warn!(error = %e, keys = uses.len(), "recording API key use failed; will retry");
            self.key_usage.restore(uses);
        }
    }
}
