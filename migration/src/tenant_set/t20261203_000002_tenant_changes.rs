//! The change log a tenant move reads (`tenant_changes`): while a tenant's
//! rows are copied to a new storage, triggers the move installs on its
//! tables write here, in the writing transaction, which of the tenant's rows
//! changed (table and id, never their content), so the move can copy them
//! again. Empty but for moves under way; each entry is removed once copied.
//!
//! In every storage (the shared tables, a tenant's schema or database),
//! like the tables whose changes it records, with the tenant rules of every
//! tenant table (its `tenant_id`, its foreign key, its policy).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                // An identity column: the writing role needs no grant on a
                // sequence.
                crate::rls::exec(
                    manager,
                    "CREATE TABLE tenant_changes (
                       tenant_id uuid NOT NULL,
                       seq bigint GENERATED ALWAYS AS IDENTITY,
                       table_name text NOT NULL,
                       row_id uuid NOT NULL,
                       PRIMARY KEY (tenant_id, seq),
                       CONSTRAINT tenant_changes_tenant_fk FOREIGN KEY (tenant_id)
                         REFERENCES tenants (id) ON DELETE CASCADE
                     )",
                )
                .await?;
                crate::rls::enable(manager, crate::TENANT_CHANGES, "tenant_id").await
            }
            _ => {
                crate::rls::exec(
                    manager,
                    "CREATE TABLE tenant_changes (
                       seq integer PRIMARY KEY AUTOINCREMENT,
                       tenant_id uuid_text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                       table_name text NOT NULL,
                       row_id uuid_text NOT NULL
                     );
                     CREATE INDEX tenant_changes_tenant_seq_idx ON tenant_changes (tenant_id, seq);",
                )
                .await
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new(crate::TENANT_CHANGES)).to_owned())
            .await
    }
}
