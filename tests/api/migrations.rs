//! Migrations run up, down and up again on an empty database, and `migrate`
//! is idempotent.

use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

use crate::support::{postgres::PgDatabase, settings};

async fn up_down_up(url: &str) {
    let conn = Database::connect(url).await.expect("connect");
    Migrator::up(&conn, None).await.expect("up");
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .expect("status")
            .is_empty()
    );
    Migrator::down(&conn, None).await.expect("down");
    assert_eq!(
        Migrator::get_pending_migrations(&conn).await.expect("status").len(),
        Migrator::migrations().len()
    );
    Migrator::up(&conn, None).await.expect("up again");
    conn.close().await.expect("close");
    // The application's own migrate, twice: idempotent.
    let s = settings(&[("DATABASE_URL", url.to_owned())]);
    let db = tenantry::db::Db::connect_owner(&s).await.expect("owner");
    db.migrate(&s.database.app_role).await.expect("migrate");
    db.migrate(&s.database.app_role).await.expect("migrate again");
    db.close().await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    up_down_up(&format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display())).await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_on_postgres() {
    let Some(db) = PgDatabase::create_empty().await else {
        return;
    };
    up_down_up(&db.url).await;
}

/// Every table the migrations make is in exactly one of the two sets, and
/// a tenant-set table references nothing but tenant-set tables and
/// `tenants` (so a tenant's rows can live, and move, anywhere).
async fn tables_in_their_sets(tables: Vec<(String, Vec<String>)>) {
    assert!(tables.len() >= migration::PLATFORM_SET.len() + migration::TENANT_SET.len());
    let mut seen = std::collections::BTreeSet::new();
    for (table, references) in &tables {
        let set = migration::set_of(table)
            .unwrap_or_else(|| panic!("{table} is in migration::TENANT_SET or migration::PLATFORM_SET"));
        seen.insert(table.clone());
        if set == migration::TableSet::Tenant {
            for target in references {
                assert!(
                    target == "tenants" || migration::set_of(target) == Some(migration::TableSet::Tenant),
                    "{table} (tenant set) references {target}, which is not in the tenant set"
                );
            }
        }
    }
    for table in migration::TENANT_SET.iter().chain(migration::PLATFORM_SET) {
        assert!(
            seen.contains(*table),
            "{table} is listed in a set but no migration makes it"
        );
    }
}

#[tokio::test]
async fn every_table_is_in_exactly_one_set_on_sqlite() {
    use sea_orm::sqlx::{Connection, Row, SqliteConnection};
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let s = settings(&[("DATABASE_URL", url.clone())]);
    let db = tenantry::db::Db::connect_owner(&s).await.expect("owner");
    db.migrate(&s.database.app_role).await.expect("migrate");
    db.close().await;
    let mut conn = SqliteConnection::connect(&url).await.expect("connect");
    let names: Vec<String> = sea_orm::sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut tables = Vec::new();
    for name in names {
        let references = sea_orm::sqlx::query("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .expect("foreign keys")
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect();
        tables.push((name, references));
    }
    tables_in_their_sets(tables).await;
}

#[tokio::test]
async fn every_table_is_in_exactly_one_set_on_postgres() {
    use sea_orm::sqlx::{Connection, PgConnection, Row};
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let rows = sea_orm::sqlx::query(
        "SELECT c.relname::text,
                coalesce(array_agg(DISTINCT r.relname::text) FILTER (WHERE r.relname IS NOT NULL), '{}')
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
           LEFT JOIN pg_class r ON r.oid = k.confrelid
          WHERE n.nspname = 'public' AND c.relkind = 'r'
          GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let tables = rows
        .iter()
        .map(|row| (row.get::<String, _>(0), row.get::<Vec<String>, _>(1)))
        .collect();
    tables_in_their_sets(tables).await;
}
