//! Moving a tenant between placements while it is served (`tenant move`):
//! a writer and a reader at full speed through every move and back; every
//! acknowledged write there exactly once after each; reads never failing,
//! writes failing only with `503` and `Retry-After` during the pause; moves
//! stopped at each step as a crash would, then resumed or aborted; a second
//! instance routing to the new place within a second.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tenantry::db::{Halt, MoveReport, MoveRequest};
use tenantry::domain::tenants::Placement;
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Spawned, TestApp, TestTenant, with_credential};

both_backends!(
    a_tenant_moves_and_back_under_load_with_no_write_lost,
    a_stopped_move_resumes_or_aborts_with_nothing_lost,
    a_killed_move_resumes_or_aborts_with_nothing_lost,
    a_second_instance_routes_to_the_new_place_within_a_second,
    the_old_copy_stays_until_every_instance_has_read_the_switch,
    the_command_moves_shows_and_aborts,
);

fn request(to: Option<Placement>) -> MoveRequest {
    MoveRequest {
        to: to.map(|p| (p, None)),
        drain: Duration::from_secs(1),
        batch: 40,
        ..MoveRequest::default()
    }
}

async fn run(app: &TestApp, tenant: Uuid, request: MoveRequest) -> Result<MoveReport, sea_orm::DbErr> {
    app.owner
        .move_tenant(tenant, request, &|_| {}, &|_| Box::pin(async {}))
        .await
}

/// A move to `to` stopped at `at` (it fails there, as asked).
async fn run_halted(app: &TestApp, tenant: Uuid, to: Placement, at: Halt) {
    let halted = run(
        app,
        tenant,
        MoveRequest {
            halt: Some(at),
            ..request(Some(to))
        },
    )
    .await;
    assert!(halted.is_err(), "halted at {at:?}");
}

async fn abort(app: &TestApp, tenant: Uuid) -> MoveReport {
    let abort = MoveRequest {
        abort: true,
        ..request(None)
    };
    app.owner
        .move_tenant(tenant, abort, &|_| {}, &|_| Box::pin(async {}))
        .await
        .expect("the move is aborted")
}

async fn placement_of(app: &TestApp, slug: &str) -> String {
    app.owner
        .platform()
        .tenant_by_slug(slug)
        .await
        .expect("read")
        .expect("the tenant")
        .placement
}

/// The placements a tenant goes through: out of the shared tables and back.
fn tour(app: &TestApp) -> Vec<Placement> {
    if app.settings.is_sqlite() {
        vec![Placement::Database, Placement::Shared]
    } else {
        vec![Placement::Schema, Placement::Database, Placement::Shared]
    }
}

/// Every project of the tenant, by id, with its name.
async fn projects(app: &TestApp, key: &str) -> BTreeMap<String, String> {
    let items = app.read_all("/v1/projects", key, 100).await;
    let mut found = BTreeMap::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        let name = item["name"].as_str().unwrap_or_default().to_owned();
        assert!(found.insert(id.clone(), name).is_none(), "project {id} listed twice");
    }
    found
}

/// The tenant's own rows in the shared tables (its copy there, if any).
async fn rows_in_shared(app: &TestApp, tenant: Uuid) -> i64 {
    PlatformSql::connect(app).await.rows_in_shared(tenant).await
}

/// A connection to the test's platform database.
enum PlatformSql {
    Postgres(sea_orm::sqlx::PgConnection),
    Sqlite(sea_orm::sqlx::SqliteConnection),
}

impl PlatformSql {
    async fn connect(app: &TestApp) -> Self {
        use sea_orm::sqlx::{self, Connection};
        let url = app.settings.database.url();
        if app.settings.is_sqlite() {
            Self::Sqlite(sqlx::SqliteConnection::connect(url).await.expect("connect"))
        } else {
            Self::Postgres(sqlx::PgConnection::connect(url).await.expect("connect"))
        }
    }

    /// How many of `tenant`'s projects the shared tables hold.
    async fn rows_in_shared(&mut self, tenant: Uuid) -> i64 {
        use sea_orm::sqlx;
        let sql = "SELECT count(*) FROM projects WHERE tenant_id = $1";
        match self {
            Self::Postgres(conn) => sqlx::query_scalar(sql).bind(tenant).fetch_one(conn).await,
            Self::Sqlite(conn) => sqlx::query_scalar(sql).bind(tenant).fetch_one(conn).await,
        }
        .expect("count")
    }

