//! Who made each API key, and the person its authority comes from: a key
//! made by a person is rooted in them; one made by a key, in that key's
//! root; one made by the operator (the CLI), and every key made before
//! this migration, in nobody. A person removed from a tenant loses the
//! keys rooted in them there, and a person demoted loses those holding
//! scopes beyond the new role.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    TenantId,
    CreatedByKind,
    CreatedById,
    RootUserId,
}

const ROOT_INDEX: &str = "api_keys_tenant_root_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            text(ApiKeys::CreatedByKind).default("operator").to_owned(),
            uuid_null(ApiKeys::CreatedById),
            uuid_null(ApiKeys::RootUserId),
        ] {
            manager
                .alter_table(Table::alter().table(ApiKeys::Table).add_column(column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(ROOT_INDEX)
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .col(ApiKeys::RootUserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(ROOT_INDEX).table(ApiKeys::Table).to_owned())
            .await?;
        for column in [ApiKeys::RootUserId, ApiKeys::CreatedById, ApiKeys::CreatedByKind] {
            manager
                .alter_table(Table::alter().table(ApiKeys::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
