//! Driver benchmark for Tenantry's hot statement (GET /v1/projects/{id} under RLS).
//!
//! Usage: drivers-bench <variant> [--conns N] [--duration SECS] [--warmup SECS] [--concurrency N]
//!
//! Variants:
//!   pool      A: tokio-postgres + deadpool-postgres, exclusive connection per request,
//!                BEGIN / set_config / SELECT / COMMIT pipelined (four Syncs)
//!   mux       B: tokio-postgres, K shared connections, the same four-call group submitted
//!                under a per-connection async mutex, results awaited after the lock is released
//!   xitca     C: xitca-postgres 0.2.1, K shared clients, set_config + SELECT in one
//!                un-synced pipeline (one Sync, one implicit transaction)
//!   sqlx      D: sqlx pool, one simple-protocol message with literals (today's shape)
//!
//! Negative controls (their correctness counters must be non-zero, proving the checks bite):
//!   mux-nolock  B without the submit mutex: groups of different requests can interleave
//!   xitca-sync  C with a Sync after each statement: set_config(.., true) ends with its own
//!               implicit transaction, so RLS hides every row
//!
//! Environment: DRIVERS_APP_URL (role drivers_app), DRIVERS_ADMIN_URL (a role that bypasses RLS,
//! used once to list the (tenant, project) pairs).
//!
//! Prints one `RESULT ...` line of key=value pairs that run.sh turns into a table.

use std::{
    collections::BTreeMap,
    future::{Future, IntoFuture},
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    task::Poll,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use uuid::Uuid;

const SET_SQL: &str = "SELECT set_config('app.tenant_id', $1::text, true)";
const GET_SQL: &str = "SELECT tenant_id, id, name, description, created_at, updated_at \
                       FROM projects WHERE tenant_id = $1 AND id = $2 LIMIT 1";

const DEFAULT_APP_URL: &str = "postgres://drivers_app@127.0.0.1:5432/tenantry_drivers?sslmode=disable";
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/tenantry_drivers?sslmode=disable";

/// One (tenant, project) pair; the tenant's text form is kept so no request formats it.
struct Pair {
    tenant: Uuid,
    tenant_text: String,
    project: Uuid,
}

/// The decoded row; every column is decoded so each driver does the same work.
#[derive(Debug)]
struct Project {
    tenant_id: Uuid,
    id: Uuid,
    #[expect(dead_code, reason = "decoded to make each driver do the same work, not read")]
    name: String,
    #[expect(dead_code, reason = "decoded to make each driver do the same work, not read")]
    description: Option<String>,
    #[expect(dead_code, reason = "decoded to make each driver do the same work, not read")]
    created_at: DateTime<Utc>,
    #[expect(dead_code, reason = "decoded to make each driver do the same work, not read")]
    updated_at: DateTime<Utc>,
}

/// A driver shape: sets `setting` as app.tenant_id and runs the statement for (tenant, project)
/// in the same transaction. `i` is the request number (used to pick a shared connection).
trait Driver: Send + Sync + 'static {
    fn request(
        &self,
        i: usize,
        setting: &str,
        tenant: Uuid,
        project: Uuid,
    ) -> impl Future<Output = Result<Option<Project>>> + Send;
}

// ---------------------------------------------------------------------------------------------
// A: tokio-postgres + deadpool-postgres, exclusive connection, four pipelined calls.

struct PoolDriver {
    pool: deadpool_postgres::Pool,
}

impl PoolDriver {
    async fn new(url: &str, size: usize) -> Result<Self> {
        let mut cfg = deadpool_postgres::Config::new();
        cfg.url = Some(url.to_owned());
        cfg.pool = Some(deadpool_postgres::PoolConfig::new(size));
        cfg.manager = Some(deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        });
        let pool = cfg
            .create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)
            .context("create deadpool pool")?;
        // Open every connection and prepare both statements on it before measuring.
        let mut held = Vec::with_capacity(size);
        for _ in 0..size {
            let client = pool.get().await.context("open pooled connection")?;
            client.prepare_cached(SET_SQL).await.context("prepare set_config")?;
            client.prepare_cached(GET_SQL).await.context("prepare statement")?;
            held.push(client);
        }
        drop(held);
        Ok(Self { pool })
    }
}

