//! Moving a tenant's data to another placement while it is served: copy,
//! catch up, verify, switch, remove — resumable at every step, reversible
//! until the old copy is removed.
//!
//! 1. **Copying.** Triggers on the source log which of the tenant's rows
//!    change (`tenant_changes`, in the same transaction as the change);
//!    then every moved table is copied in batches, parents first, each
//!    batch an upsert (so a resumed copy writes a row twice at worst). The
//!    tenant is served from the source throughout.
//! 2. **Catching up.** The logged changes are copied again (each row as it
//!    is now, or its deletion), oldest first, until the log is nearly
//!    empty.
//! 3. **Switching.** Triggers on the source refuse the tenant's writes
//!    (a request that meets them gets `503` and `Retry-After`: never a
//!    write that would be lost); installing them waits for the writes
//!    under way. The rest of the log is copied, every table's rows and
//!    checksum compared, source against target, inside the databases;
//!    triggers on the target start logging (for a move back), and the
//!    tenant's placement changes in one transaction. Every instance routes
//!    to the target within the placement poll (500 ms; sooner with Redis).
//!    The write pause is from the refusal to the commit.
//! 4. **Switched.** The source keeps refusing writes. After the drain
//!    (long enough that no instance still routes to the source) it is
//!    removed, unless the source is kept: then `tenant move` again removes
//!    it, and `--abort` moves the tenant back.
//! 5. **Removing.** The source's schema or database is dropped, or its rows
//!    in the shared tables deleted in batches (the refusing triggers stay
//!    there, a fence, until the tenant moves back in); the move's row goes
//!    last.
//!
//! An abort before the switch drops the target and lifts the triggers (the
//! tenant never left the source); after it, it is a move back: the target's
//! log holds every write since the switch, the source everything before.
//!
//! One move or migration of a tenant at a time: a move holds the tenant's
//! storage lock (PostgreSQL: the advisory lock the fleet's migrations take;
//! SQLite: a file lock), and the fleet's migrations pass over a tenant
//! that is being moved.

mod store;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::tenant::{self, Placement};
use futures_util::future::BoxFuture;
use migration::MigratorTrait;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QuerySelect,
    Statement, TransactionTrait, Value,
};
use uuid::Uuid;

pub use store::{MOVING, Tally};
use store::{Store, Table};

use super::Db;

/// Rows per batch of the copy, changes per batch of the catch-up.
pub const BATCH: u64 = 1000;

/// How long after the switch the source is removed, by default: the
/// placement poll's bound with room for the requests under way then.
pub const DRAIN: Duration = Duration::from_secs(5);

/// An instance whose row in `instances` has not been refreshed for this
/// long has stopped (killed, or cut off from the platform database, where
/// its routing comes from): the removal does not wait for it.
pub const INSTANCE_STALE: Duration = Duration::from_secs(15);

/// Whether `err` is a write refused because the tenant is being moved.
pub fn is_moving(err: &DbErr) -> bool {
    err.to_string().contains(MOVING)
}

/// Where a tenant's data is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    #[serde(serialize_with = "placement_name")]
    pub placement: Placement,
    pub location: Option<String>,
}

fn placement_name<S: serde::Serializer>(placement: &Placement, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(placement.as_str())
}

/// A move's steps, as its row records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Copying,
    CatchingUp,
    Switching,
    Switched,
    Removing,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Copying => "copying",
            State::CatchingUp => "catching_up",
            State::Switching => "switching",
            State::Switched => "switched",
            State::Removing => "removing",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            State::Copying,
            State::CatchingUp,
            State::Switching,
            State::Switched,
            State::Removing,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Where a step stops as a crash would, leaving everything as it is
/// (the tests' way of killing a move at a chosen point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// After the first batch of the copy.
    Copy,
    /// After the first pass of the catch-up.
    CatchUp,
    /// With the source refusing writes and the copy verified, before the
    /// placement changes.
    Switch,
}

/// What `tenant move` was asked.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    /// The placement to move to, and for `database` the server (`None`:
    /// the platform's own); `None` resumes the move under way.
    pub to: Option<(Placement, Option<String>)>,
    pub keep_source: bool,
    /// Abort the move under way instead: before the switch the target is
    /// dropped and the tenant stays where it was; after it, it moves back.
    pub abort: bool,
    pub drain: Duration,
    pub batch: u64,
    pub halt: Option<Halt>,
}

impl Default for MoveRequest {
    fn default() -> Self {
        Self {
            to: None,
            keep_source: false,
            abort: false,
            drain: DRAIN,
            batch: BATCH,
            halt: None,
        }
    }
}

/// What a move reports as it goes.
#[derive(Debug, Clone)]
pub enum MoveEvent<'a> {
    Started {
        from: &'a Place,
        to: &'a Place,
        state: State,
    },
    Copied {
        table: &'a str,
        rows: u64,
    },
    CaughtUp {
        copied: u64,
        lag: u64,
    },
    Paused,
    Switched {
        pause: Duration,
    },
    /// Instances that have not yet read the switch (the removal waits).
    Waiting {
        instances: u64,
    },
    Draining {
        wait: Duration,
    },
    Removed,
}