    /// The database's clock, in milliseconds.
    async fn now_ms(&mut self) -> i64 {
        use sea_orm::sqlx;
        match self {
            Self::Postgres(conn) => {
                sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
                    .fetch_one(conn)
                    .await
            }
            Self::Sqlite(conn) => {
                sqlx::query_scalar("SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
                    .fetch_one(conn)
                    .await
            }
        }
        .expect("now")
    }

    /// Writes instance `id`'s row as a poll at `beat_ms` that read as far
    /// as `seen_ms` would.
    async fn instance_at(&mut self, id: Uuid, beat_ms: i64, seen_ms: i64) {
        use sea_orm::sqlx;
        let sql = "INSERT INTO instances (id, started_at, beat_ms, seen_ms) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (id) DO UPDATE SET beat_ms = excluded.beat_ms, seen_ms = excluded.seen_ms";
        let now = chrono::Utc::now();
        match self {
            Self::Postgres(conn) => {
                let query = sqlx::query(sql).bind(id).bind(now).bind(beat_ms).bind(seen_ms);
                query.execute(conn).await.map(drop)
            }
            Self::Sqlite(conn) => {
                let query = sqlx::query(sql).bind(id).bind(now).bind(beat_ms).bind(seen_ms);
                query.execute(conn).await.map(drop)
            }
        }
        .expect("the instance's row");
    }

    /// An insert of one of `tenant`'s projects into the shared tables, as
    /// an instance still routing the tenant there would make it: the error.
    async fn insert_shared_project(&mut self, tenant: Uuid) -> Option<String> {
        use sea_orm::sqlx;
        let sql = "INSERT INTO projects (tenant_id, id, name, created_at, updated_at) VALUES ($1, $2, 'stale', $3, $3)";
        let (id, now) = (Uuid::now_v7(), chrono::Utc::now());
        match self {
            Self::Postgres(conn) => sqlx::query(sql)
                .bind(tenant)
                .bind(id)
                .bind(now)
                .execute(conn)
                .await
                .map(drop),
            Self::Sqlite(conn) => sqlx::query(sql)
                .bind(tenant)
                .bind(id)
                .bind(now)
                .execute(conn)
                .await
                .map(drop),
        }
        .err()
        .map(|e| e.to_string())
    }

    async fn instances(&mut self) -> Vec<Uuid> {
        use sea_orm::sqlx;
        match self {
            Self::Postgres(conn) => sqlx::query_scalar("SELECT id FROM instances").fetch_all(conn).await,
            Self::Sqlite(conn) => sqlx::query_scalar("SELECT id FROM instances").fetch_all(conn).await,
        }
        .expect("instances")
    }
}

/// An instance whose polls have not read as far as the switch holds the
/// removal of the old copy back (past the drain), until one does; one
/// whose beat is stale (stopped without removing its row) does not, and
/// its row is swept.
async fn the_old_copy_stays_until_every_instance_has_read_the_switch(app: TestApp) {
    let tenant = app.tenant_in("acked", Placement::Shared).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        write(&app, &tenant, &mut made).await;
    }
    let mut sql = PlatformSql::connect(&app).await;
    let (lagging, dead) = (Uuid::new_v4(), Uuid::new_v4());
    let now = sql.now_ms().await;
    sql.instance_at(lagging, now, now).await;
    sql.instance_at(dead, now - 60_000, 0).await;
    let waiting = AtomicU64::new(0);
    let away = tour(&app)[0];
    let progress = |event: tenantry::db::MoveEvent<'_>| {
        if let tenantry::db::MoveEvent::Waiting { instances } = event {
            waiting.store(instances, Ordering::SeqCst);
        }
    };
    let mover = app
        .owner
        .move_tenant(tenant.id, request(Some(away)), &progress, &|_| Box::pin(async {}));
    let checker = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while waiting.load(Ordering::SeqCst) != 1 {
            assert!(Instant::now() < deadline, "the removal never waited");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Past the drain (1 s): the lagging instance still holds it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let status = app
            .owner
            .move_status(tenant.id)
            .await
            .expect("status")
            .expect("under way");
        assert_eq!(serde_json::to_value(status.state).expect("state"), "switched");
        assert_eq!(rows_in_shared(&app, tenant.id).await, 5, "the old copy is kept");
        assert_eq!(placement_of(&app, &tenant.slug).await, away.as_str());
        let polled = sql.now_ms().await;
        sql.instance_at(lagging, polled, polled).await;
        sql
    };
    let (report, mut sql) = tokio::join!(mover, checker);
    let report = report.expect("the move completes once every instance has read it");
    assert_eq!(report.source, "removed");
    assert_eq!(rows_in_shared(&app, tenant.id).await, 0, "the old copy is gone");
    let left = sql.instances().await;
    assert!(left.contains(&lagging), "a live instance's row stays");
    assert!(!left.contains(&dead), "a stale row is swept");
    assert!(left.len() >= 2, "the server's own row is there too: {left:?}");
    // The shared tables still refuse the tenant's writes (a fence for an
    // instance that would still route it there).
    let refused = sql.insert_shared_project(tenant.id).await;
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("the tenant is being moved")),
        "a write into the removed copy is refused: {refused:?}"
    );
    write_once_routed(&app, &tenant, &mut made, "a write after the move").await;
    let found = projects(&app, &tenant.key).await;
    assert_eq!(found.len(), made.len(), "every write, once");
}