impl Driver for PoolDriver {
    async fn request(&self, _i: usize, setting: &str, tenant: Uuid, project: Uuid) -> Result<Option<Project>> {
        let client = self.pool.get().await.context("pool get")?;
        let set = client.prepare_cached(SET_SQL).await.context("prepare_cached set")?;
        let get = client.prepare_cached(GET_SQL).await.context("prepare_cached get")?;
        // try_join4 polls its futures in argument order, and each tokio-postgres call queues its
        // messages on the first poll, so BEGIN, set_config, SELECT, COMMIT leave in that order.
        let ((), _, row, ()) = futures::future::try_join4(
            client.batch_execute("BEGIN"),
            client.execute(&set, &[&setting]),
            client.query_opt(&get, &[&tenant, &project]),
            client.batch_execute("COMMIT"),
        )
        .await
        .context("pipelined BEGIN..COMMIT")?;
        row.map(|r| tp_project(&r)).transpose()
    }
}

fn tp_project(row: &tokio_postgres::Row) -> Result<Project> {
    Ok(Project {
        tenant_id: row.try_get(0)?,
        id: row.try_get(1)?,
        name: row.try_get(2)?,
        description: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

// ---------------------------------------------------------------------------------------------
// B: tokio-postgres multiplexed over K shared connections.

struct MuxConn {
    client: tokio_postgres::Client,
    submit: tokio::sync::Mutex<()>,
    set: tokio_postgres::Statement,
    get: tokio_postgres::Statement,
}

struct MuxDriver {
    conns: Vec<MuxConn>,
    /// false only for the `mux-nolock` negative control.
    lock: bool,
}

async fn tp_connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("tokio-postgres connect")?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("tokio-postgres connection ended: {e}");
        }
    });
    Ok(client)
}

impl MuxDriver {
    async fn new(url: &str, k: usize, lock: bool) -> Result<Self> {
        let mut conns = Vec::with_capacity(k);
        for _ in 0..k {
            let client = tp_connect(url).await?;
            let set = client.prepare(SET_SQL).await.context("prepare set_config")?;
            let get = client.prepare(GET_SQL).await.context("prepare statement")?;
            conns.push(MuxConn {
                client,
                submit: tokio::sync::Mutex::new(()),
                set,
                get,
            });
        }
        Ok(Self { conns, lock })
    }
}

impl Driver for MuxDriver {
    async fn request(&self, i: usize, setting: &str, tenant: Uuid, project: Uuid) -> Result<Option<Project>> {
        let c = &self.conns[i % self.conns.len()];
        let set_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&setting];
        let get_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&tenant, &project];
        let mut group = pin!(futures::future::try_join4(
            c.client.batch_execute("BEGIN"),
            c.client.execute(&c.set, &set_params),
            c.client.query_opt(&c.get, &get_params),
            c.client.batch_execute("COMMIT"),
        ));
        let early = {
            // Only submission is serialized: one poll queues all four requests back to back,
            // so another task's group cannot land between this BEGIN and COMMIT.
            let _submit = if self.lock { Some(c.submit.lock().await) } else { None };
            futures::poll!(group.as_mut())
        };
        let ((), _, row, ()) = match early {
            Poll::Ready(r) => r,
            Poll::Pending => group.await,
        }
        .context("multiplexed BEGIN..COMMIT")?;
        row.map(|r| tp_project(&r)).transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// C: xitca-postgres 0.2.1, K shared clients, one un-synced pipeline.

struct XitcaConn {
    client: xitca_postgres::Client,
    set: xitca_postgres::Statement,
    get: xitca_postgres::Statement,
}

struct XitcaDriver {
    conns: Vec<XitcaConn>,
    /// true only for the `xitca-sync` negative control (a Sync after each statement).
    sync_each: bool,
}

