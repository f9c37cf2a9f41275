//! Tenants in a schema of their own (PostgreSQL) beside tenants in the
//! shared tables: the same API, their rows where their placement says, the
//! tenant rules kept in their schema, and neither reaching the other.

use sea_orm::sqlx::{self, Connection, PgConnection, Row};
use serde_json::json;
use tenantry::domain::tenants::Placement;

use crate::support::TestApp;
use crate::{both_backends, postgres_only};

both_backends!(every_instance_follows_a_moved_tenant_within_a_second,);

postgres_only!(
    a_schema_tenant_keeps_its_rows_in_its_own_schema,
    a_schema_tenant_s_tables_keep_the_tenant_rules,
    row_level_security_alone_keeps_a_schema_tenant_apart,
);

async fn connect(app: &TestApp) -> PgConnection {
    PgConnection::connect(app.settings.database.url())
        .await
        .expect("connect to the test database")
}

async fn count(conn: &mut PgConnection, sql: &str, tenant: uuid::Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(tenant)
        .fetch_one(conn)
        .await
        .expect("count")
}

async fn a_schema_tenant_keeps_its_rows_in_its_own_schema(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Schema).await;
    let b = app.tenant("beta").await;
    let schema = tenantry::db::schema_name(a.id);

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
    let b_project = app.project(&b.key, "B's project").await;
    let b_pid = b_project["id"].as_str().unwrap_or_default().to_owned();

    // Each tenant's rows are where its placement says, and only there.
    let mut conn = connect(&app).await;
    let in_schema = |table: &str| format!("SELECT count(*) FROM {schema}.{table} WHERE tenant_id = $1");
    let shared = |table: &str| format!("SELECT count(*) FROM public.{table} WHERE tenant_id = $1");
    assert_eq!(count(&mut conn, &in_schema("projects"), a.id).await, 1);
    assert_eq!(count(&mut conn, &in_schema("tasks"), a.id).await, 1);
    assert_eq!(count(&mut conn, &shared("projects"), a.id).await, 0);
    assert_eq!(count(&mut conn, &shared("tasks"), a.id).await, 0);
    assert_eq!(count(&mut conn, &shared("projects"), b.id).await, 1);
    assert_eq!(count(&mut conn, &in_schema("projects"), b.id).await, 0);

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
    let b_list = app.get("/v1/projects", &b.key).await;
    assert_eq!(b_list.ok(200)["items"].as_array().map(Vec::len), Some(1));

    // The tenant's own resource says nothing of where it lives, and
    // deleting its rows works there as anywhere.
    app.delete(&format!("/v1/tasks/{tid}"), &a.key).await.ok(204);
    app.delete(&format!("/v1/projects/{pid}"), &a.key).await.ok(204);
    assert_eq!(count(&mut conn, &in_schema("projects"), a.id).await, 0);
}

async fn a_schema_tenant_s_tables_keep_the_tenant_rules(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Schema).await;
    let schema = tenantry::db::schema_name(a.id);
    let mut conn = connect(&app).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut expected: Vec<String> = migration::TENANT_SET.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tables, expected, "the schema holds the tenant set, and only it");

    let app_role = &app.settings.database.app_role;
    for table in migration::TENANT_SET.iter().filter(|t| **t != migration::TENANT_LEDGER) {
        let qualified = format!("{schema}.{table}");
        let row = sqlx::query(
            "SELECT c.relrowsecurity, c.relforcerowsecurity,
                    (SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'),
                    (SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'
                               AND k.confrelid = 'public.tenants'::regclass),
                    has_table_privilege($2, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
               FROM pg_class c WHERE c.oid = $1::regclass",
        )
        .bind(&qualified)
        .bind(app_role)
        .fetch_one(&mut conn)
        .await
        .expect("catalog");
        let (rls, forced, not_null): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
        let primary: String = row.get(3);
        let (to_tenants, granted): (bool, bool) = (row.get(4), row.get(5));
        assert!(rls && forced, "{qualified}: row-level security enabled and forced");
        assert!(not_null, "{qualified}: tenant_id NOT NULL");
        assert!(primary.starts_with("PRIMARY KEY (tenant_id"), "{qualified}: {primary}");
        assert!(to_tenants, "{qualified}: a foreign key to the platform's tenants");
        assert!(
            granted,
            "{qualified}: the application role reaches it as the shared table"
        );
        let policy: Option<String> = sqlx::query_scalar(
            "SELECT qual FROM pg_policies WHERE schemaname = $1 AND tablename = $2 AND policyname = 'tenant_isolation'",
        )
        .bind(&schema)
        .bind(table)
        .fetch_optional(&mut conn)
        .await
        .expect("policies");
        assert!(
            policy.is_some_and(|p| p.contains("app.tenant_id")),
            "{qualified} has the tenant_isolation policy"
        );
    }
    let ledger = format!("{schema}.{}", migration::TENANT_LEDGER);
    let granted: bool = sqlx::query_scalar("SELECT has_table_privilege($2, $1::regclass, 'SELECT')")
        .bind(&ledger)
        .bind(app_role)
        .fetch_one(&mut conn)
        .await
        .expect("privilege");
    assert!(!granted, "the application role has no grant on the ledger");
    let applied: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {ledger} ORDER BY version"
    )))
    .fetch_all(&mut conn)
    .await
    .expect("ledger");
    use migration::MigratorTrait;
    let names: Vec<String> = migration::TenantMigrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(applied, names, "the schema's ledger has every tenant-set migration");

    // The operator sees where the tenant lives.
    let shown = app.cli(&["tenant", "show", &a.slug], "");
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["placement"], "schema");
    assert_eq!(shown["location"], schema.as_str());
}

