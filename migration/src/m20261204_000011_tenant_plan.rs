//! Each tenant's plan (`tenants.plan`): the name of a `[plans.<name>]`
//! section of the configuration, whose budgets its requests draw on; none
//! for the default budget. Set by the operator only.
//!
//! What each instance keeps of a tenant is its placement and its plan, so
//! `placed_at` is stamped when either changes: the instances' poll for
//! moved tenants reads a tenant's plan again as it reads a new placement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Plan,
}

/// A plan's name is a lowercase identifier of at most 32 characters (the
/// configuration's rule); the column holds no more.
const PLAN_MAX: u32 = 32;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::Plan).string_len(PLAN_MAX).null())
                    .to_owned(),
            )
            .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::rls::exec(
                    manager,
                    "DROP TRIGGER tenants_placed_at ON tenants;
                     CREATE CONSTRAINT TRIGGER tenants_placed_at AFTER UPDATE OF placement, location, plan ON tenants
                       DEFERRABLE INITIALLY DEFERRED
                       FOR EACH ROW
                       WHEN (OLD.placement IS DISTINCT FROM NEW.placement OR OLD.location IS DISTINCT FROM NEW.location
                             OR OLD.plan IS DISTINCT FROM NEW.plan)
                       EXECUTE FUNCTION tenantry_placed_at();",
                )
                .await
            }
            _ => {
                crate::rls::exec(
                    manager,
                    "DROP TRIGGER tenants_placed_at;
                     CREATE TRIGGER tenants_placed_at AFTER UPDATE OF placement, location, plan ON tenants
                       FOR EACH ROW
                       WHEN OLD.placement IS NOT NEW.placement OR OLD.location IS NOT NEW.location
                            OR OLD.plan IS NOT NEW.plan
                     BEGIN
                       UPDATE tenants
                          SET placed_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                        WHERE id = NEW.id;
                     END;",
                )
                .await
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::rls::exec(
                    manager,
                    "DROP TRIGGER tenants_placed_at ON tenants;
                     CREATE CONSTRAINT TRIGGER tenants_placed_at AFTER UPDATE OF placement, location ON tenants
                       DEFERRABLE INITIALLY DEFERRED
                       FOR EACH ROW
                       WHEN (OLD.placement IS DISTINCT FROM NEW.placement OR OLD.location IS DISTINCT FROM NEW.location)
                       EXECUTE FUNCTION tenantry_placed_at();",
                )
                .await?;
            }
            _ => {
                crate::rls::exec(
                    manager,
                    "DROP TRIGGER tenants_placed_at;
                     CREATE TRIGGER tenants_placed_at AFTER UPDATE OF placement, location ON tenants
                       FOR EACH ROW
                       WHEN OLD.placement IS NOT NEW.placement OR OLD.location IS NOT NEW.location
                     BEGIN
                       UPDATE tenants
                          SET placed_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                        WHERE id = NEW.id;
                     END;",
                )
                .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::Plan)
                    .to_owned(),
            )
            .await
    }
}
