use serde_json::json;
use tenantry::access::Scope;

use crate::backends;
use crate::support::TestApp;

backends!(
    every_kind_of_bad_key_is_a_401,
    expired_and_revoked_keys_stop_working_at_once,
    a_key_without_the_scope_gets_a_403,
    keys_created_through_the_api_hold_at_most_the_creators_scopes,
    introspection_names_the_tenant_scopes_and_expiry,
    last_use_is_recorded_in_batches,
    a_revocation_reaches_other_instances_within_the_cache_ttl,
);

async fn every_kind_of_bad_key_is_a_401(app: TestApp) {
    let t = app.tenant("acme").await;
    app.call("GET", "/v1/projects", None, None)
        .await
        .problem(401, "unauthenticated");
    let mut bad_checksum = t.key.clone().into_bytes();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] = if bad_checksum[last] == b'a' { b'b' } else { b'a' };
    let bad_checksum = String::from_utf8(bad_checksum).unwrap_or_default();
    let unknown = tenantry::auth::api_key::generate().secret;
    for key in [
        "",
        "nope",
        "tnt_",
        &format!("{}x", t.key),
        &t.key[..t.key.len() - 1],
        &bad_checksum,
        &unknown,
    ] {
        let r = app.call("GET", "/v1/projects", Some(key), None).await;
        r.problem(401, "unauthenticated");
        assert!(r.headers.contains_key("www-authenticate"));
    }
    app.get("/v1/projects", &t.key).await.ok(200);
}

async fn expired_and_revoked_keys_stop_working_at_once(app: TestApp) {
    let t = app.tenant("acme").await;
    let (expiring, _) = app.key(t.id, tenantry::access::Scopes::all(), Some(1)).await;
    app.get("/v1/projects", &expiring).await.ok(200);
    app.clock.advance(chrono::Duration::hours(23));
    app.get("/v1/projects", &expiring).await.ok(200);
    app.clock.advance(chrono::Duration::hours(1));
    app.get("/v1/projects", &expiring).await.problem(401, "unauthenticated");

    let (doomed, doomed_id) = app.key(t.id, tenantry::access::Scopes::all(), None).await;
    app.get("/v1/projects", &doomed).await.ok(200);
    app.delete(&format!("/v1/api-keys/{doomed_id}"), &t.key).await.ok(204);
    app.get("/v1/projects", &doomed).await.problem(401, "unauthenticated");
    app.delete(&format!("/v1/api-keys/{doomed_id}"), &t.key)
        .await
        .problem(404, "not_found");
    // A key can revoke itself; its next request fails.
    app.delete(&format!("/v1/api-keys/{}", t.key_id), &t.key).await.ok(204);
    app.get("/v1/projects", &t.key).await.problem(401, "unauthenticated");
}

