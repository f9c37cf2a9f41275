//! Tenants placed in a database of their own: where each such database is
//! ([`Servers`]: the server `DATABASE_URL` names, or one named in
//! `[databases.<name>]`; a SQLite file in the data directory on the
//! embedded default), how it is made and migrated, and how the request path
//! reaches it ([`Registry`]: a bounded set of pools).
//!
//! * A tenant database's **location** is its name (`t_<id in hex>`) on the
//!   platform's own server, `<server>/t_<id in hex>` on a named one, or
//!   `tenants/<id in hex>.db` under the data directory: never a URL, so
//!   never a password.
//! * It holds the tenant set (with its own ledger) and a one-row `tenants`
//!   stub (`migration::create_tenant_stub`), so the foreign keys and the
//!   row-level security of its tables are those of the shared tables.
//! * The **registry** keeps one small pool per tenant database in use, and
//!   at most `database.tenant_connections` connections across all of them,
//!   however many such tenants there are: a pool's connections are counted
//!   from the moment it is reserved until the last of the registry and its
//!   leases lets go of it; reserving one past the cap first closes the
//!   least recently used pool that no transaction holds, and waits (up to
//!   the pool wait, then a 503) when every pool is in use. A pool connects
//!   outside the registry's locks, so other tenants' pools are found and
//!   opened meanwhile. Pools unused for `database.tenant_idle_secs` are
//!   closed by a job.
//! * Each database's comment names its deployment, so fleet runs drop only
//!   their own orphans (`fleet.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use migration::MigratorTrait;
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Conn, pg};
use crate::config::Settings;

/// What every tenant database's name starts with; the rest is the tenant's
/// id in hex.
pub const DATABASE_PREFIX: &str = "t_";

/// Where SQLite tenant databases live, under the data directory.
const SQLITE_DIR: &str = "tenants";

/// How long a transaction waits for a tenant database's pool when every
/// pool the cap allows is in use, before it gives up (503), as it waits
/// for a pooled connection.
const WAIT: Duration = Duration::from_secs(10);

/// The most connections one tenant database's pool opens: one shared by
/// its single-statement transactions, one for a longer transaction.
const PER_POOL: u32 = 2;

/// The name of `tenant`'s own database: `t_` and its id in hex, a plain
/// identifier that needs no quoting.
pub fn database_name(tenant: Uuid) -> String {
    format!("{DATABASE_PREFIX}{}", tenant.simple())
}

/// How each tenant database's comment begins, naming the platform
/// database whose tenant it is (for people, and the tests' cleanup).
pub fn comment_for(platform: &str) -> String {
    format!("tenantry tenant database of {platform}")
}

/// The platform a tenant database belongs to: its database's name and the
/// deployment's own id (`deployment`), which two deployments never share.
#[derive(Debug, Clone)]
pub(super) struct Platform {
    pub(super) name: String,
    pub(super) deployment: String,
}

/// The whole comment: [`comment_for`], the deployment, and the server name
/// it was made through (two names may reach one server). A fleet run drops
/// only databases whose comment is exactly its own.
fn comment_on(platform: &Platform, server: Option<&str>) -> String {
    format!(
        "{} (deployment {}, server {})",
        comment_for(&platform.name),
        platform.deployment,
        server.unwrap_or("default")
    )
}

fn is_database_name(name: &str) -> bool {
    name.strip_prefix(DATABASE_PREFIX)
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// A server tenant databases may live on.
#[derive(Debug, Clone)]
struct Server {
    /// The login that creates, migrates and drops databases there; its own
    /// database is the one connected to for that.
    url: SecretString,
    /// The serving role's own login, if it has one (else `url` with `SET ROLE`).
    app_url: Option<SecretString>,
}

/// Where a location points.
#[derive(Debug)]
enum Target<'a> {
    Pg {
        server: &'a Server,
        /// The named server's name; `None` for the platform's own.
        name: Option<String>,
        database: String,
    },
    Sqlite {
        path: PathBuf,
    },
}

/// The servers and directory tenant databases live on, from the settings.
#[derive(Debug)]
pub(super) struct Servers {
    backend: DatabaseBackend,
    data_dir: PathBuf,
    default: Server,
    named: BTreeMap<String, Server>,
    app_role: String,
}