/// What a writer was told: the projects it made and the last name each
/// was acknowledged with, and its refusals.
#[derive(Default)]
struct Acknowledged {
    names: BTreeMap<String, String>,
    refused: u64,
}

fn assert_refused_well(resp: &crate::support::Resp, what: &str) {
    assert_eq!(
        resp.status, 503,
        "{what}: only a 503 while the tenant moves: {:?}",
        resp.body
    );
    assert_eq!(resp.body["code"], "unavailable", "{what}: {:?}", resp.body);
    assert!(
        resp.headers.get("retry-after").is_some(),
        "{what}: a refused write says when to retry"
    );
}

async fn a_tenant_moves_and_back_under_load_with_no_write_lost(app: TestApp) {
    let tenant = app.tenant_in("mover", Placement::Shared).await;
    let other = app.tenant_in("bystander", Placement::Shared).await;
    let theirs = app.project(&other.key, "not yours").await;
    let theirs = theirs["id"].as_str().unwrap_or_default().to_owned();
    let acknowledged = Mutex::new(Acknowledged::default());
    for n in 0..120u32 {
        let made = app.project(&tenant.key, &format!("seed {n}")).await;
        let id = made["id"].as_str().unwrap_or_default().to_owned();
        if n.is_multiple_of(10) {
            app.task(&tenant.key, &made, json!({"title": format!("task {n}")}))
                .await;
        }
        acknowledged.lock().expect("lock").names.insert(id, format!("seed {n}"));
    }
    let sibling = app.sibling().await;
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);

    let writer = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Acquire) {
            n += 1;
            if n.is_multiple_of(2) {
                let resp = app
                    .post("/v1/projects", &tenant.key, json!({"name": format!("live {n}")}))
                    .await;
                if resp.status == 201 {
                    let id = resp.body["id"].as_str().unwrap_or_default().to_owned();
                    acknowledged.lock().expect("lock").names.insert(id, format!("live {n}"));
                } else {
                    assert_refused_well(&resp, "a create");
                    acknowledged.lock().expect("lock").refused += 1;
                }
            } else {
                let target = {
                    let known = acknowledged.lock().expect("lock");
                    let index = (n as usize * 7919) % known.names.len();
                    known.names.keys().nth(index).cloned().unwrap_or_default()
                };
                let name = format!("renamed {n}");
                let resp = app
                    .patch(&format!("/v1/projects/{target}"), &tenant.key, json!({"name": name}))
                    .await;
                if resp.status == 200 {
                    acknowledged.lock().expect("lock").names.insert(target, name);
                } else {
                    assert_refused_well(&resp, "an update");
                    acknowledged.lock().expect("lock").refused += 1;
                }
            }
        }
    };
    let reader = async {
        let key = tenant.key.clone();
        while !stop.load(Ordering::Acquire) {
            let resp = app
                .send(with_credential(
                    app.http.get(format!("{}/v1/projects?limit=20", sibling.base)),
                    &key,
                ))
                .await;
            assert_eq!(resp.status, 200, "a read failed during the move: {:?}", resp.body);
            reads.fetch_add(1, Ordering::Relaxed);
        }
    };
    let mover = async {
        let mut reports = Vec::new();
        for to in tour(&app) {
            let report = run(&app, tenant.id, request(Some(to)))
                .await
                .expect("the move completes");
            assert_eq!(report.to.placement, to);
            assert_eq!(report.source, "removed");
            for check in &report.tables {
                assert_eq!(check.source, check.target, "{check:?}");
                assert!(check.source.rows > 0 || check.table != "projects", "{check:?}");
                assert_eq!(check.differing.unwrap_or(0), 0, "{check:?}");
            }
            assert_eq!(placement_of(&app, &tenant.slug).await, to.as_str());
            assert_eq!(
                app.owner
                    .move_status(tenant.id)
                    .await
                    .expect("status")
                    .map(|m| m.tenant),
                None,
                "the move's record is gone"
            );
            if to != Placement::Shared {
                assert_eq!(rows_in_shared(&app, tenant.id).await, 0, "the old copy is removed");
            }
            // Across tenants, still nothing.
            app.get(&format!("/v1/projects/{theirs}"), &tenant.key)
                .await
                .problem(404, "not_found");
            reports.push(report);
        }
        stop.store(true, Ordering::Release);
        reports
    };
    let ((), (), reports) = tokio::join!(writer, reader, mover);
    assert!(reads.load(Ordering::Relaxed) > 10, "the reader kept reading");
    for report in &reports {
        let pause = report.write_pause_ms.expect("a measured pause");
        assert!(pause < 5_000, "the write pause was {pause} ms");
    }

    // Every acknowledged write is there, exactly once, as last acknowledged.
    let acknowledged = acknowledged.into_inner().expect("lock");
    let found = projects(&app, &tenant.key).await;
    assert_eq!(found.len(), acknowledged.names.len(), "no project lost, none twice");
    assert_eq!(found, acknowledged.names);
    let theirs_listed = projects(&app, &other.key).await;
    assert_eq!(theirs_listed.len(), 1, "the bystander kept its one project");
}

