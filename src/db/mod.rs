//! The only module that holds a database connection.
//!
//! * [`Db`] owns the pool; its connection never leaves this module.
//! * [`TenantDb`] (from [`Db::scoped`], which needs an [`access::Grant`](crate::access::Grant)) is the
//!   only data handle a request gets; every query it runs is filtered by the
//!   grant's tenant and, on PostgreSQL, runs in a transaction that sets
//!   `app.tenant_id` for row-level security.
//! * [`PlatformDb`] answers the few questions asked before a tenant is known
//!   (which key has this hash, which tenant has this slug).

#[cfg(feature = "bench")]
mod bench;
mod fleet;
pub mod idempotency;
mod moves;
mod owned;
mod pg;
mod placement;
mod platform;
mod registry;
mod select;
mod shape;
mod tenant;
mod tx;
mod user;

use std::time::Duration;

use futures_util::future::BoxFuture;
use migration::{Migrator, MigratorTrait, TenantMigrator};
use sea_orm::sqlx::{self, Executor};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, SqlErr, Statement,
};
use secrecy::ExposeSecret;

pub use fleet::{FleetFailure, FleetOptions, FleetProgress, FleetReport, FleetTenant};
pub use moves::{
    DRAIN as MOVE_DRAIN, Halt, MoveEvent, MoveReport, MoveRequest, MoveStatus, OnSwitch, Phases as MovePhases, Place,
    State as MoveState, TableCheck, is_moving,
};
pub use pg::Decode;
pub use placement::{is_storage_behind, schema_name};
pub use platform::{ApiKeyRecord, NewAccount, PlacementPoll, PlatformDb, SessionChange};
pub use registry::{PoolStats, comment_for as tenant_database_comment, database_name};
pub use select::ScopedSelect;
pub use tenant::{TenantDb, TenantTx};
pub use user::{UserDb, UserTx};

use crate::access::{Grant, UserGrant};
use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("refusing to serve as database role `{role}`: {reason}")]
    UnsafeRole { role: String, reason: String },
}

/// What the seams' transactions run on: SeaORM's pool on SQLite, the
/// request path's own on PostgreSQL.
#[derive(Debug, Clone)]
enum Conn {
    Orm(DatabaseConnection),
    Pg(pg::Pool),
}

/// The connection pools and the backend they talk to. On PostgreSQL,
/// requests run on `pg` (prepared, pipelined; `pg/`); SeaORM's pool `conn`
/// runs the migrations, the CLI's platform work and the questions asked
/// before a tenant is known.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    pg: Option<pg::Pool>,
    backend: DatabaseBackend,
    /// Where each tenant's data lives, as this instance has read it.
    placements: std::sync::Arc<placement::Placements>,
    /// The migrating role's small pool, kept by a serving instance on
    /// PostgreSQL whose signups make storage of their own
    /// (`database.default_placement` other than `shared`).
    owner: Option<DatabaseConnection>,
    /// Whether `conn` is the migrating role's own (`connect_owner`).
    is_owner: bool,
    default_placement: entity::tenant::Placement,
}

/// Where the migrations stand ([`Db::migration_status`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    /// The platform set's migrations.
    pub platform: SetStatus,
    /// The tenant set's migrations in the shared tables.
    pub shared: SetStatus,
    pub tenants: TenantsStatus,
    /// The tenants whose last migration failed (at most
    /// [`FAILING_LISTED`]), with the error.
    pub failing: Vec<FleetFailure>,
    /// The tenants being moved, each once, with its move's state (each is
    /// also counted once in `tenants`, where its data is now).
    pub moving: Vec<MoveStatus>,
}

/// How often each instance asks which tenants moved (so every instance
/// agrees on a tenant's placement within about this long).
pub const PLACEMENT_POLL: Duration = Duration::from_millis(500);

/// How many failing tenants a status lists.
pub const FAILING_LISTED: u64 = 100;

/// One ledger's migrations, applied and pending, oldest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

/// How many tenants' storage has every tenant-set migration (`current`),
/// lacks some (`behind`), or failed its last migration (`failed`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantsStatus {
    pub total: u64,
    pub current: u64,
    pub behind: u64,
    pub failed: u64,
}

/// A database error as SeaORM classifies it, on either path.
pub fn sql_err(err: &DbErr) -> Option<SqlErr> {
    if let Some(known) = err.sql_err() {
        return Some(known);
    }
    let (DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))) = err else {
        return None;
    };
    let sqlx::Error::Database(db) = &**e else { return None };
    match db.kind() {
        sqlx::error::ErrorKind::UniqueViolation => Some(SqlErr::UniqueConstraintViolation(db.message().to_owned())),
        sqlx::error::ErrorKind::ForeignKeyViolation => {
            Some(SqlErr::ForeignKeyConstraintViolation(db.message().to_owned()))
        }
        _ => None,
    }
}

