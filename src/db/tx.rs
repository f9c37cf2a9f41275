//! The transaction both seams run on. On PostgreSQL it starts with one round
//! trip, `BEGIN; SET LOCAL app.tenant_id = '…'; …` (sqlx's `begin_with`, which
//! rolls back if dropped), carrying the scope (`app.tenant_id`, `app.user_id`)
//! for row-level security, and SeaORM-built statements run on it through sqlx.
//! SQLite uses SeaORM's own transactions. Nothing here leaves `db/`.
//!
//! A transaction of a single statement ([`Tx::single`]) is one round trip on
//! PostgreSQL: `SET LOCAL app.tenant_id = '…'; <statement>` travels as one
//! simple-protocol message, which PostgreSQL runs as one implicit
//! transaction: the settings hold for the statement and end with it, and a
//! failing statement leaves nothing behind. The simple protocol carries no
//! parameters, so the statement's values are written into it as literals
//! ([`inline`]); a statement holding a value without a literal form here
//! runs in a transaction of its own instead.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::TryStreamExt;
use sea_orm::sea_query::Value;
use sea_orm::sqlx::{self, Either, PgPool, Postgres};
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
    /// PostgreSQL, one statement sent together with its settings.
    PgSingle {
        pool: PgPool,
        settings: String,
        /// How many statements `settings` is.
        count: usize,
        used: AtomicBool,
    },
}

/// An open transaction with its row-level-security settings applied.
pub(super) struct Tx {
    inner: Inner,
}

/// `SET LOCAL app.tenant_id = '…'; …` for `settings`: one utility statement
/// per setting (nothing to plan, no row to send back), each ending with the
/// transaction it runs in.
fn settings_sql(settings: &[(&str, Uuid)]) -> String {
    // Setting names are constants and a `Uuid` formats as hex digits and
    // hyphens: nothing to escape.
    let calls: Vec<String> = settings
        .iter()
        .map(|(name, value)| format!("SET LOCAL {name} = '{value}'"))
        .collect();
    calls.join("; ")
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
                let tx = begin_pg(conn.get_postgres_connection_pool(), &settings_sql(settings)).await?;
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

    /// A transaction that runs exactly one statement; on PostgreSQL nothing
    /// is sent until it runs, and then the settings, the statement and the
    /// commit share one round trip. A second statement is refused.
    pub(super) async fn single(
        conn: &DatabaseConnection,
        settings: &[(&str, Uuid)],
        write: bool,
    ) -> Result<Self, DbErr> {
        if conn.get_database_backend() != DatabaseBackend::Postgres {
            return Self::begin(conn, settings, write).await;
        }
        Ok(Self {
            inner: Inner::PgSingle {
                pool: conn.get_postgres_connection_pool().clone(),
                settings: settings_sql(settings),
                count: settings.len(),
                used: AtomicBool::new(false),
            },
        })
    }

    pub(super) fn backend(&self) -> DatabaseBackend {
        match &self.inner {
            Inner::Orm(txn) => txn.get_database_backend(),
            Inner::Pg(_) | Inner::PgSingle { .. } => DatabaseBackend::Postgres,
        }
    }

    /// Runs a statement that returns rows.
    pub(super) async fn fetch<M: FromQueryResult>(&self, statement: Statement) -> Result<Vec<M>, DbErr> {
        let rows = self.fetch_rows(statement).await?;
        rows.iter().map(|row| M::from_query_result(row, "")).collect()
    }

    pub(super) async fn fetch_rows(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.inner {
            // Boxed (here and below): SeaORM's futures are large, and every
            // caller's future would otherwise carry them, on every backend,
            // and be copied as it moves.
            Inner::Orm(txn) => Box::pin(txn.query_all_raw(statement)).await,
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
            Inner::PgSingle {
                pool,
                settings,
                count,
                used,
            } => {
                claim(used)?;
                match inline(&statement) {
                    Some(sql) => Ok(run_single(pool, settings, *count, sql).await?.0),
                    None => {
                        let mut tx = begin_pg(pool, settings).await?;
                        let rows = bind(&statement).fetch_all(&mut *tx).await.map_err(sqlx_err)?;
                        tx.commit().await.map_err(sqlx_err)?;
                        Ok(rows.into_iter().map(Into::into).collect())
                    }
                }
            }
        }
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub(super) async fn execute(&self, statement: Statement) -> Result<u64, DbErr> {
        match &self.inner {
            Inner::Orm(txn) => Ok(Box::pin(txn.execute_raw(statement)).await?.rows_affected()),
            Inner::Pg(tx) => {
                let mut tx = tx.lock().await;
                Ok(bind(&statement)
                    .execute(&mut **tx)
                    .await
                    .map_err(sqlx_err)?
                    .rows_affected())
            }
            Inner::PgSingle {
                pool,
                settings,
                count,
                used,
            } => {
                claim(used)?;
                match inline(&statement) {
                    Some(sql) => Ok(run_single(pool, settings, *count, sql).await?.1),
                    None => {
                        let mut tx = begin_pg(pool, settings).await?;
                        let done = bind(&statement).execute(&mut *tx).await.map_err(sqlx_err)?;
                        tx.commit().await.map_err(sqlx_err)?;
                        Ok(done.rows_affected())
                    }
                }
            }
        }
    }

    pub(super) async fn commit(self) -> Result<(), DbErr> {
        match self.inner {
            Inner::Orm(txn) => Box::pin(txn.commit()).await,
            Inner::Pg(tx) => tx.into_inner().commit().await.map_err(sqlx_err),
            // Its one statement committed itself.
            Inner::PgSingle { .. } => Ok(()),
        }
    }
}

fn claim(used: &AtomicBool) -> Result<(), DbErr> {
    if used.swap(true, Ordering::AcqRel) {
        return Err(DbErr::Custom(
            "a single-statement transaction was asked to run a second statement".to_owned(),
        ));
    }
    Ok(())
}

async fn begin_pg(pool: &PgPool, settings: &str) -> Result<sqlx::Transaction<'static, Postgres>, DbErr> {
    pool.begin_with(sqlx::AssertSqlSafe(format!("BEGIN; {settings}")))
        .await
        .map_err(sqlx_err)
}