impl Servers {
    pub(super) fn new(settings: &Settings, backend: DatabaseBackend) -> Self {
        Self {
            backend,
            data_dir: settings.data_dir.clone(),
            default: Server {
                url: settings.database.url.clone(),
                app_url: settings.database.app_url.clone(),
            },
            named: settings
                .database
                .servers
                .iter()
                .map(|(name, server)| {
                    (
                        name.clone(),
                        Server {
                            url: server.url.clone(),
                            app_url: server.app_url.clone(),
                        },
                    )
                })
                .collect(),
            app_role: settings.database.app_role.clone(),
        }
    }

    /// The file of the SQLite tenant database at `location`.
    pub(super) fn sqlite_path(&self, location: &str) -> Result<PathBuf, DbErr> {
        match self.target(location)? {
            Target::Sqlite { path } => Ok(path),
            Target::Pg { .. } => Err(DbErr::Custom(format!("`{location}` is not a SQLite tenant database"))),
        }
    }

    /// The file whose lock a SQLite move of `tenant` holds.
    pub(super) fn move_lock_path(&self, tenant: Uuid) -> PathBuf {
        self.data_dir
            .join(SQLITE_DIR)
            .join(format!("{}.move.lock", tenant.simple()))
    }

    /// The platform database's URL (the migrating login's).
    pub(super) fn platform_url(&self) -> &SecretString {
        &self.default.url
    }

    /// Whether `server` names a server tenant databases may be put on.
    pub(super) fn has_server(&self, server: &str) -> bool {
        self.backend == DatabaseBackend::Postgres && self.named.contains_key(server)
    }

    /// The location of `tenant`'s own database on `server` (the platform's
    /// own when `None`).
    pub(super) fn location(&self, tenant: Uuid, server: Option<&str>) -> Result<String, DbErr> {
        if self.backend != DatabaseBackend::Postgres {
            if let Some(server) = server {
                return Err(DbErr::Custom(format!(
                    "database server `{server}`: named servers need PostgreSQL"
                )));
            }
            return Ok(format!("{SQLITE_DIR}/{}.db", tenant.simple()));
        }
        match server {
            None => Ok(database_name(tenant)),
            Some(name) if self.named.contains_key(name) => Ok(format!("{name}/{}", database_name(tenant))),
            Some(name) => Err(DbErr::Custom(format!("no database server `{name}` is configured"))),
        }
    }