/// A project made now: the tenant takes writes.
async fn write(app: &TestApp, tenant: &TestTenant, made: &mut Vec<String>) {
    let resp = app
        .post("/v1/projects", &tenant.key, json!({"name": format!("p{}", made.len())}))
        .await;
    let id = resp.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    made.push(id);
}

/// A write that lands once the app routes the tenant to its new place
/// (within two seconds), refused well until then.
async fn write_once_routed(app: &TestApp, tenant: &TestTenant, made: &mut Vec<String>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let resp = app
            .post("/v1/projects", &tenant.key, json!({"name": format!("p{}", made.len())}))
            .await;
        if resp.status == 201 {
            made.push(resp.body["id"].as_str().unwrap_or_default().to_owned());
            return;
        }
        assert_refused_well(&resp, what);
        assert!(
            Instant::now() < deadline,
            "{what}: the instance still routes to the old copy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_stopped_move_resumes_or_aborts_with_nothing_lost(app: TestApp) {
    let tenant = app.tenant_in("stopper", Placement::Shared).await;
    let away = tour(&app)[0];
    let mut made = Vec::new();
    for _ in 0..90 {
        write(&app, &tenant, &mut made).await;
    }
    let halted = |to: Option<Placement>, at: Halt| MoveRequest {
        halt: Some(at),
        ..request(to)
    };

    // Stopped during the copy: still served from the shared tables, writes
    // taken; resumed, it completes.
    let err = run(&app, tenant.id, halted(Some(away), Halt::Copy)).await;
    assert!(err.is_err(), "halted");
    let status = app
        .owner
        .move_status(tenant.id)
        .await
        .expect("status")
        .expect("a move under way");
    assert_eq!(serde_json::to_value(status.state).expect("state"), "copying");
    write(&app, &tenant, &mut made).await;
    let done = run(&app, tenant.id, request(None)).await.expect("resumed");
    assert_eq!(done.to.placement, away);
    assert_eq!(placement_of(&app, &tenant.slug).await, away.as_str());
    write(&app, &tenant, &mut made).await;

    // Stopped during the catch-up, then aborted: served from where it is.
    let err = run(&app, tenant.id, halted(Some(Placement::Shared), Halt::CatchUp)).await;
    assert!(err.is_err(), "halted");
    write(&app, &tenant, &mut made).await;
    let aborted = abort(&app, tenant.id).await;
    assert_eq!(aborted.state, "aborted");
    assert_eq!(placement_of(&app, &tenant.slug).await, away.as_str());
    assert_eq!(rows_in_shared(&app, tenant.id).await, 0, "the aborted copy is dropped");
    write(&app, &tenant, &mut made).await;

    // Stopped during the switch: writes are refused (503) until it is
    // resumed; then they land in the new place.
    let err = run(&app, tenant.id, halted(Some(Placement::Shared), Halt::Switch)).await;
    assert!(err.is_err(), "halted");
    let refused = app.post("/v1/projects", &tenant.key, json!({"name": "refused"})).await;
    assert_refused_well(&refused, "a write mid-switch");
    app.get("/v1/projects?limit=5", &tenant.key).await.ok(200);
    run(&app, tenant.id, request(None)).await.expect("resumed");
    assert_eq!(placement_of(&app, &tenant.slug).await, "shared");
    write(&app, &tenant, &mut made).await;

    // Stopped during the switch again, then aborted: writes flow at once.
    let err = run(&app, tenant.id, halted(Some(away), Halt::Switch)).await;
    assert!(err.is_err(), "halted");
    abort(&app, tenant.id).await;
    assert_eq!(placement_of(&app, &tenant.slug).await, "shared");
    write(&app, &tenant, &mut made).await;

    // Switched with the old copy kept, written there, then aborted: a move
    // back that brings those writes home.
    let kept = run(
        &app,
        tenant.id,
        MoveRequest {
            keep_source: true,
            ..request(Some(away))
        },
    )
    .await
    .expect("switched");
    assert_eq!(kept.source, "kept");
    assert_eq!(placement_of(&app, &tenant.slug).await, away.as_str());
    // The old copy refuses writes: whoever still wrote there would be told.
    write_once_routed(&app, &tenant, &mut made, "a write just after the switch").await;
    write(&app, &tenant, &mut made).await;
    let back = abort(&app, tenant.id).await;
    assert!(back.reversed, "a move back");
    assert_eq!(placement_of(&app, &tenant.slug).await, "shared");
    write_once_routed(&app, &tenant, &mut made, "a write just after the move back").await;

    let found = projects(&app, &tenant.key).await;
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), expected, "every write, once");
}

