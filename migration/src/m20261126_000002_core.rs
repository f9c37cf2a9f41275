use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    TenantId,
    Id,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    TenantId,
    Id,
    ProjectId,
    Title,
    Description,
    Status,
    Priority,
    DueDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    TenantId,
    Id,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

fn tenant_fk<T: IntoIden + 'static>(table: T, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(table)
        .from_col(Alias::new("tenant_id"))
        .to_tbl(Tenants::Table)
        .to_col(Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// The tenant set's first tables, projects and tasks, with their keys and
/// indexes (not their policies): made here in the shared tables, and by the
/// tenant set's first migration wherever a tenant has storage of its own.
pub(crate) async fn create_projects_and_tasks(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Projects::Table)
                .col(uuid(Projects::TenantId))
                .col(uuid(Projects::Id))
                .col(text(Projects::Name))
                .col(text_null(Projects::Description))
                .col(timestamp_with_time_zone(Projects::CreatedAt))
                .col(timestamp_with_time_zone(Projects::UpdatedAt))
                .primary_key(Index::create().col(Projects::TenantId).col(Projects::Id))
                .foreign_key(&mut tenant_fk(Projects::Table, "projects_tenant_fk"))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("projects_tenant_created_idx")
                .table(Projects::Table)
                .col(Projects::TenantId)
                .col(Projects::CreatedAt)
                .col(Projects::Id)
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Tasks::Table)
                .col(uuid(Tasks::TenantId))
                .col(uuid(Tasks::Id))
                .col(uuid(Tasks::ProjectId))
                .col(text(Tasks::Title))
                .col(text_null(Tasks::Description))
                .col(text(Tasks::Status).check(Expr::col(Tasks::Status).is_in(["todo", "in_progress", "done"])))
                .col(small_integer(Tasks::Priority).check(Expr::col(Tasks::Priority).between(0, 4)))
                .col(date_null(Tasks::DueDate))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                .primary_key(Index::create().col(Tasks::TenantId).col(Tasks::Id))
                .foreign_key(&mut tenant_fk(Tasks::Table, "tasks_tenant_fk"))
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_project_fk")
                        .from_tbl(Tasks::Table)
                        .from_col(Tasks::TenantId)
                        .from_col(Tasks::ProjectId)
                        .to_tbl(Projects::Table)
                        .to_col(Projects::TenantId)
                        .to_col(Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    for (name, cols) in [
        (
            "tasks_tenant_project_created_idx",
            &[Tasks::TenantId, Tasks::ProjectId, Tasks::CreatedAt, Tasks::Id][..],
        ),
        (
            "tasks_tenant_created_idx",
            &[Tasks::TenantId, Tasks::CreatedAt, Tasks::Id][..],
        ),
        (
            "tasks_tenant_due_idx",
            &[Tasks::TenantId, Tasks::DueDate, Tasks::Id][..],
        ),
    ] {
        let mut index = Index::create();
        index.name(name).table(Tasks::Table);
        for col in cols {
            index.col(*col);
        }
        manager.create_index(index.to_owned()).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_projects_and_tasks(manager).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid(ApiKeys::TenantId))
                    .col(uuid(ApiKeys::Id))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(text(ApiKeys::KeyHash))
                    .col(text(ApiKeys::Scopes))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .primary_key(Index::create().col(ApiKeys::TenantId).col(ApiKeys::Id))
                    .foreign_key(&mut tenant_fk(ApiKeys::Table, "api_keys_tenant_fk"))
                    .to_owned(),
            )
            .await?;
        // The one index that does not lead with tenant_id: a request's key is
        // looked up before its tenant is known.
        manager
            .create_index(
                Index::create()
                    .name("api_keys_key_hash_key")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_tenant_created_idx")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .col(ApiKeys::CreatedAt)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await?;

        for table in ["projects", "tasks", "api_keys"] {
            crate::rls::enable(manager, table, "tenant_id").await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Key lookup happens before the tenant is known, so it cannot pass
            // the tenant policy. This function, owned by the migrating role,
            // answers exactly one question (which key has this hash) and is
            // the only way the application role reads keys across tenants.
            crate::rls::exec(
                manager,
                "CREATE POLICY api_key_lookup ON api_keys FOR SELECT TO CURRENT_USER USING (true);
                     CREATE FUNCTION tenantry_api_key_by_hash(p_key_hash text)
                       RETURNS TABLE (tenant_id uuid, id uuid, scopes text,
                                      expires_at timestamptz, revoked_at timestamptz)
                       LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
                     AS $$
                       SELECT k.tenant_id, k.id, k.scopes, k.expires_at, k.revoked_at
                       FROM api_keys k WHERE k.key_hash = p_key_hash
                     $$;
                     REVOKE ALL ON FUNCTION tenantry_api_key_by_hash(text) FROM PUBLIC;",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            crate::rls::exec(manager, "DROP FUNCTION IF EXISTS tenantry_api_key_by_hash(text);").await?;
        }
        for table in [
            ApiKeys::Table.into_iden(),
            Tasks::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