impl Db {
    /// Connects as the owner (`DATABASE_URL` as given): migrations and the CLI.
    pub async fn connect_owner(settings: &Settings) -> Result<Self, DbError> {
        let mut db = Self::connect(settings, settings.database.url(), None).await?;
        db.is_owner = true;
        Ok(db)
    }

    /// Connects as the serving role. On PostgreSQL that is either the login in
    /// `TENANTRY_APP_DATABASE_URL`, or `DATABASE_URL` with `SET ROLE` to the
    /// application role on every pooled connection. Refuses a role that is a
    /// superuser, bypasses row-level security or owns the tables.
    pub async fn connect_app(settings: &Settings) -> Result<Self, DbError> {
        if settings.is_sqlite() {
            return Self::connect(settings, settings.database.url(), None).await;
        }
        let db = match &settings.database.app_url {
            Some(url) => Self::connect(settings, url.expose_secret(), None).await?,
            None => {
                Self::connect(
                    settings,
                    settings.database.url(),
                    Some(settings.database.app_role.clone()),
                )
                .await?
            }
        };
        db.verify_app_role().await?;
        let mut db = db;
        if settings.database.default_placement != entity::tenant::Placement::Shared {
            let owner = Database::connect(connect_options(settings.database.url(), 2)).await?;
            db.owner = Some(owner);
        }
        Ok(db)
    }