async fn row_level_security_alone_keeps_a_schema_tenant_apart(app: TestApp) {
    let a = app.tenant_in("alpha", Placement::Schema).await;
    let b = app.tenant_in("beta", Placement::Schema).await;
    app.project(&a.key, "A's").await;
    let schema = tenantry::db::schema_name(a.id);
    let mut conn = connect(&app).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET ROLE {}",
        app.settings.database.app_role
    )))
    .execute(&mut conn)
    .await
    .expect("SET ROLE");
    // In A's schema without the filter: A's setting sees its row, B's and
    // none see nothing.
    let seen = |setting: Option<uuid::Uuid>| {
        let set = setting.map(|t| t.to_string()).unwrap_or_default();
        format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{set}', true); SELECT set_config('search_path', '{schema}, public', true);"
        )
    };
    for (setting, expected) in [(Some(a.id), 1), (Some(b.id), 0), (None, 0)] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(seen(setting)))
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
    // Writing into A's schema under B's setting is refused by the policy.
    sqlx::raw_sql(sqlx::AssertSqlSafe(seen(Some(b.id))))
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

/// A tenant moved out of the shared tables by hand (on PostgreSQL into a
/// schema, on SQLite into a database file), while two instances have been
/// serving it from the shared tables: within a second of the move both
/// serve it from its new place (each polls for moved tenants every 500 ms).
async fn every_instance_follows_a_moved_tenant_within_a_second(app: TestApp) {
    use crate::support::with_credential;
    use tenantry::db::FleetOptions;
    let tenant = app.tenant_in("mover", Placement::Shared).await;
    let project = app.project(&tenant.key, "moves with it").await;
    let id = project["id"].as_str().unwrap_or_default().to_owned();
    let other = app.sibling().await;
    let get = |base: String| {
        let app = &app;
        let (key, id) = (tenant.key.clone(), id.clone());
        async move {
            app.send(with_credential(app.http.get(format!("{base}/v1/projects/{id}")), &key))
                .await
        }
    };
    for base in [app.base.clone(), other.base.clone()] {
        get(base).await.ok(200);
    }

    // The move: the registry row first (its storage behind), the storage
    // made by a fleet run, the rows copied, then taken from the shared
    // tables.
    let postgres = !app.settings.is_sqlite();
    let (placement, location) = if postgres {
        ("schema", tenantry::db::schema_name(tenant.id))
    } else {
        ("database", format!("tenants/{}.db", tenant.id.simple()))
    };
    if postgres {
        let mut conn = PgConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::query("UPDATE tenants SET placement = $1, location = $2, storage_version = NULL WHERE id = $3")
            .bind(placement)
            .bind(&location)
            .bind(tenant.id)
            .execute(&mut conn)
            .await
            .expect("moved in the registry");
        app.owner
            .migrate_fleet(FleetOptions::default(), &|_| {})
            .await
            .expect("the storage made");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {location}.projects SELECT * FROM public.projects WHERE tenant_id = '{t}';
             DELETE FROM public.projects WHERE tenant_id = '{t}';",
            t = tenant.id
        )))
        .execute(&mut conn)
        .await
        .expect("rows moved");
    } else {
        use sea_orm::sqlx::SqliteConnection;
        let mut conn = SqliteConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::query("UPDATE tenants SET placement = ?1, location = ?2, storage_version = NULL WHERE id = ?3")
            .bind(placement)
            .bind(&location)
            .bind(tenant.id)
            .execute(&mut conn)
            .await
            .expect("moved in the registry");
        app.owner
            .migrate_fleet(FleetOptions::default(), &|_| {})
            .await
            .expect("the storage made");
        let file = app.settings.data_dir.join(&location);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ATTACH DATABASE '{}' AS own",
            file.display()
        )))
        .execute(&mut conn)
        .await
        .expect("attach");
        for sql in [
            "INSERT INTO own.projects SELECT * FROM main.projects WHERE tenant_id = ?1",
            "DELETE FROM main.projects WHERE tenant_id = ?1",
        ] {
            sqlx::query(sql)
                .bind(tenant.id)
                .execute(&mut conn)
                .await
                .expect("rows moved");
        }
    }
    let moved = std::time::Instant::now();
    for base in [app.base.clone(), other.base.clone()] {
        loop {
            let r = get(base.clone()).await;
            if r.status == 200 {
                break;
            }
            assert!(
                moved.elapsed() < std::time::Duration::from_secs(1),
                "{base} still serves the tenant from its old place ({}) after a second",
                r.status
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let listed = app.get("/v1/projects", &tenant.key).await;
    assert_eq!(listed.ok(200)["items"].as_array().map(Vec::len), Some(1));
}