/// One table as the switch compared it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCheck {
    pub table: String,
    pub source: Tally,
    pub target: Tally,
    /// SQLite: rows that differ, each compared whole both ways.
    pub differing: Option<u64>,
}

/// What a finished (or kept) move did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoveReport {
    pub tenant: Uuid,
    pub from: Place,
    pub to: Place,
    /// Whether this was a move back (an abort after the switch).
    pub reversed: bool,
    pub state: &'static str,
    pub rows_copied: u64,
    pub changes_caught_up: u64,
    pub tables: Vec<TableCheck>,
    /// From the refusal of writes at the source to the switch's commit.
    pub write_pause_ms: Option<u64>,
    pub total_ms: u64,
    /// Rows copied per second of the copy.
    pub rows_per_sec: u64,
    /// Where this run's time went.
    pub phases: Phases,
    /// `removed`, or `kept` (with `--keep-source`).
    pub source: &'static str,
}

/// The milliseconds of each step of one run of a move (a resumed run
/// counts only its own). The write pause is `pause_catch_up_ms +
/// verify_ms + switch_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Phases {
    /// Copying every table in batches, served meanwhile.
    pub copy_ms: u64,
    /// Catching up the writes logged during the copy, served meanwhile.
    pub catch_up_ms: u64,
    /// Writes refused: the last of the log copied.
    pub pause_catch_up_ms: u64,
    /// Writes refused: counts and checksums compared.
    pub verify_ms: u64,
    /// Writes refused: the target's log started, the placement changed.
    pub switch_ms: u64,
    /// Waiting for every instance to route to the target.
    pub drain_ms: u64,
    /// Removing the old copy.
    pub remove_ms: u64,
}

impl Phases {
    fn add(field: &mut u64, since: Instant) {
        *field = field.saturating_add(elapsed_ms(since));
    }
}

/// A move under way, as `tenant show` and `migrate status` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoveStatus {
    pub tenant: Uuid,
    pub state: State,
    pub from: Place,
    pub to: Place,
    pub reversed: bool,
    pub keep_source: bool,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub switched_at: Option<DateTime<Utc>>,
    pub write_pause_ms: Option<i64>,
    pub error: Option<String>,
    pub progress: serde_json::Value,
}

/// How far the copy has got, by table; kept in the move's row.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Progress {
    tables: BTreeMap<String, TableProgress>,
    caught_up: u64,
    #[serde(default)]
    checks: Vec<TableCheck>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct TableProgress {
    copied: u64,
    after: Option<Uuid>,
    done: bool,
}

/// The move's row.
#[derive(Debug, Clone)]
struct Row {
    source: Place,
    target: Place,
    state: State,
    keep_source: bool,
    reversed: bool,
    progress: Progress,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    switched_at: Option<DateTime<Utc>>,
    pause_ms: Option<i64>,
    error: Option<String>,
}

impl Row {
    fn status(&self, tenant: Uuid) -> MoveStatus {
        MoveStatus {
            tenant,
            state: self.state,
            from: self.source.clone(),
            to: self.target.clone(),
            reversed: self.reversed,
            keep_source: self.keep_source,
            started_at: self.started_at,
            updated_at: self.updated_at,
            switched_at: self.switched_at,
            write_pause_ms: self.pause_ms,
            error: self.error.clone(),
            progress: serde_json::to_value(&self.progress).unwrap_or_default(),
        }
    }
}

fn custom(message: impl Into<String>) -> DbErr {
    DbErr::Custom(message.into())
}

/// `sql` with PostgreSQL's numbered parameters, as the backend writes them
/// (each used once, in order).
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DatabaseBackend::Postgres {
        sql.to_owned()
    } else {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    };
    Statement::from_sql_and_values(backend, sql, values)
}

const COLUMNS: &str = "source_placement, source_location, target_placement, target_location, state, keep_source,
     reversed, progress, started_at, updated_at, switched_at, pause_ms, error";

#[expect(clippy::disallowed_methods, reason = "the operator's record of its moves")]
async fn load(conn: &impl ConnectionTrait, tenant: Uuid) -> Result<Option<Row>, DbErr> {
    let row = conn
        .query_one_raw(statement(
            conn.get_database_backend(),
            &format!("SELECT {COLUMNS} FROM tenant_moves WHERE tenant_id = $1"),
            vec![tenant.into()],
        ))
        .await?;
    row.map(|r| decode(&r)).transpose()
}