    async fn connect(settings: &Settings, url: &str, set_role: Option<String>) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            ensure_sqlite_dir(url)?;
        }
        let size = settings.database.max_connections;
        // On PostgreSQL SeaORM's pool serves what runs outside a request's
        // seam, the key lookups of uncached keys among them: as many
        // connections as the request path's pool.
        let mut opts = connect_options(url, size);
        if let Some(role) = set_role.clone() {
            let statement = format!("SET ROLE \"{role}\"");
            opts.map_sqlx_postgres_pool_opts(move |pool| {
                let statement = statement.clone();
                pool.after_connect(move |conn, _meta| -> BoxFuture<'_, Result<(), sqlx::Error>> {
                    let statement = statement.clone();
                    Box::pin(async move {
                        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(statement))).await?;
                        Ok(())
                    })
                })
            });
        }
        let conn = Database::connect(opts).await?;
        let backend = conn.get_database_backend();
        let pg = match backend {
            DatabaseBackend::Postgres => Some(
                pg::Pool::connect(
                    url,
                    set_role.as_deref(),
                    size,
                    settings.database.schema_statements as usize,
                )
                .await?,
            ),
            _ => None,
        };
        let servers = registry::Servers::new(settings, backend);
        let registry = registry::Registry::new(
            servers,
            settings.database.tenant_connections,
            settings.database.tenant_idle,
        );
        Ok(Self {
            conn,
            pg,
            backend,
            placements: std::sync::Arc::new(placement::Placements::new(registry)),
            owner: None,
            is_owner: false,
            default_placement: settings.database.default_placement,
        })
    }

    /// What the seams run on.
    fn seam(&self) -> Conn {
        match &self.pg {
            Some(pool) => Conn::Pg(pool.clone()),
            None => Conn::Orm(self.conn.clone()),
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// The tenant handle for a principal that holds a scope.
    pub fn scoped(&self, grant: &Grant<'_>) -> TenantDb {
        TenantDb::new(self.seam(), grant.tenant_id().0, self.placements.clone())
    }

    /// The plan of the grant's tenant, kept with its placement: read with
    /// it on the tenant's first request, from memory after that, read again
    /// once it changes (the poll for moved tenants; `tenants.placed_at` is
    /// stamped for a new plan too).
    pub async fn plan_of(&self, grant: &Grant<'_>) -> Result<Option<std::sync::Arc<str>>, DbErr> {
        Ok(self.placements.of(&self.seam(), grant.tenant_id().0).await?.plan)
    }

    /// The user handle for a person whose credential was verified.
    pub fn for_user(&self, grant: &UserGrant) -> UserDb {
        UserDb::new(self.seam(), grant.user_id().0)
    }

    pub fn platform(&self) -> PlatformDb {
        PlatformDb::new(self)
    }

    /// Forgets what this instance read of a deleted tenant's placement (and
    /// closes its own database's pool).
    pub fn forget_tenant(&self, tenant: uuid::Uuid) {
        self.placements.forget(tenant);
    }

    /// Forgets what this instance read of a moved tenant's placement: its
    /// next request reads where it is now.
    pub fn forget_placement(&self, tenant: uuid::Uuid) {
        self.placements.forget_placement(tenant);
    }

    /// Moves the tenant's data to another placement while it is served,
    /// resumes its move, or aborts it (see `moves/`); the migrating role's connection
    /// only. `progress` hears of each step; `on_switch` is called once the
    /// placement has changed.
    pub async fn move_tenant(
        &self,
        tenant: uuid::Uuid,
        request: MoveRequest,
        progress: &(dyn Fn(MoveEvent<'_>) + Sync),
        on_switch: OnSwitch<'_>,
    ) -> Result<MoveReport, DbErr> {
        self.require_owner("moving a tenant")?;
        moves::run(self, tenant, request, progress, on_switch).await
    }

    /// The tenant's move under way, if any.
    pub async fn move_status(&self, tenant: uuid::Uuid) -> Result<Option<MoveStatus>, DbErr> {
        moves::status(&self.conn, tenant).await
    }

    fn require_owner(&self, what: &str) -> Result<(), DbErr> {
        if self.is_owner {
            Ok(())
        } else {
            Err(DbErr::Custom(format!("{what} needs the migrating role's connection")))
        }
    }

    /// Reads again the placements of the tenants whose placement changed
    /// since the last poll (another instance's move, an operator's): how
    /// many this instance forgot. Every instance polls every 500 ms.
    pub async fn poll_placements(&self) -> Result<usize, DbErr> {
        self.placements.poll(&self.platform()).await
    }

    /// The pools of tenant databases open now.
    pub fn tenant_pools(&self) -> PoolStats {
        self.placements.registry.stats()
    }

    /// Closes the tenant databases' pools that no transaction holds and
    /// that have been unused for `database.tenant_idle_secs` (or for
    /// `at_least`); how many.
    pub fn close_idle_tenant_pools(&self, at_least: Option<Duration>) -> usize {
        self.placements.registry.close_idle(at_least)
    }

    /// A round trip to the database (readiness).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await?;
        if let Some(pool) = &self.pg {
            pool.query_plain("SELECT 1").await?;
        }
        Ok(())
    }

    pub async fn close(self) {
        if let Err(e) = self.placements.leave(&self.platform()).await {
            tracing::warn!(error = %e, "removing this instance's row failed; a move passes over it once it is stale");
        }
        if let Some(pool) = &self.pg {
            pool.close();
        }
        if let Some(owner) = self.owner.clone() {
            let _ = owner.close().await;
        }
        if let Err(e) = self.conn.close().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
    }

    /// Applies pending migrations and, on PostgreSQL, makes sure the
    /// application role exists with exactly the grants it needs. Idempotent.
    /// The names of the migrations it applied, oldest first.
    pub async fn migrate(&self, app_role: &str) -> Result<Vec<String>, DbError> {
        let mut pending: Vec<String> = Migrator::get_pending_migrations(&self.conn)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Migrator::up(&self.conn, None).await?;
        // Then the tenant set in the shared tables (the storage this
        // connection's schema holds), with its own ledger.
        pending.extend(
            TenantMigrator::get_pending_migrations(&self.conn)
                .await?
                .iter()
                .map(|m| m.name().to_owned()),
        );
        TenantMigrator::up(&self.conn, None).await?;
        if self.backend == DatabaseBackend::Postgres {
            self.ensure_app_role(app_role).await?;
        }
        if pending.is_empty() {
            tracing::debug!("the schema is up to date");
        } else {
            tracing::info!(count = pending.len(), migrations = %pending.join(", "), "applied migrations");
        }
        Ok(pending)
    }

    /// Brings every tenant with storage of its own up to the tenant set
    /// (see `fleet.rs`), after [`Db::migrate`]; `progress` hears of each
    /// tenant done.
    pub async fn migrate_fleet(
        &self,
        options: FleetOptions,
        progress: &(dyn Fn(FleetProgress) + Sync),
    ) -> Result<FleetReport, DbError> {
        self.migrate_fleet_to::<TenantMigrator>(options, progress).await
    }

    /// [`Db::migrate_fleet`] with the tenant-set migrations `M` (a test's
    /// own, to make a tenant fail on purpose).
    pub async fn migrate_fleet_to<M: MigratorTrait>(
        &self,
        options: FleetOptions,
        progress: &(dyn Fn(FleetProgress) + Sync),
    ) -> Result<FleetReport, DbError> {
        Ok(fleet::migrate::<M>(&self.conn, &self.placements.registry.servers, options, progress).await?)
    }

    /// Where the migrations stand, without applying any: the platform set's,
    /// the tenant set's in the shared tables, and how many tenants' storage
    /// is current, behind, or failed its last migration (those listed).
    pub async fn migration_status(&self) -> Result<MigrationStatus, DbError> {
        let split = |all: Vec<migration::Migration>| {
            let (applied, pending): (Vec<_>, Vec<_>) = all
                .iter()
                .partition(|m| m.status() == migration::MigrationStatus::Applied);
            let names = |list: Vec<&migration::Migration>| list.iter().map(|m| m.name().to_owned()).collect();
            SetStatus {
                applied: names(applied),
                pending: names(pending),
            }
        };
        let platform = split(Migrator::get_migration_with_status_read_only(&self.conn).await?);
        let shared = split(TenantMigrator::get_migration_with_status_read_only(&self.conn).await?);
        let (tenants, failing) = if platform.pending.is_empty() {
            self.tenants_status(shared.pending.is_empty()).await?
        } else {
            // The registry itself is behind (or absent): every tenant waits
            // for `tenantry migrate`.
            let total = if platform.applied.is_empty() {
                0
            } else {
                self.count_tenants().await?
            };
            let status = TenantsStatus {
                total,
                current: 0,
                behind: total,
                failed: 0,
            };
            (status, Vec::new())
        };
        let moving = if platform.pending.is_empty() {
            moves::all(&self.conn).await?
        } else {
            Vec::new()
        };
        Ok(MigrationStatus {
            platform,
            shared,
            tenants,
            failing,
            moving,
        })
    }

    /// Every tenant, counted with nothing but the table (its newer columns
    /// may not exist yet: this answers while migrations are pending).
    #[expect(clippy::disallowed_methods, reason = "the operator's count of every tenant")]
    async fn count_tenants(&self) -> Result<u64, DbErr> {
        use sea_orm::{EntityTrait, QuerySelect};
        let n: Option<i64> = entity::tenant::Entity::find()
            .select_only()
            .column_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "n")
            .into_tuple()
            .one(&self.conn)
            .await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    /// The tenants' state, in two questions whatever their number: shared
    /// tenants are current with the shared tables; a tenant with storage
    /// of its own is current when its mirror names the last migration,
    /// failed when its last migration left an error, behind otherwise.
    #[expect(clippy::disallowed_methods, reason = "the operator's view of the fleet")]
    async fn tenants_status(&self, shared_current: bool) -> Result<(TenantsStatus, Vec<FleetFailure>), DbErr> {
        use entity::tenant;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let latest = fleet::latest::<TenantMigrator>();
        let rows: Vec<(String, Option<String>, bool, i64)> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Placement)
            .column(tenant::Column::StorageVersion)
            .column_as(tenant::Column::StorageError.is_not_null(), "failed")
            .column_as(tenant::Column::Id.count(), "n")
            .group_by(tenant::Column::Placement)
            .group_by(tenant::Column::StorageVersion)
            .group_by(sea_orm::sea_query::Expr::cust("3"))
            .into_tuple()
            .all(&self.conn)
            .await?;
        let mut status = TenantsStatus {
            total: 0,
            current: 0,
            behind: 0,
            failed: 0,
        };
        for (placement, version, failed, n) in rows {
            let n = u64::try_from(n).unwrap_or_default();
            status.total += n;
            let current = if placement == entity::tenant::Placement::Shared.as_str() {
                shared_current
            } else {
                version == latest
            };
            match (current, failed) {
                (true, _) => status.current += n,
                (false, true) => status.failed += n,
                (false, false) => status.behind += n,
            }
        }
        let failing: Vec<(uuid::Uuid, String, Option<String>)> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .column(tenant::Column::Slug)
            .column(tenant::Column::StorageError)
            .filter(tenant::Column::StorageError.is_not_null())
            .limit(FAILING_LISTED)
            .into_tuple()
            .all(&self.conn)
            .await?;
        let failing = failing
            .into_iter()
            .map(|(id, slug, error)| FleetFailure {
                id,
                slug,
                error: error.unwrap_or_default(),
            })
            .collect();
        Ok((status, failing))
    }

    async fn ensure_app_role(&self, role: &str) -> Result<(), DbError> {
        // `role` was checked to be a plain lowercase identifier (config.rs).
        #[expect(clippy::disallowed_methods, reason = "platform DDL inside the seam")]
        self.conn
            .execute_unprepared(&format!(
                "{make_role}
                 GRANT USAGE ON SCHEMA public TO \"{role}\";
                 GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO \"{role}\";
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO \"{role}\";
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {user_tables} TO \"{role}\";
                 GRANT EXECUTE ON FUNCTION tenantry_api_key_by_hash(text), tenantry_user_by_email(text),
                   tenantry_refresh_token_by_hash(text), tenantry_session_changes_since(timestamptz),
                   tenantry_free_slug(text), tenantry_sweep_sessions(timestamptz, timestamptz),
                   tenantry_placements_changed_since(bigint) TO \"{role}\";
                 GRANT SELECT, INSERT, UPDATE, DELETE ON instances TO \"{role}\";",
                make_role = make_role(role),
                tables = migration::TENANT_TABLES.join(", "),
                user_tables = migration::USER_TABLES.join(", "),
            ))
            .await?;
        Ok(())
    }

    /// Both pools' role, checked alike.
    async fn verify_app_role(&self) -> Result<(), DbError> {
        #[expect(clippy::disallowed_methods, reason = "catalog check inside the seam")]
        let row = self
            .conn
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, ROLE_CHECK))
            .await?
            .ok_or_else(|| DbErr::Custom("current_user has no pg_roles row".into()))?;
        judge_role(RoleFacts {
            role: row.try_get("", "role")?,
            superuser: row.try_get("", "rolsuper")?,
            bypasses_rls: row.try_get("", "rolbypassrls")?,
            owned: row.try_get("", "owned")?,
        })?;
        if let Some(pool) = &self.pg {
            verify_pg_role(pool).await?;
        }
        Ok(())
    }
}