    fn target(&self, location: &str) -> Result<Target<'_>, DbErr> {
        let bad = || DbErr::Custom(format!("`{location}` is not a tenant database's location"));
        if self.backend != DatabaseBackend::Postgres {
            let file = location.strip_prefix(SQLITE_DIR).and_then(|l| l.strip_prefix('/'));
            let hex = file.and_then(|f| f.strip_suffix(".db")).ok_or_else(bad)?;
            if !is_database_name(&format!("{DATABASE_PREFIX}{hex}")) {
                return Err(bad());
            }
            return Ok(Target::Sqlite {
                path: self.data_dir.join(SQLITE_DIR).join(format!("{hex}.db")),
            });
        }
        let (name, database) = match location.split_once('/') {
            Some((name, database)) => (Some(name), database),
            None => (None, location),
        };
        if !is_database_name(database) {
            return Err(bad());
        }
        let server = match name {
            None => &self.default,
            Some(name) => self.named.get(name).ok_or_else(|| {
                DbErr::Custom(format!(
                    "tenant database `{location}`: no server `{name}` is configured"
                ))
            })?,
        };
        Ok(Target::Pg {
            server,
            name: name.map(str::to_owned),
            database: database.to_owned(),
        })
    }

    /// A pool of at most `size` connections to `location` as the serving
    /// role, checked like the platform's (never a superuser, a role that
    /// bypasses row-level security, or one that owns the tables).
    async fn serving(&self, location: &str, size: u32) -> Result<Conn, DbErr> {
        match self.target(location)? {
            Target::Sqlite { path } => {
                if !path.is_file() {
                    return Err(DbErr::Custom(format!("tenant database `{location}` does not exist")));
                }
                let url = format!("sqlite://{}?mode=rw", path.display());
                let mut options = super::connect_options(&url, size);
                options.map_sqlx_sqlite_opts(|o| o.create_if_missing(false));
                Ok(Conn::Orm(Database::connect(options).await?))
            }
            Target::Pg { server, database, .. } => {
                let (url, role) = match &server.app_url {
                    Some(url) => (with_database(url.expose_secret(), &database), None),
                    None => (
                        with_database(server.url.expose_secret(), &database),
                        Some(self.app_role.as_str()),
                    ),
                };
                // A tenant's own database has no schemas of tenants in it.
                let pool = pg::Pool::connect(&url, role, size, 1).await?;
                super::verify_pg_role(&pool)
                    .await
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
                Ok(Conn::Pg(pool))
            }
        }
    }

    /// One connection as the migrating login to `location` (`create`:
    /// making a SQLite file that does not exist yet).
    pub(super) async fn owner(&self, location: &str, create: bool) -> Result<DatabaseConnection, DbErr> {
        let url = match self.target(location)? {
            Target::Sqlite { path } => {
                if let Some(dir) = path.parent() {
                    crate::secret::create_private_dir(dir)
                        .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
                }
                let mode = if create { "rwc" } else { "rw" };
                let url = format!("sqlite://{}?mode={mode}", path.display());
                let mut options = super::connect_options(&url, 1);
                options.map_sqlx_sqlite_opts(move |o| o.create_if_missing(create));
                return Database::connect(options).await;
            }
            Target::Pg { server, database, .. } => with_database(server.url.expose_secret(), &database),
        };
        Database::connect(super::connect_options(&url, 1)).await
    }

    /// One connection as the migrating login to the tenant database at
    /// `location` (benchmark seeding).
    #[cfg(feature = "bench")]
    pub(super) async fn owner_connection(&self, location: &str) -> Result<DatabaseConnection, DbErr> {
        self.owner(location, false).await
    }

    /// One connection as the migrating login to the server of `location`
    /// (its own database), for creating and dropping databases there.
    async fn server_owner(&self, server: &Server) -> Result<DatabaseConnection, DbErr> {
        Database::connect(super::connect_options(server.url.expose_secret(), 1)).await
    }

    /// Makes the database at `location` if it does not exist (whether it
    /// was made now), and writes its comment and its grants: the serving
    /// role may connect, nobody else but its owner.
    #[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
    async fn create(&self, location: &str, platform: &Platform) -> Result<bool, DbErr> {
        let (server, name, database) = match self.target(location)? {
            Target::Sqlite { path } => return Ok(!path.exists()),
            Target::Pg { server, name, database } => (server, name, database),
        };
        let conn = self.server_owner(server).await?;
        let result = async {
            let exists = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT 1 AS one FROM pg_database WHERE datname = $1",
                    [database.clone().into()],
                ))
                .await?
                .is_some();
            let mut made = false;
            if !exists {
                // The name is checked to be `t_` and 32 hex digits (`target`).
                match conn.execute_unprepared(&format!("CREATE DATABASE {database}")).await {
                    Ok(_) => made = true,
                    // Made meanwhile by another run: the same database.
                    Err(e) if e.to_string().contains("already exists") => {}
                    Err(e) => return Err(e),
                }
            }
            // Written every time, so a run stopped between the two steps
            // leaves no database without its owner's name.
            let role = &self.app_role;
            conn.execute_unprepared(&format!(
                "COMMENT ON DATABASE {database} IS {comment};
                 REVOKE ALL ON DATABASE {database} FROM PUBLIC;
                 {make_role}
                 GRANT CONNECT ON DATABASE {database} TO \"{role}\";",
                comment = quote_literal(&comment_on(platform, name.as_deref())),
                make_role = super::make_role(role),
            ))
            .await?;
            Ok(made)
        }
        .await;
        let _ = conn.close().await;
        result
    }

    /// Drops the database at `location` (its connections ended first), if
    /// it exists.
    #[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
    pub(super) async fn drop_database(&self, location: &str) -> Result<(), DbErr> {
        match self.target(location)? {
            Target::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(DbErr::Custom(format!("cannot remove {}: {e}", file.display()))),
                    }
                }
                Ok(())
            }
            Target::Pg { server, database, .. } => {
                let conn = self.server_owner(server).await?;
                let result = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .await
                    .map(|_| ());
                let _ = conn.close().await;
                result
            }
        }
    }

    /// On SQLite, marks the file at `location` as being made by a signup
    /// until the returned marker is dropped: another process's fleet run
    /// leaves it alone meanwhile (on PostgreSQL the tenant's lock does).
    pub(super) fn making(&self, location: &str) -> Result<Option<Making>, DbErr> {
        let Ok(Target::Sqlite { path }) = self.target(location) else {
            return Ok(None);
        };
        if let Some(dir) = path.parent() {
            crate::secret::create_private_dir(dir)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
        let marker = PathBuf::from(format!("{}.making", path.display()));
        std::fs::write(&marker, b"").map_err(|e| DbErr::Custom(format!("cannot write {}: {e}", marker.display())))?;
        Ok(Some(Making(marker)))
    }

    /// Whether the SQLite file at `location` is being made by a signup (its
    /// marker is there, and younger than an hour: an older one is a
    /// crash's).
    pub(super) fn is_being_made(&self, location: &str) -> bool {
        let Ok(Target::Sqlite { path }) = self.target(location) else {
            return false;
        };
        std::fs::metadata(format!("{}.making", path.display()))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age < Duration::from_secs(3600))
    }

    /// The tenant databases this deployment has made, on every server (by
    /// their comment) or in the data directory: their locations.
    #[expect(clippy::disallowed_methods, reason = "the operator's view of the fleet")]
    pub(super) async fn made(&self, platform: &Platform) -> Result<Vec<String>, DbErr> {
        if self.backend != DatabaseBackend::Postgres {
            let dir = self.data_dir.join(SQLITE_DIR);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return Ok(Vec::new());
            };
            let mut found: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|name| {
                    let hex = name.strip_suffix(".db")?;
                    is_database_name(&format!("{DATABASE_PREFIX}{hex}")).then(|| format!("{SQLITE_DIR}/{name}"))
                })
                .collect();
            found.sort();
            return Ok(found);
        }
        let mut found = Vec::new();
        let servers = std::iter::once((None, &self.default)).chain(self.named.iter().map(|(n, s)| (Some(n), s)));
        for (name, server) in servers {
            // A server that cannot be reached now keeps its orphans until a
            // later run; the fleet's migrations go on.
            let conn = match self.server_owner(server).await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(server = name.map_or("default", String::as_str), error = %e,
                        "cannot reach a database server to look for orphaned tenant databases");
                    continue;
                }
            };
            let rows = conn
                .query_all_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT d.datname::text AS name FROM pg_database d
                       JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass
                      WHERE d.datname ~ '^t_[0-9a-f]{32}$' AND c.description = $1
                      ORDER BY 1",
                    [comment_on(platform, name.map(String::as_str)).into()],
                ))
                .await;
            let _ = conn.close().await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "listing a server's tenant databases failed");
                    continue;
                }
            };
            for row in rows {
                let database: String = row.try_get("", "name")?;
                found.push(match name {
                    Some(name) => format!("{name}/{database}"),
                    None => database,
                });
            }
        }
        Ok(found)
    }

    /// Brings the tenant's own database at `location` up to `M`: made if
    /// missing, its stub, the tenant set's migrations and ledger, and the
    /// serving role's grants, in one transaction there. Idempotent: what a
    /// provisioning interrupted at any step, or a later release's
    /// migration, needs.
    pub(super) async fn migrate<M: MigratorTrait>(
        &self,
        tenant: Uuid,
        location: &str,
        platform: &Platform,
    ) -> Result<(), DbErr> {
        let made = self.create(location, platform).await?;
        let conn = self.owner(location, made).await?;
        let result = async {
            // On SQLite the write lock first: two runs at once (the server
            // and the CLI) then wait for each other rather than fail.
            let txn = conn
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?;
            migration::create_tenant_stub(&txn, tenant).await?;
            M::up(&txn, None).await?;
            if self.backend == DatabaseBackend::Postgres {
                grant_serving(&txn, &self.app_role).await?;
            }
            txn.commit().await
        }
        .await;
        let _ = conn.close().await;
        result
    }
}

