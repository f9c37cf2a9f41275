use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// The transaction-local setting that carries the current tenant on PostgreSQL.
pub const APP_TENANT_SETTING: &str = "app.tenant_id";

/// Every table whose rows belong to a tenant, in creation order.
pub const TENANT_TABLES: &[&str] = &[
    "projects",
    "tasks",
    "api_keys",
    "memberships",
    "tenant_changes",
    "idempotency_keys",
    "platform_idempotency_keys",
];

/// The transaction-local setting that carries the current user on PostgreSQL.
pub const APP_USER_SETTING: &str = "app.user_id";

/// Every table whose rows belong to a user (guarded by a policy on
/// `app.user_id`), in creation order.
pub const USER_TABLES: &[&str] = &["users", "sessions", "refresh_tokens"];

/// The `app.tenant_id` setting as a uuid, or NULL when unset.
pub(crate) fn current_tenant() -> String {
    format!("NULLIF(current_setting('{APP_TENANT_SETTING}', true), '')::uuid")
}

/// The `app.user_id` setting as a uuid, or NULL when unset.
pub(crate) fn current_user() -> String {
    format!("NULLIF(current_setting('{APP_USER_SETTING}', true), '')::uuid")
}

/// Enables and forces row-level security on `table` with a policy that admits
/// only rows of the tenant named by `app.tenant_id` in the current transaction.
/// `column` is the column compared with it (`tenant_id`, or `id` on `tenants`).
pub(crate) async fn enable(manager: &SchemaManager<'_>, table: &str, column: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let current = current_tenant();
    exec(
        manager,
        &format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON {table}
               USING ({column} = {current})
               WITH CHECK ({column} = {current});"
        ),
    )
    .await
}

/// Runs DDL that the schema builder cannot express (triggers, functions,
/// policies).
pub(crate) async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    #[expect(clippy::disallowed_methods, reason = "migrations run DDL")]
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}