/// Sends `settings; sql` as one message (`settings` being `count`
/// statements); the rows of `sql` and how many rows it changed.
async fn run_single(
    pool: &PgPool,
    settings: &str,
    count: usize,
    sql: String,
) -> Result<(Vec<QueryResult>, u64), DbErr> {
    let message = format!("{settings}; {sql}");
    let mut conn = pool.acquire().await.map_err(sqlx_err)?;
    let mut results = sqlx::raw_sql(sqlx::AssertSqlSafe(message)).fetch_many(&mut *conn);
    let mut done = 0;
    let mut rows = Vec::new();
    let mut affected = 0;
    while let Some(item) = results.try_next().await.map_err(sqlx_err)? {
        match item {
            // The end of one statement: the settings first, then `sql`.
            Either::Left(result) => {
                done += 1;
                if done == count + 1 {
                    affected = result.rows_affected();
                }
            }
            Either::Right(row) if done == count => rows.push(row.into()),
            Either::Right(_) => {}
        }
    }
    Ok((rows, affected))
}

/// `statement` with each `$n` placeholder replaced by its value as a
/// literal; `None` when a value has no literal form here or the text holds
/// something this scanner does not read (it knows quoted identifiers and
/// strings, which is all SeaORM writes around placeholders).
pub(super) fn inline(statement: &Statement) -> Option<String> {
    let values = statement.values.as_ref().map_or(&[][..], |v| v.0.as_slice());
    let sql = statement.sql.as_str();
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 48 * values.len());
    let mut copied = 0;
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == q {
                    quote = None;
                }
                i += 1;
            }
            None if b == b'"' || b == b'\'' => {
                quote = Some(b);
                i += 1;
            }
            None if b == b'$' => {
                let digits = bytes[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                let n: usize = sql.get(i + 1..i + 1 + digits)?.parse().ok()?;
                let value = values.get(n.checked_sub(1)?)?;
                out.push_str(&sql[copied..i]);
                // Apart from what precedes it, so no literal joins a word.
                out.push(' ');
                literal(value, &mut out)?;
                i += 1 + digits;
                copied = i;
            }
            None if b == b'-' && bytes.get(i + 1) == Some(&b'-') || b == b'/' && bytes.get(i + 1) == Some(&b'*') => {
                return None;
            }
            None => i += 1,
        }
    }
    if quote.is_some() {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// Writes `value` as a PostgreSQL literal; `None` for kinds it leaves to
/// bound parameters.
fn literal(value: &Value, out: &mut String) -> Option<()> {
    use std::fmt::Write;
    fn int(out: &mut String, n: Option<i64>) {
        match n {
            None => out.push_str("NULL"),
            Some(n) if n < 0 => {
                let _ = write!(out, "({n})");
            }
            Some(n) => {
                let _ = write!(out, "{n}");
            }
        }
    }
    match value {
        Value::Bool(b) => out.push_str(match b {
            None => "NULL",
            Some(true) => "true",
            Some(false) => "false",
        }),
        Value::TinyInt(n) => int(out, n.map(i64::from)),
        Value::SmallInt(n) => int(out, n.map(i64::from)),
        Value::Int(n) => int(out, n.map(i64::from)),
        Value::BigInt(n) => int(out, *n),
        Value::TinyUnsigned(n) => int(out, n.map(i64::from)),
        Value::SmallUnsigned(n) => int(out, n.map(i64::from)),
        Value::Unsigned(n) => int(out, n.map(i64::from)),
        Value::BigUnsigned(n) => int(out, n.map(i64::try_from).transpose().ok()?),
        Value::String(s) => match s {
            None => out.push_str("NULL"),
            Some(s) => text(out, s)?,
        },
        Value::Char(c) => match c {
            None => out.push_str("NULL"),
            Some(c) => text(out, c.encode_utf8(&mut [0; 4]))?,
        },
        Value::Uuid(u) => match u {
            None => out.push_str("NULL::uuid"),
            Some(u) => {
                let _ = write!(out, "'{u}'::uuid");
            }
        },
        Value::ChronoDateTimeUtc(t) => match t {
            None => out.push_str("NULL::timestamptz"),
            Some(t) => {
                let _ = write!(
                    out,
                    "'{}'::timestamptz",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                );
            }
        },
        Value::ChronoDate(d) => match d {
            None => out.push_str("NULL::date"),
            Some(d) if (1..=9999).contains(&chrono::Datelike::year(d)) => {
                let _ = write!(out, "'{}'::date", d.format("%Y-%m-%d"));
            }
            Some(_) => return None,
        },
        _ => return None,
    }
    Some(())
}

/// A string as a dollar-quoted literal (no escapes to get wrong, whatever
/// `standard_conforming_strings` says), under a tag that first appears in
/// `s` followed by the tag where the closing tag starts: the string neither
/// holds it nor ends in a part of it (`x$v` then `$v$` would close at
/// `$v$v$`'s first `$v$`). PostgreSQL text cannot hold NUL: such a value is
/// left to the bound path, which reports it.
fn text(out: &mut String, s: &str) -> Option<()> {
    if s.contains('\0') {
        return None;
    }
    let closes_at_end = |tag: &str| {
        let mut quoted = String::with_capacity(s.len() + tag.len());
        quoted.push_str(s);
        quoted.push_str(tag);
        quoted.find(tag) == Some(s.len())
    };
    let mut tag = String::from("$v$");
    let mut n = 0u32;
    while !closes_at_end(&tag) {
        n += 1;
        tag = format!("$v{n}$");
    }
    out.push_str(&tag);
    out.push_str(s);
    out.push_str(&tag);
    Some(())
}

/// Applies row-level-security settings for the rest of a SeaORM transaction
/// (platform code that writes through SeaORM, e.g. creating a tenant).
pub(super) async fn apply_settings(txn: &DatabaseTransaction, settings: &[(&str, Uuid)]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    #[expect(clippy::disallowed_methods, reason = "the seam sets the scope for RLS")]
    txn.execute_unprepared(&settings_sql(settings)).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
    }

    #[test]
    fn placeholders_become_literals() {
        let id = Uuid::nil();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T17:23:01.123456789Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .expect("time");
        let s = statement(
            r#"SELECT "a" FROM "t" WHERE "id" = $1 AND "at" > $2 AND "n" = $3 AND "ok" = $4 LIMIT $5"#,
            vec![id.into(), at.into(), (-5i32).into(), true.into(), 21u64.into()],
        );
        assert_eq!(
            inline(&s).as_deref(),
            Some(
                r#"SELECT "a" FROM "t" WHERE "id" =  '00000000-0000-0000-0000-000000000000'::uuid AND "at" >  '2026-11-26T17:23:01.123456Z'::timestamptz AND "n" =  (-5) AND "ok" =  true LIMIT  21"#
            )
        );
    }

    #[test]
    fn strings_are_dollar_quoted_under_a_tag_they_do_not_hold() {
        let s = statement(
            r#"INSERT INTO "t" ("a", "b", "c") VALUES ($1, $2, $3)"#,
            vec!["it's".into(), "$v$ and $v1$".into(), Value::String(None)],
        );
        assert_eq!(
            inline(&s).as_deref(),
            Some(r#"INSERT INTO "t" ("a", "b", "c") VALUES ( $v$it's$v$,  $v2$$v$ and $v1$$v2$,  NULL)"#)
        );
    }

    #[test]
    fn a_string_ending_in_part_of_the_tag_gets_another_tag() {
        for (value, quoted) in [
            ("x$v", "$v1$x$v$v1$"),
            ("x$", "$v$x$$v$"),
            ("$v$ and $v1", "$v2$$v$ and $v1$v2$"),
            ("$v1", "$v$$v1$v$"),
            ("$", "$v$$$v$"),
        ] {
            let s = statement("SELECT $1", vec![value.into()]);
            assert_eq!(inline(&s), Some(format!("SELECT  {quoted}")), "{value}");
        }
    }

    #[test]
    fn placeholders_inside_quotes_are_left_alone_and_unreadable_text_is_refused() {
        let s = statement(r#"SELECT "$1", '$1' FROM "t" WHERE "x" = $1"#, vec![7i32.into()]);
        assert_eq!(
            inline(&s).as_deref(),
            Some(r#"SELECT "$1", '$1' FROM "t" WHERE "x" =  7"#)
        );
        // A placeholder without a value, an unclosed quote, a comment, a NUL
        // and a kind without a literal form all fall back to bound parameters.
        assert_eq!(inline(&statement("SELECT $2", vec![1i32.into()])), None);
        assert_eq!(inline(&statement("SELECT $", vec![])), None);
        assert_eq!(inline(&statement(r#"SELECT "a"#, vec![])), None);
        assert_eq!(inline(&statement("SELECT 1 -- x", vec![])), None);
        assert_eq!(inline(&statement("SELECT $1", vec!["a\0b".into()])), None);
        assert_eq!(inline(&statement("SELECT $1", vec![1.5f64.into()])), None);
    }
}
