//! How a person obtains, renews and ends a session. Each way in (signup,
//! password, refresh token; later email links, MFA, single sign-on) ends in
//! the same place: a session row, a refresh token and a short-lived access
//! token. Credentials are checked by `auth::sign_in`; what a change does to
//! the revocation set comes back as [`Committed`] effects.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::SqlErr;
use secrecy::SecretString;
use uuid::Uuid;

use super::accounts::{self, Membership, Signup, User};
use super::effects::{Committed, Effects};
use super::sessions::{self, EndReason, Refresh, Session};
use super::{Error, Result, Valid, Violations};
use crate::access::{Role, UserGrant};
use crate::auth::AuthState;
use crate::auth::jwt::Subject;
use crate::auth::sign_in::{self, CredentialError};
use crate::db::{Db, NewAccount};
use crate::secret::Keys;

/// What the person flows work with, at one moment.
#[derive(Clone, Copy)]
pub struct People<'a> {
    pub db: &'a Db,
    pub keys: &'a Keys,
    pub auth: &'a AuthState,
    pub now: DateTime<Utc>,
}

/// A session just started or renewed: the session, its refresh token, the
/// person and the membership it acts in.
pub type Started = (Session, String, User, Membership);

fn email_taken() -> Error {
    Error::Conflict("an account with this email already exists".to_owned())
}

/// Signs an access token for `session` acting as `role`; the token and
/// when it expires.
pub fn issue_access_token(
    auth: &AuthState,
    session: &Session,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>)> {
    let subject = Subject {
        user: session.user_id,
        tenant: session.tenant_id,
        role: role.as_str(),
        session: session.id,
        generation: session.generation,
    };
    auth.keyring
        .issue(&auth.tokens, &subject, now)
        .map_err(|e| Error::Internal(format!("signing an access token failed: {e}")))
}

/// Creates a person, their tenant and a first session, all or nothing. The
/// cheap checks come first: the signup limits of the client address and the
/// email (429), then whether the email is free (409); only then is the
/// password hashed.
pub async fn signup(
    p: &People<'_>,
    signup: Valid<Signup>,
    password: SecretString,
    user_agent: Option<&str>,
    addr: Option<IpAddr>,
) -> Result<Started> {
    let now = p.now;
    if let Err(wait) = p.auth.signups.attempt(&signup.email, addr, now) {
        return Err(Error::TooManyRequests {
            detail: "too many signups from this address or for this email; wait before trying again".to_owned(),
            retry_after: wait.seconds(),
        });
    }
    let platform = p.db.platform();
    if platform.user_by_email(&signup.email).await?.is_some() {
        return Err(email_taken());
    }
    let hash = p.auth.passwords.hash(&password).await?;
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
        let session = sessions::new_session(user.id, tenant.id, user_agent, &p.auth.sessions, now);
        let (refresh_row, refresh_token) = sessions::first_token(p.keys, &session, now);
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
            Err(e) => match crate::db::sql_err(&e) {
                Some(SqlErr::UniqueConstraintViolation(msg)) if msg.contains("email") => {
                    return Err(email_taken());
                }
                Some(SqlErr::UniqueConstraintViolation(_)) if signup.tenant_slug.is_some() => {
                    return Err(Error::Conflict(format!("a tenant with slug `{slug}` already exists")));
                }
                Some(SqlErr::UniqueConstraintViolation(_)) => continue,
                _ => return Err(e.into()),
            },
        }
    }
    Err(Error::Conflict(
        "could not find a free tenant slug; send `tenant_slug`".to_owned(),
    ))
}

