//! Tenants in a database of their own beside tenants in the shared tables:
//! on PostgreSQL a database on the platform's server (or a named one), on
//! SQLite a file in the data directory. The same API; the tenant set's rows
//! in the tenant's database and nowhere else; its keys, members and
//! sessions in the platform's; the tenant rules kept there; a bounded
//! registry of pools however many such tenants there are; and a deleted
//! tenant's database dropped by the next migration run.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::sqlx::{self, Connection, PgConnection, Row, SqliteConnection};
use serde_json::json;
use tenantry::clock::Clock;
use tenantry::db::FleetOptions;
use tenantry::domain::tenants::{self, Placement};
use uuid::Uuid;

use crate::support::{TestApp, postgres};
use crate::{both_backends, postgres_only};

both_backends!(
    a_database_tenant_keeps_its_rows_in_its_own_database,
    a_deleted_tenant_s_database_is_dropped_by_the_next_run,
);

postgres_only!(
    a_tenant_database_keeps_the_tenant_rules,
    row_level_security_alone_keeps_a_database_tenant_apart,
    a_named_server_holds_the_tenants_put_on_it,
);

/// The tenant database's rows of `table` for `tenant`, and those of the
/// platform's shared table.
async fn counts(app: &TestApp, tenant: Uuid, table: &str) -> (i64, i64) {
    let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
    if app.settings.is_sqlite() {
        let own = app
            .settings
            .data_dir
            .join("tenants")
            .join(format!("{}.db", tenant.simple()));
        let mut conn = SqliteConnection::connect(&format!("sqlite://{}", own.display()))
            .await
            .expect("the tenant's file");
        let mut shared = SqliteConnection::connect(app.settings.database.url())
            .await
            .expect("the platform's file");
        let own: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        let platform: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_one(&mut shared)
            .await
            .expect("count");
        return (own, platform);
    }
    let mut own = PgConnection::connect(&tenant_url(app, tenant))
        .await
        .expect("the tenant's database");
    let mut shared = PgConnection::connect(app.settings.database.url())
        .await
        .expect("the platform's database");
    let a: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant)
        .fetch_one(&mut own)
        .await
        .expect("count");
    let b: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .fetch_one(&mut shared)
        .await
        .expect("count");
    (a, b)
}

/// A shared tenant's projects in the platform's tables.
async fn platform_count(app: &TestApp, tenant: Uuid) -> i64 {
    let sql = "SELECT count(*) FROM projects WHERE tenant_id = $1";
    if app.settings.is_sqlite() {
        let mut conn = SqliteConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        return sqlx::query_scalar(sql)
            .bind(tenant)
            .fetch_one(&mut conn)
            .await
            .expect("count");
    }
    let mut conn = PgConnection::connect(app.settings.database.url())
        .await
        .expect("connect");
    sqlx::query_scalar(sql)
        .bind(tenant)
        .fetch_one(&mut conn)
        .await
        .expect("count")
}

/// The owner's URL of `tenant`'s own database on the test's server.
fn tenant_url(app: &TestApp, tenant: Uuid) -> String {
    let url = app.settings.database.url();
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{}", tenantry::db::database_name(tenant))
}