/// A database session of the test's own that holds back the mover at one
/// step (a lock it will wait for), so the process is killed there.
enum Blocker {
    /// The session holding the locks, and one that watches for the mover
    /// outside any transaction: a transaction sees `pg_stat_activity` as it
    /// was at its first look, without the sessions opened since.
    Postgres {
        holder: sea_orm::sqlx::PgConnection,
        watcher: sea_orm::sqlx::PgConnection,
    },
    Sqlite(sea_orm::sqlx::SqliteConnection),
}

impl Blocker {
    /// PostgreSQL: `statements` run in a transaction left open.
    async fn postgres(app: &TestApp, statements: &[String]) -> Self {
        use sea_orm::sqlx::{self, Connection};
        let mut conn = sqlx::PgConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::raw_sql("BEGIN").execute(&mut conn).await.expect("begin");
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .expect("the lock");
        }
        let watcher = sqlx::PgConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        Self::Postgres { holder: conn, watcher }
    }

    /// SQLite: the platform file's write lock (every step of a move writes
    /// it: its progress, the shared tables).
    async fn sqlite(app: &TestApp) -> Self {
        use sea_orm::sqlx::{self, Connection};
        let mut conn = sqlx::SqliteConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .expect("the lock");
        Self::Sqlite(conn)
    }

    /// PostgreSQL: waits until a session of the test's database waits for a
    /// lock (the mover, held back).
    async fn until_waited_for(&mut self, mover: &mut Spawned) {
        let Self::Postgres { watcher: conn, .. } = self else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let waiting: bool = sea_orm::sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                  WHERE NOT l.granted AND a.datname = current_database())",
            )
            .fetch_one(&mut *conn)
            .await
            .expect("pg_locks");
            if waiting {
                return;
            }
            mover.assert_running("it reached the lock");
            if Instant::now() >= deadline {
                let sessions: Vec<String> = sea_orm::sqlx::query_scalar(
                    "SELECT format('%s %s/%s: %s', state, wait_event_type, wait_event, left(query, 200))
                       FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_all(&mut *conn)
                .await
                .expect("pg_stat_activity");
                panic!(
                    "the mover never reached the lock:\n{}\nsessions: {sessions:#?}",
                    mover.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn release(self) {
        use sea_orm::sqlx::{self, Connection};
        match self {
            Self::Postgres { mut holder, watcher } => {
                sqlx::raw_sql("ROLLBACK").execute(&mut holder).await.expect("rollback");
                holder.close().await.expect("close");
                watcher.close().await.expect("close");
            }
            Self::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.expect("rollback");
                conn.close().await.expect("close");
            }
        }
    }
}

/// Waits until the tenant's move is in `state` and `ready` holds of its
/// progress.
async fn until_move(app: &TestApp, tenant: Uuid, state: &str, ready: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = app.owner.move_status(tenant).await.expect("status")
            && serde_json::to_value(status.state).expect("state") == state
            && ready(&status.progress)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the move never reached {state}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// SQLite: waits until process `pid` holds a tenant's move lock (an
/// `flock` of its own in `/proc/locks`; looked at, never taken, so the
/// process is never turned away).
async fn until_move_locked(mover: &mut Spawned) {
    let pid = mover.id();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
        if locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&"FLOCK") && fields.get(4) == Some(&pid.to_string().as_str())
        }) {
            return;
        }
        mover.assert_running("it took the move lock");
        assert!(
            Instant::now() < deadline,
            "the mover never took the move lock:\n{}",
            mover.stderr()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Kills the process (SIGKILL: nothing of its own runs) and reaps it.
fn kill(mut spawned: Spawned) {
    spawned.assert_running("it was killed");
    let child = &mut spawned.child;
    child.kill().expect("killed");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "it was killed, not finished");
}