/// Starts a session for a verified person in the named tenant (an id or a
/// slug), else the last one used; sessions beyond the limit end.
pub async fn start_session(
    p: &People<'_>,
    grant: &UserGrant,
    tenant: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Committed<Started>> {
    let now = p.now;
    let tx = p.db.for_user(grant).write().await?;
    let user = accounts::profile(&tx).await?;
    let membership = accounts::choose_membership(&tx, &user, tenant).await?;
    let (session, token, ended) =
        sessions::start(&tx, p.keys, &p.auth.sessions, now, membership.tenant.id, user_agent).await?;
    accounts::remember_tenant(&tx, membership.tenant.id, now).await?;
    tx.commit().await?;
    tracing::info!(user.id = %user.id, tenant.id = %membership.tenant.id, session.id = %session.id, "signed in");
    Ok(Committed::new(
        (session, token, user, membership),
        Effects::sessions_ended(ended),
    ))
}

/// Exchanges a refresh token for the next one. A token used before (past
/// its grace window), or one whose session's membership has ended, ends the
/// session: that commits, and the outcome inside is the refusal.
pub async fn refresh(p: &People<'_>, token: &str) -> Result<Committed<Result<Started>>> {
    let unknown = || Error::Unauthenticated("unknown refresh token".to_owned());
    let Some((hash, grant)) = sign_in::refresh_token_grant(&p.db.platform(), p.keys, token).await? else {
        return Err(unknown());
    };
    let now = p.now;
    let tx = p.db.for_user(&grant).write().await?;
    let (session, token) = match sessions::refresh(&tx, p.keys, &p.auth.sessions, now, &hash).await? {
        Refresh::Rotated { session, token } | Refresh::Replayed { session, token } => (session, token),
        Refresh::Reused { session } => {
            tx.commit().await?;
            tracing::warn!(user.id = %grant.user_id(), "a used refresh token was presented; the session was ended");
            return Ok(Committed::new(
                Err(Error::Unauthenticated(
                    "this refresh token was already used; the session has been ended, sign in again".to_owned(),
                )),
                Effects::sessions_ended(vec![session]),
            ));
        }
    };
    let user = accounts::profile(&tx).await?;
    let memberships = accounts::memberships(&tx).await?;
    let Some(membership) = memberships.into_iter().find(|m| m.tenant.id == session.tenant_id) else {
        // The membership ended: so does the session.
        sessions::end(&tx, session.id, EndReason::MembershipEnded, now).await?;
        tx.commit().await?;
        return Ok(Committed::new(
            Err(Error::Unauthenticated(
                "the session's tenant membership has ended; sign in again".to_owned(),
            )),
            Effects::sessions_ended(vec![session.id]),
        ));
    };
    tx.commit().await?;
    Ok(Committed::new(
        Ok((session, token, user, membership)),
        Effects::default(),
    ))
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    Current,
    One(Uuid),
    AllButCurrent,
}

/// Ends sessions of the person behind `grant`.
pub async fn end_sessions(p: &People<'_>, grant: &UserGrant, which: Ending) -> Result<Committed<()>> {
    let now = p.now;
    let tx = p.db.for_user(grant).write().await?;
    let ended = match which {
        Ending::Current | Ending::One(_) => {
            let id = match which {
                Ending::One(id) => id,
                _ => grant
                    .session()
                    .ok_or_else(|| Error::Forbidden("no session to end".to_owned()))?,
            };
            let reason = if matches!(which, Ending::Current) {
                EndReason::Logout
            } else {
                EndReason::Revoked
            };
            sessions::get(&tx, &p.auth.sessions, now, id).await?;
            sessions::end(&tx, id, reason, now).await?;
            vec![id]
        }
        Ending::AllButCurrent => {
            sessions::end_all_except(&tx, &p.auth.sessions, grant.session(), EndReason::Revoked, now).await?
        }
    };
    tx.commit().await?;
    Ok(Committed::new((), Effects::sessions_ended(ended)))
}

/// Changes the signed-in person's password: the current one must match
/// (behind the sign-in throttle; a wrong one is a 403), the new one must
/// pass the policy. Every other session of theirs ends.
pub async fn change_password(
    p: &People<'_>,
    grant: &UserGrant,
    current: &SecretString,
    new: SecretString,
    addr: Option<IpAddr>,
) -> Result<Committed<()>> {
    use secrecy::ExposeSecret;
    let user = {
        let tx = p.db.for_user(grant).read().await?;
        let user = accounts::profile(&tx).await?;
        tx.commit().await?;
        user
    };
    let mut v = Violations::default();
    let local = user.email.split('@').next().unwrap_or_default();
    if let Err(policy) = crate::auth::password::check_policy(new.expose_secret(), &[&user.email, local, &user.name]) {
        v.push("new_password", policy.code, policy.message);
    }
    v.finish()?;
    let wrong = || Error::Forbidden("the current password is wrong".to_owned());
    let verified = sign_in::verify_password(p.auth, &p.db.platform(), &user.email, current, addr, p.now)
        .await
        .map_err(|e| match e {
            CredentialError::Wrong => wrong(),
            e => e.into(),
        })?;
    if verified.user_id() != grant.user_id() {
        return Err(wrong());
    }
    let hash = p.auth.passwords.hash(&new).await?;
    let now = p.now;
    let tx = p.db.for_user(grant).write().await?;
    accounts::set_password_hash(&tx, hash, now).await?;
    let ended =
        sessions::end_all_except(&tx, &p.auth.sessions, grant.session(), EndReason::PasswordChanged, now).await?;
    tx.commit().await?;
    tracing::info!(user.id = %grant.user_id(), "password changed");
    Ok(Committed::new((), Effects::sessions_ended(ended)))
}

/// Moves the caller's session to another of their tenants (an id or a slug):
/// a new pair, the old tenant's access tokens refused.
pub async fn switch_tenant(p: &People<'_>, grant: &UserGrant, tenant: &str) -> Result<Committed<Started>> {
    let session_id = grant
        .session()
        .ok_or_else(|| Error::Forbidden("no session to switch".to_owned()))?;
    let now = p.now;
    let tx = p.db.for_user(grant).write().await?;
    let user = accounts::profile(&tx).await?;
    let membership = accounts::choose_membership(&tx, &user, Some(tenant)).await?;
    let (session, token) =
        sessions::switch_tenant(&tx, p.keys, &p.auth.sessions, now, session_id, membership.tenant.id).await?;
    accounts::remember_tenant(&tx, membership.tenant.id, now).await?;
    tx.commit().await?;
    let moved = Effects {
        sessions_bumped: vec![(session.id, session.generation)],
        ..Effects::default()
    };
    Ok(Committed::new((session, token, user, membership), moved))
}
