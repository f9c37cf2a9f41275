//! Sessions: one per signed-in device. A session holds a family of refresh
//! tokens of which only the newest is current; each use rotates it. Presenting
//! a rotated token ends the whole family, except within a short grace window
//! in which a concurrent refresh of the same token (two browser tabs) gets the
//! same successor.

use chrono::{DateTime, Utc};
use entity::{refresh_token, session};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::{Error, Result};
use crate::crypto::Purpose;
use crate::db::{TenantTx, UserTx};
use crate::secret::Keys;

pub type Session = session::Model;

/// Refresh tokens start with this prefix, so secret scanners can spot them.
pub use crate::auth::refresh_token::{
    REFRESH_TOKEN_PREFIX, hash as hash_refresh_token, looks_like as looks_like_refresh_token, new as new_refresh_token,
};
/// The longest user agent kept with a session.
pub const USER_AGENT_MAX: usize = 512;
/// Active sessions per person; the oldest end when a new one passes this.
pub const MAX_ACTIVE_SESSIONS: usize = 100;
/// How far a chain of grace-window successors is followed.
const MAX_SUCCESSOR_HOPS: usize = 8;

pub use crate::config::SessionLifetimes as Lifetimes;

/// Why a session ended (stored with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    Revoked,
    RefreshTokenReuse,
    PasswordChanged,
    MembershipEnded,
    TenantDeleted,
    TooManySessions,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::PasswordChanged => "password_changed",
            Self::MembershipEnded => "membership_ended",
            Self::TenantDeleted => "tenant_deleted",
            Self::TooManySessions => "too_many_sessions",
        }
    }
}

fn is_live(session: &Session, life: &Lifetimes, now: DateTime<Utc>) -> bool {
    session.revoked_at.is_none() && now < session.expires_at && now < session.last_used_at + life.idle
}

fn user_agent(ua: Option<&str>) -> Option<String> {
    ua.map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX).collect())
}

/// A session model for a person's new sign-in in `tenant` (not yet stored).
pub fn new_session(user: Uuid, tenant: Uuid, ua: Option<&str>, life: &Lifetimes, now: DateTime<Utc>) -> Session {
    Session {
        id: Uuid::now_v7(),
        user_id: user,
        tenant_id: tenant,
        generation: 0,
        user_agent: user_agent(ua),
        created_at: now,
        last_used_at: now,
        expires_at: now + life.absolute,
        revoked_at: None,
        revoke_reason: None,
        changed_at: now,
    }
}

/// The first refresh token of `session` (not yet stored): the row and the token.
pub fn first_token(keys: &Keys, session: &Session, now: DateTime<Utc>) -> (refresh_token::Model, String) {
    let token = new_refresh_token();
    let row = refresh_token::Model {
        token_hash: hash_refresh_token(keys, &token),
        session_id: session.id,
        user_id: session.user_id,
        created_at: now,
        rotated_at: None,
        successor_enc: None,
    };
    (row, token)
}

/// Starts a session for this person in `tenant`; returns it and its first
/// refresh token. Ends the oldest sessions past [`MAX_ACTIVE_SESSIONS`].
pub async fn start(
    tx: &UserTx,
    keys: &Keys,
    life: &Lifetimes,
    now: DateTime<Utc>,
    tenant: Uuid,
    ua: Option<&str>,
) -> Result<(Session, String, Vec<Uuid>)> {
    let session = new_session(tx.user_id(), tenant, ua, life, now);
    let (row, token) = first_token(keys, &session, now);
    let session = tx.insert::<session::Entity, _>(into_active(session)).await?;
    tx.insert::<refresh_token::Entity, _>(refresh_token::ActiveModel {
        token_hash: Set(row.token_hash),
        session_id: Set(row.session_id),
        user_id: Set(row.user_id),
        created_at: Set(row.created_at),
        rotated_at: Set(None),
        successor_enc: Set(None),
    })
    .await?;
    let mut active = list(tx, life, now).await?;
    let mut ended = Vec::new();
    if active.len() > MAX_ACTIVE_SESSIONS {
        // `list` is newest first: the tail is the oldest.
        for old in active.split_off(MAX_ACTIVE_SESSIONS) {
            end(tx, old.id, EndReason::TooManySessions, now).await?;
            ended.push(old.id);
        }
    }
    Ok((session, token, ended))
}

