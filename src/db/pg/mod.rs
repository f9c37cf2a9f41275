//! The PostgreSQL request path: pooled `tokio-postgres` connections on
//! which the seams' statements run prepared, their values bound as
//! parameters, pipelined with the transaction's scope settings.
//!
//! * A transaction of one statement ([`Pool::single`]) is one round trip:
//!   `BEGIN`, `set_config(…, true)` for each setting, the statement and
//!   `COMMIT` are written to the connection together and answered together.
//!   A failing statement aborts the transaction, and the `COMMIT` behind it
//!   then rolls back: nothing is left behind, and the connection is clean
//!   for the next request. These run on a few connections shared by every
//!   request, many in flight on each ([`Shared`]): measured on our get
//!   statement, 4 shared connections carry about 1.45 times what a pool of
//!   exclusive ones does, at two thirds of the client CPU
//!   (`bench/drivers/README.md`).
//! * A longer transaction ([`Pool::begin`]) holds its connection; its
//!   `BEGIN` and settings travel with its first statement. Dropped before
//!   [`PgTx::commit`], it writes a `ROLLBACK` before the connection goes
//!   back to the pool.
//!
//! Statements are prepared once per connection (deadpool's statement
//! cache) and rows come back in binary format, decoded by position into
//! the models ([`decode`]). SeaORM builds the statements; the fixed shapes
//! (get, insert, update and delete by id) only once (`super::shape`).
//!
//! A tenant in a schema of its own gets statements of its own: PostgreSQL
//! keeps a prepared statement's plan only while `search_path` stays what it
//! was, so one statement shared by every schema would be analysed and
//! planned again on each use (about half the throughput, measured in
//! `bench/README.md`). Each connection keeps them in a bounded cache
//! keyed by schema and text (`database.schema_statements`, least recently
//! used closed first once it has been idle a while, about 25 KB of server
//! memory each), and a schema tenant's single-statement transactions
//! always take the same shared connection, so each of its statements is
//! prepared on one connection, not on all of them. Past the bound, the
//! tenants beyond it share one statement per text (planned again each
//! time, as before) rather than churn the cache.

mod decode;
mod params;
mod tls;

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, PoolError};
use deadpool_postgres::{ClientWrapper, ManagerConfig, RecyclingMethod};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::future::OptionFuture;
use hashlink::LruCache;
use hashlink::linked_hash_map::RawEntryMut;
use sea_orm::sea_query::Value;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
use tokio_postgres::Row;
use uuid::Uuid;

pub use decode::Decode;

