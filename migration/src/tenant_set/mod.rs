//! The tenant set's migrations ([`TenantMigrator`]): applied to every
//! tenant storage — the shared tables, and each schema or database a tenant
//! has of its own — each storage keeping its own ledger
//! ([`TENANT_LEDGER`]) beside the tables it describes.
//!
//! A migration here is written once for every storage: it names its tables
//! unqualified, and runs with the storage's schema first on `search_path`
//! (so `current_schema()` is that storage), `tenants` resolving to the
//! platform's registry (or, in a tenant database, to its one-row stub).
//!
//! Append-only, like the platform set: a released migration is never
//! edited.

use sea_orm_migration::prelude::*;

mod t20261202_000001_projects_tasks;
mod t20261203_000002_tenant_changes;
mod t20261204_000003_idempotency_keys;

pub(crate) use t20261204_000003_idempotency_keys::create as create_records;

/// Each storage's ledger of the tenant-set migrations it has.
pub const TENANT_LEDGER: &str = "tenant_migrations";

/// Each storage's stored results of requests sent with an `Idempotency-Key`.
pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";

/// Each storage's log of the rows a tenant move must copy again.
pub const TENANT_CHANGES: &str = "tenant_changes";

/// The tenant set's migrations.
pub struct TenantMigrator;

#[async_trait::async_trait]
impl MigratorTrait for TenantMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(t20261202_000001_projects_tasks::Migration),
            Box::new(t20261203_000002_tenant_changes::Migration),
            Box::new(t20261204_000003_idempotency_keys::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new(TENANT_LEDGER).into_iden()
    }
}

/// Whether the storage being migrated is the shared one: the one that also
/// holds the platform set (its ledger is in the current schema).
pub(crate) async fn is_shared_storage(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    manager.has_table("seaql_migrations").await
}
