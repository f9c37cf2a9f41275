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
