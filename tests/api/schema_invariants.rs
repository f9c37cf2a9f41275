//! Rules the database catalog must keep (PostgreSQL), and row-level
//! security proven on its own: with the application's tenant filter
//! bypassed, the policies alone keep tenants apart, through the driver the
//! request path uses and in its pipelined shape.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sqlx::{self, Connection, PgConnection, Row};
use serde_json::json;

use crate::postgres_only;
use crate::support::{TestApp, settings};

postgres_only!(
    every_tenant_table_keeps_the_tenant_rules,
    row_level_security_alone_stops_cross_tenant_access,
    serve_refuses_a_role_that_escapes_row_level_security,
    row_level_security_alone_keeps_people_apart,
);

/// Tables without a `tenant_id`, and why.
const EXEMPT_TABLES: &[(&str, &str)] = &[
    (
        "tenants",
        "the root: each row is a tenant, guarded by a policy on its own id",
    ),
    (
        "seaql_migrations",
        "the migration ledger; the application role has no grant on it",
    ),
    (
        "tenant_migrations",
        "the shared tables' ledger of tenant-set migrations; the application role has no grant on it",
    ),
    (
        "users",
        "a person is global (many tenants); owned by the user, guarded by user_isolation on app.user_id",
    ),
    (
        "sessions",
        "a person's devices; owned by the user (user_isolation), readable and endable by the tenant it acts in",
    ),
    (
        "refresh_tokens",
        "a session's token family; owned by the user, guarded by user_isolation",
    ),
    (
        "deployment",
        "the deployment's own id, one row; the application role has no grant on it",
    ),
    (
        "tenant_moves",
        "the operator's record of the tenant moves under way; the application role has no grant on it",
    ),
    (
        "instances",
        "the serving instances' own rows (when each last read the moved tenants); no tenant's data",
    ),
];

/// Indexes on tenant tables that do not lead with `tenant_id`, and why.
const EXEMPT_INDEXES: &[(&str, &str)] = &[
    (
        "api_keys_key_hash_key",
        "a request's key is looked up by hash before its tenant is known",
    ),
    (
        "memberships_user_idx",
        "a person's tenants are listed before a tenant is chosen (login, /me)",
    ),
];

async fn connect(app: &TestApp) -> PgConnection {
    PgConnection::connect(app.settings.database.url())
        .await
        .expect("connect to the test database")
}

async fn every_tenant_table_keeps_the_tenant_rules(app: TestApp) {
    let mut conn = connect(&app).await;
    let exempt: HashMap<&str, &str> = EXEMPT_TABLES.iter().copied().collect();
    let exempt_indexes: HashMap<&str, &str> = EXEMPT_INDEXES.iter().copied().collect();
    let tables = sqlx::query(
        "SELECT c.relname::text AS name, c.relrowsecurity, c.relforcerowsecurity
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut tenant_tables = BTreeSet::new();
    for row in &tables {
        let table: String = row.get("name");
        if exempt.contains_key(table.as_str()) {
            continue;
        }
        tenant_tables.insert(table.clone());
        let nullable: Option<String> = sqlx::query_scalar(
            "SELECT is_nullable::text FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'tenant_id'",
        )
        .bind(&table)
        .fetch_optional(&mut conn)
        .await
        .expect("columns");
        assert_eq!(
            nullable.as_deref(),
            Some("NO"),
            "{table}.tenant_id exists and is NOT NULL"
        );

        let fks = sqlx::query(
            "SELECT con.confrelid::regclass::text AS target,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS cols
               FROM pg_constraint con WHERE con.conrelid = $1::regclass AND con.contype = 'f'",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .expect("foreign keys");
        let mut direct = false;
        for fk in &fks {
            let target: String = fk.get("target");
            let cols: Vec<String> = fk.get("cols");
            if target == "tenants" && cols == ["tenant_id"] {
                direct = true;
            } else if migration::USER_TABLES.contains(&target.as_str()) {
                // A reference to a person, who is global (a membership's user).
            } else {
                assert_eq!(
                    cols.first().map(String::as_str),
                    Some("tenant_id"),
                    "{table} -> {target}: composite with tenant_id first"
                );
            }
        }
        assert!(direct, "{table} has a direct foreign key tenant_id -> tenants");

        let indexes = sqlx::query(
            "SELECT i.relname::text AS name, a.attname::text AS first
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
              WHERE x.indrelid = $1::regclass",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .expect("indexes");
        assert!(!indexes.is_empty(), "{table} has indexes");
        for index in &indexes {
            let name: String = index.get("name");
            let first: String = index.get("first");
            assert!(
                first == "tenant_id" || exempt_indexes.contains_key(name.as_str()),
                "index {name} on {table} leads with {first}, not tenant_id"
            );
        }

        let rls: bool = row.get("relrowsecurity");
        let forced: bool = row.get("relforcerowsecurity");
        assert!(rls && forced, "{table} has row-level security enabled and forced");
        let policy: Option<String> =
            sqlx::query_scalar("SELECT qual FROM pg_policies WHERE tablename = $1 AND policyname = 'tenant_isolation'")
                .bind(&table)
                .fetch_optional(&mut conn)
                .await
                .expect("policies");
        let policy = policy.unwrap_or_else(|| panic!("{table} has the tenant_isolation policy"));
        assert!(
            policy.contains("app.tenant_id") && policy.contains("NULLIF"),
            "{table}: {policy}"
        );
    }
    // User-owned tables: RLS forced, with the policy on app.user_id.
    for table in migration::USER_TABLES {
        let row =
            sqlx::query("SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c WHERE c.oid = $1::regclass")
                .bind(table)
                .fetch_one(&mut conn)
                .await
                .expect("user table");
        let (rls, forced): (bool, bool) = (row.get(0), row.get(1));
        assert!(rls && forced, "{table} has row-level security enabled and forced");
        let policy: Option<String> =
            sqlx::query_scalar("SELECT qual FROM pg_policies WHERE tablename = $1 AND policyname = 'user_isolation'")
                .bind(table)
                .fetch_optional(&mut conn)
                .await
                .expect("policies");
        let policy = policy.unwrap_or_else(|| panic!("{table} has the user_isolation policy"));
        assert!(policy.contains("app.user_id"), "{table}: {policy}");
        assert!(
            exempt.contains_key(table),
            "{table} is listed as exempt, with its reason"
        );
    }
    let declared: BTreeSet<String> = migration::TENANT_TABLES.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        tenant_tables, declared,
        "migration::TENANT_TABLES lists every tenant table"
    );
    assert!(tenant_tables.len() >= 3);
}

/// A connection as the application role, on the driver the request path
/// uses (`tokio-postgres`).
async fn as_app_role(app: &TestApp) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(app.settings.database.url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("SET ROLE {}", app.settings.database.app_role))
        .await
        .expect("SET ROLE");
    client
}

/// A transaction with `app.tenant_id` set, as the seam opens one.
async fn begin_as(conn: &mut tokio_postgres::Client, tenant: uuid::Uuid) -> tokio_postgres::Transaction<'_> {
    let tx = conn.transaction().await.expect("begin");
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.to_string()])
        .await
        .expect("set");
    tx
}

