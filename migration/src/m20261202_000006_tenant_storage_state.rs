//! Where each tenant's own storage stands, in the registry, so the fleet's
//! state is one question however many tenants there are: the last
//! tenant-set migration its storage has (`storage_version`; none for a
//! shared tenant, whose storage is the shared tables with their own
//! ledger), and the error of its last failed migration (`storage_error`,
//! cleared when one succeeds).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Placement,
    StorageVersion,
    StorageError,
}

const INDEX: &str = "tenants_placement_storage_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [text_null(Tenants::StorageVersion), text_null(Tenants::StorageError)] {
            manager
                .alter_table(Table::alter().table(Tenants::Table).add_column(column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Tenants::Table)
                    .col(Tenants::Placement)
                    .col(Tenants::StorageVersion)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Tenants::Table).to_owned())
            .await?;
        for column in [Tenants::StorageError, Tenants::StorageVersion] {
            manager
                .alter_table(Table::alter().table(Tenants::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