/// The serving role's grants in a tenant database (the role made on that
/// server first if it is not there yet): exactly the tenant set's tables.
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
async fn grant_serving(txn: &sea_orm::DatabaseTransaction, role: &str) -> Result<(), DbErr> {
    txn.execute_unprepared(&format!(
        "{make_role}
         GRANT USAGE ON SCHEMA public TO \"{role}\";
         GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO \"{role}\";",
        make_role = super::make_role(role),
        tables = super::placement::tenant_data_tables().join(", "),
    ))
    .await?;
    Ok(())
}

/// `url` with its database replaced by `database` (the query kept).
fn with_database(url: &str, database: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before.split('/').next().unwrap_or_default();
    match query {
        Some(query) => format!("{scheme}://{authority}/{database}?{query}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQLite tenant file's "being made" marker, removed when dropped.
#[derive(Debug)]
pub(super) struct Making(PathBuf);

impl Drop for Making {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One pool of a tenant database: counted against the cap from the moment
/// it is reserved, connected by its first user outside the registry's
/// locks, closed (and its connections uncounted) when the last of the
/// registry and its leases lets go of it.
#[derive(Debug)]
struct Entry {
    conn: tokio::sync::OnceCell<Conn>,
    used: std::sync::Mutex<Instant>,
    size: usize,
    shared: Arc<Shared>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(Conn::Pg(pool)) => pool.close(),
            Some(Conn::Orm(conn)) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(e) = conn.close().await {
                            tracing::warn!(error = %e, "closing a tenant database's pool failed");
                        }
                    });
                }
            }
            None => {}
        }
        self.shared.reserved.fetch_sub(self.size, Ordering::SeqCst);
        self.shared.wake();
    }
}

