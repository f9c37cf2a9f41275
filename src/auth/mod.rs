//! Credentials in, [`Principal`] out. This is the only module that makes a
//! `Principal` from a credential; the vocabulary (`Principal`, `Grant`,
//! `Scope`, `Role`) lives in `access/`.

pub mod api_key;
pub mod cache;
mod extract;
pub mod jwt;
pub mod password;
pub mod refresh_token;
pub mod revocation;
pub mod sign_in;
pub mod signup_limit;
pub mod throttle;
pub mod usage;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use crate::access::{Principal, Role, Scopes};

pub use extract::{Auth, PersonAuth};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// An API key in the `X-API-Key` header. Keys look like `tnt_` followed by
/// 30 letters and digits; each is bound to one tenant and carries scopes.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header", checker = "check_api_key")]
pub struct ApiKeyAuth(pub Principal);

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    extract::single_credential(req)?;
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
            // Boxed: the lookup's future is large and every request's future
            // would otherwise carry (and move) it, cached or not.
            let Some(record) = Box::pin(state.db.platform().api_key_by_hash(&hash)).await? else {
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
    Ok(Principal::for_key(
        record.tenant_id,
        record.id,
        Scopes::from_stored(&record.scopes),
    ))
}

/// An access token (a JWT from `/v1/auth/login`, `/signup` or `/refresh`)
/// in `Authorization: Bearer`. It names a person, a tenant, their role there
/// and a session; lifetime at most 15 minutes.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    extract::single_credential(req)?;
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "application state missing"))?;
    Ok(authenticate_bearer(state, &bearer.token)?)
}

/// Turns an access token into a principal: signature, issuer, audience and
/// expiry (no database round trip), then the session revocation set.
pub fn authenticate_bearer(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let now = state.clock.now();
    let claims = state
        .auth
        .keyring
        .verify(token, &state.auth.tokens, now)
        .map_err(|e| ApiError::unauthenticated(format!("the access token is not valid: {e}")))?;
    if state.auth.revocations.refuses(claims.sid, claims.generation) {
        return Err(ApiError::unauthenticated(
            "the access token's session has ended or changed; refresh or sign in again",
        ));
    }
    let role =
        Role::parse(&claims.role).ok_or_else(|| ApiError::unauthenticated("the access token names no known role"))?;
    crate::telemetry::record_tenant(claims.tid);
    Ok(Principal::for_person(claims.tid, claims.sub, claims.sid, role))
}

/// What person authentication needs, shared by every request.
#[derive(Debug)]
pub struct AuthState {
    pub keyring: jwt::Keyring,
    pub tokens: jwt::TokenSettings,
    pub revocations: revocation::Revocations,
    pub passwords: password::PasswordHasher,
    pub throttle: throttle::LoginThrottle,
    pub signups: signup_limit::SignupLimiter,
    pub sessions: crate::config::SessionLifetimes,
}

/// Waiting password checks beyond which a login is answered 503 at once.
const PASSWORD_QUEUE: usize = 64;

impl AuthState {
    pub fn from_settings(
        settings: &crate::config::Settings,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, jwt::KeyError> {
        let sessions = crate::config::SessionLifetimes {
            idle: chrono::Duration::days(settings.session_idle_days),
            absolute: chrono::Duration::days(settings.session_max_days),
            ..Default::default()
        };
        Ok(Self {
            keyring: jwt::Keyring::load_or_create(&settings.jwt_key_dir, now)?,
            tokens: jwt::TokenSettings {
                issuer: settings.jwt_issuer.clone(),
                audience: settings.jwt_audience.clone(),
                ttl: chrono::Duration::seconds(settings.access_token_ttl_secs),
            },
            revocations: revocation::Revocations::default(),
            passwords: password::PasswordHasher::new(password::PasswordHasher::default_concurrency(), PASSWORD_QUEUE),
            throttle: throttle::LoginThrottle::default(),
            signups: signup_limit::SignupLimiter::new(settings.signup_limits),
            sessions,
        })
    }
}
