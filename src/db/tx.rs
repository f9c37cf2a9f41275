//! The transaction both seams run on. On PostgreSQL it runs on the request
//! path's own connections (`pg/`): every statement prepared, its values
//! bound as parameters, and the scope (`app.tenant_id`, `app.user_id`) set
//! for row-level security by `set_config(…, true)` calls pipelined with the
//! first statement. SQLite uses SeaORM's own transactions. Nothing here
//! leaves `db/`.
//!
//! A transaction of a single statement ([`Tx::single`]) is one round trip on
//! PostgreSQL: its `BEGIN`, settings, statement and `COMMIT` travel and are
//! answered together (see `pg/mod.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use migration::TableSet;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::Row;

use super::Conn;
use super::idempotency::{LockRow, RecordRow};
use super::pg::{self, Decode};
use super::placement::Placements;
use super::registry::Lease;
use super::shape::Query;

pub(super) use super::pg::Setting;

enum Inner {
    Orm(DatabaseTransaction),
    // Boxed: a pooled connection is large, and most transactions are
    // the single kind.
    Pg(Box<Mutex<pg::PgTx>>),
    /// PostgreSQL, one statement sent together with its settings.
    PgSingle {
        pool: pg::Pool,
        used: AtomicBool,
    },
}

/// What a statement returned, from either backend.
enum Rows {
    Orm(Vec<QueryResult>),
    Pg(Vec<Row>),
}

/// A statement's rows and how many rows it changed.
type Outcome = (Rows, u64);

fn pg_outcome((rows, n): pg::Outcome) -> Outcome {
    (Rows::Pg(rows), n)
}

fn decode<M: FromQueryResult + Decode>(rows: Rows) -> Result<Vec<M>, DbErr> {
    match rows {
        Rows::Orm(rows) => rows.iter().map(|row| M::from_query_result(row, "")).collect(),
        Rows::Pg(rows) => rows.iter().map(M::decode).collect(),
    }
}

/// The table set a statement over `E` reaches.
pub(super) fn set_of<E: EntityTrait>() -> Result<TableSet, DbErr> {
    let table = E::default().table_name();
    migration::set_of(table).ok_or_else(|| DbErr::Custom(format!("table `{table}` is in neither table set")))
}

/// Where a tenant's own database is, for a tenant placed in one: its
/// tenant-set statements run there.
pub(super) struct OwnDatabase {
    pub(super) placements: Arc<Placements>,
    pub(super) location: Arc<str>,
}

/// The transaction as it runs, once its first statement said which table
/// set it is on. Its inner transaction ends before the lease of its pool.
struct Opened {
    set: TableSet,
    inner: Inner,
    /// PostgreSQL: the claim's guard is still to run, written ahead of the
    /// first statement.
    guard_pending: AtomicBool,
    _lease: Option<Lease>,
}

/// A transaction with its row-level-security settings applied. It opens
/// on its first statement, on the pool of the table set that statement
/// reaches (a tenant's own database, for its tenant set), and refuses a
/// statement on the other set: a transaction never spans both, so it
/// behaves alike in every placement.
pub(super) struct Tx {
    platform: Conn,
    own: Option<OwnDatabase>,
    settings: Vec<Setting>,
    write: bool,
    single: bool,
    backend: DatabaseBackend,
    opened: OnceCell<Opened>,
    /// The idempotency claim this transaction carries out, checked before
    /// its first statement (`idempotency.rs`).
    guard: Option<Arc<super::idempotency::Claim>>,
}

#[expect(
    clippy::disallowed_methods,
    reason = "the seams' transaction: callers scope every statement before it runs"
)]
impl Tx {
    /// A transaction on the platform's pool; `write` takes SQLite's write
    /// lock up front so it never fails to upgrade midway.
    pub(super) async fn begin(conn: &Conn, settings: &[Setting], write: bool) -> Result<Self, DbErr> {
        Ok(Self::routed(conn, None, settings.to_vec(), write, false))
    }