/// `tenant move` run again (resume or abort) until the killed process's
/// last statements have ended on the server and its lock is free.
async fn cli_again(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let output = app.cli(args, "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !stderr.contains("another move or a migration of it is running") {
            return json_of(&output);
        }
        assert!(Instant::now() < deadline, "the killed move's lock is never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The command killed at each step, as a crash would kill it (mid-batch,
/// mid-transaction, waiting on the database): run again it completes;
/// aborted, the tenant is served from where it was; nothing is lost.
async fn a_killed_move_resumes_or_aborts_with_nothing_lost(app: TestApp) {
    let postgres = !app.settings.is_sqlite();
    let tenant = app.tenant_in("killed", Placement::Shared).await;
    let slug = tenant.slug.clone();
    let away = tour(&app)[0];
    let mut made = Vec::new();
    for _ in 0..300 {
        write(&app, &tenant, &mut made).await;
    }
    let first = app
        .get(&format!("/v1/projects/{}", made[0]), &tenant.key)
        .await
        .ok(200)
        .clone();
    for n in 0..20 {
        app.task(&tenant.key, &first, json!({"title": format!("t{n}")})).await;
    }
    let tasks = format!("/v1/projects/{}/tasks", made[0]);

    // Killed during the copy, one row a batch: held back as it reaches the
    // tasks (PostgreSQL) or at its next write (SQLite).
    let mut mover = app.cli_spawn(&[], &["tenant", "move", &slug, "--to", away.as_str(), "--batch", "1"]);
    until_move(&app, tenant.id, "copying", |p| {
        p["tables"]["projects"]["copied"].as_u64().unwrap_or(0) > 0
    })
    .await;
    let mut blocker = if postgres {
        Blocker::postgres(&app, &["LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE".to_owned()]).await
    } else {
        Blocker::sqlite(&app).await
    };
    blocker.until_waited_for(&mut mover).await;
    kill(mover);
    blocker.release().await;
    let status = app
        .owner
        .move_status(tenant.id)
        .await
        .expect("status")
        .expect("under way");
    assert_eq!(serde_json::to_value(status.state).expect("state"), "copying");
    assert_eq!(placement_of(&app, &slug).await, "shared", "served from the source");
    write(&app, &tenant, &mut made).await;
    let done = cli_again(&app, &["tenant", "move", &slug, "--drain-secs", "1"]).await;
    assert_eq!(done["to"]["placement"], away.as_str());
    assert_eq!(placement_of(&app, &slug).await, away.as_str());
    assert_eq!(rows_in_shared(&app, tenant.id).await, 0, "the old copy is gone");
    write_once_routed(&app, &tenant, &mut made, "a write just after the move").await;
    assert_eq!(
        rows_in_shared(&app, tenant.id).await,
        0,
        "a write after the move lands in the new place, never in the removed copy"
    );

    // Killed during the catch-up of 200 logged writes, then aborted: served
    // from where it is, the aborted copy dropped. PostgreSQL holds the mover
    // back at its first read of the log (the copy before it goes in batches
    // of 25, so a loaded machine reaches it soon); SQLite takes its lock
    // once the catch-up is under way, one change a batch.
    run_halted(&app, tenant.id, Placement::Shared, Halt::Copy).await;
    for _ in 0..200 {
        write(&app, &tenant, &mut made).await;
    }
    let blocker = if postgres {
        // The log of the source (the tenant's schema), which the catch-up reads.
        let schema: String = {
            use sea_orm::sqlx::{self, Connection};
            let mut conn = sqlx::PgConnection::connect(app.settings.database.url())
                .await
                .expect("connect");
            sqlx::query_scalar("SELECT location FROM tenants WHERE id = $1")
                .bind(tenant.id)
                .fetch_one(&mut conn)
                .await
                .expect("the schema")
        };
        Some(
            Blocker::postgres(
                &app,
                &[format!(
                    "LOCK TABLE \"{schema}\".tenant_changes IN ACCESS EXCLUSIVE MODE"
                )],
            )
            .await,
        )
    } else {
        None
    };
    let batch = if postgres { "25" } else { "1" };
    let mut mover = app.cli_spawn(&[], &["tenant", "move", &slug, "--batch", batch]);
    let mut blocker = match blocker {
        Some(blocker) => blocker,
        None => {
            until_move(&app, tenant.id, "catching_up", |_| true).await;
            Blocker::sqlite(&app).await
        }
    };
    blocker.until_waited_for(&mut mover).await;
    kill(mover);
    blocker.release().await;
    let status = app
        .owner
        .move_status(tenant.id)
        .await
        .expect("status")
        .expect("under way");
    assert_eq!(serde_json::to_value(status.state).expect("state"), "catching_up");
    write(&app, &tenant, &mut made).await;
    let aborted = cli_again(&app, &["tenant", "move", &slug, "--abort"]).await;
    assert_eq!(aborted["state"], "aborted");
    assert_eq!(placement_of(&app, &slug).await, away.as_str());
    assert_eq!(rows_in_shared(&app, tenant.id).await, 0, "the aborted copy is dropped");
    write(&app, &tenant, &mut made).await;

    // Killed during the switch: writes are refused (503) meanwhile and
    // after, until the move is run again; then they land in the new place.
    // PostgreSQL: the mover held back at its placement change (the tenant's
    // row locked). SQLite: stopped once the copy is verified (the source
    // refusing writes), then run again while the platform file's write lock
    // is held, and killed once it holds the tenant's move lock (so inside
    // its run, waiting for the file).
    let (mover, blocker) = if postgres {
        let mut blocker = Blocker::postgres(
            &app,
            &[format!(
                "SELECT 1 FROM tenants WHERE id = '{}' FOR NO KEY UPDATE",
                tenant.id
            )],
        )
        .await;
        let mut mover = app.cli_spawn(&[], &["tenant", "move", &slug, "--to", "shared"]);
        blocker.until_waited_for(&mut mover).await;
        until_move(&app, tenant.id, "switching", |_| true).await;
        let refused = app.post("/v1/projects", &tenant.key, json!({"name": "refused"})).await;
        assert_refused_well(&refused, "a write mid-switch");
        (mover, blocker)
    } else {
        run_halted(&app, tenant.id, Placement::Shared, Halt::Switch).await;
        let refused = app.post("/v1/projects", &tenant.key, json!({"name": "refused"})).await;
        assert_refused_well(&refused, "a write mid-switch");
        let blocker = Blocker::sqlite(&app).await;
        let mut mover = app.cli_spawn(&[], &["tenant", "move", &slug]);
        until_move_locked(&mut mover).await;
        (mover, blocker)
    };
    kill(mover);
    blocker.release().await;
    let status = app
        .owner
        .move_status(tenant.id)
        .await
        .expect("status")
        .expect("under way");
    assert_eq!(serde_json::to_value(status.state).expect("state"), "switching");
    let refused = app.post("/v1/projects", &tenant.key, json!({"name": "refused"})).await;
    assert_refused_well(&refused, "a write after the mover died mid-switch");
    app.get("/v1/projects?limit=5", &tenant.key).await.ok(200);
    let done = cli_again(&app, &["tenant", "move", &slug, "--drain-secs", "1"]).await;
    assert_eq!(done["to"]["placement"], "shared");
    assert_eq!(placement_of(&app, &slug).await, "shared");
    write_once_routed(&app, &tenant, &mut made, "a write just after the switch").await;

    let found = projects(&app, &tenant.key).await;
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), expected, "every write, once");
    assert_eq!(
        app.read_all(&tasks, &tenant.key, 100).await.len(),
        20,
        "every task, once"
    );
}

