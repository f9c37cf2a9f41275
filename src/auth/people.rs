//! How a person obtains, renews and ends a session. Each way in (signup,
//! password, refresh token; later email links, MFA, single sign-on) ends in
//! the same place: a session row, a refresh token and a short-lived access
//! token.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::SqlErr;
use secrecy::SecretString;
use uuid::Uuid;

use super::jwt::Subject;
use super::password::PasswordError;
use crate::access::{Role, UserGrant};
use crate::app::AppState;
use crate::db::NewAccount;
use crate::domain::accounts::{self, Membership, Signup, User};
use crate::domain::effects::{Committed, Effects};
use crate::domain::sessions::{self, EndReason, Refresh, Session};
use crate::domain::{Valid, Violations};
use crate::error::{ApiError, ErrorCode};

/// A session just started or renewed: the session, its refresh token, the
/// person and the membership it acts in.
pub type Started = (Session, String, User, Membership);

fn password_error(err: PasswordError) -> ApiError {
    match err {
        PasswordError::Busy => ApiError::new(
            ErrorCode::Unavailable,
            "too many sign-ins are being checked right now; retry in a moment",
        )
        .with_retry_after(1),
        PasswordError::Internal(e) => {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::new(
                ErrorCode::Internal,
                "the server failed to handle the request; it has been logged",
            )
        }
    }
}

fn email_taken() -> ApiError {
    ApiError::conflict("an account with this email already exists")
}

/// Signs an access token for `session` acting as `role`.
pub fn issue_access_token(
    state: &AppState,
    session: &Session,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let subject = Subject {
        user: session.user_id,
        tenant: session.tenant_id,
        role: role.as_str(),
        session: session.id,
        generation: session.generation,
    };
    state
        .auth
        .keyring
        .issue(&state.auth.tokens, &subject, now)
        .map_err(|e| ApiError::internal(&e))
}

/// Creates a person, their tenant and a first session, all or nothing. The
/// cheap checks come first: the signup limits of the client address and the
/// email (429), then whether the email is free (409); only then is the
/// password hashed.
pub async fn signup(
    state: &AppState,
    signup: Valid<Signup>,
    password: SecretString,
    user_agent: Option<&str>,
    addr: Option<IpAddr>,
) -> Result<Started, ApiError> {
    let now = state.clock.now();
    if let Err(wait) = state.auth.signups.attempt(&signup.email, addr, now) {
        return Err(ApiError::new(
            ErrorCode::TooManyRequests,
            "too many signups from this address or for this email; wait before trying again",
        )
        .with_retry_after(wait.seconds()));
    }
    let platform = state.db.platform();
    if platform.user_by_email(&signup.email).await?.is_some() {
        return Err(email_taken());
    }
    let hash = state.auth.passwords.hash(&password).await.map_err(password_error)?;
    // A derived slug that another signup takes in the meantime is derived again.
    for _ in 0..3 {
        let slug = match &signup.tenant_slug {
            Some(slug) => slug.clone(),
            None => {
                platform
                    .free_slug(&accounts::slug_from_name(&signup.tenant_name))
                    .await?
            }
        };
        let (user, tenant, membership) = accounts::signup_models(&signup, slug.clone(), hash.clone(), now);
        let session = sessions::new_session(user.id, tenant.id, user_agent, &state.auth.sessions, now);
        let (refresh_row, refresh_token) = sessions::first_token(&state.keys, &session, now);
        let account = NewAccount {
            user: user.clone(),
            tenant: tenant.clone(),
            membership,
            session: session.clone(),
            refresh_token: refresh_row,
        };
        match platform.create_account(account).await {
            Ok(()) => {
                tracing::info!(user.id = %user.id, tenant.id = %tenant.id, "signed up");
                let membership = Membership {
                    tenant,
                    role: Role::Owner,
                    joined_at: now,
                };
                return Ok((session, refresh_token, user, membership));
            }
            Err(e) => match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(msg)) if msg.contains("email") => {
                    return Err(email_taken());
                }
                Some(SqlErr::UniqueConstraintViolation(_)) if signup.tenant_slug.is_some() => {
                    return Err(ApiError::conflict(format!(
                        "a tenant with slug `{slug}` already exists"
                    )));
                }
                Some(SqlErr::UniqueConstraintViolation(_)) => continue,
                _ => return Err(e.into()),
            },
        }
    }
    Err(ApiError::conflict(
        "could not find a free tenant slug; send `tenant_slug`",
    ))
}