impl XitcaDriver {
    async fn new(url: &str, k: usize, sync_each: bool) -> Result<Self> {
        use xitca_postgres::Execute as _;
        let mut conns = Vec::with_capacity(k);
        for _ in 0..k {
            let (client, driver) = xitca_postgres::Postgres::new(url.to_owned())
                .connect()
                .await
                .map_err(|e| anyhow!("xitca connect: {e}"))?;
            tokio::spawn(async move {
                if let Err(e) = driver.into_future().await {
                    eprintln!("xitca driver ended: {e}");
                }
            });
            // leak(): keep the statement for the client's lifetime (no Close on drop).
            let set = xitca_postgres::Statement::named(SET_SQL, &[])
                .execute(&client)
                .await
                .map_err(|e| anyhow!("xitca prepare set_config: {e}"))?
                .leak();
            let get = xitca_postgres::Statement::named(GET_SQL, &[])
                .execute(&client)
                .await
                .map_err(|e| anyhow!("xitca prepare statement: {e}"))?
                .leak();
            conns.push(XitcaConn { client, set, get });
        }
        Ok(Self { conns, sync_each })
    }
}

impl Driver for XitcaDriver {
    async fn request(&self, i: usize, setting: &str, tenant: Uuid, project: Uuid) -> Result<Option<Project>> {
        use xitca_postgres::{Execute as _, ExecuteMut as _, iter::AsyncLendingIterator as _};
        let c = &self.conns[i % self.conns.len()];
        let xe = |what: &'static str| move |e: xitca_postgres::Error| anyhow!("xitca {what}: {e}");

        // Bind+Execute, Bind+Execute, then a single Sync: both run in one implicit transaction,
        // so set_config(.., true) is still in force for the SELECT. The whole pipeline is
        // appended to the client's write buffer under one lock, so concurrent requests on the
        // same client cannot interleave inside it.
        let mut res = if self.sync_each {
            let mut pipe = xitca_postgres::pipeline::Pipeline::with_capacity(2);
            c.set
                .bind([setting])
                .query_mut(&mut pipe)
                .map_err(xe("encode set_config"))?;
            c.get
                .bind([tenant, project])
                .query_mut(&mut pipe)
                .map_err(xe("encode statement"))?;
            pipe.query(&c.client).map_err(xe("send pipeline"))?
        } else {
            let mut pipe = xitca_postgres::pipeline::Pipeline::unsync_with_capacity(2);
            c.set
                .bind([setting])
                .query_mut(&mut pipe)
                .map_err(xe("encode set_config"))?;
            c.get
                .bind([tenant, project])
                .query_mut(&mut pipe)
                .map_err(xe("encode statement"))?;
            pipe.query(&c.client).map_err(xe("send pipeline"))?
        };

        {
            let mut item = res
                .try_next()
                .await
                .map_err(xe("set_config"))?
                .ok_or_else(|| anyhow!("no set_config result"))?;
            while item.try_next().await.map_err(xe("set_config row"))?.is_some() {}
        }
        let mut project_row = None;
        {
            let mut item = res
                .try_next()
                .await
                .map_err(xe("statement"))?
                .ok_or_else(|| anyhow!("no statement result"))?;
            while let Some(row) = item.try_next().await.map_err(xe("statement row"))? {
                project_row = Some(Project {
                    tenant_id: row.try_get(0).map_err(xe("tenant_id"))?,
                    id: row.try_get(1).map_err(xe("id"))?,
                    name: row.try_get(2).map_err(xe("name"))?,
                    description: row.try_get(3).map_err(xe("description"))?,
                    created_at: row.try_get(4).map_err(xe("created_at"))?,
                    updated_at: row.try_get(5).map_err(xe("updated_at"))?,
                });
            }
        }
        // Read up to the ReadyForQuery of the single Sync.
        while res.try_next().await.map_err(xe("pipeline end"))?.is_some() {}
        Ok(project_row)
    }
}

// ---------------------------------------------------------------------------------------------
// D: sqlx, one simple-protocol message with literals.

struct SqlxDriver {
    pool: sqlx::PgPool,
}

impl SqlxDriver {
    async fn new(url: &str, size: usize) -> Result<Self> {
        let size = u32::try_from(size).context("pool size")?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(size)
            .min_connections(size)
            .connect(url)
            .await
            .context("sqlx connect")?;
        // Open all connections up front.
        let mut held = Vec::new();
        for _ in 0..size {
            held.push(pool.acquire().await.context("sqlx acquire")?);
        }
        drop(held);
        Ok(Self { pool })
    }
}

