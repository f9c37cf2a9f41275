//! The access vocabulary every layer may use: who is calling
//! ([`Principal`], [`Actor`]), what they may do ([`Scope`], [`Role`]), the
//! proofs that a check passed ([`Grant`], [`UserGrant`]), and [`Denied`]
//! when it did not. Nothing here knows HTTP, SQL or credentials; it imports
//! no other room of the crate.
//!
//! A `Principal` is made only by `auth/` (from a verified credential) and
//! by the operator's command line; a `Grant` only by the checks below, and
//! it is the only way to tenant data (`Db::scoped`).

mod role;
mod scope;

use uuid::Uuid;

pub use role::Role;
pub use scope::{Scope, Scopes};

/// A tenant's id. Its own type, so a person's id can never be passed where
/// a tenant's is expected (or the other way round).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub Uuid);

/// A person's id (see [`TenantId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

macro_rules! typed_id {
    ($id:ident) => {
        impl From<Uuid> for $id {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$id> for Uuid {
            fn from(id: $id) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $id {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(TenantId);
typed_id!(UserId);

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A request authenticated with an API key.
    ApiKey { id: Uuid },
    /// A person, with an access token of one of their sessions.
    User { id: UserId, session: Uuid },
    /// The operator at the command line.
    Operator,
}

/// A check that did not pass; the HTTP edge answers it with a 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// An authenticated caller, bound to exactly one tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    tenant_id: TenantId,
    actor: Actor,
    scopes: Scopes,
    /// A person's role in the tenant; `None` for keys and the operator.
    role: Option<Role>,
}

impl Principal {
    /// The operator acting on one tenant from the command line (every scope).
    pub fn operator(tenant_id: impl Into<TenantId>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            actor: Actor::Operator,
            scopes: Scopes::all(),
            role: None,
        }
    }

    /// A request holding the API key `id` with `scopes`. For `auth/`, once
    /// the key was verified.
    pub(crate) fn for_key(tenant_id: TenantId, id: Uuid, scopes: Scopes) -> Self {
        Self {
            tenant_id,
            actor: Actor::ApiKey { id },
            scopes,
            role: None,
        }
    }

    /// A person acting in `tenant_id` with `role` through `session`. For
    /// `auth/`, once their access token was verified.
    pub(crate) fn for_person(tenant_id: TenantId, user: UserId, session: Uuid, role: Role) -> Self {
        Self {
            tenant_id,
            actor: Actor::User { id: user, session },
            scopes: role.scopes(),
            role: Some(role),
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn scopes(&self) -> Scopes {
        self.scopes
    }

    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Proof for the owner-only operations (deleting the tenant, transferring
    /// ownership): a signed-in owner, never an API key.
    pub fn require_owner(&self) -> Result<Grant<'_>, Denied> {
        match (self.actor, self.role) {
            (Actor::User { .. }, Some(Role::Owner)) => Ok(Grant { principal: self }),
            _ => Err(Denied(
                "only the tenant's owner, signed in, may do this (never an API key)".to_owned(),
            )),
        }
    }

    /// The person acting and their session, for credentials that are a
    /// person's (denied for API keys).
    pub fn person(&self) -> Result<UserGrant, Denied> {
        match self.actor {
            Actor::User { id, session } => Ok(UserGrant {
                user_id: id,
                session: Some(session),
            }),
            _ => Err(Denied(
                "this operation is open to people signed in, not to API keys".to_owned(),
            )),
        }
    }

    /// Proof that this principal may act with `scope`.
    pub fn require(&self, scope: Scope) -> Result<Grant<'_>, Denied> {
        if self.scopes.contains(scope) {
            Ok(Grant { principal: self })
        } else {
            Err(Denied(format!("this credential lacks the `{scope}` scope")))
        }
    }

    /// For the few operations any credential of the tenant may call, whatever
    /// its scopes: reading its own tenant and introspecting itself.
    pub fn authenticated(&self) -> Grant<'_> {
        Grant { principal: self }
    }
}

/// Proof that a principal holds the scope an operation needs. Made only by
/// [`Principal::require`], [`Principal::require_owner`] and
/// [`Principal::authenticated`].
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    principal: &'a Principal,
}

impl Grant<'_> {
    pub fn tenant_id(&self) -> TenantId {
        self.principal.tenant_id
    }
}

/// Proof that a person's credential was verified: an access token, a
/// password or a refresh token. The only way to a `UserDb` (`Db::for_user`).
#[derive(Debug, Clone, Copy)]
pub struct UserGrant {
    user_id: UserId,
    session: Option<Uuid>,
}

impl UserGrant {
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The session the credential belongs to, when it is an access token.
    pub fn session(&self) -> Option<Uuid> {
        self.session
    }

    /// For a person whose password was just verified (login) or who was
    /// just created (signup, the CLI), or whose refresh token was found.
    pub(crate) fn verified(user_id: impl Into<UserId>) -> Self {
        Self {
            user_id: user_id.into(),
            session: None,
        }
    }
}
