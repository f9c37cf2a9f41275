//! Members: the people of a tenant and their roles. The rules: nobody grants
//! a role above their own, nobody changes or removes someone ranked above
//! them, and the last owner can neither leave, be removed nor be demoted —
//! decided with the tenant's owner rows locked, so two owners acting at the
//! same moment cannot both step down.

use chrono::{DateTime, Utc};
use entity::{membership, session, user};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Set};
use uuid::Uuid;

use super::api_keys::revoke_rooted;
use super::effects::{Committed, Effects};
use super::sessions::{EndReason, end_in_tenant};
use super::{Error, ListParams, Page, Result};
use crate::access::{self, Principal, Role, UserId};
use crate::db::{PlatformDb, TenantDb, TenantTx};
use crate::secret::DerivedKey;

/// A member: their membership and profile.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: user::Model,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// Who is changing the membership: a person with their role, or an API key
/// (which acts at most as an admin, and never on owners).
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user: Option<UserId>,
    pub role: Role,
}

impl Actor {
    /// The actor a principal is: a person with their role, else (a key, the
    /// operator) an admin.
    pub fn of(principal: &Principal) -> Self {
        match principal.actor() {
            access::Actor::User { id, .. } => Self {
                user: Some(id),
                role: principal.role().unwrap_or(Role::Viewer),
            },
            _ => Self {
                user: None,
                role: Role::Admin,
            },
        }
    }
}

pub fn list_params(tenant: Uuid, key: &DerivedKey, limit: Option<i64>, cursor: Option<&str>) -> Result<ListParams> {
    ListParams::new(key, format!("members|{tenant}"), limit, cursor)
}

