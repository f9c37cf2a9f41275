//! The one-row `tenants` of a tenant's own database: the tenant set's
//! foreign keys reference `tenants (id)` in every placement, and in a
//! database of the tenant's own that table holds the tenant's id alone (its
//! registry row stays in the platform's). It carries no grant: the serving
//! role never reads it, the foreign keys check it as the tables' owner.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::uuid;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

/// The stub's name, the platform registry's.
pub const TENANT_STUB: &str = "tenants";

/// Makes the stub in the connection's current schema (a tenant database's
/// `public`) and writes the tenant's row, unless both exist.
pub async fn create_tenant_stub(conn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    let manager = SchemaManager::new(conn);
    manager
        .create_table(
            Table::create()
                .table(Alias::new(TENANT_STUB))
                .if_not_exists()
                .col(uuid(Alias::new("id")).primary_key())
                .to_owned(),
        )
        .await?;
    let insert = Query::insert()
        .into_table(Alias::new(TENANT_STUB))
        .columns([Alias::new("id")])
        .values_panic([tenant.into()])
        .on_conflict(OnConflict::column(Alias::new("id")).do_nothing().to_owned())
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}