fn decode(r: &sea_orm::QueryResult) -> Result<Row, DbErr> {
    let place = |placement: String, location: Option<String>| {
        Placement::parse(&placement)
            .map(|placement| Place { placement, location })
            .ok_or_else(|| custom(format!("a move names an unknown placement `{placement}`")))
    };
    let state: String = r.try_get("", "state")?;
    let progress: String = r.try_get("", "progress")?;
    Ok(Row {
        source: place(r.try_get("", "source_placement")?, r.try_get("", "source_location")?)?,
        target: place(r.try_get("", "target_placement")?, r.try_get("", "target_location")?)?,
        state: State::parse(&state).ok_or_else(|| custom(format!("a move is in an unknown state `{state}`")))?,
        keep_source: r.try_get("", "keep_source")?,
        reversed: r.try_get("", "reversed")?,
        progress: serde_json::from_str(&progress).unwrap_or_default(),
        started_at: r.try_get("", "started_at")?,
        updated_at: r.try_get("", "updated_at")?,
        switched_at: r.try_get("", "switched_at")?,
        pause_ms: r.try_get("", "pause_ms")?,
        error: r.try_get("", "error")?,
    })
}

fn values(row: &Row) -> Vec<Value> {
    vec![
        row.source.placement.as_str().into(),
        row.source.location.clone().into(),
        row.target.placement.as_str().into(),
        row.target.location.clone().into(),
        row.state.as_str().into(),
        row.keep_source.into(),
        row.reversed.into(),
        serde_json::to_string(&row.progress).unwrap_or_default().into(),
        row.started_at.into(),
        row.updated_at.into(),
        row.switched_at.into(),
        row.pause_ms.into(),
        row.error.clone().into(),
    ]
}