    /// A transaction that runs exactly one statement; on PostgreSQL the
    /// settings, the statement and the commit share one round trip. A
    /// second statement is refused.
    pub(super) async fn single(conn: &Conn, settings: &[Setting], write: bool) -> Result<Self, DbErr> {
        Ok(Self::routed(conn, None, settings.to_vec(), write, true))
    }

    /// A transaction whose tenant-set statements run in `own`, when given.
    pub(super) fn routed(
        platform: &Conn,
        own: Option<OwnDatabase>,
        settings: Vec<Setting>,
        write: bool,
        single: bool,
    ) -> Self {
        let backend = match platform {
            Conn::Orm(conn) => conn.get_database_backend(),
            Conn::Pg(_) => DatabaseBackend::Postgres,
        };
        Self {
            platform: platform.clone(),
            own,
            settings,
            write,
            single,
            backend,
            opened: OnceCell::new(),
            guard: None,
        }
    }

    /// This transaction carries out `claim`: it writes, in one transaction
    /// of many statements, guarded by the claim before its first.
    pub(super) fn guarded(mut self, claim: Arc<super::idempotency::Claim>) -> Self {
        self.write = true;
        self.single = false;
        self.guard = Some(claim);
        self
    }

    /// The set its first statement opened it on, if one ran.
    pub(super) fn opened_set(&self) -> Option<TableSet> {
        self.opened.get().map(|o| o.set)
    }

    pub(super) fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// The transaction on `set`'s pool, opened by its first statement.
    async fn opened(&self, set: TableSet) -> Result<&Opened, DbErr> {
        let opened = self.opened.get_or_try_init(|| self.open(set)).await?;
        if opened.set != set {
            return Err(DbErr::Custom(format!(
                "a transaction on the {} set was asked to reach the {} set (a transaction never spans both)",
                name(opened.set),
                name(set)
            )));
        }
        Ok(opened)
    }

    async fn inner(&self, set: TableSet) -> Result<&Inner, DbErr> {
        Ok(&self.opened(set).await?.inner)
    }

    async fn open(&self, set: TableSet) -> Result<Opened, DbErr> {
        let lease = match (&self.own, set) {
            (Some(own), TableSet::Tenant) => Some(own.placements.registry.acquire(&own.location).await?),
            _ => None,
        };
        let conn = match &lease {
            Some(lease) => lease.conn()?,
            None => &self.platform,
        };
        let inner = match conn {
            Conn::Pg(pool) if self.single => Inner::PgSingle {
                pool: pool.clone(),
                used: AtomicBool::new(false),
            },
            Conn::Pg(pool) => Inner::Pg(Box::new(Mutex::new(pool.begin(&self.settings).await?))),
            Conn::Orm(conn) if self.write => Inner::Orm(
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?,
            ),
            Conn::Orm(conn) => Inner::Orm(conn.begin().await?),
        };
        // The claim's guard: on SQLite here (the write lock is the key's),
        // on PostgreSQL written ahead of the first statement (`run`).
        let mut guard_pending = false;
        if let Some(claim) = &self.guard {
            if let Inner::Pg(_) = inner {
                guard_pending = true;
            } else {
                let guard = claim.guard(self.backend, set);
                let found = run_on(&self.settings, &inner, guard.lookup, None).await?.0.0;
                claim.judge(true, decode::<RecordRow>(found)?.into_iter().next())?;
            }
        }
        Ok(Opened {
            set,
            inner,
            guard_pending: AtomicBool::new(guard_pending),
            _lease: lease,
        })
    }

    /// Runs a statement on `set` that returns rows.
    pub(super) async fn fetch<M: FromQueryResult + Decode>(
        &self,
        set: TableSet,
        statement: impl Into<Query>,
    ) -> Result<Vec<M>, DbErr> {
        decode(self.run(set, statement.into(), None).await?.0.0)
    }

