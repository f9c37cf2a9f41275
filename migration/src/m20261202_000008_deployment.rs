//! The deployment's own id (`deployment`, one row, made once): what the
//! comment of each tenant database this deployment makes names, so a fleet
//! run drops only its own deployment's orphans even where two deployments
//! share a database server and their platform databases share a name.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deployment {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deployment::Table)
                    .col(uuid(Deployment::Id).primary_key())
                    .to_owned(),
            )
            .await?;
        let random = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "gen_random_uuid()",
            // The 16 bytes a UUID is stored as on SQLite.
            _ => "randomblob(16)",
        };
        crate::rls::exec(manager, &format!("INSERT INTO deployment (id) VALUES ({random})")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Deployment::Table).to_owned())
            .await
    }
}