/// What the registry and its leases share: the connections reserved, and
/// the transactions waiting for room.
#[derive(Debug, Default)]
struct Shared {
    reserved: AtomicUsize,
    waiting: AtomicUsize,
    freed: Notify,
}

impl Shared {
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }
}

/// A tenant database's pool, held by a transaction: while any lease of a
/// pool exists, the registry never closes it.
pub(super) struct Lease {
    entry: Option<Arc<Entry>>,
}

impl Lease {
    pub(super) fn conn(&self) -> Result<&Conn, DbErr> {
        self.entry
            .as_ref()
            .and_then(|e| e.conn.get())
            .ok_or_else(|| DbErr::Custom("the lease has ended".to_owned()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            *entry.used.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            let shared = entry.shared.clone();
            drop(entry);
            shared.wake();
        }
    }
}

/// How many tenant databases' pools are open, and the most connections
/// they may hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    pub pools: usize,
    /// Connections reserved by open pools (each pool's most), closing ones
    /// included.
    pub connections: usize,
    pub cap: usize,
}

/// The open pools of tenant databases, by location.
#[derive(Debug)]
pub(super) struct Registry {
    pub(super) servers: Servers,
    cap: usize,
    per_pool: u32,
    idle: Duration,
    open: RwLock<HashMap<Arc<str>, Arc<Entry>>>,
    shared: Arc<Shared>,
}

/// Counts a transaction waiting for room for as long as it waits.
struct Waiting<'a>(&'a Shared);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Registry {
    pub(super) fn new(servers: Servers, cap: u32, idle: Duration) -> Self {
        let cap = cap.max(1);
        Self {
            servers,
            cap: cap as usize,
            per_pool: PER_POOL.min(cap),
            idle,
            open: RwLock::default(),
            shared: Arc::default(),
        }
    }

    fn lease(entry: &Arc<Entry>) -> Lease {
        Lease {
            entry: Some(entry.clone()),
        }
    }

    /// The lease of a pool already open (no allocation, no lock but a read).
    fn find(&self, location: &str) -> Option<Lease> {
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        open.get(location).filter(|e| e.conn.initialized()).map(Self::lease)
    }

    /// A lease of the pool of the tenant database at `location`, opened if
    /// need be (after closing idle pools for room, or waiting for one), in
    /// at most the pool wait, then a 503.
    pub(super) async fn acquire(&self, location: &Arc<str>) -> Result<Lease, DbErr> {
        if let Some(lease) = self.find(location) {
            return Ok(lease);
        }
        let opened = tokio::time::timeout(WAIT, Box::pin(self.open_or_wait(location))).await;
        opened.unwrap_or_else(|_| {
            tracing::warn!(
                cap = self.cap,
                "every tenant database pool the connection cap allows is in use"
            );
            Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
        })
    }