    /// Runs two statements on `set` that do not depend on each other's
    /// results, the second pipelined behind the first (on PostgreSQL they
    /// travel and are answered together; a transaction of one statement
    /// takes them both).
    pub(super) async fn fetch_pair<A, B>(
        &self,
        set: TableSet,
        first: Query,
        second: Query,
    ) -> Result<(Vec<A>, Vec<B>), DbErr>
    where
        A: FromQueryResult + Decode,
        B: FromQueryResult + Decode,
    {
        let (first, second) = self.run(set, first, Some(second)).await?;
        let second = second.ok_or_else(|| DbErr::Custom("the second statement did not run".to_owned()))?;
        Ok((decode(first.0)?, decode(second.0)?))
    }

    /// Runs a statement on `set` that returns no rows; how many rows it
    /// changed.
    pub(super) async fn execute(&self, set: TableSet, statement: impl Into<Query>) -> Result<u64, DbErr> {
        let query = statement.into();
        match self.inner(set).await? {
            Inner::Orm(txn) => Ok(
                Box::pin(txn.execute_raw(query.into_statement(txn.get_database_backend())))
                    .await?
                    .rows_affected(),
            ),
            _ => Ok(self.run(set, query, None).await?.0.1),
        }
    }

    async fn run(
        &self,
        set: TableSet,
        query: Query,
        second: Option<Query>,
    ) -> Result<(Outcome, Option<Outcome>), DbErr> {
        let opened = self.opened(set).await?;
        if let (Inner::Pg(tx), Some(claim)) = (&opened.inner, &self.guard) {
            // Taken under the transaction's lock, so no statement runs
            // before the guard's.
            let mut tx = tx.lock().await;
            if opened.guard_pending.swap(false, Ordering::AcqRel) {
                return Box::pin(guarded_run(&mut tx, claim, set, query, second)).await;
            }
        }
        run_on(&self.settings, &opened.inner, query, second).await
    }

    /// Runs `last` and commits, on PostgreSQL written together with the
    /// commit: how many rows each changed. The transaction must have run a
    /// statement on `set`.
    pub(super) async fn commit_after(self, set: TableSet, last: Vec<Query>) -> Result<Vec<u64>, DbErr> {
        let opened = match self.opened.into_inner() {
            Some(opened) if opened.set == set => opened,
            _ => {
                return Err(DbErr::Custom(format!(
                    "the transaction ran nothing on the {} set to commit after",
                    name(set)
                )));
            }
        };
        match opened.inner {
            Inner::Orm(txn) => {
                let mut changed = Vec::with_capacity(last.len());
                for query in last {
                    let statement = query.into_statement(txn.get_database_backend());
                    changed.push(Box::pin(txn.execute_raw(statement)).await?.rows_affected());
                }
                Box::pin(txn.commit()).await?;
                Ok(changed)
            }
            Inner::Pg(tx) => {
                let bound: Vec<pg::Bound<'_>> = last.iter().map(|q| (&*q.sql, &q.values[..])).collect();
                Box::pin(tx.into_inner().commit_after(&bound)).await
            }
            Inner::PgSingle { .. } => Err(DbErr::Custom(
                "a single-statement transaction was asked to run another statement".to_owned(),
            )),
        }
    }

    pub(super) async fn commit(self) -> Result<(), DbErr> {
        let Some(opened) = self.opened.into_inner() else {
            // No statement ran: nothing to commit.
            return Ok(());
        };
        match opened.inner {
            Inner::Orm(txn) => Box::pin(txn.commit()).await,
            Inner::Pg(tx) => tx.into_inner().commit().await,
            // Its one statement committed itself.
            Inner::PgSingle { .. } => Ok(()),
        }
    }
}

