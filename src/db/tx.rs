//! The transaction both seams run on. On PostgreSQL it starts with one round
//! trip, `BEGIN; SELECT set_config(…, true), …` (sqlx's `begin_with`, which
//! rolls back if dropped), carrying the scope (`app.tenant_id`, `app.user_id`)
//! for row-level security, and SeaORM-built statements run on it through sqlx.
//! SQLite uses SeaORM's own transactions. Nothing here leaves `db/`.

use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, FromQueryResult,
    QueryResult, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;
use uuid::Uuid;

enum Inner {
    Orm(DatabaseTransaction),
    Pg(Mutex<sqlx::Transaction<'static, Postgres>>),
}

/// An open transaction with its row-level-security settings applied.
pub(super) struct Tx {
    inner: Inner,
}

/// `SELECT set_config('app.tenant_id', '…', true), …` for `settings`.
fn set_config_sql(settings: &[(&str, Uuid)]) -> String {
    // Setting names are constants and a `Uuid` formats as hex digits and
    // hyphens: nothing to escape.
    let calls: Vec<String> = settings
        .iter()
        .map(|(name, value)| format!("set_config('{name}', '{value}', true)"))
        .collect();
    format!("SELECT {}", calls.join(", "))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the seams' transaction: callers scope every statement before it runs"
)]
impl Tx {
    /// Begins a transaction; `write` takes SQLite's write lock up front so it
    /// never fails to upgrade midway.
    pub(super) async fn begin(
        conn: &DatabaseConnection,
        settings: &[(&str, Uuid)],
        write: bool,
    ) -> Result<Self, DbErr> {
        let inner = match conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let pool = conn.get_postgres_connection_pool();
                let begin = format!("BEGIN; {}", set_config_sql(settings));
                let tx = pool.begin_with(sqlx::AssertSqlSafe(begin)).await.map_err(sqlx_err)?;
                Inner::Pg(Mutex::new(tx))
            }
            DatabaseBackend::Sqlite if write => Inner::Orm(
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?,
            ),
            _ => Inner::Orm(conn.begin().await?),
        };
        Ok(Self { inner })
    }

    pub(super) fn backend(&self) -> DatabaseBackend {
        match &self.inner {
            Inner::Orm(txn) => txn.get_database_backend(),
            Inner::Pg(_) => DatabaseBackend::Postgres,
        }
    }

    /// Runs a statement that returns rows.
    pub(super) async fn fetch<M: FromQueryResult>(&self, statement: Statement) -> Result<Vec<M>, DbErr> {
        let rows = self.fetch_rows(statement).await?;
        rows.iter().map(|row| M::from_query_result(row, "")).collect()
    }

    pub(super) async fn fetch_rows(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.inner {
            Inner::Orm(txn) => txn.query_all_raw(statement).await,
            Inner::Pg(tx) => {
                let mut tx = tx.lock().await;
                Ok(bind(&statement)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(sqlx_err)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }
        }
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub(super) async fn execute(&self, statement: Statement) -> Result<u64, DbErr> {
        match &self.inner {
            Inner::Orm(txn) => Ok(txn.execute_raw(statement).await?.rows_affected()),
            Inner::Pg(tx) => {
                let mut tx = tx.lock().await;
                Ok(bind(&statement)
                    .execute(&mut **tx)
                    .await
                    .map_err(sqlx_err)?
                    .rows_affected())
            }
        }
    }

    pub(super) async fn commit(self) -> Result<(), DbErr> {
        match self.inner {
            Inner::Orm(txn) => txn.commit().await,
            Inner::Pg(tx) => tx.into_inner().commit().await.map_err(sqlx_err),
        }
    }
}

/// Applies row-level-security settings for the rest of a SeaORM transaction
/// (platform code that writes through SeaORM, e.g. creating a tenant).
pub(super) async fn apply_settings(txn: &DatabaseTransaction, settings: &[(&str, Uuid)]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    #[expect(clippy::disallowed_methods, reason = "the seam sets the scope for RLS")]
    txn.execute_unprepared(&set_config_sql(settings)).await?;
    Ok(())
}

pub(super) fn sqlx_err(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(err))),
        err => DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(err))),
    }
}

/// A SeaORM-built statement, bound for sqlx.
fn bind(statement: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = statement
        .values
        .clone()
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql.as_str()), SqlxValues(values))
}
