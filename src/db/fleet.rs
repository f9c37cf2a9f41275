//! Fleet migrations: the tenant set applied to every tenant that has
//! storage of its own, each in a transaction of its own.
//!
//! * **O(1) when current**: each tenant's row mirrors the last tenant-set
//!   migration its storage has (`storage_version`), written in the same
//!   transaction as the migration itself, so the tenants still behind are
//!   one indexed question, however many tenants there are.
//! * **Resumable**: a tenant's migration, its ledger and its mirror commit
//!   together or not at all, so a run that is interrupted leaves every
//!   tenant either done or untouched, and the next run takes the rest.
//! * **One failure stops nobody else** (unless `fail_fast`): it is rolled
//!   back, its error recorded in the tenant's row (`storage_error`) and
//!   reported; the others go on. `canary` tenants go first, and any failure
//!   among them stops the run before the rest are touched.
//! * **Every storage of its own**: a schema tenant's schema, a database
//!   tenant's database (see `registry.rs`).
//! * **Bounded parallelism**: at most `parallel` tenants at once, each on a
//!   connection of the migrating pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use entity::tenant::{self, Placement};
use futures_util::StreamExt;
use migration::MigratorTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::registry::{Platform, Servers};

/// Why a fleet run passed over a tenant: it is being moved.
const BEING_MOVED: &str = "being moved";

fn is_being_moved(err: &DbErr) -> bool {
    matches!(err, DbErr::Custom(message) if message.starts_with(BEING_MOVED))
}

/// How a fleet run goes.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Tenants migrated at once (at least 1).
    pub parallel: usize,
    /// Stop starting tenants after the first failure.
    pub fail_fast: bool,
    /// Migrate this many tenants first, and stop before the rest if any of
    /// them fails.
    pub canary: Option<usize>,
}

impl Default for FleetOptions {
    /// Four at a time, every tenant, whatever fails.
    fn default() -> Self {
        Self {
            parallel: 4,
            fail_fast: false,
            canary: None,
        }
    }
}

/// A tenant of the fleet, as a run reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FleetTenant {
    pub id: Uuid,
    pub slug: String,
}

/// A tenant whose migration failed, with the database's error.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FleetFailure {
    pub id: Uuid,
    pub slug: String,
    pub error: String,
}

/// What a fleet run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FleetReport {
    /// Tenants that were behind when the run started.
    pub behind: usize,
    /// Tenants brought up to date.
    pub migrated: usize,
    pub failed: Vec<FleetFailure>,
    /// Tenants not attempted (after a canary failed, or with `fail_fast`).
    pub not_attempted: usize,
    /// Schemas of tenants that no longer exist, dropped.
    pub dropped: Vec<String>,
    /// Tenants passed over because they are being moved (migrated by the
    /// first run after their move ends).
    pub moving: Vec<FleetTenant>,
}

/// How far a run has got, for progress output.
#[derive(Debug, Clone, Copy)]
pub struct FleetProgress {
    pub done: usize,
    pub failed: usize,
    pub total: usize,
}

/// The last migration of `M`: what a current storage's mirror says.
pub fn latest<M: MigratorTrait>() -> Option<String> {
    M::migrations().last().map(|m| m.name().to_owned())
}

/// The tenants whose own storage is behind `M` (oldest first).
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's view of the fleet, inside the seam"
)]
pub(super) async fn behind<M: MigratorTrait>(conn: &DatabaseConnection) -> Result<Vec<FleetTenant>, DbErr> {
    let Some(latest) = latest::<M>() else {
        return Ok(Vec::new());
    };
    let rows: Vec<(Uuid, String)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::Slug)
        .filter(tenant::Column::Placement.ne(Placement::Shared.as_str()))
        .filter(
            Condition::any()
                .add(tenant::Column::StorageVersion.is_null())
                .add(tenant::Column::StorageVersion.ne(latest)),
        )
        .order_by_asc(tenant::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, slug)| FleetTenant { id, slug }).collect())
}

