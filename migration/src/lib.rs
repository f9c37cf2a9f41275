//! Schema migrations. Append-only: a released migration is never edited.
//!
//! `m20261126_000001_tenants` creates the platform table; `m20261126_000002_core`
//! the tenant-owned tables (each with `tenant_id NOT NULL`, a direct foreign key
//! to `tenants`, composite primary and foreign keys led by `tenant_id`) and, on
//! PostgreSQL, their row-level security policies; `m20261126_000003_accounts`
//! users, memberships, sessions and refresh tokens (user-owned rows guarded by
//! a policy on `app.user_id`); `m20261201_000004_api_key_provenance` who made
//! each API key and the person it is rooted in; `m20261202_000005_tenant_placement`
//! where each tenant's data lives (its placement and location);
//! `m20261202_000006_tenant_storage_state` where its own storage stands;
//! `m20261202_000007_tenant_placed_at` when its placement last changed;
//! `m20261202_000008_deployment` the deployment's own id;
//! `m20261203_000009_tenant_moves` the tenant moves under way;
//! `m20261204_000010_instances` the serving instances and what each has read;
//! `m20261204_000011_tenant_plan` each tenant's plan;
//! `m20261204_000012_platform_idempotency_keys` the stored results of the
//! idempotent requests that write the platform set.
//!
//! Every table is in one of two sets, the tenant set or the platform set
//! ([`TENANT_SET`], [`PLATFORM_SET`]). [`Migrator`] holds the platform
//! set's migrations (and, from before the tenant set had its own, the
//! shared tables' first tenant-set tables); [`TenantMigrator`] the tenant
//! set's, applied to every tenant storage with a ledger of its own.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::{Migration, MigrationStatus};

mod m20261126_000001_tenants;
mod m20261126_000002_core;
mod m20261126_000003_accounts;
mod m20261201_000004_api_key_provenance;
mod m20261202_000005_tenant_placement;
mod m20261202_000006_tenant_storage_state;
mod m20261202_000007_tenant_placed_at;
mod m20261202_000008_deployment;
mod m20261203_000009_tenant_moves;
mod m20261204_000010_instances;
mod m20261204_000011_tenant_plan;
mod m20261204_000012_platform_idempotency_keys;
mod rls;
mod sets;
mod stub;
mod tenant_set;

pub use m20261202_000005_tenant_placement::PLACEMENTS;
pub use rls::{APP_TENANT_SETTING, APP_USER_SETTING, TENANT_TABLES, USER_TABLES};
pub use sets::{PLATFORM_SET, TENANT_SET, TableSet, set_of};
pub use stub::{TENANT_STUB, create_tenant_stub};
pub use tenant_set::{IDEMPOTENCY_KEYS, TENANT_CHANGES, TENANT_LEDGER, TenantMigrator};

/// The platform set's stored results of idempotent requests.
pub const PLATFORM_IDEMPOTENCY_KEYS: &str = "platform_idempotency_keys";

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_tenants::Migration),
            Box::new(m20261126_000002_core::Migration),
            Box::new(m20261126_000003_accounts::Migration),
            Box::new(m20261201_000004_api_key_provenance::Migration),
            Box::new(m20261202_000005_tenant_placement::Migration),
            Box::new(m20261202_000006_tenant_storage_state::Migration),
            Box::new(m20261202_000007_tenant_placed_at::Migration),
            Box::new(m20261202_000008_deployment::Migration),
            Box::new(m20261203_000009_tenant_moves::Migration),
            Box::new(m20261204_000010_instances::Migration),
            Box::new(m20261204_000011_tenant_plan::Migration),
            Box::new(m20261204_000012_platform_idempotency_keys::Migration),
        ]
    }
}
