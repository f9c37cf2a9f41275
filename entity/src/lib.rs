//! SeaORM entities: one module per table.
//!
//! Tenant-owned entities implement [`TenantScoped`]; the tenant seam in the
//! main crate (`db::tenant`) only ever queries them through it. User-owned
//! entities implement [`UserScoped`], reached only through `db::user`.

pub mod api_key;
pub mod membership;
pub mod project;
pub mod refresh_token;
pub mod session;
pub mod task;
pub mod tenant;
pub mod user;

use sea_orm::EntityTrait;

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