#[expect(clippy::disallowed_methods, reason = "the operator's record of its moves")]
async fn insert(conn: &impl ConnectionTrait, tenant: Uuid, row: &Row) -> Result<(), DbErr> {
    let mut values = values(row);
    values.insert(0, tenant.into());
    conn.execute_raw(statement(
        conn.get_database_backend(),
        &format!(
            "INSERT INTO tenant_moves (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        values,
    ))
    .await?;
    Ok(())
}

#[expect(clippy::disallowed_methods, reason = "the operator's record of its moves")]
async fn save(conn: &impl ConnectionTrait, tenant: Uuid, row: &mut Row) -> Result<(), DbErr> {
    row.updated_at = Utc::now();
    let mut values = values(row);
    values.push(tenant.into());
    let sql = format!(
        "UPDATE tenant_moves SET ({COLUMNS}) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) WHERE tenant_id = $14"
    );
    let done = conn
        .execute_raw(statement(conn.get_database_backend(), &sql, values))
        .await?;
    if done.rows_affected() != 1 {
        return Err(custom(format!(
            "tenant {tenant}: its move's record is gone (the tenant was deleted?)"
        )));
    }
    Ok(())
}

#[expect(clippy::disallowed_methods, reason = "the operator's record of its moves")]
async fn remove_row(conn: &impl ConnectionTrait, tenant: Uuid) -> Result<(), DbErr> {
    conn.execute_raw(statement(
        conn.get_database_backend(),
        "DELETE FROM tenant_moves WHERE tenant_id = $1",
        vec![tenant.into()],
    ))
    .await?;
    Ok(())
}

/// Waits until every serving instance has read the switch of `tenant`
/// (committed before this is called), so none still routes to the source:
/// until each instance's row says its polls reach past the switch
/// ([`super::PlacementPoll::seen`]: on PostgreSQL the database's time now,
/// on SQLite the tenant's new `placed_at`). An instance whose beat is
/// older than [`INSTANCE_STALE`] is not waited for (its row is swept).
#[expect(clippy::disallowed_methods, reason = "the operator's view of the instances")]
async fn until_every_instance_has_read_the_switch(
    conn: &DatabaseConnection,
    tenant: Uuid,
    progress: &(dyn Fn(MoveEvent<'_>) + Sync),
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let now_sql = if backend == DatabaseBackend::Postgres {
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms"
    } else {
        "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS ms"
    };
    let ms = async |sql: &str, values: Vec<Value>| -> Result<i64, DbErr> {
        let row = conn
            .query_one_raw(statement(backend, sql, values))
            .await?
            .ok_or_else(|| custom("the database's clock or the tenant's stamp gave no row"))?;
        row.try_get::<Option<i64>>("", "ms")?
            .ok_or_else(|| custom("the tenant's placement has no stamp"))
    };
    // How far an instance must have read: on PostgreSQL the time now (the
    // switch has committed), on SQLite the tenant's new stamp.
    let switched = if backend == DatabaseBackend::Postgres {
        ms(now_sql, Vec::new()).await?
    } else {
        ms("SELECT placed_at AS ms FROM tenants WHERE id = $1", vec![tenant.into()]).await?
    };
    let stale_ms = i64::try_from(INSTANCE_STALE.as_millis()).unwrap_or(i64::MAX);
    let mut told = None;
    loop {
        let now = ms(now_sql, Vec::new()).await?;
        conn.execute_raw(statement(
            backend,
            "DELETE FROM instances WHERE beat_ms < $1",
            vec![(now - stale_ms).into()],
        ))
        .await?;
        let row = conn
            .query_one_raw(statement(
                backend,
                "SELECT count(*) AS n FROM instances WHERE seen_ms < $1",
                vec![switched.into()],
            ))
            .await?;
        let behind: i64 = row.map_or(Ok(0), |r| r.try_get("", "n"))?;
        let behind = u64::try_from(behind).unwrap_or(0);
        if behind == 0 {
            return Ok(());
        }
        if told != Some(behind) {
            progress(MoveEvent::Waiting { instances: behind });
            told = Some(behind);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every move under way (the operator's view).
#[expect(clippy::disallowed_methods, reason = "the operator's record of its moves")]
pub(super) async fn all(conn: &DatabaseConnection) -> Result<Vec<MoveStatus>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT tenant_id, {COLUMNS} FROM tenant_moves ORDER BY started_at"),
        ))
        .await?;
    rows.iter()
        .map(|r| Ok(decode(r)?.status(r.try_get("", "tenant_id")?)))
        .collect()
}

/// The move of `tenant` under way, if any.
pub(super) async fn status(conn: &DatabaseConnection, tenant: Uuid) -> Result<Option<MoveStatus>, DbErr> {
    Ok(load(conn, tenant).await?.map(|row| row.status(tenant)))
}

/// Whether `tenant` is being moved.
pub(super) async fn is_under_way(conn: &impl ConnectionTrait, tenant: Uuid) -> Result<bool, DbErr> {
    Ok(load(conn, tenant).await?.is_some())
}

/// The tenant's placement, location and storage version, read in its own
/// scope.
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's registry, in the tenant's own scope"
)]
async fn placed(conn: &DatabaseConnection, tenant: Uuid) -> Result<Option<(Place, Option<String>)>, DbErr> {
    let txn = conn.begin().await?;
    super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
    let row: Option<(String, Option<String>, Option<String>)> = tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Placement)
        .column(tenant::Column::Location)
        .column(tenant::Column::StorageVersion)
        .into_tuple()
        .one(&txn)
        .await?;
    txn.commit().await?;
    row.map(|(placement, location, version)| {
        let placement =
            Placement::parse(&placement).ok_or_else(|| custom(format!("unknown placement `{placement}`")))?;
        Ok((Place { placement, location }, version))
    })
    .transpose()
}

/// What a move holds while it runs: the tenant's storage lock.
enum Lock {
    Pg(DatabaseTransaction),
    File(std::fs::File),
}

async fn lock(db: &Db, tenant: Uuid) -> Result<Lock, DbErr> {
    let busy = || {
        custom(format!(
            "tenant {tenant}: another move or a migration of it is running; try again when it ends"
        ))
    };
    if db.backend == DatabaseBackend::Postgres {
        let txn = db.conn.begin().await?;
        if !super::fleet::try_lock_tenant(&txn, tenant).await? {
            return Err(busy());
        }
        return Ok(Lock::Pg(txn));
    }
    let path = db.placements.registry.servers.move_lock_path(tenant);
    if let Some(dir) = path.parent() {
        crate::secret::create_private_dir(dir).map_err(|e| custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| custom(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock::File(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy()),
        Err(std::fs::TryLockError::Error(e)) => Err(custom(format!("cannot lock {}: {e}", path.display()))),
    }
}

impl Lock {
    async fn release(self) {
        match self {
            Lock::Pg(txn) => {
                let _ = txn.commit().await;
            }
            Lock::File(file) => {
                let _ = file.unlock();
            }
        }
    }
}

/// Called once the switch has committed (to tell the serving instances).
pub type OnSwitch<'a> = &'a (dyn Fn(Uuid) -> BoxFuture<'static, ()> + Sync);

/// Moves `tenant` as `request` asks, resumes its move, or aborts it.
pub(super) async fn run(
    db: &Db,
    tenant: Uuid,
    request: MoveRequest,
    progress: &(dyn Fn(MoveEvent<'_>) + Sync),
    on_switch: OnSwitch<'_>,
) -> Result<MoveReport, DbErr> {
    let lock = lock(db, tenant).await?;
    let result = if request.abort {
        Box::pin(abort_locked(db, tenant, request, progress, on_switch)).await
    } else {
        Box::pin(run_locked(db, tenant, request, progress, on_switch)).await
    };
    lock.release().await;
    result
}

async fn abort_locked(
    db: &Db,
    tenant: Uuid,
    request: MoveRequest,
    progress: &(dyn Fn(MoveEvent<'_>) + Sync),
    on_switch: OnSwitch<'_>,
) -> Result<MoveReport, DbErr> {
    let started = Instant::now();
    let Some(mut row) = load(&db.conn, tenant).await? else {
        return Err(custom(format!("tenant {tenant} is not being moved")));
    };
    match row.state {
        State::Copying | State::CatchingUp | State::Switching => {
            // Opened as a new move's (its target made if a crash came
            // before it was), then dropped.
            let mover = Mover::open(db, tenant, &row, true).await?;
            // The source first: its writes flow again at once.
            mover.source.drop_refusal().await?;
            mover.source.drop_capture().await?;
            mover.source.clear_log().await?;
            mover.discard_target(&row).await?;
            remove_row(&db.conn, tenant).await?;
            mover.close().await;
            Ok(MoveReport {
                tenant,
                from: row.source.clone(),
                to: row.target.clone(),
                reversed: true,
                state: "aborted",
                rows_copied: 0,
                changes_caught_up: 0,
                tables: Vec::new(),
                write_pause_ms: None,
                total_ms: elapsed_ms(started),
                rows_per_sec: 0,
                phases: Phases::default(),
                source: "kept",
            })
        }
        State::Switched => {
            // A move back: the target's log holds every write since the
            // switch; the source has everything before it.
            std::mem::swap(&mut row.source, &mut row.target);
            row.reversed = !row.reversed;
            row.state = State::CatchingUp;
            row.progress = Progress::default();
            row.switched_at = None;
            row.pause_ms = None;
            row.error = None;
            save(&db.conn, tenant, &mut row).await?;
            let request = MoveRequest {
                to: None,
                abort: false,
                ..request
            };
            run_locked(db, tenant, request, progress, on_switch).await
        }
        State::Removing => Err(custom(format!(
            "tenant {tenant}: its old copy is being removed, so the move can only be finished (`tenantry tenant move` resumes it)"
        ))),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The target of a new move of a tenant at `current`, checked.
fn target_of(db: &Db, tenant: Uuid, current: &Place, to: &(Placement, Option<String>)) -> Result<Place, DbErr> {
    let (placement, server) = to;
    let platform = db.platform();
    if !platform.supports(*placement) {
        return Err(custom(match placement {
            Placement::Schema => "a schema of the tenant's own needs PostgreSQL".to_owned(),
            other => format!("placement `{other}` is not available here"),
        }));
    }
    if server.is_some() && *placement != Placement::Database {
        return Err(custom("a database server is chosen only for the `database` placement"));
    }
    let servers = &db.placements.registry.servers;
    let location = match placement {
        Placement::Shared => None,
        Placement::Schema => Some(super::placement::schema_name(tenant)),
        Placement::Database => Some(servers.location(tenant, server.as_deref())?),
    };
    let target = Place {
        placement: *placement,
        location,
    };
    if target == *current {
        return Err(custom(format!(
            "the tenant is already in {}{}",
            target.placement,
            target.location.as_deref().map_or(String::new(), |l| format!(" at {l}"))
        )));
    }
    Ok(target)
}

async fn run_locked(
    db: &Db,
    tenant: Uuid,
    request: MoveRequest,
    progress: &(dyn Fn(MoveEvent<'_>) + Sync),
    on_switch: OnSwitch<'_>,
) -> Result<MoveReport, DbErr> {
    let started = Instant::now();
    let (current, version) = placed(&db.conn, tenant)
        .await?
        .ok_or_else(|| custom(format!("tenant {tenant} no longer exists")))?;
    let mut row = match load(&db.conn, tenant).await? {
        Some(mut row) => {
            if let Some(to) = &request.to {
                let wanted = target_of(db, tenant, &row.source, to);
                if wanted.as_ref().ok() != Some(&row.target) {
                    return Err(custom(format!(
                        "a move to {} is under way: resume it (`--to {}`) or abort it (`--abort`)",
                        row.target.placement, row.target.placement
                    )));
                }
            }
            row.keep_source = request.keep_source;
            row
        }
        None => {
            let to = request
                .to
                .as_ref()
                .ok_or_else(|| custom(format!("tenant {tenant} is not being moved (say where: `--to`)")))?;
            let target = target_of(db, tenant, &current, to)?;
            let latest = super::fleet::latest::<migration::TenantMigrator>();
            let current_storage = match current.placement {
                Placement::Shared => migration::TenantMigrator::get_pending_migrations(&db.conn)
                    .await?
                    .is_empty(),
                Placement::Schema | Placement::Database => version == latest,
            };
            if !current_storage {
                return Err(custom(
                    "the tenant's storage lacks some of this release's migrations: run `tenantry migrate` first",
                ));
            }
            let now = Utc::now();
            let row = Row {
                source: current.clone(),
                target,
                state: State::Copying,
                keep_source: request.keep_source,
                reversed: false,
                progress: Progress::default(),
                started_at: now,
                updated_at: now,
                switched_at: None,
                pause_ms: None,
                error: None,
            };
            insert(&db.conn, tenant, &row).await?;
            row
        }
    };
    progress(MoveEvent::Started {
        from: &row.source,
        to: &row.target,
        state: row.state,
    });
    let mover = Mover::open(db, tenant, &row, row.state == State::Copying).await?;
    let result = mover.drive(&mut row, &request, progress, on_switch, started).await;
    if let Err(e) = &result {
        row.error = Some(e.to_string());
        // The record of what failed; the move's own error is what counts.
        let _ = save(&db.conn, tenant, &mut row).await;
    }
    mover.close().await;
    result
}

/// The two storages of a move, open.
struct Mover<'a> {
    db: &'a Db,
    tenant: Uuid,
    source: Store,
    target: Store,
    /// SQLite: the one connection both storages are reached on.
    sqlite: Option<DatabaseConnection>,
}

impl<'a> Mover<'a> {
    /// Opens the source and target of `row` (`prepare`: the target's
    /// storage made and migrated first, if need be).
    async fn open(db: &'a Db, tenant: Uuid, row: &Row, prepare: bool) -> Result<Self, DbErr> {
        if prepare {
            prepare_storage(db, tenant, &row.target).await?;
        }
        if db.backend == DatabaseBackend::Postgres {
            let source = open_pg(db, tenant, &row.source).await?;
            let target = match open_pg(db, tenant, &row.target).await {
                Ok(target) => target,
                Err(e) => {
                    close(&source).await;
                    return Err(e);
                }
            };
            return Ok(Self {
                db,
                tenant,
                source,
                target,
                sqlite: None,
            });
        }
        // SQLite: the tenant's file attached to one connection of the
        // platform's, kept for the whole move.
        let file = [&row.source, &row.target]
            .into_iter()
            .find(|p| p.placement == Placement::Database)
            .and_then(|p| p.location.clone())
            .ok_or_else(|| custom("a move on SQLite is between the shared tables and a database file"))?;
        let path = db.placements.registry.servers.sqlite_path(&file)?;
        let url = db.placements.registry.servers.platform_url();
        let mut options = super::connect_options(secrecy::ExposeSecret::expose_secret(url), 1);
        options
            .idle_timeout(Duration::from_secs(365 * 86_400))
            .max_lifetime(Duration::from_secs(365 * 86_400));
        let conn = sea_orm::Database::connect(options).await?;
        let store = |place: &Place| Store {
            schema: if place.placement == Placement::Database {
                store::ATTACHED.to_owned()
            } else {
                "main".to_owned()
            },
            conn: conn.clone(),
            own: false,
            attach: Some(path.clone()),
            tenant,
        };
        Ok(Self {
            db,
            tenant,
            source: store(&row.source),
            target: store(&row.target),
            sqlite: Some(conn),
        })
    }

    async fn close(self) {
        close(&self.source).await;
        close(&self.target).await;
        if let Some(conn) = self.sqlite {
            let _ = conn.close().await;
        }
    }

    fn halt(&self, request: &MoveRequest, at: Halt) -> Result<(), DbErr> {
        if request.halt == Some(at) {
            return Err(custom(format!("the move halted at {at:?}, as asked")));
        }
        Ok(())
    }

    async fn drive(
        &self,
        row: &mut Row,
        request: &MoveRequest,
        progress: &(dyn Fn(MoveEvent<'_>) + Sync),
        on_switch: OnSwitch<'_>,
        started: Instant,
    ) -> Result<MoveReport, DbErr> {
        let conn = &self.db.conn;
        let batch = request.batch.max(1);
        let mut copied = 0;
        let mut caught_up = 0;
        let mut pause = None;
        let mut phases = Phases::default();
        let tables = self.source.tables(&self.target).await?;
        loop {
            match row.state {
                State::Copying => {
                    let begun = Instant::now();
                    if row.progress.tables.is_empty() {
                        // A fresh start: nothing of the tenant's in the
                        // target (a copy left by an earlier move goes).
                        self.target.drop_capture().await?;
                        self.target.drop_refusal().await?;
                        self.target.delete_rows(batch).await?;
                        self.target.clear_log().await?;
                    }
                    // From here on every change of the tenant's rows is
                    // logged, before any row is copied.
                    self.source.install_capture().await?;
                    for table in &tables {
                        let mut state = row.progress.tables.get(table.name).cloned().unwrap_or_default();
                        let mut copy = store::TableCopy::new(&self.source, &self.target, table, batch);
                        while !state.done {
                            let (written, next) = copy.next(state.after).await?;
                            copied += written;
                            state.copied += written;
                            match next {
                                Some(next) => state.after = Some(next),
                                None => state.done = true,
                            }
                            row.progress.tables.insert(table.name.to_owned(), state.clone());
                            save(conn, self.tenant, row).await?;
                            progress(MoveEvent::Copied {
                                table: table.name,
                                rows: state.copied,
                            });
                            self.halt(request, Halt::Copy)?;
                        }
                    }
                    row.state = State::CatchingUp;
                    save(conn, self.tenant, row).await?;
                    Phases::add(&mut phases.copy_ms, begun);
                }
                State::CatchingUp => {
                    let begun = Instant::now();
                    loop {
                        let n = store::catch_up(&self.source, &self.target, &tables, batch).await?;
                        caught_up += n;
                        row.progress.caught_up += n;
                        let lag = self.source.lag().await?;
                        progress(MoveEvent::CaughtUp { copied: n, lag });
                        self.halt(request, Halt::CatchUp)?;
                        if n < batch && lag < batch {
                            break;
                        }
                    }
                    row.state = State::Switching;
                    save(conn, self.tenant, row).await?;
                    Phases::add(&mut phases.catch_up_ms, begun);
                }
                State::Switching => {
                    // Logged from before the switch: a move back finds every
                    // write made after it (and those of the last catch-up,
                    // which are the source's rows again). Made before the
                    // pause, so its DDL is not part of it.
                    self.target.install_capture().await?;
                    let paused = Instant::now();
                    progress(MoveEvent::Paused);
                    self.source.install_refusal().await?;
                    loop {
                        let n = store::catch_up(&self.source, &self.target, &tables, batch).await?;
                        caught_up += n;
                        row.progress.caught_up += n;
                        if n == 0 {
                            break;
                        }
                    }
                    Phases::add(&mut phases.pause_catch_up_ms, paused);
                    let verifying = Instant::now();
                    let checks = self.verify(&tables).await?;
                    Phases::add(&mut phases.verify_ms, verifying);
                    if let Some(bad) = checks.iter().find(|c| !agrees(c)) {
                        // Writes flow again; the copy starts over on resume.
                        self.source.drop_refusal().await?;
                        row.state = State::Copying;
                        row.progress = Progress::default();
                        save(conn, self.tenant, row).await?;
                        return Err(custom(format!(
                            "verification failed for `{}` (source {:?}, target {:?}, {} differing): the tenant is served from the source; `tenantry tenant move` copies it again",
                            bad.table,
                            bad.source,
                            bad.target,
                            bad.differing.unwrap_or(0)
                        )));
                    }
                    self.halt(request, Halt::Switch)?;
                    let switching = Instant::now();
                    row.progress.checks = checks;
                    self.switch(row).await?;
                    Phases::add(&mut phases.switch_ms, switching);
                    let took = paused.elapsed();
                    pause = Some(took);
                    row.pause_ms = Some(i64::try_from(took.as_millis()).unwrap_or(i64::MAX));
                    save(conn, self.tenant, row).await?;
                    on_switch(self.tenant).await;
                    progress(MoveEvent::Switched { pause: took });
                }
                State::Switched => {
                    // The source takes no more writes: its log is moot,
                    // and the target's refusal (a move back's) ends.
                    self.source.drop_capture().await?;
                    self.source.clear_log().await?;
                    self.target.drop_refusal().await?;
                    if pause.is_none() {
                        // Resumed: tell the instances again.
                        on_switch(self.tenant).await;
                    }
                    if row.keep_source {
                        save(conn, self.tenant, row).await?;
                        return Ok(self.report(row, "kept", copied, caught_up, phases, started));
                    }
                    let draining = Instant::now();
                    until_every_instance_has_read_the_switch(conn, self.tenant, progress).await?;
                    let since = row
                        .switched_at
                        .map_or(Duration::ZERO, |at| (Utc::now() - at).to_std().unwrap_or_default());
                    let wait = request.drain.saturating_sub(since);
                    if !wait.is_zero() {
                        progress(MoveEvent::Draining { wait });
                        tokio::time::sleep(wait).await;
                    }
                    Phases::add(&mut phases.drain_ms, draining);
                    row.state = State::Removing;
                    save(conn, self.tenant, row).await?;
                }
                State::Removing => {
                    let removing = Instant::now();
                    self.target.drop_capture().await?;
                    self.target.clear_log().await?;
                    self.remove_source(row, batch).await?;
                    remove_row(conn, self.tenant).await?;
                    Phases::add(&mut phases.remove_ms, removing);
                    progress(MoveEvent::Removed);
                    return Ok(self.report(row, "removed", copied, caught_up, phases, started));
                }
            }
        }
    }

    fn report(
        &self,
        row: &Row,
        source: &'static str,
        copied: u64,
        caught_up: u64,
        phases: Phases,
        started: Instant,
    ) -> MoveReport {
        let total = started.elapsed();
        MoveReport {
            tenant: self.tenant,
            from: row.source.clone(),
            to: row.target.clone(),
            reversed: row.reversed,
            state: row.state.as_str(),
            rows_copied: copied,
            changes_caught_up: caught_up,
            tables: row.progress.checks.clone(),
            write_pause_ms: row.pause_ms.and_then(|ms| u64::try_from(ms).ok()),
            total_ms: u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
            rows_per_sec: copied.saturating_mul(1000).checked_div(phases.copy_ms).unwrap_or(0),
            phases,
            source,
        }
    }

    /// Every moved table's rows and checksum, source against target
    /// (PostgreSQL: the two tallies of a table at once, on two sessions).
    async fn verify(&self, tables: &[Table]) -> Result<Vec<TableCheck>, DbErr> {
        let mut checks = Vec::new();
        for table in tables {
            let (source, target, differing) = if self.db.backend == DatabaseBackend::Postgres {
                let (source, target) = tokio::try_join!(self.source.tally(table), self.target.tally(table))?;
                (source, target, None)
            } else {
                let differing = self.source.differing(&self.target, table).await?;
                (
                    self.source.tally(table).await?,
                    self.target.tally(table).await?,
                    Some(differing),
                )
            };
            checks.push(TableCheck {
                table: table.name.to_owned(),
                source,
                target,
                differing,
            });
        }
        Ok(checks)
    }

    /// The placement changes, and the move's row with it, in one
    /// transaction (its stamp tells every instance).
    #[expect(clippy::disallowed_methods, reason = "the operator's registry, inside the seam")]
    async fn switch(&self, row: &mut Row) -> Result<(), DbErr> {
        let conn = &self.db.conn;
        let backend = conn.get_database_backend();
        let txn = if backend == DatabaseBackend::Postgres {
            conn.begin().await?
        } else {
            conn.begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?
        };
        super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, self.tenant)]).await?;
        let version = match row.target.placement {
            Placement::Shared => None,
            Placement::Schema | Placement::Database => super::fleet::latest::<migration::TenantMigrator>(),
        };
        let done = txn
            .execute_raw(statement(
                backend,
                "UPDATE tenants SET placement = $1, location = $2, storage_version = $3, storage_error = NULL WHERE id = $4",
                vec![
                    row.target.placement.as_str().into(),
                    row.target.location.clone().into(),
                    version.into(),
                    self.tenant.into(),
                ],
            ))
            .await?;
        if done.rows_affected() != 1 {
            return Err(custom(format!("tenant {} no longer exists", self.tenant)));
        }
        row.state = State::Switched;
        row.switched_at = Some(Utc::now());
        save(&txn, self.tenant, row).await?;
        txn.commit().await
    }

    /// Drops a target that never served (an abort before the switch).
    async fn discard_target(&self, row: &Row) -> Result<(), DbErr> {
        self.remove(&self.target, &row.target, BATCH, false).await
    }

    /// Removes the source after the switch. In the shared tables the
    /// triggers refusing the tenant's writes stay, a fence: an instance
    /// that somehow still routes the tenant there gets `503` and retries,
    /// never a write into a copy that is gone. A later move into the
    /// shared tables lifts them.
    async fn remove_source(&self, row: &Row, batch: u64) -> Result<(), DbErr> {
        self.remove(&self.source, &row.source, batch, true).await
    }

    /// Removes the tenant's copy at `place`: its schema or database, or its
    /// rows (and capture, log and, unless `fence`, refusal) in the shared
    /// tables.
    #[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
    async fn remove(&self, store: &Store, place: &Place, batch: u64, fence: bool) -> Result<(), DbErr> {
        match place.placement {
            Placement::Shared => {
                store.drop_capture().await?;
                store.delete_rows(batch).await?;
                if !fence {
                    store.drop_refusal().await?;
                }
                store.clear_log().await
            }
            Placement::Schema => {
                self.db
                    .conn
                    .execute_unprepared(&format!(
                        "DROP SCHEMA IF EXISTS {} CASCADE",
                        super::placement::schema_name(self.tenant)
                    ))
                    .await?;
                Ok(())
            }
            Placement::Database => {
                let location = place
                    .location
                    .as_deref()
                    .ok_or_else(|| custom("a database placement without a location"))?;
                store.detach().await?;
                if store.own {
                    let _ = store.conn.clone().close().await;
                }
                self.db.placements.registry.servers.drop_database(location).await
            }
        }
    }
}

fn agrees(check: &TableCheck) -> bool {
    check.source == check.target && check.differing.unwrap_or(0) == 0
}

async fn close(store: &Store) {
    if store.own {
        let _ = store.conn.clone().close().await;
    }
}

/// A PostgreSQL storage: the shared tables and a tenant's schema on the
/// platform's connection, a tenant database on one of its own.
async fn open_pg(db: &Db, tenant: Uuid, place: &Place) -> Result<Store, DbErr> {
    let (schema, conn, own) = match place.placement {
        Placement::Shared => ("public".to_owned(), db.conn.clone(), false),
        Placement::Schema => (super::placement::schema_name(tenant), db.conn.clone(), false),
        Placement::Database => {
            let location = place
                .location
                .as_deref()
                .ok_or_else(|| custom("a database placement without a location"))?;
            let conn = db.placements.registry.servers.owner(location, false).await?;
            ("public".to_owned(), conn, true)
        }
    };
    Ok(Store {
        schema,
        conn,
        own,
        attach: None,
        tenant,
    })
}

/// Makes (if need be) and migrates the storage at `place`, its grants
/// those of any tenant storage; nothing for the shared tables.
async fn prepare_storage(db: &Db, tenant: Uuid, place: &Place) -> Result<(), DbErr> {
    match place.placement {
        Placement::Shared => Ok(()),
        Placement::Schema => {
            let txn = db.conn.begin().await?;
            super::placement::create_schema(&txn, tenant).await?;
            super::placement::enter_schema(&txn, tenant).await?;
            migration::TenantMigrator::up(&txn, None).await?;
            super::placement::grant_as_shared(&txn, tenant).await?;
            txn.commit().await
        }
        Placement::Database => {
            let location = place
                .location
                .as_deref()
                .ok_or_else(|| custom("a database placement without a location"))?;
            let platform = super::fleet::platform_identity(&db.conn).await?;
            db.placements
                .registry
                .servers
                .migrate::<migration::TenantMigrator>(tenant, location, &platform)
                .await
        }
    }
}