async fn a_database_tenant_keeps_its_rows_in_its_own_database(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Database).await;
    let b = app.tenant("beta").await;

    // The whole sample domain, as on a shared tenant.
    let project = app.project(&a.key, "A's project").await;
    let pid = project["id"].as_str().unwrap_or_default().to_owned();
    let task = app.task(&a.key, &project, json!({"title": "A's task"})).await;
    let tid = task["id"].as_str().unwrap_or_default().to_owned();
    app.get(&format!("/v1/projects/{pid}"), &a.key).await.ok(200);
    let renamed = app
        .patch(&format!("/v1/projects/{pid}"), &a.key, json!({"name": "renamed"}))
        .await;
    assert_eq!(renamed.ok(200)["name"], "renamed");
    let listed = app.get("/v1/projects", &a.key).await;
    assert_eq!(listed.ok(200)["items"].as_array().map(Vec::len), Some(1));
    let tasks = app.get(&format!("/v1/projects/{pid}/tasks"), &a.key).await;
    assert_eq!(tasks.ok(200)["items"][0]["id"], tid.as_str());
    // The platform set of the same tenant: its keys and its own row.
    app.get("/v1/api-keys", &a.key).await.ok(200);
    let tenant = app.patch("/v1/tenant", &a.key, json!({"name": "Alpha Inc"})).await;
    assert_eq!(tenant.ok(200)["name"], "Alpha Inc");
    let b_project = app.project(&b.key, "B's project").await;
    let b_pid = b_project["id"].as_str().unwrap_or_default().to_owned();

    // Each tenant's rows are where its placement says, and only there.
    assert_eq!(counts(&app, a.id, "projects").await, (1, 0));
    assert_eq!(counts(&app, a.id, "tasks").await, (1, 0));
    assert_eq!(counts(&app, a.id, "projects").await.1, 0);
    assert_eq!(platform_count(&app, b.id).await, 1);

    // Neither reaches the other's rows: a 404, as for any unknown id.
    app.get(&format!("/v1/projects/{b_pid}"), &a.key)
        .await
        .problem(404, "not_found");
    app.get(&format!("/v1/projects/{pid}"), &b.key)
        .await
        .problem(404, "not_found");
    app.get(&format!("/v1/tasks/{tid}"), &b.key)
        .await
        .problem(404, "not_found");

    app.delete(&format!("/v1/tasks/{tid}"), &a.key).await.ok(204);
    app.delete(&format!("/v1/projects/{pid}"), &a.key).await.ok(204);
    assert_eq!(counts(&app, a.id, "projects").await, (0, 0));

    // The operator sees where the tenant lives: a name or a path, never a URL.
    let shown = app.cli(&["tenant", "show", &a.slug], "");
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["placement"], "database");
    let expected = if app.settings.is_sqlite() {
        format!("tenants/{}.db", a.id.simple())
    } else {
        tenantry::db::database_name(a.id)
    };
    assert_eq!(shown["location"], expected.as_str());
    let status = app.owner.migration_status().await.expect("status");
    assert_eq!(status.tenants.current, status.tenants.total, "{status:?}");
    assert!(app.state.db.tenant_pools().pools >= 1);
}

async fn a_tenant_database_keeps_the_tenant_rules(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Database).await;
    let mut conn = PgConnection::connect(&tenant_url(&app, a.id)).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut expected: Vec<String> = migration::TENANT_SET
        .iter()
        .chain(&[migration::TENANT_STUB])
        .map(|t| t.to_string())
        .collect();
    expected.sort();
    assert_eq!(tables, expected, "the tenant set and the one-row stub, nothing else");
    let stub: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_all(&mut conn)
        .await
        .expect("stub");
    assert_eq!(stub, vec![a.id], "the stub holds the tenant alone");

    let app_role = &app.settings.database.app_role;
    for table in migration::TENANT_SET.iter().filter(|t| **t != migration::TENANT_LEDGER) {
        let row = sqlx::query(
            "SELECT c.relrowsecurity, c.relforcerowsecurity,
                    (SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'),
                    (SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'
                               AND k.confrelid = 'public.tenants'::regclass),
                    has_table_privilege($2, c.oid, 'SELECT, INSERT, UPDATE, DELETE'),
                    (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)
               FROM pg_class c WHERE c.oid = $1::regclass",
        )
        .bind(format!("public.{table}"))
        .bind(app_role)
        .fetch_one(&mut conn)
        .await
        .expect("catalog");
        let (rls, forced, not_null): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
        let primary: String = row.get(3);
        let (to_tenants, granted, indexes): (bool, bool, i64) = (row.get(4), row.get(5), row.get(6));
        assert!(rls && forced, "{table}: row-level security enabled and forced");
        assert!(not_null, "{table}: tenant_id NOT NULL");
        assert!(primary.starts_with("PRIMARY KEY (tenant_id"), "{table}: {primary}");
        assert!(to_tenants, "{table}: a foreign key to the stub");
        assert!(granted, "{table}: the application role reaches it");
        // The change log is read by its primary key alone (tenant, seq).
        let least = if *table == migration::TENANT_CHANGES { 1 } else { 2 };
        assert!(indexes >= least, "{table}: its indexes ({indexes})");
    }
    for (table, what) in [
        (migration::TENANT_LEDGER, "the ledger"),
        (migration::TENANT_STUB, "the stub"),
    ] {
        let granted: bool = sqlx::query_scalar("SELECT has_table_privilege($2, $1::regclass, 'SELECT')")
            .bind(table)
            .bind(app_role)
            .fetch_one(&mut conn)
            .await
            .expect("privilege");
        assert!(!granted, "the application role has no grant on {what}");
    }
    use migration::MigratorTrait;
    let applied: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {} ORDER BY version",
        migration::TENANT_LEDGER
    )))
    .fetch_all(&mut conn)
    .await
    .expect("ledger");
    let names: Vec<String> = migration::TenantMigrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(applied, names, "the database's ledger has every tenant-set migration");
}

