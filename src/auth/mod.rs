//! Credentials in, [`Principal`] out. This is the only module that makes a
//! `Principal` from a credential; the vocabulary (`Principal`, `Grant`,
//! `Scope`, `Role`) lives in `access/`.

pub mod api_key;
pub mod jwt;
pub mod password;
pub mod refresh_token;
pub mod revocation;
pub mod sign_in;
pub mod signup_limit;
pub mod throttle;
pub mod usage;

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::access::{Principal, Role, Scopes};
use crate::db::Db;
use crate::secret::Keys;

/// Why a credential was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Missing, malformed, unknown, expired or revoked: a 401 at the edge.
    #[error("{0}")]
    Credential(Cow<'static, str>),
    /// The key could not be looked up.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// What checking an API key needs: the hash key, the key cache, the
/// database behind it and the batched record of use.
#[derive(Clone, Copy)]
pub struct KeyCheck<'a> {
    pub keys: &'a Keys,
    pub cache: &'a crate::cache::keys::KeyCache,
    pub db: &'a Db,
    pub usage: &'a usage::KeyUsage,
}

/// Turns a presented API key into a principal: format and checksum first (no
/// lookup for a key that cannot exist), then the key cache or one indexed
/// lookup by hash.
pub async fn authenticate(keys: &KeyCheck<'_>, presented: &str, now: DateTime<Utc>) -> Result<Principal, Refused> {
    match api_key::check_format(presented) {
        Ok(()) => {}
        Err(api_key::FormatError::Malformed) => {
            return Err(Refused::Credential("the API key is malformed".into()));
        }
        Err(api_key::FormatError::BadChecksum) => {
            return Err(Refused::Credential(
                "the API key's checksum does not match; it was mistyped or truncated".into(),
            ));
        }
    }
    let digest = api_key::digest(&keys.keys.api_key, presented);
    let record = match keys.cache.get(&digest, now) {
        Some(record) => record,
        None => {
            let generation = keys.cache.generation();
            let hash = crate::secret::hex(&digest);
            // Boxed: the lookup's future is large and every request's future
            // would otherwise carry (and move) it, cached or not.
            let Some(record) = Box::pin(keys.db.platform().api_key_by_hash(&hash)).await? else {
                return Err(Refused::Credential("unknown API key".into()));
            };
            keys.cache.put(&digest, record.clone(), now, generation);
            record
        }
    };
    if record.revoked_at.is_some() {
        return Err(Refused::Credential("the API key has been revoked".into()));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(Refused::Credential("the API key has expired".into()));
    }
    keys.usage.record(record.tenant_id, record.id, now);
    crate::telemetry::record_tenant(record.tenant_id);
    Ok(Principal::for_key(
        record.tenant_id.into(),
        record.id,
        Scopes::from_stored(&record.scopes),
    ))
}

/// Turns an access token into a principal: signature, issuer, audience and
/// expiry (no database round trip), then the session revocation set.
pub fn authenticate_bearer(auth: &AuthState, token: &str, now: DateTime<Utc>) -> Result<Principal, Refused> {
    let claims = auth
        .keyring
        .verify(token, &auth.tokens, now)
        .map_err(|e| Refused::Credential(format!("the access token is not valid: {e}").into()))?;
    if auth.revocations.refuses(claims.sid, claims.generation) {
        return Err(Refused::Credential(
            "the access token's session has ended or changed; refresh or sign in again".into(),
        ));
    }
    let role =
        Role::parse(&claims.role).ok_or_else(|| Refused::Credential("the access token names no known role".into()))?;
    crate::telemetry::record_tenant(claims.tid);
    Ok(Principal::for_person(
        claims.tid.into(),
        claims.sub.into(),
        claims.sid,
        role,
    ))
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
    /// The sign-in throttle is built by the caller (it may share its
    /// counts through Redis).
    pub fn from_settings(
        settings: &crate::config::Settings,
        throttle: throttle::LoginThrottle,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, jwt::KeyError> {
        let sessions = crate::config::SessionLifetimes {
            idle: chrono::Duration::days(settings.auth.session_idle_days),
            absolute: chrono::Duration::days(settings.auth.session_max_days),
            ..Default::default()
        };
        Ok(Self {
            keyring: jwt::Keyring::load_or_create(&settings.auth.jwt_key_dir, now)?,
            tokens: jwt::TokenSettings {
                issuer: settings.auth.jwt_issuer.clone(),
                audience: settings.auth.jwt_audience.clone(),
                ttl: chrono::Duration::seconds(settings.auth.access_token_ttl_secs),
            },
            revocations: revocation::Revocations::default(),
            passwords: password::PasswordHasher::new(password::PasswordHasher::default_concurrency(), PASSWORD_QUEUE),
            throttle,
            signups: signup_limit::SignupLimiter::new(settings.limits.signup),
            sessions,
        })
    }
}
