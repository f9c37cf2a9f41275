//! The stored results of the requests sent with an `Idempotency-Key` to
//! the operations that write the platform set (a tenant's keys, members
//! and its own row): `platform_idempotency_keys`, the shape of the tenant
//! set's `idempotency_keys` (see there), written in the transaction of the
//! effect on this side.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::tenant_set::create_records(manager, crate::PLATFORM_IDEMPOTENCY_KEYS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new(crate::PLATFORM_IDEMPOTENCY_KEYS))
                    .to_owned(),
            )
            .await
    }
}