/// The request path's pool's role, checked as [`Db::connect_app`] checks.
async fn verify_pg_role(pool: &pg::Pool) -> Result<(), DbError> {
    let rows = pool.query_plain(ROLE_CHECK).await?;
    let row = rows
        .first()
        .ok_or_else(|| DbErr::Custom("current_user has no pg_roles row".into()))?;
    let facts = (|| {
        Ok::<_, tokio_postgres::Error>(RoleFacts {
            role: row.try_get("role")?,
            superuser: row.try_get("rolsuper")?,
            bypasses_rls: row.try_get("rolbypassrls")?,
            owned: row.try_get("owned")?,
        })
    })()
    .map_err(|e| DbErr::Type(e.to_string()))?;
    judge_role(facts)
}

/// SeaORM's pool options for `url`, at most `size` connections (SQLite in
/// WAL mode with foreign keys on and a busy timeout).
fn connect_options(url: &str, size: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(size)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(300))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    opts
}

/// The serving role `role` made on this server if it is not there yet
/// (`NOLOGIN NOSUPERUSER NOBYPASSRLS`), and granted to the migrating login
/// when that login must `SET ROLE` to it. `role` was checked to be a plain
/// lowercase identifier (config).
fn make_role(role: &str) -> String {
    format!(
        "DO $$ BEGIN
           CREATE ROLE \"{role}\" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$;
         DO $$ BEGIN
           IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
              AND NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
             EXECUTE format('GRANT %I TO %I', '{role}', current_user);
           END IF;
         END $$;"
    )
}