async fn row_level_security_alone_keeps_a_database_tenant_apart(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Database).await;
    let b = app.tenant("beta").await;
    app.project(&a.key, "A's").await;
    let mut conn = PgConnection::connect(&tenant_url(&app, a.id)).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET ROLE {}",
        app.settings.database.app_role
    )))
    .execute(&mut conn)
    .await
    .expect("SET ROLE");
    for (setting, expected) in [(Some(a.id), 1), (Some(b.id), 0), (None, 0)] {
        let set = setting.map(|t| t.to_string()).unwrap_or_default();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{set}', true);"
        )))
        .execute(&mut conn)
        .await
        .expect("scope");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        sqlx::raw_sql("COMMIT").execute(&mut conn).await.expect("commit");
        assert_eq!(n, expected, "{setting:?}");
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true);",
        b.id
    )))
    .execute(&mut conn)
    .await
    .expect("scope");
    let refused = sqlx::query(
        "INSERT INTO projects (tenant_id, id, name, created_at, updated_at) VALUES ($1, gen_random_uuid(), 'x', now(), now())",
    )
    .bind(a.id)
    .execute(&mut conn)
    .await;
    assert!(refused.is_err(), "a row of A written under B's setting");
    sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.expect("rollback");
}

async fn a_deleted_tenant_s_database_is_dropped_by_the_next_run(app: TestApp) {
    let gone = app.tenant_in("gone", Placement::Database).await;
    let kept = app.tenant_in("kept", Placement::Database).await;
    app.project(&gone.key, "goes with it").await;
    let operator = tenantry::access::Principal::operator(gone.id);
    let db = app.owner.scoped(&operator.authenticated());
    let deleted = tenants::delete(&db, app.clock.now()).await.expect("deleted");
    app.state.apply(deleted).await;
    let location = |id: Uuid| {
        if app.settings.is_sqlite() {
            format!("tenants/{}.db", id.simple())
        } else {
            tenantry::db::database_name(id)
        }
    };
    let exists = |id: Uuid| {
        let app = &app;
        async move {
            if app.settings.is_sqlite() {
                return app
                    .settings
                    .data_dir
                    .join("tenants")
                    .join(format!("{}.db", id.simple()))
                    .exists();
            }
            let mut conn = PgConnection::connect(&postgres::admin_url()).await.expect("admin");
            let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(tenantry::db::database_name(id))
                .fetch_optional(&mut conn)
                .await
                .expect("catalog");
            found.is_some()
        }
    };
    assert!(exists(gone.id).await, "the serving role cannot drop it");
    let report = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert_eq!(report.dropped, vec![location(gone.id)]);
    assert!(!exists(gone.id).await);
    assert!(exists(kept.id).await);
    app.project(&kept.key, "still served").await;
    let again = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert!(again.dropped.is_empty());
}

async fn a_named_server_holds_the_tenants_put_on_it(app: TestApp) {
    // A second name for the test's own server: what the configuration
    // names is all the server needs.
    let named = [("TENANTRY_DATABASES__RESERVE__URL", postgres::admin_url())];
    let slug = format!("named-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let out = app.cli_with(
        &named,
        &[
            "tenant",
            "create",
            &slug,
            "--placement",
            "database",
            "--database",
            "reserve",
        ],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let id: Uuid = made["id"].as_str().and_then(|s| s.parse().ok()).expect("an id");
    assert_eq!(made["placement"], "database");
    assert_eq!(
        made["location"],
        format!("reserve/{}", tenantry::db::database_name(id)).as_str()
    );
    // A server no configuration names is refused, and nothing is made.
    let refused = app.cli_with(
        &named,
        &[
            "tenant",
            "create",
            "nowhere-tenant",
            "--placement",
            "database",
            "--database",
            "elsewhere",
        ],
        "",
    );
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let shown = app.cli(&["tenant", "show", "nowhere-tenant"], "");
    assert!(!shown.status.success(), "no tenant was made");
    // A fleet run through both names keeps it (and drops nothing).
    let report = app.cli_with(&named, &["migrate"], "");
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    assert_eq!(report["tenants"]["dropped"], json!([]), "{report}");
}

mod fifty_database_tenants_hold_to_a_cap_of_ten_connections {
    #[tokio::test]
    async fn postgres() {
        let cap = [("TENANTRY_DB_TENANT_CONNECTIONS", "10".to_owned())];
        let Some(app) = crate::support::TestApp::spawn_postgres_with(&cap).await else {
            return;
        };
        super::fifty_database_tenants_hold_to_a_cap_of_ten_connections(app).await;
    }
}

/// How many server processes are connected to any of `databases`.
async fn connected(admin: &mut PgConnection, databases: &[String]) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1)")
        .bind(databases)
        .fetch_one(admin)
        .await
        .expect("activity")
}

