//! Projects and tasks, with their keys, indexes and (on PostgreSQL) forced
//! row-level security. The platform's `m20261126_000002_core` made them in
//! the shared tables before the tenant set had migrations of its own, so
//! there this is already done; in a tenant's own schema or database it
//! makes them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["projects", "tasks"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if super::is_shared_storage(manager).await? {
            return Ok(());
        }
        crate::m20261126_000002_core::create_projects_and_tasks(manager).await?;
        for table in TABLES {
            crate::rls::enable(manager, table, "tenant_id").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // In the shared tables they are the platform migration's to drop.
        if super::is_shared_storage(manager).await? {
            return Ok(());
        }
        for table in TABLES.into_iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