/// Brings every tenant with storage of its own up to `M`.
pub(super) async fn migrate<M: MigratorTrait>(
    conn: &DatabaseConnection,
    servers: &Servers,
    options: FleetOptions,
    progress: &(dyn Fn(FleetProgress) + Sync),
) -> Result<FleetReport, DbErr> {
    let pending = behind::<M>(conn).await?;
    let mut dropped = drop_orphans(conn).await?;
    dropped.extend(drop_orphan_databases(conn, servers).await?);
    let mut report = FleetReport {
        behind: pending.len(),
        dropped,
        ..FleetReport::default()
    };
    if pending.is_empty() {
        return Ok(report);
    }
    let total = pending.len();
    let done = AtomicUsize::new(0);
    let (first, rest) = match options.canary {
        Some(n) => pending.split_at(n.min(total)),
        None => (&pending[..0], &pending[..]),
    };
    let stop = AtomicBool::new(false);
    let counts = Counts {
        done: &done,
        total,
        progress,
    };
    for (wave, canary) in [(first, true), (rest, false)] {
        if wave.is_empty() {
            continue;
        }
        if stop.load(Ordering::Acquire) {
            report.not_attempted += wave.len();
            continue;
        }
        let failures = run_wave::<M>(
            conn,
            servers,
            wave,
            options.parallel.max(1),
            options.fail_fast || canary,
            &stop,
            &counts,
        )
        .await;
        report.migrated += wave.len() - failures.attempted_not_done - failures.failed.len() - failures.moving.len();
        report.moving.extend(failures.moving);
        report.not_attempted += failures.attempted_not_done;
        if canary && !failures.failed.is_empty() {
            stop.store(true, Ordering::Release);
        }
        report.failed.extend(failures.failed);
    }
    Ok(report)
}

struct Counts<'a> {
    done: &'a AtomicUsize,
    total: usize,
    progress: &'a (dyn Fn(FleetProgress) + Sync),
}

struct Wave {
    failed: Vec<FleetFailure>,
    moving: Vec<FleetTenant>,
    /// Tenants of the wave never started, because a failure stopped it.
    attempted_not_done: usize,
}

