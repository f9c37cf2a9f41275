//! Credentials in, [`Principal`] out. This is the only module that makes a
//! `Principal`, and a [`Grant`] (proof that a principal holds a scope) is
//! the only way to reach tenant data (`Db::scoped`).

pub mod api_key;
pub mod jwt;
pub mod password;
pub mod throttle;
pub mod cache;
mod scope;
pub mod usage;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::ApiKey;
use uuid::Uuid;

pub use scope::{Scope, Scopes};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A request authenticated with an API key.
    ApiKey { id: Uuid },
    /// The operator at the command line.
    Operator,
}

/// An authenticated caller, bound to exactly one tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    tenant_id: Uuid,
    actor: Actor,
    scopes: Scopes,
}

impl Principal {
    /// The operator acting on one tenant from the command line (every scope).
    pub fn operator(tenant_id: Uuid) -> Self {
        Self {
            tenant_id,
            actor: Actor::Operator,
            scopes: Scopes::all(),
        }
    }

    /// A principal for the benchmark's copy of get-by-id without the key
    /// check (`--features bench` only), to measure what authentication costs.
    #[cfg(feature = "bench")]
    pub fn unauthenticated_bench(tenant_id: Uuid) -> Self {
        Self {
            tenant_id,
            actor: Actor::Operator,
            scopes: Scopes::all(),
        }
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn scopes(&self) -> Scopes {
        self.scopes
    }

    /// Proof that this principal may act with `scope`, or a 403.
    pub fn require(&self, scope: Scope) -> Result<Grant<'_>, ApiError> {
        if self.scopes.contains(scope) {
            Ok(Grant { principal: self })
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this credential lacks the `{scope}` scope"),
            ))
        }
    }
}

impl Principal {
    /// For the few operations any credential of the tenant may call, whatever
    /// its scopes: reading its own tenant and introspecting itself.
    pub fn authenticated(&self) -> Grant<'_> {
        Grant { principal: self }
    }
}

/// Proof that a principal holds the scope an operation needs. Made only by
/// [`Principal::require`] and [`Principal::authenticated`].
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    principal: &'a Principal,
}

impl<'a> Grant<'a> {
    pub fn tenant_id(&self) -> Uuid {
        self.principal.tenant_id
    }
}

/// An API key in the `X-API-Key` header. Keys look like `tnt_` followed by
/// 30 letters and digits; each is bound to one tenant and carries scopes.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header", checker = "check_api_key")]
pub struct ApiKeyAuth(pub Principal);

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "application state missing"))?;
    Ok(authenticate(state, &key.key).await?)
}

/// Turns a presented API key into a principal: format and checksum first (no
/// lookup for a key that cannot exist), then the key cache or one indexed
/// lookup by hash.
pub async fn authenticate(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    match api_key::check_format(presented) {
        Ok(()) => {}
        Err(api_key::FormatError::Malformed) => {
            return Err(ApiError::unauthenticated("the API key is malformed"));
        }
        Err(api_key::FormatError::BadChecksum) => {
            return Err(ApiError::unauthenticated(
                "the API key's checksum does not match; it was mistyped or truncated",
            ));
        }
    }
    let hash = api_key::hash(&state.keys.api_key, presented);
    let now = state.clock.now();
    let record = match state.key_cache.get(&hash, now) {
        Some(record) => record,
        None => {
            let generation = state.key_cache.generation();
            let Some(record) = state.db.platform().api_key_by_hash(&hash).await? else {
                return Err(ApiError::unauthenticated("unknown API key"));
            };
            state.key_cache.put(&hash, record.clone(), now, generation);
            record
        }
    };
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthenticated("the API key has been revoked"));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::unauthenticated("the API key has expired"));
    }
    state.key_usage.record(record.tenant_id, record.id, now);
    crate::telemetry::record_tenant(record.tenant_id);
    Ok(Principal {
        tenant_id: record.tenant_id,
        actor: Actor::ApiKey { id: record.id },
        scopes: Scopes::from_stored(&record.scopes),
    })
}
