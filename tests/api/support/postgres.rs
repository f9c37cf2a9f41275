//! A PostgreSQL database per test, cloned from a template migrated once per
//! schema version (guarded by an advisory lock across test processes), and
//! dropped when the test ends.

use std::hash::{Hash, Hasher};

use migration::MigratorTrait;
use sea_orm::sqlx::{self, Connection, Executor, PgConnection};
use tenantry::db::Db;
use tokio::sync::OnceCell;
use uuid::Uuid;

pub fn admin_url() -> String {
    std::env::var("TENANTRY_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{database}")
}

/// Whether a test may skip PostgreSQL: only when asked, and never in CI.
fn may_skip() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    !ci && std::env::var("TENANTRY_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

async fn admin() -> Option<PgConnection> {
    match PgConnection::connect(&admin_url()).await {
        Ok(conn) => Some(conn),
        Err(e) if may_skip() => {
            eprintln!("SKIPPED: PostgreSQL unreachable at {} ({e})", admin_url());
            None
        }
        Err(e) => panic!(
            "PostgreSQL is unreachable at {} ({e}). Start it, point TENANTRY_TEST_DATABASE_URL at one, \
             or set TENANTRY_TEST_SKIP_POSTGRES=1 to skip PostgreSQL tests locally (ignored in CI).",
            admin_url()
        ),
    }
}

async fn exec(conn: &mut PgConnection, sql: String) {
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn template_name() -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for m in migration::Migrator::migrations()
        .iter()
        .chain(&migration::TenantMigrator::migrations())
    {
        m.name().hash(&mut hasher);
    }
    // The migrations' source too (both sets'), so a template made from an
    // earlier draft of a migration is never reused.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migration/src");
    let list = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let mut files: Vec<_> = list(&root)
        .into_iter()
        .flat_map(|path| if path.is_dir() { list(&path) } else { vec![path] })
        .collect();
    files.sort();
    for file in files {
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("tenantry_tpl_{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = admin().await.expect("checked before");
            exec(&mut conn, "SELECT pg_advisory_lock(7411001)".into()).await;
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_optional(&mut conn)
                .await
                .expect("catalog query");
            if exists.is_none() {
                let building = format!("{name}_build");
                exec(&mut conn, format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await;
                exec(&mut conn, format!("CREATE DATABASE {building}")).await;
                let settings = super::settings(&[("DATABASE_URL", url_for(&building))]);
                let db = Db::connect_owner(&settings).await.expect("connect to the template");
                db.migrate(&settings.database.app_role)
                    .await
                    .expect("migrate the template");
                db.close().await;
                exec(&mut conn, format!("ALTER DATABASE {building} RENAME TO {name}")).await;
                // Each template says when it was made; those of other schema
                // versions are dropped once they are a day old (another
                // checkout's suite may be using one now).
                exec(
                    &mut conn,
                    format!(
                        "COMMENT ON DATABASE {name} IS 'made {}'",
                        chrono::Utc::now().timestamp()
                    ),
                )
                .await;
                let stale: Vec<String> = sqlx::query_scalar(
                    "SELECT d.datname::text FROM pg_database d
                       LEFT JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass
                      WHERE d.datname LIKE 'tenantry\\_tpl\\_%' AND d.datname <> $1
                        AND coalesce(substring(c.description FROM '^made ([0-9]+)$')::bigint, 0)
                            < extract(epoch FROM now()) - 86400",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .expect("catalog query");
                for old in stale {
                    exec(&mut conn, format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)")).await;
                }
                // Tenant databases whose test database is gone (a test
                // process that was killed).
                let prefix = tenantry::db::tenant_database_comment("");
                let orphans: Vec<String> = sqlx::query_scalar(
                    "SELECT d.datname::text FROM pg_database d
                       JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass
                      WHERE d.datname ~ '^t_[0-9a-f]{32}$' AND starts_with(c.description, $1)
                        AND NOT EXISTS (SELECT 1 FROM pg_database p
                                         WHERE p.datname = split_part(substr(c.description, length($1) + 1), ' ', 1))",
                )
                .bind(&prefix)
                .fetch_all(&mut conn)
                .await
                .expect("catalog query");
                for old in orphans {
                    exec(&mut conn, format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)")).await;
                }
            }
            exec(&mut conn, "SELECT pg_advisory_unlock(7411001)".into()).await;
            let _ = conn.close().await;
            name
        })
        .await
        .clone()
}

/// A database of this test's own; dropped (connections and all) at the end.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let mut conn = admin().await?;
        let template = template().await;
        let name = format!("tenantry_t_{}", Uuid::new_v4().simple());
        exec(&mut conn, format!("CREATE DATABASE {name} TEMPLATE {template}")).await;
        let _ = conn.close().await;
        Some(PgDatabase {
            url: url_for(&name),
            name,
        })
    }

    /// An empty database (for migration tests).
    pub async fn create_empty() -> Option<PgDatabase> {
        let mut conn = admin().await?;
        let name = format!("tenantry_t_{}", Uuid::new_v4().simple());
        exec(&mut conn, format!("CREATE DATABASE {name}")).await;
        let _ = conn.close().await;
        Some(PgDatabase {
            url: url_for(&name),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // The test's runtime is single-threaded and busy dropping; use a
        // thread of our own to reach the server.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                // The tenants' own databases first (their comments name
                // this one).
                let tenants: Vec<String> = sqlx::query_scalar(
                    "SELECT d.datname::text FROM pg_database d
                       JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass
                      WHERE d.datname ~ '^t_[0-9a-f]{32}$'
                        AND (c.description = $1 OR starts_with(c.description, $1 || ' ('))",
                )
                .bind(tenantry::db::tenant_database_comment(&name))
                .fetch_all(&mut conn)
                .await
                .ok()?;
                for tenant in tenants {
                    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {tenant} WITH (FORCE)"
                    ))))
                    .await
                    .ok()?;
                }
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                ))))
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