    async fn open_or_wait(&self, location: &Arc<str>) -> Result<Lease, DbErr> {
        loop {
            self.shared.waiting.fetch_add(1, Ordering::SeqCst);
            let waiting = Waiting(&self.shared);
            let freed = self.shared.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            let entry = {
                let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
                let found = open.get(location).cloned();
                match found {
                    Some(entry) => Some(entry),
                    None if self.make_room(&mut open) => {
                        let entry = Arc::new(Entry {
                            conn: tokio::sync::OnceCell::new(),
                            used: std::sync::Mutex::new(Instant::now()),
                            size: self.per_pool as usize,
                            shared: self.shared.clone(),
                        });
                        self.shared.reserved.fetch_add(entry.size, Ordering::SeqCst);
                        open.insert(location.clone(), entry.clone());
                        Some(entry)
                    }
                    None => None,
                }
            };
            let Some(entry) = entry else {
                freed.await;
                drop(waiting);
                continue;
            };
            drop(waiting);
            let lease = Self::lease(&entry);
            // Connected outside the registry's locks: other tenants' pools
            // open (and are found) meanwhile.
            match entry
                .conn
                .get_or_try_init(|| self.servers.serving(location, self.per_pool))
                .await
            {
                Ok(_) => return Ok(lease),
                Err(e) => {
                    let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
                    if open.get(location).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                        open.remove(location);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Closes the least recently used pools no transaction holds until one
    /// more pool fits under the cap; whether it does.
    fn make_room(&self, open: &mut HashMap<Arc<str>, Arc<Entry>>) -> bool {
        let per_pool = self.per_pool as usize;
        while self.shared.reserved.load(Ordering::SeqCst) + per_pool > self.cap {
            let idlest = open
                .iter()
                .filter(|(_, e)| Arc::strong_count(e) == 1)
                .min_by_key(|(_, e)| *e.used.lock().unwrap_or_else(PoisonError::into_inner))
                .map(|(location, _)| location.clone());
            let Some(location) = idlest else { return false };
            // Its last holder: dropped here, closed and uncounted.
            open.remove(&location);
        }
        true
    }

    /// Closes the pools no transaction holds that have been unused for the
    /// idle time (`database.tenant_idle_secs`), or for `at_least` when given.
    pub(super) fn close_idle(&self, at_least: Option<Duration>) -> usize {
        let idle = at_least.unwrap_or(self.idle);
        let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
        let before = open.len();
        open.retain(|_, e| {
            Arc::strong_count(e) > 1 || e.used.lock().unwrap_or_else(PoisonError::into_inner).elapsed() < idle
        });
        before - open.len()
    }

    /// Forgets the pool of the database at `location` (its tenant deleted):
    /// closed now if no transaction holds it, else when the last one ends
    /// (its connections count against the cap until then).
    pub(super) fn forget(&self, location: &str) {
        let entry = self
            .open
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(location);
        drop(entry);
    }

    pub(super) fn stats(&self) -> PoolStats {
        let pools = self.open.read().unwrap_or_else(PoisonError::into_inner).len();
        PoolStats {
            pools,
            connections: self.shared.reserved.load(Ordering::SeqCst),
            cap: self.cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_keeps_everything_but_its_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/platform?sslmode=require", "t_ab"),
            "postgres://u:p@h:5432/t_ab?sslmode=require"
        );
        assert_eq!(with_database("postgres://h/platform", "t_ab"), "postgres://h/t_ab");
        assert_eq!(with_database("postgres://h", "t_ab"), "postgres://h/t_ab");
    }

    #[test]
    fn only_names_made_from_an_id_are_tenant_databases() {
        let tenant = Uuid::now_v7();
        assert!(is_database_name(&database_name(tenant)));
        assert!(!is_database_name("t_"));
        assert!(!is_database_name("postgres"));
        assert!(!is_database_name(&format!("t_{}", "A".repeat(32))));
        assert!(!is_database_name(&format!("t_{};drop", "a".repeat(28))));
    }
}