/// A scope setting: its name (a constant of the schema) and value.
pub type Setting = (&'static str, Uuid);

/// The setting that puts a schema tenant's own schema first on the search
/// path; its value is written from the tenant's id (`params::SettingText`).
pub const SEARCH_PATH: &str = "search_path";

/// A statement's text and the values bound to it.
pub type Bound<'a> = (&'a str, &'a [Value]);

/// A statement's rows and how many rows it changed.
pub type Outcome = (Vec<Row>, u64);

/// What a transaction's one or two statements returned.
pub type Ran = (Outcome, Option<Outcome>);

/// How long a request waits for a pooled connection, and how long opening
/// one may take, before it gives up (503).
const WAIT: Duration = Duration::from_secs(10);
const CONNECT: Duration = Duration::from_secs(5);

/// Connections kept for single-statement transactions, shared by every
/// request: at most this many, and at most half the pool.
const SHARED: usize = 4;

/// A pooled connection.
type Object = managed::Object<Manager>;

/// Opens the pool's connections: deadpool's, then `SET ROLE` when the pool
/// has a role, and a statement cache for schema tenants on each.
struct Manager {
    inner: deadpool_postgres::Manager,
    set_role: Option<String>,
    schema_statements: usize,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<Connection, tokio_postgres::Error> {
        let client = self.inner.create().await?;
        if let Some(statement) = &self.set_role {
            client.batch_execute(statement).await?;
        }
        let hash = RandomState::new();
        Ok(Connection {
            client,
            by_schema: Mutex::new(LruCache::with_hasher(self.schema_statements.max(1), hash.clone())),
            hash,
            overflow: Mutex::default(),
            idle: SCHEMA_STATEMENT_IDLE,
        })
    }

    async fn recycle(
        &self,
        conn: &mut Connection,
        metrics: &managed::Metrics,
    ) -> managed::RecycleResult<tokio_postgres::Error> {
        self.inner.recycle(&mut conn.client, metrics).await
    }

    fn detach(&self, conn: &mut Connection) {
        self.inner.detach(&mut conn.client);
    }
}

/// How long a schema tenant's statement must have gone unused before a
/// full cache closes it to make room for another.
const SCHEMA_STATEMENT_IDLE: Duration = Duration::from_secs(10);

/// A connection and the statements prepared on it for schema tenants, by
/// schema (the tenant's id) and text.
pub(super) struct Connection {
    client: ClientWrapper,
    by_schema: Mutex<LruCache<(Uuid, Box<str>), Cached, RandomState>>,
    /// The cache's hasher, for looking up by borrowed text.
    hash: RandomState,
    /// The statements, one per text, that schema tenants share while the
    /// cache is full (as many as the texts: the seam's statement shapes).
    overflow: Mutex<std::collections::HashMap<Box<str>, tokio_postgres::Statement>>,
    /// [`SCHEMA_STATEMENT_IDLE`], or less in tests.
    idle: Duration,
}

/// A statement in a connection's cache, and when it was last used.
struct Cached {
    statement: tokio_postgres::Statement,
    used: Instant,
}

/// What a connection's cache holds for a schema and text.
enum Lookup {
    Hit(tokio_postgres::Statement),
    /// Not there, and there is room for it.
    Room,
    /// Not there, and every statement there is in use.
    Full,
}

impl std::ops::Deref for Connection {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

impl Connection {
    /// `sql` prepared for the schema of tenant `schema`: from the cache, or
    /// prepared now when the cache has room (or its least recently used
    /// statement has been idle for [`SCHEMA_STATEMENT_IDLE`]: it is closed,
    /// its `Close` sent when its last use ends). When the cache is full of
    /// statements in use, the statement of that text shared by every schema
    /// tenant on this connection is used instead: PostgreSQL plans it again
    /// for each schema, at no extra round trip. So more schema tenants in
    /// use than the bound slow down only the ones beyond it, and the
    /// connection never prepares and closes a statement per request.
    ///
    /// A statement is parsed with the schema first on the search path, so
    /// its names and its result's types are the schema's own: inside the
    /// transaction when `in_scope` (one is open with the search path set),
    /// otherwise in one of its own, written with it in one round trip.
    async fn prepare_for(&self, schema: Uuid, sql: &str, in_scope: bool) -> Result<tokio_postgres::Statement, DbErr> {
        let room = match self.cached_for(schema, sql) {
            Lookup::Hit(statement) => return Ok(statement),
            Lookup::Room => true,
            Lookup::Full => {
                let overflow = self.overflow.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(statement) = overflow.get(sql) {
                    return Ok(statement.clone());
                }
                false
            }
        };
        let statement = if in_scope {
            self.client.prepare(sql).await.map_err(pg_err)?
        } else {
            let scope = format!(
                "BEGIN; SET LOCAL search_path TO {}, public",
                super::placement::schema_name(schema)
            );
            let (begun, prepared, ended) = futures_util::join!(
                self.client.batch_execute(&scope),
                self.client.prepare(sql),
                self.client.batch_execute("COMMIT"),
            );
            begun.map_err(pg_err)?;
            let prepared = prepared.map_err(pg_err)?;
            ended.map_err(pg_err)?;
            prepared
        };
        if room {
            let mut cache = self.by_schema.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= cache.capacity() {
                cache.remove_lru();
            }
            let cached = Cached {
                statement: statement.clone(),
                used: Instant::now(),
            };
            cache.insert((schema, sql.into()), cached);
        } else {
            self.overflow
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(sql.into(), statement.clone());
        }
        Ok(statement)
    }

    fn cached_for(&self, schema: Uuid, sql: &str) -> Lookup {
        let mut cache = self.by_schema.lock().unwrap_or_else(PoisonError::into_inner);
        // Looked up by the borrowed text: `(Uuid, &str)` hashes as the
        // stored `(Uuid, Box<str>)` does.
        let hash = self.hash.hash_one((schema, sql));
        if let RawEntryMut::Occupied(mut entry) = cache
            .raw_entry_mut()
            .from_hash(hash, |(s, q)| *s == schema && &**q == sql)
        {
            entry.to_back();
            let cached = entry.get_mut();
            cached.used = Instant::now();
            return Lookup::Hit(cached.statement.clone());
        }
        if cache.len() < cache.capacity() {
            return Lookup::Room;
        }
        let idle = cache
            .iter()
            .next()
            .is_some_and(|(_, lru)| lru.used.elapsed() >= self.idle);
        if idle {
            cache.remove_lru();
            Lookup::Room
        } else {
            Lookup::Full
        }
    }

    /// How many statements this connection holds for schema tenants.
    #[cfg(test)]
    fn schema_statements(&self) -> usize {
        self.by_schema.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A pool of connections, all signed in (and `SET ROLE`) alike.
#[derive(Clone)]
pub struct Pool {
    pool: managed::Pool<Manager>,
    /// Connections on which many single-statement transactions are in
    /// flight at once (see [`Shared`]); empty for a pool of one.
    shared: Arc<[Shared]>,
    next: Arc<AtomicUsize>,
}

/// One connection multiplexed by many requests. A request writes its whole
/// transaction (`BEGIN` … `COMMIT`) while it holds `submit`, so no other
/// request's messages fall between them; it then waits for its answers
/// without the lock, while others write behind it. The server runs the
/// transactions one after the other, each with its own settings.
#[derive(Default)]
struct Shared {
    conn: RwLock<Option<Arc<Object>>>,
    submit: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The connection, opened again (from the pool) if it was lost.
    async fn conn(&self, pool: &managed::Pool<Manager>) -> Result<Arc<Object>, DbErr> {
        let current = || {
            self.conn
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .filter(|c| !c.is_closed())
        };
        if let Some(conn) = current() {
            return Ok(conn);
        }
        let _replacing = self.submit.lock().await;
        if let Some(conn) = current() {
            return Ok(conn);
        }
        let conn = Arc::new(pool.get().await.map_err(pool_err)?);
        *self.conn.write().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Pool")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl Pool {
    /// A pool for `url` of at most `size` connections; each connection runs
    /// `SET ROLE role` first when `role` is given (a plain identifier,
    /// checked by the configuration), and keeps at most `schema_statements`
    /// statements prepared for schema tenants. Opens one connection to prove
    /// the URL.
    pub async fn connect(url: &str, role: Option<&str>, size: u32, schema_statements: usize) -> Result<Self, DbErr> {
        let (config, tls) = tls::configure(url).map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut config = config;
        config.connect_timeout(CONNECT);
        config.application_name("tenantry");
        let inner = deadpool_postgres::Manager::from_config(
            config,
            tls,
            ManagerConfig {
                // `is_closed` only: a transaction never outlives its request
                // (a dropped one writes its ROLLBACK first), so there is no
                // session state to reset, and resetting would drop the role.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let manager = Manager {
            inner,
            set_role: role.map(|role| format!("SET ROLE \"{role}\"")),
            schema_statements,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(size.max(1) as usize)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(CONNECT))
            .recycle_timeout(Some(CONNECT))
            .build()
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let shared = (0..SHARED.min(size as usize / 2)).map(|_| Shared::default()).collect();
        let pool = Self {
            pool,
            shared,
            next: Arc::new(AtomicUsize::new(0)),
        };
        drop(pool.get().await?);
        Ok(pool)
    }

    async fn get(&self) -> Result<Object, DbErr> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Runs `first` (and `second`, when given, pipelined behind it) as a
    /// transaction of its own with `settings` applied, in one round trip;
    /// for each, its rows and how many rows it changed.
    pub async fn single(
        &self,
        settings: &[Setting],
        first: Bound<'_>,
        second: Option<Bound<'_>>,
    ) -> Result<Ran, DbErr> {
        if self.shared.is_empty() {
            let conn = self.get().await?;
            return Box::pin(single_on(&conn, None, settings, first, second)).await;
        }
        // A schema tenant always on the same one, where its statements are
        // prepared; the others in turn.
        let index = match schema_of(settings) {
            Some(tenant) => tenant.as_u64_pair().1 as usize,
            None => self.next.fetch_add(1, Ordering::Relaxed),
        };
        let slot = &self.shared[index % self.shared.len()];
        let conn = slot.conn(&self.pool).await?;
        Box::pin(single_on(&conn, Some(&slot.submit), settings, first, second)).await
    }

    /// Runs `sql`, a statement of the seam that needs no scope (a lookup
    /// through a function that answers across tenants), in an implicit
    /// transaction of its own: one round trip, on a shared connection.
    pub async fn query_unscoped(&self, sql: &str, values: &[Value]) -> Result<Vec<Row>, DbErr> {
        if self.shared.is_empty() {
            let conn = self.get().await?;
            return Box::pin(unscoped_on(&conn, None, sql, values)).await;
        }
        let slot = &self.shared[self.next.fetch_add(1, Ordering::Relaxed) % self.shared.len()];
        let conn = slot.conn(&self.pool).await?;
        Box::pin(unscoped_on(&conn, Some(&slot.submit), sql, values)).await
    }

    /// Runs `statements` in one transaction on a connection of its own,
    /// each under its own scope: `set_config(name, tenant, true)` is written
    /// before each one (a later call overrides an earlier one). Everything
    /// is written at once and answered together; any error aborts the whole
    /// transaction. How many rows they changed in all.
    pub async fn each_scoped(&self, name: &'static str, statements: &[(Uuid, Bound<'_>)]) -> Result<u64, DbErr> {
        let conn = self.get().await?;
        let setting = prepare(&conn, &settings_sql(&[(name, Uuid::nil())])).await?;
        let mut prepared = Vec::with_capacity(statements.len());
        for (tenant, (sql, values)) in statements {
            prepared.push((
                prepare(&conn, sql).await?,
                params::values(values),
                [params::SettingText::Id(*tenant)],
            ));
        }
        let bound: Vec<_> = prepared
            .iter()
            .map(|(_, values, tenant)| (params::bind(values), params::bind_settings(tenant)))
            .collect();
        let mut calls: Vec<BoxFuture<'_, Result<u64, DbErr>>> = Vec::with_capacity(2 * statements.len() + 2);
        calls.push(Box::pin(async {
            conn.batch_execute("BEGIN").await.map_err(pg_err).map(|()| 0)
        }));
        for ((statement, _, _), (values, tenant)) in prepared.iter().zip(&bound) {
            let (conn, setting) = (&conn, &setting);
            calls.push(Box::pin(async move {
                conn.query(setting, tenant).await.map_err(pg_err).map(|_| 0)
            }));
            calls.push(Box::pin(async move {
                conn.execute(statement, values).await.map_err(pg_err)
            }));
        }
        calls.push(Box::pin(async {
            conn.batch_execute("COMMIT").await.map_err(pg_err).map(|()| 0)
        }));
        let mut changed = 0;
        for done in in_order(calls).await {
            changed += done?;
        }
        Ok(changed)
    }

    /// Opens a transaction with `settings` applied; nothing is sent until
    /// its first statement.
    pub async fn begin(&self, settings: &[Setting]) -> Result<PgTx, DbErr> {
        Ok(PgTx {
            conn: Some(self.get().await?),
            schema: schema_of(settings),
            scope: Some((settings_sql(settings), setting_values(settings))),
        })
    }

    /// Runs `sql` (a constant statement of the seam, e.g. a catalog check)
    /// outside any scope.
    pub async fn query_plain(&self, sql: &str) -> Result<Vec<Row>, DbErr> {
        let conn = self.get().await?;
        conn.query(sql, &[]).await.map_err(pg_err)
    }

    pub fn close(&self) {
        self.pool.close();
    }
}

/// An open transaction on a connection of its own.
pub struct PgTx {
    conn: Option<Object>,
    /// The schema tenant whose schema the statements run in, if any.
    schema: Option<Uuid>,
    /// The settings still to be sent, with the first statement.
    scope: Option<(Arc<str>, Vec<params::SettingText>)>,
}

impl PgTx {
    fn conn(&self) -> Result<&Object, DbErr> {
        self.conn
            .as_ref()
            .ok_or_else(|| DbErr::Custom("the transaction has ended".to_owned()))
    }

    /// Runs `first` (and `second`, when given, pipelined behind it); for
    /// each, its rows and how many rows it changed.
    pub async fn run(&mut self, first: Bound<'_>, second: Option<Bound<'_>>) -> Result<Ran, DbErr> {
        let (_, ran) = self.run_after(&[], first, second).await?;
        ran
    }

    /// Runs `before`'s statements, then `first` (and `second`), all written
    /// together (behind the transaction's `BEGIN` and settings when they are
    /// its first): what `before`'s returned, and apart what `first` and
    /// `second` did. They run whatever `before`'s found: a caller that
    /// decides they must not stand drops the transaction, which rolls them
    /// back.
    pub async fn run_after(
        &mut self,
        before: &[Bound<'_>],
        first: Bound<'_>,
        second: Option<Bound<'_>>,
    ) -> Result<(Vec<Outcome>, Result<Ran, DbErr>), DbErr> {
        let statements: Vec<Bound<'_>> = before.iter().copied().chain([first]).chain(second).collect();
        let mut results = self.write(&statements, false).await?.into_iter();
        let before = results.by_ref().take(before.len()).collect::<Result<Vec<_>, _>>()?;
        let ran = match (results.next(), results.next()) {
            (Some(first), second) => first.and_then(|first| Ok((first, second.transpose()?))),
            (None, _) => Err(DbErr::Custom("the statement did not run".to_owned())),
        };
        Ok((before, ran))
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.commit_after(&[]).await.map(drop)
    }

    /// Runs `last`'s statements and commits, written together: how many
    /// rows each changed. Any failure rolls back the whole transaction.
    pub async fn commit_after(mut self, last: &[Bound<'_>]) -> Result<Vec<u64>, DbErr> {
        if self.scope.is_some() && last.is_empty() {
            // Nothing ran: nothing to commit.
            return Ok(Vec::new());
        }
        self.write(last, true)
            .await?
            .into_iter()
            .map(|done| done.map(|(_, changed)| changed))
            .collect()
    }

    /// Writes `statements` (behind `BEGIN` and the settings when the
    /// transaction has not begun, and before `COMMIT` when `commit`)
    /// together, and waits for every answer: each statement's outcome. An
    /// error of the `BEGIN`, the settings or the `COMMIT` is the whole
    /// call's; so is one before anything was written (a statement that
    /// failed to prepare), after which a drop still rolls back.
    async fn write(&mut self, statements: &[Bound<'_>], commit: bool) -> Result<Vec<Result<Outcome, DbErr>>, DbErr> {
        let conn = self.conn()?;
        let in_scope = self.scope.is_none();
        let mut prepared = Vec::with_capacity(statements.len());
        for (sql, values) in statements {
            prepared.push((
                prepare_in(conn, self.schema, sql, in_scope).await?,
                params::values(values),
            ));
        }
        let opening = match &self.scope {
            Some((sql, values)) => Some((prepare(conn, sql).await?, params::bind_settings(values))),
            None => None,
        };
        let mut calls: Vec<BoxFuture<'_, Result<Outcome, DbErr>>> = Vec::with_capacity(prepared.len() + 3);
        if let Some((setting, bound)) = &opening {
            calls.push(Box::pin(async {
                conn.batch_execute("BEGIN")
                    .await
                    .map_err(pg_err)
                    .map(|()| (Vec::new(), 0))
            }));
            calls.push(Box::pin(async move {
                conn.query(setting, bound)
                    .await
                    .map_err(pg_err)
                    .map(|_| (Vec::new(), 0))
            }));
        }
        for (statement, values) in &prepared {
            calls.push(Box::pin(run(conn, statement, values)));
        }
        if commit {
            calls.push(Box::pin(async {
                conn.batch_execute("COMMIT")
                    .await
                    .map_err(pg_err)
                    .map(|()| (Vec::new(), 0))
            }));
        }
        let mut done = in_order(calls).await;
        let opened = opening.is_some();
        // From here the transaction is open (or the connection is broken): a
        // drop rolls it back, unless it was ended here.
        self.scope = None;
        if commit {
            self.conn = None;
            done.pop().unwrap_or(Ok((Vec::new(), 0)))?;
        }
        if opened {
            let statements = done.split_off(2);
            for opening in done {
                opening?;
            }
            done = statements;
        }
        Ok(done)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if self.scope.is_some() {
            return;
        }
        if let Some(conn) = self.conn.take() {
            // The message is written on the first poll; the connection then
            // goes back to the pool with the ROLLBACK ahead of whatever its
            // next user sends.
            let _ = conn.batch_execute("ROLLBACK").now_or_never();
        }
    }
}

/// One transaction of one statement on `conn`: `BEGIN`, the settings, the
/// statement and `COMMIT`, written together (under `submit` when the
/// connection is shared) and answered together.
async fn single_on(
    conn: &Object,
    submit: Option<&tokio::sync::Mutex<()>>,
    settings: &[Setting],
    first: Bound<'_>,
    second: Option<Bound<'_>>,
) -> Result<Ran, DbErr> {
    // On a shared connection the lock is taken before preparing: a
    // statement not yet in the cache is parsed in a round trip of its own,
    // which must not fall inside another request's transaction (an aborted
    // one would refuse it).
    let written = match submit {
        Some(submit) => Some(submit.lock().await),
        None => None,
    };
    let scope = prepare(conn, &settings_sql(settings)).await?;
    let schema = schema_of(settings);
    let prepared = prepare_in(conn, schema, first.0, false).await?;
    let values = params::values(first.1);
    let prepared_second = match second {
        Some((sql, values)) => Some((prepare_in(conn, schema, sql, false).await?, params::values(values))),
        None => None,
    };
    let scope_values = setting_values(settings);
    let scope_bound = params::bind_settings(&scope_values);
    // `join5` polls all on its first poll, in order, whatever each
    // returns: each writes its message then, so they go out together.
    let mut all = std::pin::pin!(futures_util::future::join5(
        conn.batch_execute("BEGIN"),
        conn.query(&scope, &scope_bound),
        run(conn, &prepared, &values),
        OptionFuture::from(prepared_second.as_ref().map(|(p, v)| run(conn, p, v))),
        conn.batch_execute("COMMIT"),
    ));
    let first = futures_util::poll!(all.as_mut());
    // Written: others may write behind it while it waits for its answers.
    drop(written);
    let (begin, scoped, done, second, commit) = match first {
        std::task::Poll::Ready(all) => all,
        std::task::Poll::Pending => all.await,
    };
    begin.map_err(pg_err)?;
    scoped.map_err(pg_err)?;
    let done = done?;
    let second = second.transpose()?;
    commit.map_err(pg_err)?;
    Ok((done, second))
}

/// One statement in an implicit transaction of its own on `conn`, written
/// whole (under `submit` when the connection is shared) between the other
/// requests' transactions.
async fn unscoped_on(
    conn: &Object,
    submit: Option<&tokio::sync::Mutex<()>>,
    sql: &str,
    values: &[Value],
) -> Result<Vec<Row>, DbErr> {
    let written = match submit {
        Some(submit) => Some(submit.lock().await),
        None => None,
    };
    let prepared = prepare(conn, sql).await?;
    let values = params::values(values);
    let mut ran = std::pin::pin!(run(conn, &prepared, &values));
    let first = futures_util::poll!(ran.as_mut());
    drop(written);
    let (rows, _) = match first {
        std::task::Poll::Ready(done) => done,
        std::task::Poll::Pending => ran.await,
    }?;
    Ok(rows)
}

/// `SELECT set_config('app.tenant_id', $1, true), …`: the names are the
/// seam's constants, the values are parameters. Written once per set of
/// names (there are a few).
fn settings_sql(settings: &[Setting]) -> Arc<str> {
    type Texts = Vec<(Vec<&'static str>, Arc<str>)>;
    static TEXTS: RwLock<Texts> = RwLock::new(Vec::new());
    let same = |names: &[&str]| names.len() == settings.len() && names.iter().zip(settings).all(|(a, (b, _))| a == b);
    let find = |texts: &Texts| texts.iter().find(|(names, _)| same(names)).map(|(_, sql)| sql.clone());
    if let Some(sql) = find(&TEXTS.read().unwrap_or_else(PoisonError::into_inner)) {
        return sql;
    }
    let calls: Vec<String> = settings
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("set_config('{name}', ${}, true)", i + 1))
        .collect();
    let sql: Arc<str> = format!("SELECT {}", calls.join(", ")).into();
    let mut texts = TEXTS.write().unwrap_or_else(PoisonError::into_inner);
    if find(&texts).is_none() {
        texts.push((settings.iter().map(|(name, _)| *name).collect(), sql.clone()));
    }
    sql
}

fn setting_values(settings: &[Setting]) -> Vec<params::SettingText> {
    settings.iter().map(params::SettingText::of).collect()
}

async fn prepare(conn: &Object, sql: &str) -> Result<tokio_postgres::Statement, DbErr> {
    conn.prepare_cached(sql).await.map_err(pg_err)
}

/// `sql` prepared on `conn` for the schema of tenant `schema`, when the
/// statement runs in one (see the module's notes), or as every tenant's;
/// `in_scope` when a transaction with the scope applied is open on `conn`.
async fn prepare_in(
    conn: &Object,
    schema: Option<Uuid>,
    sql: &str,
    in_scope: bool,
) -> Result<tokio_postgres::Statement, DbErr> {
    match schema {
        Some(tenant) => conn.prepare_for(tenant, sql, in_scope).await,
        None => prepare(conn, sql).await,
    }
}

/// The tenant whose schema `settings` put first on `search_path`, if any.
fn schema_of(settings: &[Setting]) -> Option<Uuid> {
    settings
        .iter()
        .find_map(|(name, tenant)| (*name == SEARCH_PATH).then_some(*tenant))
}

/// Polls each of `calls` once, in order, then waits for every answer: each
/// call writes its message on its first poll, so they go out in that order,
/// together.
async fn in_order<T>(calls: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut polled = Vec::with_capacity(calls.len());
    for mut call in calls {
        polled.push(match futures_util::poll!(call.as_mut()) {
            std::task::Poll::Ready(done) => Ok(done),
            std::task::Poll::Pending => Err(call),
        });
    }
    let mut done = Vec::with_capacity(polled.len());
    for call in polled {
        done.push(match call {
            Ok(ready) => ready,
            Err(pending) => pending.await,
        });
    }
    done
}

/// Runs a prepared statement: its rows, and how many rows it changed (the
/// command tag, for a statement that returns none; the rows otherwise).
/// The message is written on the first poll.
async fn run(
    conn: &Object,
    prepared: &tokio_postgres::Statement,
    values: &[params::Param<'_>],
) -> Result<(Vec<Row>, u64), DbErr> {
    let bound = params::bind(values);
    if prepared.columns().is_empty() {
        let changed = conn.execute(prepared, &bound).await.map_err(pg_err)?;
        Ok((Vec::new(), changed))
    } else {
        let rows = conn.query(prepared, &bound).await.map_err(pg_err)?;
        let changed = rows.len() as u64;
        Ok((rows, changed))
    }
}

fn pool_err(err: PoolError<tokio_postgres::Error>) -> DbErr {
    match err {
        PoolError::Timeout(_) => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        PoolError::Closed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        PoolError::Backend(e) => conn_err(&e),
        PoolError::PostCreateHook(e) => DbErr::Conn(RuntimeErr::Internal(e.to_string())),
        PoolError::NoRuntimeSpecified => DbErr::Custom("the pool has no runtime".to_owned()),
    }
}

fn conn_err(err: &tokio_postgres::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(err.to_string()))
}

/// A driver error as SeaORM's: a database error keeps its SQLSTATE (read by
/// [`super::sql_err`]), a lost connection becomes `DbErr::Conn` (503).
pub(super) fn pg_err(err: tokio_postgres::Error) -> DbErr {
    if err.as_db_error().is_none() && (err.is_closed() || source_is_io(&err)) {
        return conn_err(&err);
    }
    match err.as_db_error() {
        Some(db) => DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::Database(Box::new(DatabaseError::from(db))),
        ))),
        None => DbErr::Query(RuntimeErr::Internal(with_sources(&err))),
    }
}

/// An error and its causes, on one line (the driver's own message names
/// only the step that failed, e.g. which parameter would not encode).
fn with_sources(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    for e in sources(err) {
        text.push_str(": ");
        text.push_str(&e.to_string());
    }
    text
}

fn source_is_io(err: &tokio_postgres::Error) -> bool {
    sources(err).any(|e| e.is::<std::io::Error>())
}

fn sources(err: &tokio_postgres::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(err), |e| e.source())
}

/// A PostgreSQL error report carried the way SeaORM carries sqlx's, so
/// `DbErr` stays the one error type of `db/` and its SQLSTATE stays
/// readable ([`super::sql_err`]).
#[derive(Debug)]
pub(super) struct DatabaseError {
    code: String,
    message: String,
    constraint: Option<String>,
    table: Option<String>,
}

impl From<&tokio_postgres::error::DbError> for DatabaseError {
    fn from(db: &tokio_postgres::error::DbError) -> Self {
        Self {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            constraint: db.constraint().map(str::to_owned),
            table: db.table().map(str::to_owned),
        }
    }
}

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.code)
    }
}

