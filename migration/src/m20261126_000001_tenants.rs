use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(uuid(Tenants::Id).primary_key())
                    .col(text(Tenants::Slug).unique_key())
                    .col(text(Tenants::Name))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A request sees its own tenant's row only. The migrating role (the
        // operator's CLI) may also read the registry, to find a tenant by slug.
        crate::rls::enable(manager, "tenants", "id").await?;
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            crate::rls::exec(
                manager,
                "CREATE POLICY tenant_registry ON tenants FOR SELECT TO CURRENT_USER USING (true);",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Tenants::Table).to_owned()).await
    }
}