async fn run_wave<M: MigratorTrait>(
    conn: &DatabaseConnection,
    servers: &Servers,
    tenants: &[FleetTenant],
    parallel: usize,
    stop_on_failure: bool,
    stop: &AtomicBool,
    counts: &Counts<'_>,
) -> Wave {
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let moving = std::sync::Mutex::new(Vec::new());
    let skipped = AtomicUsize::new(0);
    futures_util::stream::iter(tenants)
        .for_each_concurrent(parallel, |tenant| {
            let failed = failed.clone();
            let skipped = &skipped;
            let moving = &moving;
            async move {
                if stop.load(Ordering::Acquire) {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let result = migrate_one::<M>(conn, servers, tenant.id).await;
                if let Err(err) = &result
                    && is_being_moved(err)
                {
                    moving
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(tenant.clone());
                } else if let Err(err) = result {
                    let error = err.to_string();
                    tracing::warn!(tenant = %tenant.slug, error = %error, "a tenant's migration failed");
                    // Recorded beside the tenant; a failure to record it is
                    // reported all the same.
                    let _ = record_failure::<M>(conn, tenant.id, &error).await;
                    let mut failed = failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    failed.push(FleetFailure {
                        id: tenant.id,
                        slug: tenant.slug.clone(),
                        error,
                    });
                    if stop_on_failure {
                        stop.store(true, Ordering::Release);
                    }
                }
                let done = counts.done.fetch_add(1, Ordering::AcqRel) + 1;
                let failures = failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
                (counts.progress)(FleetProgress {
                    done,
                    failed: failures,
                    total: counts.total,
                });
            }
        })
        .await;
    let failed = std::mem::take(&mut *failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    Wave {
        failed,
        moving: moving.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
        attempted_not_done: skipped.into_inner(),
    }
}

/// One tenant's storage brought up to `M`, its grants renewed and its
/// mirror written.
///
/// A schema tenant's migration and its mirror commit in one transaction. A
/// tenant in a database of its own is migrated there (made first if it is
/// missing: this is also how an interrupted provisioning resumes), and its
/// mirror written afterwards: its own ledger says what it has, so a run
/// stopped between the two finds it current there and only writes the
/// mirror.
///
/// Under the tenant's own lock (a transaction-scoped advisory lock on its
/// id, PostgreSQL), so two runs at once (two instances starting, or `serve`
/// and the CLI) never migrate one tenant together: the second finds it
/// current and leaves it. The tenant's setting is applied first, so the
/// registry's row-level security lets the mirror be written whatever the
/// migrating role (a superuser or not).
pub(super) async fn migrate_one<M: MigratorTrait>(
    conn: &DatabaseConnection,
    servers: &Servers,
    tenant: Uuid,
) -> Result<(), DbErr> {
    let postgres = conn.get_database_backend() == DatabaseBackend::Postgres;
    let txn = conn.begin().await?;
    if postgres && !try_lock_tenant(&txn, tenant).await? {
        // A move holds it for as long as it runs; another migration only
        // for its own.
        if super::moves::is_under_way(conn, tenant).await? {
            return Err(DbErr::Custom(format!("{BEING_MOVED}: tenant {tenant}")));
        }
        lock_tenant(&txn, tenant).await?;
    }
    // A tenant mid-move keeps its storage as the move found it until the
    // move ends (finished or aborted): the next run migrates it.
    if super::moves::is_under_way(&txn, tenant).await? {
        return Err(DbErr::Custom(format!("{BEING_MOVED}: tenant {tenant}")));
    }
    super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
    let Some((placement, location, version)) = storage_of(&txn, tenant).await? else {
        return Err(DbErr::Custom(format!("tenant {tenant} no longer exists")));
    };
    if version == latest::<M>() {
        return txn.commit().await;
    }
    let placement = Placement::parse(&placement);
    match (placement, location) {
        (Some(Placement::Schema), _) => {
            // Made here too when it is missing: a provisioning that stopped
            // half way (or a tenant moved into a schema) is finished.
            super::placement::create_schema(&txn, tenant).await?;
            super::placement::enter_schema(&txn, tenant).await?;
            M::up(&txn, None).await?;
            super::placement::grant_as_shared(&txn, tenant).await?;
            mark_current::<M>(&txn, tenant).await?;
            txn.commit().await
        }
        (Some(Placement::Database), Some(location)) if postgres => {
            let platform = platform_identity(&txn).await?;
            servers.migrate::<M>(tenant, &location, &platform).await?;
            mark_current::<M>(&txn, tenant).await?;
            txn.commit().await
        }
        (Some(Placement::Database), Some(location)) => {
            // SQLite: no read transaction is held across the other file's
            // work, and the mirror is written under the write lock.
            txn.commit().await?;
            servers
                .migrate::<M>(tenant, &location, &platform_identity(conn).await?)
                .await?;
            let txn = conn
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?;
            mark_current::<M>(&txn, tenant).await?;
            txn.commit().await
        }
        (placement, location) => Err(DbErr::Custom(format!(
            "tenant {tenant} has no storage of its own to migrate ({} at {})",
            placement.map_or("an unknown placement", |p| p.as_str()),
            location.as_deref().unwrap_or("no location")
        ))),
    }
}

/// The tenant's placement, location and storage version.
#[expect(clippy::disallowed_methods, reason = "the operator's registry, inside the seam")]
async fn storage_of(
    txn: &DatabaseTransaction,
    tenant: Uuid,
) -> Result<Option<(String, Option<String>, Option<String>)>, DbErr> {
    tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Placement)
        .column(tenant::Column::Location)
        .column(tenant::Column::StorageVersion)
        .into_tuple()
        .one(txn)
        .await
}

/// The platform's name and deployment id (what its tenant databases'
/// comments say).
#[expect(clippy::disallowed_methods, reason = "a catalog question, inside the seam")]
pub(super) async fn platform_identity(conn: &impl ConnectionTrait) -> Result<Platform, DbErr> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(Platform {
            name: String::new(),
            deployment: String::new(),
        });
    }
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT current_database()::text AS name, (SELECT id::text FROM deployment LIMIT 1) AS deployment",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no current database".to_owned()))?;
    let deployment: Option<String> = row.try_get("", "deployment")?;
    Ok(Platform {
        name: row.try_get("", "name")?,
        deployment: deployment
            .ok_or_else(|| DbErr::Custom("the deployment has no id yet (migrate first)".to_owned()))?,
    })
}

/// The tenant a storage's name was made for: `t_<32 hex>`
/// (a schema or PostgreSQL database), or `tenants/<32 hex>.db` (a SQLite file).
fn tenant_of(name: &str) -> Option<Uuid> {
    let last = name.rsplit('/').next()?;
    let hex = match last.strip_suffix(".db") {
        Some(hex) => hex,
        None => last.strip_prefix("t_")?,
    };
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| Uuid::try_parse(hex).ok())
        .flatten()
}