impl std::error::Error for DatabaseError {}

impl sea_orm::sqlx::error::DatabaseError for DatabaseError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(std::borrow::Cow::Borrowed(&self.code))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }

    fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
        use sea_orm::sqlx::error::ErrorKind;
        match self.code.as_str() {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// TLS against the real server (PostgreSQL on 127.0.0.1:5432 with its
/// certificate, as CI runs it): the URL's `sslmode` decides whether the
/// connection is encrypted and what of the certificate is checked.
#[cfg(test)]
mod tls_tests {
    use super::Pool;

    const SERVER: &str = "postgres@127.0.0.1:5432/postgres";

    async fn encrypted(url: &str) -> Result<bool, sea_orm::DbErr> {
        let pool = Pool::connect(url, None, 1, 1).await?;
        let rows = pool
            .query_plain("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| sea_orm::DbErr::Custom("no pg_stat_ssl row".into()))?;
        row.try_get(0).map_err(|e| sea_orm::DbErr::Type(e.to_string()))
    }

    /// The server's certificate file, or `None` (and a failure in CI) when
    /// the server has no TLS.
    async fn certificate() -> Option<String> {
        let pool = match Pool::connect(&format!("postgres://{SERVER}?sslmode=disable"), None, 1, 1).await {
            Ok(pool) => pool,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL at {SERVER} is unreachable: {e}"
                );
                eprintln!("skipped: PostgreSQL at {SERVER} is unreachable: {e}");
                return None;
            }
        };
        let rows = pool
            .query_plain("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
            .await
            .expect("settings");
        let row = rows.first().expect("a row");
        let (ssl, file): (String, String) = (row.get(0), row.get(1));
        if ssl != "on" || !std::path::Path::new(&file).is_file() {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL at {SERVER} serves no TLS");
            eprintln!("skipped: PostgreSQL at {SERVER} serves no TLS");
            return None;
        }
        Some(file)
    }

    #[tokio::test]
    async fn sslmode_decides_encryption_and_what_is_verified() {
        let Some(cert) = certificate().await else { return };
        let on = |host: &str, query: &str| format!("postgres://postgres@{host}:5432/postgres?{query}");
        assert!(
            !encrypted(&on("127.0.0.1", "sslmode=disable"))
                .await
                .expect("disable connects")
        );
        assert!(
            encrypted(&on("127.0.0.1", "sslmode=prefer"))
                .await
                .expect("prefer connects")
        );
        // Encryption without authentication: any certificate.
        assert!(
            encrypted(&on("127.0.0.1", "sslmode=require"))
                .await
                .expect("require connects")
        );
        // The chain to the given root, whatever name it holds.
        let ca = format!("sslmode=verify-ca&sslrootcert={cert}");
        assert!(encrypted(&on("127.0.0.1", &ca)).await.expect("verify-ca connects"));
        // The chain and the name: the certificate names `localhost`.
        let full = format!("sslmode=verify-full&sslrootcert={cert}");
        assert!(
            encrypted(&on("localhost", &full))
                .await
                .expect("verify-full connects by the certificate's name")
        );
        let wrong_name = encrypted(&on("127.0.0.1", &full)).await;
        assert!(
            wrong_name.is_err(),
            "verify-full refuses a certificate for another name"
        );
        // No root given: the public roots, which never signed this one.
        let unknown = encrypted(&on("localhost", "sslmode=verify-full")).await;
        assert!(unknown.is_err(), "verify-full refuses an unknown issuer");
        let unknown = encrypted(&on("localhost", "sslmode=verify-ca")).await;
        assert!(unknown.is_err(), "verify-ca refuses an unknown issuer");
    }
}

/// Statements for schema tenants, against the real server: each answers
/// from its own schema, a connection keeps at most its bound of them, and a
/// schema tenant's single statements stay on one shared connection.
#[cfg(test)]
mod schema_statement_tests {
    use super::{Pool, SEARCH_PATH};
    use uuid::Uuid;

    const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// A database of the test's own, with one schema per tenant, each with
    /// a one-row table naming its tenant; `None` (and a failure in CI) when
    /// the server is unreachable.
    async fn schemas(tenants: &[Uuid]) -> Option<(Pool, String)> {
        let admin = match Pool::connect(ADMIN, None, 1, 1).await {
            Ok(pool) => pool,
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "PostgreSQL is unreachable: {e}");
                eprintln!("skipped: PostgreSQL is unreachable: {e}");
                return None;
            }
        };
        let name = format!("tenantry_pg_statements_{}", Uuid::new_v4().simple());
        admin
            .query_plain(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create");
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let owner = Pool::connect(&url, None, 1, 1).await.expect("connect");
        for tenant in tenants {
            let schema = crate::db::placement::schema_name(*tenant);
            let conn = owner.get().await.expect("conn");
            conn.batch_execute(&format!(
                "CREATE SCHEMA {schema}; CREATE TABLE {schema}.marks (tenant uuid); \
                 INSERT INTO {schema}.marks VALUES ('{tenant}')"
            ))
            .await
            .expect("schema");
        }
        owner.close();
        Some((admin, name))
    }

    async fn drop_database(admin: &Pool, name: &str) {
        admin
            .query_plain(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }

    async fn mark(pool: &Pool, tenant: Uuid) -> Uuid {
        let ((rows, _), _) = pool
            .single(&[(SEARCH_PATH, tenant)], ("SELECT tenant FROM marks", &[]), None)
            .await
            .expect("select");
        rows.first().expect("a row").get(0)
    }

    #[tokio::test]
    async fn each_schema_answers_from_its_own_and_a_connection_keeps_at_most_its_bound() {
        let tenants: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let Some((admin, name)) = schemas(&tenants).await else {
            return;
        };
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        // One connection, exclusive (no shared ones), keeping 3.
        let pool = Pool::connect(&url, None, 1, 3).await.expect("connect");
        for round in 0..3 {
            for (i, tenant) in tenants.iter().enumerate() {
                // Every order: forwards, backwards, and a hot one between.
                let tenant = if round == 1 {
                    tenants[tenants.len() - 1 - i]
                } else {
                    *tenant
                };
                assert_eq!(mark(&pool, tenant).await, tenant, "round {round}");
                assert_eq!(mark(&pool, tenants[0]).await, tenants[0], "round {round}");
            }
        }
        let mut conn = pool.get().await.expect("conn");
        // The first three have their own; the two beyond the bound share
        // one statement (the cache's are all in use).
        assert_eq!(conn.schema_statements(), 3);
        let sql = String::from("SELECT tenant FROM marks");
        let server_count = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, i64>(0);
        let count = "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT tenant FROM marks'";
        assert_eq!(server_count(conn.query(count, &[]).await.expect("count")), 4);
        // A statement in the cache is found there, by its borrowed text:
        // asked for again (and held, so a replaced one would stay open), it
        // prepares nothing on the server.
        let first = conn.prepare_for(tenants[0], &sql, false).await.expect("prepare");
        let again = conn
            .prepare_for(tenants[0], &sql.clone(), false)
            .await
            .expect("prepare");
        assert_eq!(server_count(conn.query(count, &[]).await.expect("count")), 4);
        drop((first, again));
        // Once the least recently used has been idle long enough, the next
        // schema takes its place, and the server closes it.
        conn.idle = std::time::Duration::ZERO;
        let beyond = tenants[4];
        drop(conn.prepare_for(beyond, &sql, false).await.expect("prepare"));
        assert_eq!(conn.schema_statements(), 3);
        assert!(matches!(conn.cached_for(beyond, &sql), super::Lookup::Hit(_)));
        assert_eq!(server_count(conn.query(count, &[]).await.expect("count")), 4);
        drop(conn);
        for tenant in &tenants {
            assert_eq!(mark(&pool, *tenant).await, *tenant);
        }
        pool.close();
        drop_database(&admin, &name).await;
    }

    #[tokio::test]
    async fn a_schema_tenant_keeps_to_one_shared_connection() {
        let tenants: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
        let Some((admin, name)) = schemas(&tenants).await else {
            return;
        };
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let pool = Pool::connect(&url, None, 8, 100).await.expect("connect");
        assert_eq!(pool.shared.len(), 4);
        for _ in 0..6 {
            for tenant in &tenants {
                assert_eq!(mark(&pool, *tenant).await, *tenant);
            }
        }
        let mut held = 0;
        for slot in pool.shared.iter() {
            let conn = slot.conn.read().expect("lock").clone();
            held += conn.map_or(0, |c| c.schema_statements());
        }
        assert_eq!(
            held,
            tenants.len(),
            "one statement per tenant across the shared connections"
        );
        pool.close();
        drop_database(&admin, &name).await;
    }
}