async fn fifty_database_tenants_hold_to_a_cap_of_ten_connections(app: TestApp) {
    let platform = app.owner.platform();
    let app = &app;
    let fleet: Vec<(Uuid, String)> = futures_util::stream::iter(0..50)
        .map(|i| {
            let (platform, now) = (platform.clone(), app.clock.now());
            async move {
                let slug = format!("db-{i}-{}", &Uuid::new_v4().simple().to_string()[..6]);
                let tenant = tenants::create(&platform, now, &slug, None, Placement::Database)
                    .await
                    .expect("a database tenant");
                tenant.id
            }
        })
        .buffer_unordered(4)
        .then(|id| async move {
            let (key, _) = app.key(id, tenantry::access::Scopes::all(), None).await;
            (id, key)
        })
        .collect()
        .await;
    let databases: Vec<String> = fleet.iter().map(|(id, _)| tenantry::db::database_name(*id)).collect();
    let mut admin = PgConnection::connect(&postgres::admin_url()).await.expect("admin");

    // Every tenant at once, twice over, while the server's connections to
    // their databases are counted.
    let load = futures_util::stream::iter(fleet.iter().chain(fleet.iter()))
        .map(|(_, key)| async {
            let project = app.project(key, "under the cap").await;
            let id = project["id"].as_str().unwrap_or_default().to_owned();
            app.get(&format!("/v1/projects/{id}"), key).await.ok(200);
            app.get("/v1/projects", key).await.ok(200);
        })
        .buffer_unordered(50)
        .collect::<Vec<()>>();
    let mut load = std::pin::pin!(load);
    let mut most = 0;
    loop {
        tokio::select! {
            _ = &mut load => break,
            n = connected(&mut admin, &databases) => {
                most = most.max(n);
                assert!(app.state.db.tenant_pools().connections <= 10, "{:?}", app.state.db.tenant_pools());
            }
        }
    }
    most = most.max(connected(&mut admin, &databases).await);
    assert!(most <= 10, "{most} connections to tenant databases under a cap of 10");
    assert!(most > 0, "the load reached the tenant databases");
    for (_, key) in &fleet {
        let listed = app.get("/v1/projects", key).await;
        assert_eq!(listed.ok(200)["items"].as_array().map(Vec::len), Some(2));
    }

    // Idle pools close, and their connections with them.
    assert!(app.state.db.close_idle_tenant_pools(Some(Duration::ZERO)) > 0);
    assert_eq!(app.state.db.tenant_pools().pools, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while connected(&mut admin, &databases).await > 0 {
        assert!(Instant::now() < deadline, "the closed pools' connections ended");
        tokio::task::yield_now().await;
    }
}

/// Signup in a deployment whose default placement is not `shared`: the new
/// tenant's storage is made before its account is written, and a refused
/// signup leaves no storage behind.
mod signup_puts_new_tenants_in_the_default_placement {
    use tenantry::domain::tenants::Placement;

    fn default(placement: &str) -> [(&'static str, String); 1] {
        [("TENANTRY_DEFAULT_PLACEMENT", placement.to_owned())]
    }

    #[tokio::test]
    async fn sqlite_database() {
        let app = crate::support::TestApp::spawn_sqlite_with(&default("database")).await;
        super::signup_in(app, Placement::Database).await;
    }

    #[tokio::test]
    async fn postgres_database() {
        let Some(app) = crate::support::TestApp::spawn_postgres_with(&default("database")).await else {
            return;
        };
        super::signup_in(app, Placement::Database).await;
    }

    #[tokio::test]
    async fn postgres_schema() {
        let Some(app) = crate::support::TestApp::spawn_postgres_with(&default("schema")).await else {
            return;
        };
        super::signup_in(app, Placement::Schema).await;
    }
}

async fn signup_in(app: TestApp, placement: Placement) {
    let ada = app.signup("ada").await;
    let tenant = tenants::by_slug(&app.owner.platform(), &ada.tenant_slug)
        .await
        .expect("the tenant");
    assert_eq!(tenant.placement, placement.as_str());
    let project = app.project(&ada.access, "Ada's").await;
    let id = project["id"].as_str().unwrap_or_default().to_owned();
    app.get(&format!("/v1/projects/{id}"), &ada.access).await.ok(200);
    if placement == Placement::Database {
        assert_eq!(counts(&app, tenant.id, "projects").await, (1, 0));
    } else {
        assert_eq!(platform_count(&app, tenant.id).await, 0, "not in the shared tables");
    }
    let status = app.owner.migration_status().await.expect("status");
    assert_eq!(status.tenants.current, status.tenants.total, "{status:?}");

    // The same email again: refused, and no second storage is left over.
    let again = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({
                "email": ada.email,
                "password": ada.password,
                "name": "Ada again",
                "tenant_name": "Another team",
            })),
        )
        .await;
    again.problem(409, "conflict");
    let report = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert!(report.dropped.is_empty(), "nothing was left to drop: {report:?}");
}

