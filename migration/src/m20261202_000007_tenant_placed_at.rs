//! When a tenant's placement or location last changed (`placed_at`,
//! milliseconds since the epoch by the database's own clock), written by a
//! trigger whoever changes them, so every instance can ask which tenants
//! moved since it last looked (one indexed question) and read their
//! placement again. Empty until a tenant's placement first changes: a new
//! tenant is read on its first request anyway.
//!
//! On PostgreSQL the stamp is written when the changing transaction
//! commits (a deferred constraint trigger), so however long that
//! transaction ran, its stamp is within moments of its commit and a poll
//! that looks a few seconds back sees it. On SQLite writers are serialized
//! and the stamp is written at the change.
//!
//! On PostgreSQL the serving role asks through
//! `tenantry_placements_changed_since(bigint)` (`SECURITY DEFINER`): its own
//! view of `tenants` is its tenant's row alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    PlacedAt,
}

const INDEX: &str = "tenants_placed_at_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::PlacedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Tenants::Table)
                    .col(Tenants::PlacedAt)
                    .to_owned(),
            )
            .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::rls::exec(
                    manager,
                    "CREATE FUNCTION tenantry_placed_at() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                       UPDATE tenants SET placed_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                        WHERE id = NEW.id;
                       IF NOT FOUND THEN
                         RAISE EXCEPTION 'tenant %: its placement changed where its row cannot be stamped (set app.tenant_id)', NEW.id;
                       END IF;
                       RETURN NULL;
                     END $$;
                     CREATE CONSTRAINT TRIGGER tenants_placed_at AFTER UPDATE OF placement, location ON tenants
                       DEFERRABLE INITIALLY DEFERRED
                       FOR EACH ROW
                       WHEN (OLD.placement IS DISTINCT FROM NEW.placement OR OLD.location IS DISTINCT FROM NEW.location)
                       EXECUTE FUNCTION tenantry_placed_at();
                     CREATE FUNCTION tenantry_placements_changed_since(p_since bigint)
                       RETURNS TABLE (id uuid, placed_at bigint)
                       LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
                     AS $$ SELECT t.id, t.placed_at FROM tenants t WHERE t.placed_at > p_since $$;
                     REVOKE ALL ON FUNCTION tenantry_placements_changed_since(bigint) FROM PUBLIC;",
                )
                .await?;
            }
            _ => {
                crate::rls::exec(
                    manager,
                    "CREATE TRIGGER tenants_placed_at AFTER UPDATE OF placement, location ON tenants
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                crate::rls::exec(
                    manager,
                    "DROP FUNCTION IF EXISTS tenantry_placements_changed_since(bigint);
                     DROP TRIGGER IF EXISTS tenants_placed_at ON tenants;
                     DROP FUNCTION IF EXISTS tenantry_placed_at();",
                )
                .await?;
            }
            _ => {
                crate::rls::exec(manager, "DROP TRIGGER IF EXISTS tenants_placed_at").await?;
            }
        }
        manager
            .drop_index(Index::drop().name(INDEX).table(Tenants::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::PlacedAt)
                    .to_owned(),
            )
            .await
    }
}