/// The first statement of a transaction guarded by `claim` (PostgreSQL):
/// the key's lock and its lookup written ahead of it and answered with it.
/// The statement runs whatever they find; when they settle the claim the
/// error says so, and the transaction, dropped, rolls it back.
async fn guarded_run(
    tx: &mut pg::PgTx,
    claim: &super::idempotency::Claim,
    set: TableSet,
    query: Query,
    second: Option<Query>,
) -> Result<(Outcome, Option<Outcome>), DbErr> {
    let guard = claim.guard(DatabaseBackend::Postgres, set);
    let mut before: Vec<pg::Bound<'_>> = Vec::with_capacity(2);
    if let Some(lock) = &guard.lock {
        before.push((&lock.sql, &lock.values));
    }
    before.push((&guard.lookup.sql, &guard.lookup.values));
    let second = second.as_ref().map(|q| (&*q.sql, &q.values[..]));
    let (mut found, ran) = tx.run_after(&before, (&query.sql, &query.values), second).await?;
    let record = found
        .pop()
        .map(|(rows, _)| decode::<RecordRow>(Rows::Pg(rows)))
        .transpose()?;
    let locked = match found.pop() {
        Some((rows, _)) => decode::<LockRow>(Rows::Pg(rows))?.iter().any(|r| r.locked),
        None => true,
    };
    claim.judge(locked, record.and_then(|rows| rows.into_iter().next()))?;
    let (first, second) = ran?;
    Ok((pg_outcome(first), second.map(pg_outcome)))
}

/// Runs a statement (and a second, pipelined behind it) on `inner`.
#[expect(
    clippy::disallowed_methods,
    reason = "the seams' transaction: callers scope every statement before it runs"
)]
async fn run_on(
    settings: &[Setting],
    inner: &Inner,
    query: Query,
    second: Option<Query>,
) -> Result<(Outcome, Option<Outcome>), DbErr> {
    match inner {
        // Boxed: SeaORM's futures are large, and every caller's future
        // would otherwise carry them, on every backend, and be copied as
        // it moves.
        Inner::Orm(txn) => {
            let backend = txn.get_database_backend();
            let rows = Box::pin(txn.query_all_raw(query.into_statement(backend))).await?;
            let n = rows.len() as u64;
            let second = match second {
                Some(q) => {
                    let rows = Box::pin(txn.query_all_raw(q.into_statement(backend))).await?;
                    let n = rows.len() as u64;
                    Some((Rows::Orm(rows), n))
                }
                None => None,
            };
            Ok(((Rows::Orm(rows), n), second))
        }
        Inner::Pg(tx) => {
            let second = second.as_ref().map(|q| (&*q.sql, &q.values[..]));
            // Boxed like SeaORM's: the multi-statement path's future is
            // the largest, and every single-statement request would carry it.
            let (first, second) = Box::pin(async {
                let mut tx = tx.lock().await;
                tx.run((&query.sql, &query.values), second).await
            })
            .await?;
            Ok((pg_outcome(first), second.map(pg_outcome)))
        }
        Inner::PgSingle { pool, used } => {
            if used.swap(true, Ordering::AcqRel) {
                return Err(DbErr::Custom(
                    "a single-statement transaction was asked to run another statement".to_owned(),
                ));
            }
            let second = second.as_ref().map(|q| (&*q.sql, &q.values[..]));
            let (first, second) = Box::pin(pool.single(settings, (&query.sql, &query.values), second)).await?;
            Ok((pg_outcome(first), second.map(pg_outcome)))
        }
    }
}

fn name(set: TableSet) -> &'static str {
    match set {
        TableSet::Tenant => "tenant",
        TableSet::Platform => "platform",
    }
}

/// Applies row-level-security settings for the rest of a SeaORM transaction
/// (platform code that writes through SeaORM, e.g. creating a tenant), as
/// bound parameters of `set_config(…, true)`.
pub(super) async fn apply_settings(txn: &DatabaseTransaction, settings: &[Setting]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let calls: Vec<String> = (0..settings.len())
        .map(|i| format!("set_config(${}, ${}, true)", 2 * i + 1, 2 * i + 2))
        .collect();
    let values = settings
        .iter()
        .flat_map(|setting| [setting.0.into(), super::placement::setting_text(setting).into()])
        .collect::<Vec<sea_orm::Value>>();
    #[expect(clippy::disallowed_methods, reason = "the seam sets the scope for RLS")]
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        format!("SELECT {}", calls.join(", ")),
        values,
    ))
    .await?;
    Ok(())
}