mod a_transaction_never_spans_both_table_sets {
    use tenantry::domain::tenants::Placement;

    #[tokio::test]
    async fn sqlite() {
        let app = crate::support::TestApp::spawn_sqlite().await;
        for placement in [Placement::Shared, Placement::Database] {
            super::never_spans(&app, placement).await;
        }
    }

    #[tokio::test]
    async fn postgres() {
        let Some(app) = crate::support::TestApp::spawn_postgres().await else {
            return;
        };
        for placement in [Placement::Shared, Placement::Schema, Placement::Database] {
            super::never_spans(&app, placement).await;
        }
    }
}

/// In every placement alike: a transaction that has reached the tenant set
/// refuses the platform set and the other way round, and what it wrote
/// before is rolled back with it.
async fn never_spans(app: &TestApp, placement: Placement) {
    use entity::{api_key, project};
    let tenant = app.tenant_in("sets", placement).await;
    let operator = tenantry::access::Principal::operator(tenant.id);
    let db = app.state.db.scoped(&operator.authenticated());

    let tx = db.write().await.expect("a transaction");
    let now = app.clock.now();
    tx.insert::<project::Entity, _>(project::ActiveModel {
        id: sea_orm::Set(Uuid::now_v7()),
        name: sea_orm::Set("rolled back".to_owned()),
        description: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
        updated_at: sea_orm::Set(now),
        ..Default::default()
    })
    .await
    .expect("the tenant set");
    let refused = tx.find::<api_key::Entity>().all().await;
    let message = refused.expect_err("the platform set after the tenant set").to_string();
    assert!(message.contains("never spans both"), "{placement}: {message}");
    drop(tx);
    assert!(
        app.read_all("/v1/projects", &tenant.key, 10).await.is_empty(),
        "{placement}: nothing of it was written"
    );

    let tx = db.read().await.expect("a transaction");
    assert!(
        !tx.find::<api_key::Entity>()
            .all()
            .await
            .expect("the platform set")
            .is_empty()
    );
    let refused = tx.find::<project::Entity>().all().await;
    assert!(refused.is_err(), "{placement}: the tenant set after the platform set");
}

mod the_operator_deletes_a_tenant_and_its_storage_at_once {
    use tenantry::domain::tenants::Placement;

    #[tokio::test]
    async fn sqlite() {
        let app = crate::support::TestApp::spawn_sqlite().await;
        for placement in [Placement::Shared, Placement::Database] {
            super::operator_deletes(&app, placement).await;
        }
    }

    #[tokio::test]
    async fn postgres() {
        let Some(app) = crate::support::TestApp::spawn_postgres().await else {
            return;
        };
        for placement in [Placement::Shared, Placement::Schema, Placement::Database] {
            super::operator_deletes(&app, placement).await;
        }
    }
}

/// `tenantry tenant delete`: the tenant, its keys and its data gone, its
/// schema or database dropped before the command returns, nothing left for
/// a fleet run.
async fn operator_deletes(app: &TestApp, placement: Placement) {
    let tenant = app.tenant_in("doomed", placement).await;
    app.project(&tenant.key, "goes too").await;
    let out = app.cli(&["tenant", "delete", &tenant.slug], "");
    assert!(
        out.status.success(),
        "{placement}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["deleted"]["slug"], tenant.slug.as_str());
    let expected = match placement {
        Placement::Shared => serde_json::Value::Null,
        Placement::Schema => json!(tenantry::db::schema_name(tenant.id)),
        Placement::Database if app.settings.is_sqlite() => json!(format!("tenants/{}.db", tenant.id.simple())),
        Placement::Database => json!(tenantry::db::database_name(tenant.id)),
    };
    assert_eq!(report["dropped"], expected, "{placement}: {report}");
    let shown = app.cli(&["tenant", "show", &tenant.slug], "");
    assert!(!shown.status.success(), "{placement}: the tenant is gone");
    let fleet = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert!(fleet.dropped.is_empty(), "{placement}: nothing was left: {fleet:?}");
    // A tenant that still exists is never dropped this way.
    let alive = app.tenant_in("alive", placement).await;
    assert!(app.owner.platform().drop_storage(alive.id).await.is_err());
    app.project(&alive.key, "still here").await;
}
