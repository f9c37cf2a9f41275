//! Checking what a person presents: a password (behind the sign-in
//! throttle) or a refresh token (by its keyed hash). Each yields a
//! [`UserGrant`], the only way to a person's rows.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use secrecy::SecretString;

use super::password::PasswordError;
use super::{AuthState, refresh_token};
use crate::access::UserGrant;
use crate::db::PlatformDb;
use crate::secret::Keys;

/// Why a credential yielded no grant.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The same answer for an unknown email and a wrong password.
    #[error("the email or password is wrong")]
    Wrong,
    /// Too many failures for the account or the client address.
    #[error("too many failed sign-ins; wait before trying again")]
    Throttled { retry_after: u64 },
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Checks an email and password, behind the sign-in throttle. Unknown
/// emails are checked against a dummy hash, so they cost the same time and
/// get the same answer as a wrong password.
pub async fn verify_password(
    auth: &AuthState,
    platform: &PlatformDb,
    email: &str,
    password: &SecretString,
    addr: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<UserGrant, CredentialError> {
    let email = email.trim().to_lowercase();
    if let Err(wait) = auth.throttle.check(&email, addr, now).await {
        return Err(CredentialError::Throttled {
            retry_after: wait.seconds(),
        });
    }
    let found = platform.user_by_email(&email).await?;
    let ok = auth
        .passwords
        .verify(password, found.as_ref().map(|(_, hash)| hash.as_str()))
        .await?;
    match found {
        Some((id, _)) if ok => {
            auth.throttle.record_success(&email, addr, now).await;
            Ok(UserGrant::verified(id))
        }
        _ => {
            auth.throttle.record_failure(&email, addr, now).await;
            Err(CredentialError::Wrong)
        }
    }
}

/// The person a refresh token belongs to, with the token's hash; `None`
/// for a string that is not one of this server's tokens.
pub async fn refresh_token_grant(
    platform: &PlatformDb,
    keys: &Keys,
    token: &str,
) -> Result<Option<(String, UserGrant)>, DbErr> {
    if !refresh_token::looks_like(token) {
        return Ok(None);
    }
    let hash = refresh_token::hash(keys, token);
    Ok(platform
        .refresh_token_owner(&hash)
        .await?
        .map(|(_, user)| (hash, UserGrant::verified(user))))
}
