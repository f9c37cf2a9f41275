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
use crate::support::{TestApp, TestTenant, with_credential};

both_backends!(
    a_tenant_moves_and_back_under_load_with_no_write_lost,
    a_stopped_move_resumes_or_aborts_with_nothing_lost,
    a_second_instance_routes_to_the_new_place_within_a_second,
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
    use sea_orm::sqlx::{self, Connection};
    if app.settings.is_sqlite() {
        let mut conn = sqlx::SqliteConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::query_scalar("SELECT count(*) FROM projects WHERE tenant_id = ?1")
            .bind(tenant)
            .fetch_one(&mut conn)
            .await
            .expect("count")
    } else {
        let mut conn = sqlx::PgConnection::connect(app.settings.database.url())
            .await
            .expect("connect");
        sqlx::query_scalar("SELECT count(*) FROM public.projects WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut conn)
            .await
            .expect("count")
    }
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
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let resp = app.post("/v1/projects", &tenant.key, json!({"name": "after"})).await;
        if resp.status == 201 {
            made.push(resp.body["id"].as_str().unwrap_or_default().to_owned());
            break;
        }
        assert_refused_well(&resp, "a write just after the switch");
        assert!(Instant::now() < deadline, "the instance still routes to the old copy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    write(&app, &tenant, &mut made).await;
    let back = abort(&app, tenant.id).await;
    assert!(back.reversed, "a move back");
    assert_eq!(placement_of(&app, &tenant.slug).await, "shared");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let resp = app.post("/v1/projects", &tenant.key, json!({"name": "home"})).await;
        if resp.status == 201 {
            made.push(resp.body["id"].as_str().unwrap_or_default().to_owned());
            break;
        }
        assert_refused_well(&resp, "a write just after the move back");
        assert!(Instant::now() < deadline, "the instance still routes away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let found = projects(&app, &tenant.key).await;
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), expected, "every write, once");
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
