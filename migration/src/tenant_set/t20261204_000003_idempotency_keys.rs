//! The stored results of requests sent with an `Idempotency-Key`
//! (`idempotency_keys`): each success is written in the transaction of its
//! effect, so a retry with the same key is answered with it instead of
//! running again, for 24 hours. In every storage (the shared tables, a
//! tenant's schema or database), with the tenant rules of every tenant
//! table, so a tenant's records move with it.
//!
//! A record's `id` is made from the credential and the key (a keyed hash:
//! never the key as sent), so it is found by its primary key and a key is
//! only ever answered to the credential that sent it. `fingerprint` is the
//! SHA-256 of the request (method, path, query and body); `body` the
//! response, sealed with the server's key.
//!
//! The operations that write the platform set (keys, members, the tenant
//! itself) keep theirs in `platform_idempotency_keys`, of the same shape
//! ([`create`]), in the transaction of their effect there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Records {
    TenantId,
    Id,
    Fingerprint,
    Status,
    Location,
    Body,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

/// Makes the table `name` of stored results, with its keys, its expiry
/// index and (on PostgreSQL) its policy.
pub(crate) async fn create(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new(name))
                .col(uuid(Records::TenantId))
                .col(uuid(Records::Id))
                .col(text(Records::Fingerprint))
                .col(small_integer(Records::Status))
                .col(text_null(Records::Location))
                .col(text(Records::Body))
                .col(timestamp_with_time_zone(Records::CreatedAt))
                .col(timestamp_with_time_zone(Records::ExpiresAt))
                .primary_key(Index::create().col(Records::TenantId).col(Records::Id))
                .foreign_key(
                    ForeignKey::create()
                        .name(format!("{name}_tenant_fk"))
                        .from_tbl(Alias::new(name))
                        .from_col(Records::TenantId)
                        .to_tbl(Tenants::Table)
                        .to_col(Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name(format!("{name}_expiry_idx"))
                .table(Alias::new(name))
                .col(Records::TenantId)
                .col(Records::ExpiresAt)
                .to_owned(),
        )
        .await?;
    crate::rls::enable(manager, name, "tenant_id").await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, crate::IDEMPOTENCY_KEYS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new(crate::IDEMPOTENCY_KEYS)).to_owned())
            .await
    }
}
