//! The moves under way (`tenant_moves`, one row per tenant at most): where
//! a tenant's data is going, how far the move has got, and what it has
//! measured. Only the operator's commands read or write it (the serving
//! role has no grant on it); its row is removed when the move ends, and
//! with its tenant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantMoves {
    Table,
    TenantId,
    SourcePlacement,
    SourceLocation,
    TargetPlacement,
    TargetLocation,
    State,
    KeepSource,
    Reversed,
    Progress,
    StartedAt,
    UpdatedAt,
    SwitchedAt,
    PauseMs,
    Error,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantMoves::Table)
                    .col(uuid(TenantMoves::TenantId).primary_key())
                    .col(text(TenantMoves::SourcePlacement))
                    .col(text_null(TenantMoves::SourceLocation))
                    .col(text(TenantMoves::TargetPlacement))
                    .col(text_null(TenantMoves::TargetLocation))
                    .col(text(TenantMoves::State).check(Expr::col(TenantMoves::State).is_in([
                        "copying",
                        "catching_up",
                        "switching",
                        "switched",
                        "removing",
                    ])))
                    .col(boolean(TenantMoves::KeepSource))
                    .col(boolean(TenantMoves::Reversed))
                    .col(text(TenantMoves::Progress))
                    .col(timestamp_with_time_zone(TenantMoves::StartedAt))
                    .col(timestamp_with_time_zone(TenantMoves::UpdatedAt))
                    .col(timestamp_with_time_zone_null(TenantMoves::SwitchedAt))
                    .col(big_integer_null(TenantMoves::PauseMs))
                    .col(text_null(TenantMoves::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tenant_moves_tenant_fk")
                            .from_tbl(TenantMoves::Table)
                            .from_col(TenantMoves::TenantId)
                            .to_tbl(Tenants::Table)
                            .to_col(Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantMoves::Table).to_owned())
            .await
    }
}
