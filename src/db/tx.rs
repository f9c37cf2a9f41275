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

use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, FromQueryResult, QueryResult, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::Mutex;
use tokio_postgres::Row;

use super::Conn;
use super::pg::{self, Decode};
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
        settings: Vec<Setting>,
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

/// An open transaction with its row-level-security settings applied.
pub(super) struct Tx {
    inner: Inner,
}

#[expect(
    clippy::disallowed_methods,
    reason = "the seams' transaction: callers scope every statement before it runs"
)]
impl Tx {
    /// Begins a transaction; `write` takes SQLite's write lock up front so it
    /// never fails to upgrade midway.
    pub(super) async fn begin(conn: &Conn, settings: &[Setting], write: bool) -> Result<Self, DbErr> {
        let inner = match conn {
            Conn::Pg(pool) => Inner::Pg(Box::new(Mutex::new(pool.begin(settings).await?))),
            Conn::Orm(conn) if write => Inner::Orm(
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?,
            ),
            Conn::Orm(conn) => Inner::Orm(conn.begin().await?),
        };
        Ok(Self { inner })
    }

    /// A transaction that runs exactly one statement; on PostgreSQL nothing
    /// is sent until it runs, and then the settings, the statement and the
    /// commit share one round trip. A second statement is refused.
    pub(super) async fn single(conn: &Conn, settings: &[Setting], write: bool) -> Result<Self, DbErr> {
        match conn {
            Conn::Pg(pool) => Ok(Self {
                inner: Inner::PgSingle {
                    pool: pool.clone(),
                    settings: settings.to_vec(),
                    used: AtomicBool::new(false),
                },
            }),
            Conn::Orm(_) => Self::begin(conn, settings, write).await,
        }
    }

    pub(super) fn backend(&self) -> DatabaseBackend {
        match &self.inner {
            Inner::Orm(txn) => txn.get_database_backend(),
            Inner::Pg(_) | Inner::PgSingle { .. } => DatabaseBackend::Postgres,
        }
    }

    /// Runs a statement that returns rows.
    pub(super) async fn fetch<M: FromQueryResult + Decode>(
        &self,
        statement: impl Into<Query>,
    ) -> Result<Vec<M>, DbErr> {
        decode(self.run(statement.into(), None).await?.0.0)
    }

    /// Runs two statements that do not depend on each other's results, the
    /// second pipelined behind the first (on PostgreSQL they travel and are
    /// answered together; a transaction of one statement takes them both).
    pub(super) async fn fetch_pair<A, B>(&self, first: Query, second: Query) -> Result<(Vec<A>, Vec<B>), DbErr>
    where
        A: FromQueryResult + Decode,
        B: FromQueryResult + Decode,
    {
        let (first, second) = self.run(first, Some(second)).await?;
        let second = second.ok_or_else(|| DbErr::Custom("the second statement did not run".to_owned()))?;
        Ok((decode(first.0)?, decode(second.0)?))
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub(super) async fn execute(&self, statement: impl Into<Query>) -> Result<u64, DbErr> {
        let query = statement.into();
        match &self.inner {
            Inner::Orm(txn) => Ok(
                Box::pin(txn.execute_raw(query.into_statement(txn.get_database_backend())))
                    .await?
                    .rows_affected(),
            ),
            _ => Ok(self.run(query, None).await?.0.1),
        }
    }

    async fn run(&self, query: Query, second: Option<Query>) -> Result<(Outcome, Option<Outcome>), DbErr> {
        match &self.inner {
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
            Inner::PgSingle { pool, settings, used } => {
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

    pub(super) async fn commit(self) -> Result<(), DbErr> {
        match self.inner {
            Inner::Orm(txn) => Box::pin(txn.commit()).await,
            Inner::Pg(tx) => tx.into_inner().commit().await,
            // Its one statement committed itself.
            Inner::PgSingle { .. } => Ok(()),
        }
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
