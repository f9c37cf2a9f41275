//! API-key lookups cached across instances: with Redis, revocations are
//! broadcast and entries live longer, but only while each instance hears its
//! own heartbeat; without Redis (or with Redis away) entries live 1 s.

use std::time::{Duration, Instant};

use tenantry::access::{Principal, Scopes};
use tenantry::app::AppState;
use tenantry::auth::api_key;
use tenantry::clock::Clock;
use tenantry::domain::api_keys;

use crate::support::{Resp, TestApp, redis_settings};

/// Each test on SQLite and on PostgreSQL, with the settings `$settings` gives.
macro_rules! with_settings {
    ($settings:expr => $($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let extra: Vec<(&str, String)> = $settings.await;
                let app = $crate::support::TestApp::spawn_sqlite_with(&extra).await;
                super::$name(app).await;
            }

            #[tokio::test]
            async fn postgres() {
                let extra: Vec<(&str, String)> = $settings.await;
                let Some(app) = $crate::support::TestApp::spawn_postgres_with(&extra).await else { return };
                super::$name(app).await;
            }
        }
    )*};
}

with_settings!(redis_settings(60_000) =>
    with_redis_entries_outlive_a_second_and_a_revocation_reaches_every_instance_within_one,
    with_redis_a_deleted_tenants_keys_stop_working_everywhere,
);

with_settings!(unreachable_redis() =>
    with_redis_away_entries_live_one_second,
);

async fn unreachable_redis() -> Vec<(&'static str, String)> {
    vec![
        // Nothing listens on the discard port.
        ("REDIS_URL", "redis://127.0.0.1:9".to_owned()),
        ("TENANTRY_KEY_CACHE_TTL_MS", "60000".to_owned()),
    ]
}

/// Waits (up to 5 s) until `state` hears its own heartbeat.
async fn until_heard(state: &AppState) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.key_cache.hears_revocations(Instant::now()) {
        assert!(Instant::now() < deadline, "the instance never heard its own heartbeat");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /v1/projects` on the instance at `base` with `key`.
async fn projects_on(app: &TestApp, base: &str, key: &str) -> Resp {
    app.send(app.http.get(format!("{base}/v1/projects")).header("X-API-Key", key))
        .await
}

/// Asks `base` with `key` until it refuses it; how long that took.
async fn until_refused(app: &TestApp, base: &str, key: &str) -> Duration {
    let start = Instant::now();
    loop {
        let resp = projects_on(app, base, key).await;
        if resp.status == 401 {
            return start.elapsed();
        }
        resp.ok(200);
        assert!(start.elapsed() < Duration::from_secs(5), "the key was never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn with_redis_entries_outlive_a_second_and_a_revocation_reaches_every_instance_within_one(app: TestApp) {
    let b = app.sibling().await;
    until_heard(&app.state).await;
    until_heard(&b.state).await;
    let t = app.tenant("acme").await;
    let (key, id) = app.key(t.id, Scopes::all(), None).await;
    let on_b = || projects_on(&app, &b.base, &key);
    on_b().await.ok(200);

    // Revoked behind every instance's back (straight in the database, no
    // broadcast), the key still works on B from its cache 30 s later: the
    // longer lifetime is in force while revocations are heard.
    let hash = api_key::digest(&b.state.keys.api_key, &key);
    let owner = app.owner.scoped(&Principal::operator(t.id).authenticated());
    let _unapplied = api_keys::revoke(&owner, app.clock.now(), id, Scopes::all())
        .await
        .expect("revoked in the database");
    b.clock.advance(chrono::Duration::seconds(30));
    assert!(b.state.key_cache.get(&hash, b.clock.now()).is_some(), "cached on B");
    on_b().await.ok(200);

    // Another key, revoked through A: refused on A at once, and on B as soon
    // as the broadcast arrives, well within 1 s.
    let (second, second_id) = app.key(t.id, Scopes::all(), None).await;
    projects_on(&app, &b.base, &second).await.ok(200);
    app.delete(&format!("/v1/api-keys/{second_id}"), &t.key).await.ok(204);
    app.get("/v1/projects", &second).await.problem(401, "unauthenticated");
    let took = until_refused(&app, &b.base, &second).await;
    assert!(took < Duration::from_secs(1), "B refused the key after {took:?}");
}

async fn with_redis_a_deleted_tenants_keys_stop_working_everywhere(app: TestApp) {
    let b = app.sibling().await;
    until_heard(&app.state).await;
    until_heard(&b.state).await;
    let owner = app.signup("ada").await;
    let (key, _) = app.key(owner.tenant_id, Scopes::all(), None).await;
    app.get("/v1/projects", &key).await.ok(200);
    projects_on(&app, &b.base, &key).await.ok(200);
    app.call("DELETE", "/v1/tenant", Some(&owner.access), None)
        .await
        .ok(204);
    app.get("/v1/projects", &key).await.problem(401, "unauthenticated");
    let took = until_refused(&app, &b.base, &key).await;
    assert!(took < Duration::from_secs(1), "B refused the key after {took:?}");
}

async fn with_redis_away_entries_live_one_second(app: TestApp) {
    // The server starts without Redis and keeps the 1 s bound.
    let b = app.sibling().await;
    assert!(!b.state.key_cache.hears_revocations(Instant::now()));
    let t = app.tenant("acme").await;
    let (key, id) = app.key(t.id, Scopes::all(), None).await;
    let on_b = || projects_on(&app, &b.base, &key);
    on_b().await.ok(200);
    app.delete(&format!("/v1/api-keys/{id}"), &t.key).await.ok(204);
    app.get("/v1/projects", &key).await.problem(401, "unauthenticated");
    b.clock.advance(chrono::Duration::milliseconds(999));
    on_b().await.ok(200);
    b.clock.advance(chrono::Duration::milliseconds(1));
    on_b().await.problem(401, "unauthenticated");
}
