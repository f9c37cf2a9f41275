//! SeaORM entities: one module per table.
//!
//! Tenant-owned entities implement [`TenantScoped`]; the tenant seam in the
//! main crate (`db::tenant`) only ever queries them through it. User-owned
//! entities implement [`UserScoped`], reached only through `db::user`.
//!
//! What a seam may *read* is wider than what it owns, and each entity says
//! so itself: [`TenantVisible`] (every tenant-owned table, and the people
//! who are members of the tenant) and [`UserVisible`] (every table a person
//! owns, and their memberships and the tenants they belong to).

pub mod api_key;
pub mod membership;
pub mod project;
pub mod refresh_token;
pub mod session;
pub mod task;
pub mod tenant;
pub mod user;

use sea_orm::sea_query::{Condition, IntoCondition};
use sea_orm::{ColumnTrait, EntityTrait};
use uuid::Uuid;

/// An entity whose rows belong to exactly one tenant.
///
/// The seam filters every read by [`TenantScoped::tenant_column`] and stamps
/// every insert with the caller's tenant, so implementing this trait is what
/// makes a table reachable from a request handler.
pub trait TenantScoped: EntityTrait {
    /// The `tenant_id` column.
    fn tenant_column() -> Self::Column;
    /// The row's own id column (the second half of the composite primary key).
    fn id_column() -> Self::Column;
}

/// An entity whose rows belong to exactly one user (sessions, profile).
///
/// The user seam filters every read by [`UserScoped::user_column`] and stamps
/// every insert with the caller's user id.
pub trait UserScoped: EntityTrait {
    /// The column holding the owning user's id (`id` on `users` itself).
    fn user_column() -> Self::Column;
}

/// An entity whose rows a tenant's transaction may read: those that
/// [`TenantVisible::visible_to_tenant`] selects. Every [`TenantScoped`]
/// entity is visible by its tenant column; an entity the tenant does not
/// own says through which relation it sees it.
pub trait TenantVisible: EntityTrait {
    fn visible_to_tenant(tenant: Uuid) -> Condition;
}

impl<E: TenantScoped> TenantVisible for E {
    fn visible_to_tenant(tenant: Uuid) -> Condition {
        E::tenant_column().eq(tenant).into_condition()
    }
}

/// An entity whose rows a person's transaction may read: those that
/// [`UserVisible::visible_to_user`] selects. Every [`UserScoped`] entity is
/// visible by its owner column; others say through which relation.
pub trait UserVisible: EntityTrait {
    fn visible_to_user(user: Uuid) -> Condition;
}

impl<E: UserScoped> UserVisible for E {
    fn visible_to_user(user: Uuid) -> Condition {
        E::user_column().eq(user).into_condition()
    }
}