/// Whether `tenant` has no row, asked in `txn` under its own setting (so the
/// registry's row-level security shows its row whatever the migrating
/// role), after taking its storage lock without waiting (PostgreSQL): a
/// storage whose tenant is being provisioned (a signup holds the lock from
/// before its storage is made until its row is committed) or migrated is
/// never taken for an orphan.
async fn is_orphan(txn: &DatabaseTransaction, tenant: Uuid) -> Result<bool, DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres && !try_lock_tenant(txn, tenant).await? {
        return Ok(false);
    }
    super::tx::apply_settings(txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
    Ok(storage_of(txn, tenant).await?.is_none())
}

/// Drops the schema or database (or SQLite file) of `tenant`, which must no
/// longer exist: what it dropped.
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn drop_storage_of(
    conn: &DatabaseConnection,
    servers: &Servers,
    tenant: Uuid,
) -> Result<Option<String>, DbErr> {
    let txn = conn.begin().await?;
    if !is_orphan(&txn, tenant).await? {
        return Err(DbErr::Custom(format!(
            "tenant {tenant} still exists (or its storage is being migrated)"
        )));
    }
    let postgres = conn.get_database_backend() == DatabaseBackend::Postgres;
    let schema = super::placement::schema_name(tenant);
    if postgres {
        let found = txn
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT 1 AS one FROM pg_namespace WHERE nspname = $1",
                [schema.clone().into()],
            ))
            .await?;
        if found.is_some() {
            // From the tenant's id alone: a plain identifier.
            txn.execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE")).await?;
            txn.commit().await?;
            return Ok(Some(schema));
        }
    }
    let platform = platform_identity(&txn).await?;
    let made = servers.made(&platform).await?;
    let mut dropped = None;
    for location in made.into_iter().filter(|l| tenant_of(l) == Some(tenant)) {
        servers.drop_database(&location).await?;
        dropped = Some(location);
    }
    txn.commit().await?;
    Ok(dropped)
}

/// Drops the databases (or SQLite files) this deployment made for tenants
/// that no longer exist (deleted through the API: the serving role may not
/// drop a database). Only those whose comment names this deployment, and
/// only while their tenant is locked and has no row; a SQLite file a signup
/// is making is left for a later run.
#[expect(clippy::disallowed_methods, reason = "the operator's view of the fleet")]
async fn drop_orphan_databases(conn: &DatabaseConnection, servers: &Servers) -> Result<Vec<String>, DbErr> {
    let platform = platform_identity(conn).await?;
    let made: Vec<(String, Uuid)> = servers
        .made(&platform)
        .await?
        .into_iter()
        .filter_map(|location| tenant_of(&location).map(|tenant| (location, tenant)))
        .collect();
    if made.is_empty() {
        return Ok(Vec::new());
    }
    // The candidates in one question; each is then confirmed under its
    // tenant's lock and setting.
    let mut known = std::collections::HashSet::new();
    for chunk in made.chunks(1000) {
        let ids: Vec<Uuid> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .filter(tenant::Column::Id.is_in(chunk.iter().map(|(_, tenant)| *tenant)))
            .into_tuple()
            .all(conn)
            .await?;
        known.extend(ids);
    }
    let mut dropped = Vec::new();
    for (location, tenant) in made.into_iter().filter(|(_, tenant)| !known.contains(tenant)) {
        if servers.is_being_made(&location) {
            continue;
        }
        let txn = conn.begin().await?;
        if !is_orphan(&txn, tenant).await? {
            txn.commit().await?;
            continue;
        }
        match servers.drop_database(&location).await {
            Ok(()) => {
                tracing::info!(database = %location, "dropped the database of a deleted tenant");
                dropped.push(location);
            }
            Err(e) => {
                tracing::warn!(database = %location, error = %e, "could not drop the database of a deleted tenant")
            }
        }
        txn.commit().await?;
    }
    Ok(dropped)
}

/// A lock on the tenant's storage for the rest of `txn`.
#[expect(clippy::disallowed_methods, reason = "the operator's lock, inside the seam")]
pub(super) async fn lock_tenant(txn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [sea_orm::Value::BigInt(Some(lock_key(tenant)))],
    ))
    .await?;
    Ok(())
}

/// [`lock_tenant`] if no other transaction holds it; whether it was taken.
#[expect(clippy::disallowed_methods, reason = "the operator's lock, inside the seam")]
pub(super) async fn try_lock_tenant(txn: &DatabaseTransaction, tenant: Uuid) -> Result<bool, DbErr> {
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS taken",
            [sea_orm::Value::BigInt(Some(lock_key(tenant)))],
        ))
        .await?;
    row.map_or(Ok(false), |row| row.try_get("", "taken"))
}