async fn a_key_without_the_scope_gets_a_403(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let task = app.task(&t.key, &p, json!({"title": "x"})).await;
    let pid = p["id"].as_str().unwrap_or_default();
    let tid = task["id"].as_str().unwrap_or_default();
    let cases: Vec<(&str, String, Option<serde_json::Value>, Scope)> = vec![
        ("GET", "/v1/projects".into(), None, Scope::ProjectsRead),
        ("GET", format!("/v1/projects/{pid}"), None, Scope::ProjectsRead),
        (
            "POST",
            "/v1/projects".into(),
            Some(json!({"name": "n"})),
            Scope::ProjectsWrite,
        ),
        (
            "PATCH",
            format!("/v1/projects/{pid}"),
            Some(json!({"name": "n"})),
            Scope::ProjectsWrite,
        ),
        ("DELETE", format!("/v1/projects/{pid}"), None, Scope::ProjectsWrite),
        ("GET", "/v1/tasks".into(), None, Scope::TasksRead),
        ("GET", format!("/v1/projects/{pid}/tasks"), None, Scope::TasksRead),
        ("GET", format!("/v1/tasks/{tid}"), None, Scope::TasksRead),
        (
            "POST",
            format!("/v1/projects/{pid}/tasks"),
            Some(json!({"title": "t"})),
            Scope::TasksWrite,
        ),
        (
            "PATCH",
            format!("/v1/tasks/{tid}"),
            Some(json!({"title": "t"})),
            Scope::TasksWrite,
        ),
        ("DELETE", format!("/v1/tasks/{tid}"), None, Scope::TasksWrite),
        ("GET", "/v1/api-keys".into(), None, Scope::ApiKeysManage),
        ("POST", "/v1/api-keys".into(), Some(json!({})), Scope::ApiKeysManage),
        (
            "DELETE",
            format!("/v1/api-keys/{}", t.key_id),
            None,
            Scope::ApiKeysManage,
        ),
    ];
    for (method, path, body, needed) in &cases {
        let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| s != needed).collect();
        let key = app.key_with(&t, &others).await;
        let r = app.call(method, path, Some(&key), body.as_ref()).await;
        r.problem(403, "forbidden");
        assert!(
            r.body["detail"].as_str().unwrap_or_default().contains(needed.as_str()),
            "{method} {path}: {}",
            r.body
        );
    }
    // Every credential may read its tenant and introspect itself.
    let bare = app.key_with(&t, &[Scope::TasksRead]).await;
    app.get("/v1/tenant", &bare).await.ok(200);
    app.get("/v1/api-keys/current", &bare).await.ok(200);
    // Nothing was changed by the refused calls.
    app.get(&format!("/v1/projects/{pid}"), &t.key).await.ok(200);
    app.get(&format!("/v1/tasks/{tid}"), &t.key).await.ok(200);
}

async fn keys_created_through_the_api_hold_at_most_the_creators_scopes(app: TestApp) {
    let t = app.tenant("acme").await;
    let created = app
        .post(
            "/v1/api-keys",
            &t.key,
            json!({"name": "ci", "scopes": ["projects:read"], "expires_in_days": 30}),
        )
        .await
        .ok(201)
        .clone();
    let secret = created["key"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("tnt_") && secret.starts_with(created["prefix"].as_str().unwrap_or("-")));
    assert_eq!(created["scopes"], json!(["projects:read"]));
    assert!(created["expires_at"].is_string());
    app.get("/v1/projects", &secret).await.ok(200);
    app.post("/v1/projects", &secret, json!({"name": "x"}))
        .await
        .problem(403, "forbidden");

    // Stored only as a keyed hash.
    let id: uuid::Uuid = created["id"].as_str().unwrap_or_default().parse().expect("uuid");
    let operator = tenantry::access::Principal::operator(t.id);
    let stored = tenantry::domain::api_keys::get(&app.owner.scoped(&operator.authenticated()), id)
        .await
        .expect("stored");
    assert_eq!(stored.key_hash.len(), 64);
    assert!(!stored.key_hash.contains(&secret[4..]) && stored.prefix.len() < 16);

    // Listing never shows a secret.
    let list = app.get("/v1/api-keys", &t.key).await.ok(200).clone();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert!(!list.to_string().contains(&secret));
    assert!(
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|k| k.get("key").is_none())
    );

    let manager = app.key_with(&t, &[Scope::ApiKeysManage, Scope::TasksRead]).await;
    let r = app
        .post(
            "/v1/api-keys",
            &manager,
            json!({"scopes": ["tasks:read", "tasks:write"]}),
        )
        .await;
    r.problem(403, "forbidden");
    let inherited = app.post("/v1/api-keys", &manager, json!({})).await.ok(201).clone();
    assert_eq!(inherited["scopes"], json!(["tasks:read", "api_keys:manage"]));
    assert_eq!(inherited["name"], "API key");
    assert!(inherited["expires_at"].is_null());

    let r = app
        .post(
            "/v1/api-keys",
            &t.key,
            json!({"name": "", "expires_in_days": 731, "scopes": []}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["expires_in_days", "name", "scopes"]);
    app.post("/v1/api-keys", &t.key, json!({"expires_in_days": 0}))
        .await
        .problem(422, "validation_failed");
    app.post("/v1/api-keys", &t.key, json!({"scopes": ["root"]}))
        .await
        .problem(400, "bad_request");
    let list = app.get("/v1/api-keys?limit=100", &t.key).await.ok(200).clone();
    // The tenant's key, "ci", the manager's and the inherited one.
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(4),
        "refused requests created nothing"
    );
}