/// Checks an email and password, behind the login throttle. Unknown emails
/// are checked against a dummy hash, so they cost the same time and get the
/// same answer as a wrong password.
pub async fn verify_password(
    state: &AppState,
    email: &str,
    password: &SecretString,
    addr: Option<IpAddr>,
) -> Result<UserGrant, ApiError> {
    let now = state.clock.now();
    let email = email.trim().to_lowercase();
    if let Err(wait) = state.auth.throttle.check(&email, addr, now) {
        return Err(ApiError::new(
            ErrorCode::TooManyRequests,
            "too many failed sign-ins; wait before trying again",
        )
        .with_retry_after(wait.seconds()));
    }
    let found = state.db.platform().user_by_email(&email).await?;
    let ok = state
        .auth
        .passwords
        .verify(password, found.as_ref().map(|(_, hash)| hash.as_str()))
        .await
        .map_err(password_error)?;
    match found {
        Some((id, _)) if ok => {
            state.auth.throttle.record_success(&email, addr);
            Ok(UserGrant::verified(id))
        }
        _ => {
            state.auth.throttle.record_failure(&email, addr, now);
            Err(ApiError::unauthenticated("the email or password is wrong"))
        }
    }
}

/// Starts a session for a verified person in the named tenant (an id or a
/// slug), else the last one used.
pub async fn start_session(
    state: &AppState,
    grant: &UserGrant,
    tenant: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Started, ApiError> {
    let now = state.clock.now();
    let tx = state.db.for_user(grant).write().await?;
    let user = accounts::profile(&tx).await?;
    let membership = accounts::choose_membership(&tx, &user, tenant).await?;
    let (session, token, ended) = sessions::start(
        &tx,
        &state.keys,
        &state.auth.sessions,
        now,
        membership.tenant.id,
        user_agent,
    )
    .await?;
    accounts::remember_tenant(&tx, membership.tenant.id, now).await?;
    tx.commit().await?;
    state.apply(Committed::new((), Effects::sessions_ended(ended))).await;
    tracing::info!(user.id = %user.id, tenant.id = %membership.tenant.id, session.id = %session.id, "signed in");
    Ok((session, token, user, membership))
}

/// Exchanges a refresh token for the next one.
pub async fn refresh(state: &AppState, token: &str) -> Result<Started, ApiError> {
    let unknown = || ApiError::unauthenticated("unknown refresh token");
    if !sessions::looks_like_refresh_token(token) {
        return Err(unknown());
    }
    let hash = sessions::hash_refresh_token(&state.keys, token);
    let Some((_, user_id)) = state.db.platform().refresh_token_owner(&hash).await? else {
        return Err(unknown());
    };
    let grant = UserGrant::verified(user_id);
    let now = state.clock.now();
    let tx = state.db.for_user(&grant).write().await?;
    let (session, token) = match sessions::refresh(&tx, &state.keys, &state.auth.sessions, now, &hash).await? {
        Refresh::Rotated { session, token } | Refresh::Replayed { session, token } => (session, token),
        Refresh::Reused { session } => {
            tx.commit().await?;
            state
                .apply(Committed::new((), Effects::sessions_ended(vec![session])))
                .await;
            tracing::warn!(user.id = %user_id, "a used refresh token was presented; the session was ended");
            return Err(ApiError::unauthenticated(
                "this refresh token was already used; the session has been ended, sign in again",
            ));
        }
    };
    let user = accounts::profile(&tx).await?;
    let memberships = accounts::memberships(&tx).await?;
    let Some(membership) = memberships.into_iter().find(|m| m.tenant.id == session.tenant_id) else {
        // The membership ended: so does the session.
        sessions::end(&tx, session.id, EndReason::MembershipEnded, now).await?;
        tx.commit().await?;
        state
            .apply(Committed::new((), Effects::sessions_ended(vec![session.id])))
            .await;
        return Err(ApiError::unauthenticated(
            "the session's tenant membership has ended; sign in again",
        ));
    };
    tx.commit().await?;
    Ok((session, token, user, membership))
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    Current,
    One(Uuid),
    AllButCurrent,
}

/// Ends sessions of the person behind `grant`; their access tokens are
/// refused on this instance at once.
pub async fn end_sessions(state: &AppState, grant: &UserGrant, which: Ending) -> Result<(), ApiError> {
    let now = state.clock.now();
    let tx = state.db.for_user(grant).write().await?;
    let ended = match which {
        Ending::Current | Ending::One(_) => {
            let id = match which {
                Ending::One(id) => id,
                _ => grant
                    .session()
                    .ok_or_else(|| ApiError::forbidden("no session to end"))?,
            };
            let reason = if matches!(which, Ending::Current) {
                EndReason::Logout
            } else {
                EndReason::Revoked
            };
            sessions::get(&tx, &state.auth.sessions, now, id).await?;
            sessions::end(&tx, id, reason, now).await?;
            vec![id]
        }
        Ending::AllButCurrent => {
            sessions::end_all_except(&tx, &state.auth.sessions, grant.session(), EndReason::Revoked, now).await?
        }
    };
    tx.commit().await?;
    state.apply(Committed::new((), Effects::sessions_ended(ended))).await;
    Ok(())
}

/// Changes the signed-in person's password: the current one must match
/// (behind the login throttle), the new one must pass the policy. Every other
/// session of theirs ends.
pub async fn change_password(
    state: &AppState,
    grant: &UserGrant,
    current: &SecretString,
    new: SecretString,
    addr: Option<IpAddr>,
) -> Result<(), ApiError> {
    use secrecy::ExposeSecret;
    let user = {
        let tx = state.db.for_user(grant).read().await?;
        let user = accounts::profile(&tx).await?;
        tx.commit().await?;
        user
    };
    let mut v = Violations::default();
    let local = user.email.split('@').next().unwrap_or_default();
    if let Err(p) = super::password::check_policy(new.expose_secret(), &[&user.email, local, &user.name]) {
        v.push("new_password", p.code, p.message);
    }
    v.finish()?;
    let verified = verify_password(state, &user.email, current, addr)
        .await
        .map_err(|e| match e.code {
            ErrorCode::Unauthenticated => ApiError::forbidden("the current password is wrong"),
            _ => e,
        })?;
    if verified.user_id() != grant.user_id() {
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    let hash = state.auth.passwords.hash(&new).await.map_err(password_error)?;
    let now = state.clock.now();
    let tx = state.db.for_user(grant).write().await?;
    accounts::set_password_hash(&tx, hash, now).await?;
    let ended = sessions::end_all_except(
        &tx,
        &state.auth.sessions,
        grant.session(),
        EndReason::PasswordChanged,
        now,
    )
    .await?;
    tx.commit().await?;
    state.apply(Committed::new((), Effects::sessions_ended(ended))).await;
    tracing::info!(user.id = %grant.user_id(), "password changed");
    Ok(())
}

/// Moves the caller's session to another of their tenants (an id or a slug):
/// a new pair, the old tenant's access tokens refused.
pub async fn switch_tenant(state: &AppState, grant: &UserGrant, tenant: &str) -> Result<Started, ApiError> {
    let session_id = grant
        .session()
        .ok_or_else(|| ApiError::forbidden("no session to switch"))?;
    let now = state.clock.now();
    let tx = state.db.for_user(grant).write().await?;
    let user = accounts::profile(&tx).await?;
    let membership = accounts::choose_membership(&tx, &user, Some(tenant)).await?;
    let (session, token) = sessions::switch_tenant(
        &tx,
        &state.keys,
        &state.auth.sessions,
        now,
        session_id,
        membership.tenant.id,
    )
    .await?;
    accounts::remember_tenant(&tx, membership.tenant.id, now).await?;
    tx.commit().await?;
    let moved = Effects {
        sessions_bumped: vec![(session.id, session.generation)],
        ..Effects::default()
    };
    state.apply(Committed::new((), moved)).await;
    Ok((session, token, user, membership))
}
