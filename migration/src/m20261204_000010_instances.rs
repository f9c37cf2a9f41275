//! The serving instances (`instances`, one row each while it runs): when
//! each last polled for moved tenants (`beat_ms`, the database's clock in
//! milliseconds) and how far its polls have read (`seen_ms`: on PostgreSQL
//! the database's time its last poll read at, on SQLite the latest
//! `tenants.placed_at` that poll saw). A tenant move removes its old copy
//! only once every instance still polling has read the tenant's new
//! placement, so no instance can still reach the copy. An instance adds
//! its row at its first poll and removes it when it stops; a row whose
//! beat is old is an instance that died, and is swept.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    StartedAt,
    BeatMs,
    SeenMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(uuid(Instances::Id).primary_key())
                    .col(timestamp_with_time_zone(Instances::StartedAt))
                    .col(big_integer(Instances::BeatMs))
                    .col(big_integer(Instances::SeenMs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Instances::Table).to_owned())
            .await
    }
}