/// Who the serving connections are, from the catalog.
const ROLE_CHECK: &str = "SELECT current_user::text AS role, r.rolsuper, r.rolbypassrls,
        (SELECT count(*) FROM pg_tables t
          WHERE t.schemaname = 'public'
            AND pg_has_role(current_user, t.tableowner, 'MEMBER')) AS owned
   FROM pg_roles r WHERE r.rolname = current_user";

struct RoleFacts {
    role: String,
    superuser: bool,
    bypasses_rls: bool,
    owned: i64,
}

fn judge_role(facts: RoleFacts) -> Result<(), DbError> {
    let unsafe_role = |reason: &str| DbError::UnsafeRole {
        role: facts.role.clone(),
        reason: reason.to_owned(),
    };
    if facts.superuser {
        return Err(unsafe_role("it is a superuser, which bypasses row-level security"));
    }
    if facts.bypasses_rls {
        return Err(unsafe_role("it has BYPASSRLS"));
    }
    if facts.owned > 0 {
        return Err(unsafe_role("it owns (or is a member of the owner of) the tables"));
    }
    Ok(())
}

fn ensure_sqlite_dir(url: &str) -> Result<(), DbError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        crate::secret::create_private_dir(parent).map_err(|source| DbError::DataDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The placements the code knows are those the schema's check admits.
    #[test]
    fn placements_are_those_the_schema_admits() {
        let ours: Vec<&str> = entity::tenant::Placement::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(ours, migration::PLACEMENTS);
        for placement in entity::tenant::Placement::ALL {
            assert_eq!(entity::tenant::Placement::parse(placement.as_str()), Some(placement));
        }
        assert_eq!(entity::tenant::Placement::parse("elsewhere"), None);
    }
}