async fn introspection_names_the_tenant_scopes_and_expiry(app: TestApp) {
    let t = app.tenant("acme").await;
    let (key, id) = app
        .key(
            t.id,
            [Scope::TasksRead, Scope::ProjectsRead].into_iter().collect(),
            Some(10),
        )
        .await;
    let me = app.get("/v1/api-keys/current", &key).await.ok(200).clone();
    assert_eq!(me["api_key"]["id"], id.to_string());
    assert_eq!(me["api_key"]["scopes"], json!(["projects:read", "tasks:read"]));
    assert!(me["api_key"]["expires_at"].is_string());
    assert_eq!(me["tenant"]["id"], t.id.to_string());
    assert_eq!(me["tenant"]["slug"], t.slug);
    let tenant = app.get("/v1/tenant", &key).await.ok(200).clone();
    assert_eq!(tenant, me["tenant"]);
}

async fn last_use_is_recorded_in_batches(app: TestApp) {
    let t = app.tenant("acme").await;
    let listed = app.get("/v1/api-keys", &t.key).await.ok(200).clone();
    app.state.flush_key_usage().await;
    let before = app.get("/v1/api-keys", &t.key).await.ok(200).clone();
    let used = before["items"][0]["last_used_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!used.is_empty(), "flushed use recorded: {before}");
    assert!(listed["items"][0]["last_used_at"].is_null(), "not written per request");
    app.clock.advance(chrono::Duration::minutes(5));
    app.get("/v1/projects", &t.key).await.ok(200);
    // Several tenants' uses are flushed together, each to its own key.
    let others = [app.tenant("globex").await, app.tenant("initech").await];
    for other in &others {
        app.get("/v1/projects", &other.key).await.ok(200);
    }
    app.state.flush_key_usage().await;
    let after = app.get("/v1/api-keys", &t.key).await.ok(200).clone();
    let later = after["items"][0]["last_used_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(later > used, "{later} after {used}");
    for other in &others {
        let keys = app.get("/v1/api-keys", &other.key).await.ok(200).clone();
        assert_eq!(keys["items"].as_array().map(Vec::len), Some(1), "{keys}");
        assert_eq!(keys["items"][0]["last_used_at"], later.as_str(), "{keys}");
    }
    // A flush of an older use never moves a value back.
    app.clock.advance(chrono::Duration::minutes(-10));
    app.get("/v1/projects", &t.key).await.ok(200);
    app.state.flush_key_usage().await;
    app.clock.advance(chrono::Duration::minutes(10));
    let kept = app.get("/v1/api-keys", &t.key).await.ok(200).clone();
    assert!(kept["items"][0]["last_used_at"].as_str().unwrap_or_default() >= later.as_str());
}

async fn a_revocation_reaches_other_instances_within_the_cache_ttl(app: TestApp) {
    let t = app.tenant("acme").await;
    let (key, id) = app.key(t.id, tenantry::access::Scopes::all(), None).await;
    let b = app.sibling().await;
    let on_b = || {
        app.send(
            app.http
                .get(format!("{}/v1/projects", b.base))
                .header("X-API-Key", &key),
        )
    };
    // B looks the key up and caches it.
    on_b().await.ok(200);
    app.get("/v1/projects", &key).await.ok(200);
    app.delete(&format!("/v1/api-keys/{id}"), &t.key).await.ok(204);
    // At once on the instance that revoked it.
    app.get("/v1/projects", &key).await.problem(401, "unauthenticated");
    // Elsewhere, for at most the cache's lifetime (1 s by default).
    b.clock.advance(chrono::Duration::milliseconds(999));
    on_b().await.ok(200);
    b.clock.advance(chrono::Duration::milliseconds(1));
    on_b().await.problem(401, "unauthenticated");
}