async fn count(conn: &impl tokio_postgres::GenericClient, sql: &str) -> i64 {
    conn.query_one(sql, &[]).await.expect("count").get(0)
}

/// `sql` as the seam runs a single-statement transaction: `BEGIN`, the
/// setting, the statement and `COMMIT`, written together on one connection.
async fn pipelined_count(conn: &tokio_postgres::Client, setting: &str, value: uuid::Uuid, sql: &str) -> i64 {
    let set = conn
        .prepare(&format!("SELECT set_config('{setting}', $1, true)"))
        .await
        .expect("prepare");
    let statement = conn.prepare(sql).await.expect("prepare");
    let value = value.to_string();
    let (begin, scoped, counted, commit) = futures_util::future::join4(
        conn.batch_execute("BEGIN"),
        conn.query(&set, &[&value]),
        conn.query_one(&statement, &[]),
        conn.batch_execute("COMMIT"),
    )
    .await;
    begin.expect("begin");
    scoped.expect("set");
    commit.expect("commit");
    counted.expect("count").get(0)
}

async fn row_level_security_alone_stops_cross_tenant_access(app: TestApp) {
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let p = app.project(&a.key, "A's").await;
    app.task(&a.key, &p, json!({"title": "A's task"})).await;
    let pid: uuid::Uuid = p["id"].as_str().unwrap_or_default().parse().expect("a project id");
    let mut conn = as_app_role(&app).await;

    // No tenant set: nothing is visible, in any tenant table.
    for table in migration::TENANT_TABLES {
        assert_eq!(
            count(&conn, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} without a tenant"
        );
    }
    assert_eq!(count(&conn, "SELECT count(*) FROM tenants").await, 0);

    // In the seam's own shape, one pipelined transaction per statement.
    let setting = migration::APP_TENANT_SETTING;
    assert_eq!(
        pipelined_count(&conn, setting, b.id, "SELECT count(*) FROM projects").await,
        0
    );
    assert_eq!(
        pipelined_count(&conn, setting, a.id, "SELECT count(*) FROM projects").await,
        1
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM projects").await,
        0,
        "the setting ends with it"
    );

    // As B, with no tenant filter in the SQL at all.
    let tx = begin_as(&mut conn, b.id).await;
    assert_eq!(count(&tx, "SELECT count(*) FROM projects").await, 0);
    assert_eq!(count(&tx, "SELECT count(*) FROM tasks").await, 0);
    assert_eq!(count(&tx, "SELECT count(*) FROM api_keys").await, 1, "only B's own key");
    assert_eq!(
        count(&tx, "SELECT count(*) FROM tenants").await,
        1,
        "only B's own tenant"
    );
    let updated = tx
        .execute("UPDATE projects SET name = 'stolen' WHERE id = $1", &[&pid])
        .await
        .expect("update");
    assert_eq!(updated, 0);
    let deleted = tx.execute("DELETE FROM tasks", &[]).await.expect("delete");
    assert_eq!(deleted, 0);
    tx.commit().await.expect("commit");

    let tx = begin_as(&mut conn, b.id).await;
    let planted = tx
        .execute(
            "INSERT INTO projects (tenant_id, id, name, created_at, updated_at) VALUES ($1, gen_random_uuid(), 'planted', now(), now())",
            &[&a.id],
        )
        .await;
    let err = planted.expect_err("writing a row into another tenant is refused");
    let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("row-level security"), "{err}");
    drop(tx);

    // As A, the same unfiltered query sees A's rows.
    let tx = begin_as(&mut conn, a.id).await;
    assert_eq!(count(&tx, "SELECT count(*) FROM projects").await, 1);
    assert_eq!(count(&tx, "SELECT count(*) FROM tasks").await, 1);
    tx.commit().await.expect("commit");
    // After commit the setting is gone again.
    assert_eq!(count(&conn, "SELECT count(*) FROM projects").await, 0);
    // The role cannot read the migration ledger or bypass policies.
    assert!(
        conn.query_one("SELECT count(*) FROM seaql_migrations", &[])
            .await
            .is_err()
    );
    assert!(conn.batch_execute("SET row_security = off").await.is_ok());
    assert!(
        conn.query_one("SELECT count(*) FROM projects", &[]).await.is_err(),
        "row_security=off errors instead of bypassing"
    );
    // Through the API nothing changed.
    assert_eq!(
        app.get(&format!("/v1/projects/{pid}"), &a.key).await.ok(200)["name"],
        "A's"
    );
}