impl Driver for SqlxDriver {
    async fn request(&self, _i: usize, setting: &str, tenant: Uuid, project: Uuid) -> Result<Option<Project>> {
        use sqlx::Row as _;
        // `setting` is a UUID's text form and tenant/project are UUIDs: safe as literals.
        ensure!(Uuid::parse_str(setting).is_ok(), "setting must be a uuid");
        let sql = format!(
            "SET LOCAL app.tenant_id = '{setting}'; \
             SELECT tenant_id, id, name, description, created_at, updated_at FROM projects \
             WHERE tenant_id = '{tenant}'::uuid AND id = '{project}'::uuid LIMIT 1"
        );
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .context("sqlx raw_sql")?;
        rows.first()
            .map(|r| {
                Ok(Project {
                    tenant_id: r.try_get(0)?,
                    id: r.try_get(1)?,
                    name: r.try_get(2)?,
                    description: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    updated_at: r.try_get(5)?,
                })
            })
            .transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// Load generator.

struct Opts {
    variant: String,
    conns: usize,
    duration: f64,
    warmup: f64,
    concurrency: usize,
}

fn parse_args() -> Result<Opts> {
    let mut args = std::env::args().skip(1);
    let variant = args.next().ok_or_else(|| {
        anyhow!("usage: drivers-bench <pool|mux|xitca|sqlx> [--conns N] [--duration S] [--warmup S] [--concurrency N]")
    })?;
    let mut o = Opts {
        variant,
        conns: 0,
        duration: 10.0,
        warmup: 2.0,
        concurrency: 64,
    };
    while let Some(flag) = args.next() {
        let v = args.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--conns" => o.conns = v.parse().context("--conns")?,
            "--duration" => o.duration = v.parse().context("--duration")?,
            "--warmup" => o.warmup = v.parse().context("--warmup")?,
            "--concurrency" => o.concurrency = v.parse().context("--concurrency")?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if o.conns == 0 {
        o.conns = match o.variant.as_str() {
            "pool" | "sqlx" => 16,
            "mux" | "mux-nolock" => 4,
            _ => 2,
        };
    }
    Ok(o)
}

async fn load_pairs(admin_url: &str) -> Result<Vec<Pair>> {
    let client = tp_connect(admin_url).await?;
    let rows = client
        .query("SELECT tenant_id, id FROM projects ORDER BY tenant_id, id", &[])
        .await
        .context("list projects (admin role must bypass RLS)")?;
    let mut by_tenant: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for r in &rows {
        by_tenant.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    ensure!(by_tenant.len() >= 2, "need at least two tenants; run setup.sql");
    let per = by_tenant.values().map(Vec::len).min().unwrap_or(0);
    // Consecutive requests walk all tenants before repeating one.
    let mut pairs = Vec::with_capacity(per * by_tenant.len());
    for j in 0..per {
        for (t, ps) in &by_tenant {
            pairs.push(Pair {
                tenant: *t,
                tenant_text: t.to_string(),
                project: ps[j],
            });
        }
    }
    Ok(pairs)
}

fn cpu_time() -> Result<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
    let tv = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    Ok(tv(u.user_time()) + tv(u.system_time()))
}

#[derive(Default)]
struct TaskStats {
    lat_ns: Vec<u64>,
    wrong: u64,
    missing: u64,
    errors: u64,
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Correctness probe before the load: concurrent requests that alternate a normal request with
/// one that asks for tenant X's project while setting tenant Y (must return no row).
async fn cross_check<D: Driver>(d: &Arc<D>, pairs: &Arc<Vec<Pair>>) -> Result<(u64, u64)> {
    let mut set = tokio::task::JoinSet::new();
    for k in 0..512usize {
        let d = d.clone();
        let pairs = pairs.clone();
        set.spawn(async move {
            let p = &pairs[k * 7 % pairs.len()];
            let other = &pairs[(k * 7 + 1) % pairs.len()]; // next pair: a different tenant
            if k % 2 == 0 {
                let got = d.request(k, &p.tenant_text, p.tenant, p.project).await?;
                Ok::<_, anyhow::Error>(match got {
                    Some(r) if r.tenant_id == p.tenant && r.id == p.project => (0, 0),
                    _ => (1, 0),
                })
            } else {
                ensure!(other.tenant != p.tenant, "probe pairs must differ in tenant");
                let got = d.request(k, &other.tenant_text, p.tenant, p.project).await?;
                Ok(if got.is_some() { (0, 1) } else { (0, 0) })
            }
        });
    }
    let (mut bad_normal, mut leaked) = (0, 0);
    while let Some(r) = set.join_next().await {
        let (a, b) = r.context("probe task")??;
        bad_normal += a;
        leaked += b;
    }
    Ok((bad_normal, leaked))
}

async fn run<D: Driver>(o: &Opts, d: D, pairs: Arc<Vec<Pair>>) -> Result<()> {
    let d = Arc::new(d);
    let (probe_bad, probe_leaked) = cross_check(&d, &pairs).await?;

    let phase = Arc::new(AtomicU8::new(WARMUP));
    let counter = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(o.concurrency);
    for _ in 0..o.concurrency {
        let (d, pairs, phase, counter) = (d.clone(), pairs.clone(), phase.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = TaskStats::default();
            st.lat_ns.reserve(1 << 16);
            loop {
                let ph = phase.load(Ordering::Relaxed);
                if ph == STOP {
                    break;
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let p = &pairs[i % pairs.len()];
                let t0 = Instant::now();
                let res = d.request(i, &p.tenant_text, p.tenant, p.project).await;
                let el = t0.elapsed();
                if ph != MEASURE || phase.load(Ordering::Relaxed) != MEASURE {
                    if let Err(e) = res {
                        eprintln!("request error (warm-up/drain): {e:#}");
                    }
                    continue;
                }
                match res {
                    Ok(Some(r)) if r.tenant_id == p.tenant && r.id == p.project => {}
                    Ok(Some(_)) => st.wrong += 1,
                    Ok(None) => st.missing += 1,
                    Err(e) => {
                        st.errors += 1;
                        if st.errors <= 3 {
                            eprintln!("request error: {e:#}");
                        }
                    }
                }
                st.lat_ns.push(el.as_nanos() as u64);
            }
            st
        }));
    }

    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    let cpu0 = cpu_time()?;
    let t0 = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.duration)).await;
    phase.store(STOP, Ordering::Relaxed);
    let wall = t0.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu0);