pub fn into_active(s: Session) -> session::ActiveModel {
    session::ActiveModel {
        id: Set(s.id),
        user_id: Set(s.user_id),
        tenant_id: Set(s.tenant_id),
        generation: Set(s.generation),
        user_agent: Set(s.user_agent),
        created_at: Set(s.created_at),
        last_used_at: Set(s.last_used_at),
        expires_at: Set(s.expires_at),
        revoked_at: Set(s.revoked_at),
        revoke_reason: Set(s.revoke_reason),
        changed_at: Set(s.changed_at),
    }
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Refresh {
    /// The token was current: here is its successor.
    Rotated { session: Session, token: String },
    /// The token was rotated moments ago (a concurrent refresh): here is the
    /// same successor the first caller got.
    Replayed { session: Session, token: String },
    /// The token had been rotated before the grace window: the session has
    /// been ended (commit, then refuse).
    Reused { session: Uuid },
}

/// Presents the refresh token whose hash is `hash` (looked up by its owner
/// already). Locks the token and the session row, so concurrent refreshes of
/// one token serialize.
pub async fn refresh(tx: &UserTx, keys: &Keys, life: &Lifetimes, now: DateTime<Utc>, hash: &str) -> Result<Refresh> {
    let refused = |detail: &str| Error::Unauthenticated(detail.to_owned());
    let Some(row) = tx
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .for_update()
        .one()
        .await?
    else {
        return Err(refused("unknown refresh token"));
    };
    let Some(session) = tx
        .find::<session::Entity>()
        .filter(session::Column::Id.eq(row.session_id))
        .for_update()
        .one()
        .await?
    else {
        return Err(refused("unknown refresh token"));
    };
    if session.revoked_at.is_some() {
        return Err(refused("the session has ended; sign in again"));
    }
    if now >= session.expires_at {
        return Err(refused("the session has expired; sign in again"));
    }
    if now >= session.last_used_at + life.idle {
        return Err(refused("the session expired after inactivity; sign in again"));
    }
    let Some(rotated_at) = row.rotated_at else {
        let token = rotate(tx, keys, life, now, &row).await?;
        let session = touch(tx, session, now).await?;
        return Ok(Refresh::Rotated { session, token });
    };
    if now - rotated_at <= life.grace
        && let Some(token) = current_successor(tx, keys, life, now, &row).await?
    {
        return Ok(Refresh::Replayed { session, token });
    }
    end(tx, session.id, EndReason::RefreshTokenReuse, now).await?;
    Ok(Refresh::Reused { session: session.id })
}

/// Moves a live session to another tenant: a new generation (its access
/// tokens for the old tenant are refused) and a rotated refresh token.
pub async fn switch_tenant(
    tx: &UserTx,
    keys: &Keys,
    life: &Lifetimes,
    now: DateTime<Utc>,
    id: Uuid,
    tenant: Uuid,
) -> Result<(Session, String)> {
    let mut session = tx
        .find::<session::Entity>()
        .filter(session::Column::Id.eq(id))
        .for_update()
        .one()
        .await?
        .filter(|s| is_live(s, life, now))
        .ok_or_else(|| Error::Unauthenticated("the session has ended; sign in again".to_owned()))?;
    let current = tx
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::SessionId.eq(id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .for_update()
        .one()
        .await?
        .ok_or_else(|| Error::Unauthenticated("the session has ended; sign in again".to_owned()))?;
    let token = rotate(tx, keys, life, now, &current).await?;
    session.tenant_id = tenant;
    session.generation += 1;
    session.changed_at = now;
    session.last_used_at = now;
    tx.update_where(
        session::Column::Id.eq(id),
        session::ActiveModel {
            tenant_id: Set(session.tenant_id),
            generation: Set(session.generation),
            changed_at: Set(now),
            last_used_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    Ok((session, token))
}

/// Marks `row` rotated and stores its successor; returns the successor.
async fn rotate(
    tx: &UserTx,
    keys: &Keys,
    life: &Lifetimes,
    now: DateTime<Utc>,
    row: &refresh_token::Model,
) -> Result<String> {
    let token = new_refresh_token();
    let successor_hash = hash_refresh_token(keys, &token);
    tx.update_where(
        refresh_token::Column::TokenHash.eq(row.token_hash.as_str()),
        refresh_token::ActiveModel {
            rotated_at: Set(Some(now)),
            successor_enc: Set(Some(keys.sealer.seal(
                Purpose::RefreshSuccessor,
                row.token_hash.as_bytes(),
                token.as_bytes(),
            ))),
            ..Default::default()
        },
    )
    .await?;
    tx.insert::<refresh_token::Entity, _>(refresh_token::ActiveModel {
        token_hash: Set(successor_hash),
        session_id: Set(row.session_id),
        user_id: Set(row.user_id),
        created_at: Set(now),
        rotated_at: Set(None),
        successor_enc: Set(None),
    })
    .await?;
    // Successors are kept only for the grace window.
    tx.update_where(
        Condition::all()
            .add(refresh_token::Column::SessionId.eq(row.session_id))
            .add(refresh_token::Column::SuccessorEnc.is_not_null())
            .add(refresh_token::Column::RotatedAt.lt(now - life.grace)),
        refresh_token::ActiveModel {
            successor_enc: Set(None),
            ..Default::default()
        },
    )
    .await?;
    Ok(token)
}

/// Follows the chain of successors from a token rotated within the grace
/// window to the family's current token.
async fn current_successor(
    tx: &UserTx,
    keys: &Keys,
    life: &Lifetimes,
    now: DateTime<Utc>,
    row: &refresh_token::Model,
) -> Result<Option<String>> {
    let mut row = row.clone();
    for _ in 0..MAX_SUCCESSOR_HOPS {
        let Some(sealed) = row.successor_enc.as_deref() else {
            return Ok(None);
        };
        let Some(token) = keys
            .sealer
            .open(Purpose::RefreshSuccessor, row.token_hash.as_bytes(), sealed)
            .and_then(|t| String::from_utf8(t).ok())
        else {
            return Ok(None);
        };
        let hash = hash_refresh_token(keys, &token);
        let Some(next) = tx
            .find::<refresh_token::Entity>()
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .one()
            .await?
        else {
            return Ok(None);
        };
        match next.rotated_at {
            None => return Ok(Some(token)),
            Some(at) if now - at <= life.grace => row = next,
            Some(_) => return Ok(None),
        }
    }
    Ok(None)
}

async fn touch(tx: &UserTx, mut session: Session, now: DateTime<Utc>) -> Result<Session> {
    tx.update_where(
        session::Column::Id.eq(session.id),
        session::ActiveModel {
            last_used_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    session.last_used_at = now;
    Ok(session)
}

/// Ends one of this person's sessions; `false` when there is no such live session.
pub async fn end(tx: &UserTx, id: Uuid, reason: EndReason, now: DateTime<Utc>) -> Result<bool> {
    let changed = tx
        .update_where(
            Condition::all()
                .add(session::Column::Id.eq(id))
                .add(session::Column::RevokedAt.is_null()),
            ended(reason, now),
        )
        .await?;
    tx.update_where(
        refresh_token::Column::SessionId.eq(id),
        refresh_token::ActiveModel {
            successor_enc: Set(None),
            ..Default::default()
        },
    )
    .await?;
    Ok(changed > 0)
}

/// The columns that end a session.
pub fn ended(reason: EndReason, now: DateTime<Utc>) -> session::ActiveModel {
    session::ActiveModel {
        revoked_at: Set(Some(now)),
        revoke_reason: Set(Some(reason.as_str().to_owned())),
        changed_at: Set(now),
        ..Default::default()
    }
}

/// Ends the live sessions acting in this tenant — only `user`'s when given —
/// in one statement; returns the ended ids (for the revocation set).
pub async fn end_in_tenant(
    tx: &TenantTx,
    user: Option<Uuid>,
    reason: EndReason,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let mut live = Condition::all().add(session::Column::RevokedAt.is_null());
    if let Some(user) = user {
        live = live.add(session::Column::UserId.eq(user));
    }
    let ids: Vec<Uuid> = tx
        .find::<session::Entity>()
        .filter(live)
        .all()
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if !ids.is_empty() {
        tx.update_where(session::Column::Id.is_in(ids.clone()), ended(reason, now))
            .await?;
    }
    Ok(ids)
}

/// Ends every live session of this person but `keep`; returns the ended ids.
pub async fn end_all_except(
    tx: &UserTx,
    life: &Lifetimes,
    keep: Option<Uuid>,
    reason: EndReason,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let mut ended_ids = Vec::new();
    for s in list(tx, life, now).await? {
        if Some(s.id) != keep && end(tx, s.id, reason, now).await? {
            ended_ids.push(s.id);
        }
    }
    Ok(ended_ids)
}

/// This person's live sessions, newest first.
pub async fn list(tx: &UserTx, life: &Lifetimes, now: DateTime<Utc>) -> Result<Vec<Session>> {
    let sessions = tx
        .find::<session::Entity>()
        .filter(
            Condition::all()
                .add(session::Column::RevokedAt.is_null())
                .add(session::Column::ExpiresAt.gt(now))
                .add(session::Column::LastUsedAt.gt(now - life.idle)),
        )
        .order_by(session::Column::CreatedAt, Order::Desc)
        .order_by(session::Column::Id, Order::Desc)
        .all()
        .await?;
    Ok(sessions.into_iter().filter(|s| is_live(s, life, now)).collect())
}

/// One of this person's live sessions.
pub async fn get(tx: &UserTx, life: &Lifetimes, now: DateTime<Utc>, id: Uuid) -> Result<Session> {
    tx.find::<session::Entity>()
        .filter(session::Column::Id.eq(id))
        .one()
        .await?
        .filter(|s| is_live(s, life, now))
        .ok_or(Error::NotFound("session"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_have_a_recognizable_shape() {
        let token = new_refresh_token();
        assert!(looks_like_refresh_token(&token), "{token}");
        assert!(!looks_like_refresh_token("tnr_short"));
        assert!(!looks_like_refresh_token(&token.replace("tnr_", "tnx_")));
        assert_ne!(new_refresh_token(), token);
    }
}