async fn serve_refuses_a_role_that_escapes_row_level_security(app: TestApp) {
    let url = app.settings.database.url().to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let base = |extra: (&str, String)| {
        settings(&[
            ("DATABASE_URL", url.clone()),
            ("TENANTRY_DATA_DIR", dir.path().display().to_string()),
            ("TENANTRY_AUTO_MIGRATE", "false".into()),
            extra,
        ])
    };
    // A superuser login as the serving URL.
    let s = base(("TENANTRY_APP_DATABASE_URL", url.clone()));
    let err = tenantry::server::Application::build_default(&s, "127.0.0.1:0".parse().expect("addr"))
        .await
        .err();
    assert!(
        err.is_some_and(|e| e.to_string().contains("superuser")),
        "refused a superuser"
    );
    // SET ROLE to a superuser role.
    let s = base(("TENANTRY_DB_APP_ROLE", "postgres".into()));
    let err = tenantry::server::Application::build_default(&s, "127.0.0.1:0".parse().expect("addr"))
        .await
        .err();
    assert!(
        err.is_some_and(|e| e.to_string().contains("refusing")),
        "refused SET ROLE postgres"
    );
}

async fn row_level_security_alone_keeps_people_apart(app: TestApp) {
    let a = app.signup("alice").await;
    let b = app.signup("bob").await;
    let mut conn = as_app_role(&app).await;
    for table in migration::USER_TABLES {
        assert_eq!(
            count(&conn, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} without a user"
        );
    }
    let setting = migration::APP_USER_SETTING;
    assert_eq!(
        pipelined_count(&conn, setting, b.user_id, "SELECT count(*) FROM users").await,
        1
    );
    // As B, with no user filter in the SQL at all.
    let tx = conn.transaction().await.expect("begin");
    tx.execute("SELECT set_config('app.user_id', $1, true)", &[&b.user_id.to_string()])
        .await
        .expect("set");
    for (sql, expected) in [
        ("SELECT count(*) FROM users", 1),
        ("SELECT count(*) FROM sessions", 1),
        ("SELECT count(*) FROM refresh_tokens", 1),
        ("SELECT count(*) FROM memberships", 1),
        ("SELECT count(*) FROM tenants", 1),
        ("SELECT count(*) FROM projects", 0),
    ] {
        assert_eq!(count(&tx, sql).await, expected, "{sql} as B");
    }
    let ended = tx
        .execute("UPDATE sessions SET revoked_at = now() WHERE id = $1", &[&a.session_id])
        .await
        .expect("update runs");
    assert_eq!(ended, 0, "B cannot end A's session");
    let stolen = tx
        .execute("UPDATE users SET password_hash = 'x' WHERE id = $1", &[&a.user_id])
        .await
        .expect("update runs");
    assert_eq!(stolen, 0, "B cannot touch A's profile");
    let forged = tx
        .execute(
            "INSERT INTO sessions (id, user_id, tenant_id, generation, created_at, last_used_at, expires_at, changed_at)
             VALUES (gen_random_uuid(), $1, $2, 0, now(), now(), now() + interval '1 day', now())",
            &[&a.user_id, &a.tenant_id],
        )
        .await;
    assert!(forged.is_err(), "B cannot create a session for A");
}