async fn a_second_instance_routes_to_the_new_place_within_a_second(app: TestApp) {
    let tenant = app.tenant_in("routed", Placement::Shared).await;
    app.project(&tenant.key, "before").await;
    let sibling = app.sibling().await;
    let post = || {
        app.send(
            with_credential(app.http.post(format!("{}/v1/projects", sibling.base)), &tenant.key)
                .json(&json!({"name": "through the second instance"})),
        )
    };
    post().await.ok(201);
    let switched = std::sync::Arc::new(Mutex::new(None::<Instant>));
    let seen = switched.clone();
    let report = app
        .owner
        .move_tenant(
            tenant.id,
            MoveRequest {
                keep_source: true,
                ..request(Some(tour(&app)[0]))
            },
            &|_| {},
            &move |_| {
                *seen.lock().expect("lock") = Some(Instant::now());
                Box::pin(async {})
            },
        )
        .await
        .expect("switched");
    assert_eq!(report.source, "kept");
    let at = switched.lock().expect("lock").expect("the switch was announced");
    // The old copy refuses writes, so a write taken proves the second
    // instance routes to the new place.
    loop {
        let resp = post().await;
        if resp.status == 201 {
            break;
        }
        assert_refused_well(&resp, "a write on the second instance");
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the second instance still routes to the old copy after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // `tenant move` again finishes it: the old copy goes.
    let done = run(&app, tenant.id, request(None)).await.expect("finished");
    assert_eq!(done.source, "removed");
    assert_eq!(rows_in_shared(&app, tenant.id).await, 0);
    assert_eq!(projects(&app, &tenant.key).await.len(), 3);
}

fn json_of(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "the command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// `tenant move` from the command line: a summary as JSON and progress on
/// stderr; a kept move shown once by `tenant show` and `migrate status`;
/// `--abort` moving it back; bad requests refused with exit 2 or 1.
async fn the_command_moves_shows_and_aborts(app: TestApp) {
    let tenant = app.tenant_in("by-hand", Placement::Shared).await;
    for n in 0..5 {
        app.project(&tenant.key, &format!("p{n}")).await;
    }
    let away = tour(&app)[0].as_str();
    let slug = tenant.slug.as_str();
    let moved = app.cli(
        &[
            "tenant",
            "move",
            slug,
            "--to",
            away,
            "--keep-source",
            "--drain-secs",
            "1",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&moved.stderr).to_string();
    let report = json_of(&moved);
    assert_eq!(report["to"]["placement"], away);
    assert_eq!(report["source"], "kept");
    assert_eq!(report["rows_copied"], 5);
    assert!(report["write_pause_ms"].as_u64().is_some(), "{report}");
    assert!(stderr.contains("switched: writes paused for"), "{stderr}");

    let shown = json_of(&app.cli(&["tenant", "show", slug], ""));
    assert_eq!(shown["placement"], away);
    assert_eq!(shown["move"]["state"], "switched");
    let status = json_of(&app.cli(&["migrate", "status"], ""));
    let moving = status["moving"].as_array().cloned().unwrap_or_default();
    assert_eq!(moving.len(), 1, "{status}");
    assert_eq!(moving[0]["tenant"], tenant.id.to_string());

    // Another destination while one is under way, or a move to where it is:
    // refused, nothing changed.
    let refused = app.cli(&["tenant", "move", slug, "--to", "shared"], "");
    assert!(!refused.status.success());
    let again = app.cli(&["tenant", "delete", slug], "");
    assert_eq!(again.status.code(), Some(2), "a tenant mid-move is not deleted");

    let back = json_of(&app.cli(&["tenant", "move", slug, "--abort", "--drain-secs", "1"], ""));
    assert_eq!(back["reversed"], true);
    let shown = json_of(&app.cli(&["tenant", "show", slug], ""));
    assert_eq!(shown["placement"], "shared");
    assert!(shown.get("move").is_none(), "{shown}");
    let same = app.cli(&["tenant", "move", slug, "--to", "shared"], "");
    assert!(!same.status.success(), "already there");
    assert_eq!(projects(&app, &tenant.key).await.len(), 5);
}