fn lock_key(tenant: Uuid) -> i64 {
    let (high, low) = tenant.as_u64_pair();
    i64::from_ne_bytes((high ^ low).to_ne_bytes()) ^ STORAGE_LOCK
}

/// Keeps the storage locks apart from any other advisory lock's keys.
const STORAGE_LOCK: i64 = 0x7465_6e61_6e74_7279;

/// Writes that `tenant`'s storage has every migration of `M`.
#[expect(clippy::disallowed_methods, reason = "the operator's registry, inside the seam")]
/// The caller's transaction carries the tenant's setting (the registry's
/// row-level security admits only that row).
pub(super) async fn mark_current<M: MigratorTrait>(txn: &impl ConnectionTrait, tenant: Uuid) -> Result<(), DbErr> {
    let written = tenant::Entity::update_many()
        .set(tenant::ActiveModel {
            storage_version: Set(latest::<M>()),
            storage_error: Set(None),
            ..Default::default()
        })
        .filter(tenant::Column::Id.eq(tenant))
        .exec(txn)
        .await?;
    match written.rows_affected {
        1 => Ok(()),
        n => Err(DbErr::Custom(format!(
            "tenant {tenant}: its storage was migrated but {n} registry rows were marked"
        ))),
    }
}

/// Records a failed migration beside the tenant, unless another run has
/// meanwhile brought it up to date.
#[expect(clippy::disallowed_methods, reason = "the operator's registry, inside the seam")]
async fn record_failure<M: MigratorTrait>(conn: &DatabaseConnection, tenant: Uuid, error: &str) -> Result<(), DbErr> {
    let txn = conn.begin().await?;
    super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
    let mut update = tenant::Entity::update_many()
        .col_expr(tenant::Column::StorageError, Expr::value(error.to_owned()))
        .filter(tenant::Column::Id.eq(tenant));
    if let Some(latest) = latest::<M>() {
        update = update.filter(
            Condition::any()
                .add(tenant::Column::StorageVersion.is_null())
                .add(tenant::Column::StorageVersion.ne(latest)),
        );
    }
    update.exec(&txn).await?;
    txn.commit().await
}

/// Drops the schemas of tenants that no longer exist: a tenant deleted
/// through the API takes its rows with it (the foreign keys cascade), but
/// the serving role may not drop its schema; the migrating role does it
/// here. Only names of the form `t_<32 hex>` whose tenant (the id the name
/// is made of) has no row, asked under that tenant's lock and setting
/// ([`is_orphan`]).
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
async fn drop_orphans(conn: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    if conn.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            // The candidates in one question (the migrating role reads the
            // whole registry); each is then confirmed under its tenant's
            // lock and setting.
            "SELECT n.nspname::text AS name FROM pg_namespace n
              WHERE n.nspname ~ '^t_[0-9a-f]{32}$'
                AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = substr(n.nspname, 3)::uuid)
              ORDER BY 1",
        ))
        .await?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let Some(tenant) = tenant_of(&name) else { continue };
        let txn = conn.begin().await?;
        if !is_orphan(&txn, tenant).await? {
            txn.commit().await?;
            continue;
        }
        // Checked by the pattern above: a plain identifier. A schema that
        // cannot be dropped now (a lock) is left for the next run; the
        // tenants' migrations go on.
        match txn.execute_unprepared(&format!("DROP SCHEMA {name} CASCADE")).await {
            Ok(_) => {
                txn.commit().await?;
                tracing::info!(schema = %name, "dropped the schema of a deleted tenant");
                dropped.push(name);
            }
            Err(e) => tracing::warn!(schema = %name, error = %e, "could not drop the schema of a deleted tenant"),
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::tenant_of;

    #[test]
    fn a_storage_s_name_says_its_tenant() {
        let tenant = uuid::Uuid::now_v7();
        let hex = tenant.simple().to_string();
        assert_eq!(tenant_of(&format!("t_{hex}")), Some(tenant));
        assert_eq!(tenant_of(&format!("reserve/t_{hex}")), Some(tenant));
        assert_eq!(tenant_of(&format!("tenants/{hex}.db")), Some(tenant));
        assert_eq!(tenant_of("t_short"), None);
        assert_eq!(tenant_of("public"), None);
    }
}