    let mut all = TaskStats::default();
    for t in tasks {
        let st = t.await.context("load task panicked")?;
        all.lat_ns.extend_from_slice(&st.lat_ns);
        all.wrong += st.wrong;
        all.missing += st.missing;
        all.errors += st.errors;
    }
    let n = all.lat_ns.len();
    ensure!(n > 0, "no request completed in the measured window");
    all.lat_ns.sort_unstable();
    let pct = |q: f64| all.lat_ns[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0;
    let rps = n as f64 / wall.as_secs_f64();
    let cpu_us = cpu.as_secs_f64() * 1e6 / n as f64;
    println!(
        "RESULT variant={} conns={} concurrency={} requests={} secs={:.2} rps={:.0} p50_us={:.0} p99_us={:.0} \
         cpu_us_per_req={:.1} cpu_cores={:.2} wrong={} missing={} errors={} probe_bad={} probe_leaked={}",
        o.variant,
        o.conns,
        o.concurrency,
        n,
        wall.as_secs_f64(),
        rps,
        pct(0.50),
        pct(0.99),
        cpu_us,
        cpu.as_secs_f64() / wall.as_secs_f64(),
        all.wrong,
        all.missing,
        all.errors,
        probe_bad,
        probe_leaked
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = parse_args()?;
    let app_url = std::env::var("DRIVERS_APP_URL").unwrap_or_else(|_| DEFAULT_APP_URL.to_owned());
    let admin_url = std::env::var("DRIVERS_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let pairs = Arc::new(load_pairs(&admin_url).await?);
    match o.variant.as_str() {
        "pool" => run(&o, PoolDriver::new(&app_url, o.conns).await?, pairs).await,
        "mux" => run(&o, MuxDriver::new(&app_url, o.conns, true).await?, pairs).await,
        "xitca" => run(&o, XitcaDriver::new(&app_url, o.conns, false).await?, pairs).await,
        // Negative controls: the correctness counters must go non-zero for these.
        "mux-nolock" => run(&o, MuxDriver::new(&app_url, o.conns, false).await?, pairs).await,
        "xitca-sync" => run(&o, XitcaDriver::new(&app_url, o.conns, true).await?, pairs).await,
        "sqlx" => run(&o, SqlxDriver::new(&app_url, o.conns).await?, pairs).await,
        v => bail!("unknown variant {v}"),
    }
}
