//! The serving instances (`instances`, one row each while it runs): when
//! each last read which tenants had moved (`seen_ms`, the database's clock
//! in milliseconds). A tenant move removes its old copy only once every
//! instance still polling has read the tenant's new placement, so no
//! instance can still reach the copy. An instance adds its row at its
//! first poll and removes it when it stops; a row not refreshed for a
//! while is an instance that died, and is swept.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    StartedAt,
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