/// One page of the tenant's members, oldest membership first.
pub async fn list(db: &TenantDb, key: &DerivedKey, params: &ListParams) -> Result<Page<Member>> {
    let page = super::oldest_first::<membership::Entity>(
        db,
        key,
        params,
        membership::Column::CreatedAt,
        Condition::all(),
        |m| (m.created_at, m.user_id),
    )
    .await?;
    let tx = db.read().await?;
    let ids: Vec<Uuid> = page.items.iter().map(|m| m.user_id).collect();
    let profiles = tx
        .find::<user::Entity>()
        .filter(user::Column::Id.is_in(ids))
        .all()
        .await?;
    tx.commit().await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|m| {
            let user = profiles.iter().find(|u| u.id == m.user_id)?.clone();
            Some(Member {
                role: Role::parse(&m.role)?,
                user,
                joined_at: m.created_at,
            })
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

async fn member(tx: &TenantTx, user: Uuid) -> Result<(membership::Model, Role)> {
    let m = tx
        .find::<membership::Entity>()
        .filter(membership::Column::UserId.eq(user))
        .for_update()
        .one()
        .await?
        .ok_or(Error::NotFound("member"))?;
    let role = Role::parse(&m.role).ok_or(Error::NotFound("member"))?;
    Ok((m, role))
}

/// The tenant's owners, locked until the transaction ends. Every change
/// takes these locks first, in one order, so concurrent changes queue
/// instead of deadlocking, and each sees the owners the previous one left.
async fn lock_owners(tx: &TenantTx) -> Result<usize> {
    Ok(tx
        .find::<membership::Entity>()
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .order_by(membership::Column::UserId, sea_orm::Order::Asc)
        .for_update()
        .all()
        .await?
        .len())
}

fn outranked(actor: &Actor, target: Role) -> Result<()> {
    if target > actor.role {
        return Err(Error::Forbidden(format!(
            "a {} cannot change or remove a {target}",
            actor.role
        )));
    }
    Ok(())
}

fn refuse_last_owner(owners: usize, what: &str) -> Result<()> {
    if owners <= 1 {
        return Err(Error::Conflict(format!(
            "the last owner cannot {what}; make another member owner first"
        )));
    }
    Ok(())
}

/// Adds the person with `email` to the tenant with `role` (the operator's
/// command; invitations come later). Returns their user id.
pub async fn add(db: &TenantDb, platform: &PlatformDb, email: &str, role: Role, now: DateTime<Utc>) -> Result<Uuid> {
    let email = email.trim().to_lowercase();
    let (user, _) = platform.user_by_email(&email).await?.ok_or(Error::NotFound("user"))?;
    let tx = db.write().await?;
    tx.insert::<membership::Entity, _>(membership::ActiveModel {
        tenant_id: Set(db.tenant_id()),
        user_id: Set(user),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
    .map_err(|e| Error::conflict_on_unique(e, "this person is already a member of the tenant"))?;
    tx.commit().await?;
    Ok(user)
}

/// Gives `user` the role `role`; the keys rooted in them that hold a scope
/// beyond it are revoked.
pub async fn set_role(
    db: &TenantDb,
    actor: Actor,
    user: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Committed<Member>> {
    let user = user.0;
    let tx = db.write().await?;
    let owners = lock_owners(&tx).await?;
    let (current, current_role) = member(&tx, user).await?;
    if role > actor.role {
        return Err(Error::Forbidden(format!(
            "a {} cannot grant the {role} role",
            actor.role
        )));
    }
    outranked(&actor, current_role)?;
    if current_role == Role::Owner && role != Role::Owner {
        refuse_last_owner(owners, "be demoted")?;
    }
    let mut effects = Effects::default();
    if role != current_role {
        tx.update_by_id::<membership::Entity, _>(
            user,
            membership::ActiveModel {
                role: Set(role.as_str().to_owned()),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        effects.sessions_bumped = bump_sessions(&tx, user, now).await?;
        effects.keys_revoked = revoke_rooted(&tx, user, Some(role.scopes()), now).await?;
    }
    let profile = tx
        .find::<user::Entity>()
        .filter(user::Column::Id.eq(user))
        .one()
        .await?
        .ok_or(Error::NotFound("member"))?;
    tx.commit().await?;
    Ok(Committed::new(
        Member {
            user: profile,
            role,
            joined_at: current.created_at,
        },
        effects,
    ))
}

/// Removes `user` from the tenant; their sessions in it end and the keys
/// rooted in them are revoked.
pub async fn remove(db: &TenantDb, actor: Actor, user: UserId, now: DateTime<Utc>) -> Result<Committed<()>> {
    let user = user.0;
    let tx = db.write().await?;
    let owners = lock_owners(&tx).await?;
    let (_, role) = member(&tx, user).await?;
    outranked(&actor, role)?;
    if role == Role::Owner {
        refuse_last_owner(owners, "be removed")?;
    }
    tx.delete_by_id::<membership::Entity>(user).await?;
    let ended = end_in_tenant(&tx, Some(user), EndReason::MembershipEnded, now).await?;
    let keys_revoked = revoke_rooted(&tx, user, None, now).await?;
    tx.commit().await?;
    Ok(Committed::new(
        (),
        Effects {
            sessions_ended: ended,
            keys_revoked,
            ..Effects::default()
        },
    ))
}

/// The caller leaves the tenant; their sessions in it end and the keys
/// rooted in them are revoked.
pub async fn leave(db: &TenantDb, user: UserId, now: DateTime<Utc>) -> Result<Committed<()>> {
    let user = user.0;
    let tx = db.write().await?;
    let owners = lock_owners(&tx).await?;
    let (_, role) = member(&tx, user).await?;
    if role == Role::Owner {
        refuse_last_owner(owners, "leave")?;
    }
    tx.delete_by_id::<membership::Entity>(user).await?;
    let ended = end_in_tenant(&tx, Some(user), EndReason::MembershipEnded, now).await?;
    let keys_revoked = revoke_rooted(&tx, user, None, now).await?;
    tx.commit().await?;
    Ok(Committed::new(
        (),
        Effects {
            sessions_ended: ended,
            keys_revoked,
            ..Effects::default()
        },
    ))
}

/// Makes `to` an owner and the calling owner `from` an admin (whose keys
/// beyond an admin's scopes are revoked).
pub async fn transfer_ownership(db: &TenantDb, from: UserId, to: UserId, now: DateTime<Utc>) -> Result<Committed<()>> {
    let (from, to) = (from.0, to.0);
    if from == to {
        return Err(Error::Conflict("you already own this tenant".to_owned()));
    }
    let tx = db.write().await?;
    lock_owners(&tx).await?;
    let (_, from_role) = member(&tx, from).await?;
    if from_role != Role::Owner {
        return Err(Error::Forbidden("only an owner can transfer ownership".to_owned()));
    }
    member(&tx, to).await?;
    let mut effects = Effects::default();
    for (user, role) in [(to, Role::Owner), (from, Role::Admin)] {
        tx.update_by_id::<membership::Entity, _>(
            user,
            membership::ActiveModel {
                role: Set(role.as_str().to_owned()),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        effects.sessions_bumped.extend(bump_sessions(&tx, user, now).await?);
        effects
            .keys_revoked
            .extend(revoke_rooted(&tx, user, Some(role.scopes()), now).await?);
    }
    tx.commit().await?;
    Ok(Committed::new((), effects))
}

/// Moves `user`'s live sessions in this tenant to a new generation, so their
/// access tokens (which carry the old role) are refused and re-issued.
async fn bump_sessions(tx: &TenantTx, user: Uuid, now: DateTime<Utc>) -> Result<Vec<(Uuid, i64)>> {
    let live = tx
        .find::<session::Entity>()
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::RevokedAt.is_null())
        .all()
        .await?;
    let mut bumped = Vec::new();
    for s in live {
        let generation = s.generation + 1;
        tx.update_by_id::<session::Entity, _>(
            s.id,
            session::ActiveModel {
                generation: Set(generation),
                changed_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        bumped.push((s.id, generation));
    }
    Ok(bumped)
}
