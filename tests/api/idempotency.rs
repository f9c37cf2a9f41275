//! Idempotency keys: a retry with the same key and request gets the first
//! success again (`Idempotent-Replayed: true`) and changes nothing more; the
//! same key with another request is a 422; a failure stores nothing; a key
//! belongs to the credential that sent it, and a stored secret is sealed;
//! many identical requests at once make one effect. On both backends and
//! in every placement (the records live with the tenant's data, or beside
//! the platform's for the operations that write there).

use serde_json::{Value, json};

use crate::support::{Resp, TestApp, with_credential};

crate::backends!(
    a_retry_gets_the_first_answer_and_changes_nothing,
    a_key_is_the_credentials_and_a_stored_secret_is_sealed,
    identical_requests_at_once_make_one_effect,
);

async fn with_key(app: &TestApp, method: &str, path: &str, credential: &str, key: &str, body: Option<&Value>) -> Resp {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = with_credential(app.http.request(method, app.url(path)), credential).header("Idempotency-Key", key);
    if let Some(body) = body {
        req = req.json(body);
    }
    app.send(req).await
}

fn replayed(resp: &Resp) -> bool {
    resp.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

async fn project_count(app: &TestApp, key: &str) -> usize {
    let page = app.get("/v1/projects?limit=100", key).await;
    page.ok(200)["items"].as_array().map_or(0, Vec::len)
}

/// Create, update and delete, each sent twice with its key: the second is
/// the first's answer, marked, and nothing happens twice. Another body
/// with a used key is refused; a refused or failed request stores nothing,
/// so its key works once the request is right; a malformed key is a 400.
async fn a_retry_gets_the_first_answer_and_changes_nothing(app: TestApp) {
    let t = app.tenant("retries").await;
    let body = json!({"name": "Apollo"});
    let first = with_key(&app, "POST", "/v1/projects", &t.key, "create-1", Some(&body)).await;
    first.ok(201);
    assert!(!replayed(&first));
    let again = with_key(&app, "POST", "/v1/projects", &t.key, "create-1", Some(&body)).await;
    again.ok(201);
    assert!(replayed(&again), "{:?}", again.headers);
    assert_eq!(again.body, first.body, "the same answer, byte for byte");
    assert_eq!(
        again.headers.get("location"),
        first.headers.get("location"),
        "and its Location"
    );
    assert_eq!(project_count(&app, &t.key).await, 1);
    // Without the key, the same request is a request of its own.
    app.post("/v1/projects", &t.key, body.clone()).await.ok(201);
    assert_eq!(project_count(&app, &t.key).await, 2);

    // The same key for another request.
    let other = with_key(
        &app,
        "POST",
        "/v1/projects",
        &t.key,
        "create-1",
        Some(&json!({"name": "Gemini"})),
    )
    .await;
    other.problem(422, "idempotency_key_reused");
    let elsewhere = with_key(
        &app,
        "PATCH",
        &format!("/v1/projects/{}", first.body["id"].as_str().unwrap_or_default()),
        &t.key,
        "create-1",
        Some(&body),
    )
    .await;
    elsewhere.problem(422, "idempotency_key_reused");

    // A failure stores nothing: the key is free for the corrected request.
    let bad = with_key(
        &app,
        "POST",
        "/v1/projects",
        &t.key,
        "create-2",
        Some(&json!({"name": ""})),
    )
    .await;
    bad.problem(422, "validation_failed");
    let good = with_key(
        &app,
        "POST",
        "/v1/projects",
        &t.key,
        "create-2",
        Some(&json!({"name": "Mercury"})),
    )
    .await;
    good.ok(201);
    assert!(!replayed(&good));
    let missing = with_key(
        &app,
        "DELETE",
        "/v1/projects/0190f5a4-0000-7000-8000-000000000000",
        &t.key,
        "delete-0",
        None,
    )
    .await;
    missing.problem(404, "not_found");
    assert_eq!(project_count(&app, &t.key).await, 3);

    // An update and a delete, twice each.
    let id = first.body["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/v1/projects/{id}");
    let patch = json!({"description": "to the moon"});
    let updated = with_key(&app, "PATCH", &path, &t.key, "update-1", Some(&patch)).await;
    updated.ok(200);
    let updated_again = with_key(&app, "PATCH", &path, &t.key, "update-1", Some(&patch)).await;
    assert!(replayed(&updated_again));
    assert_eq!(
        updated_again.body, updated.body,
        "not a second update (its updated_at would differ)"
    );
    let deleted = with_key(&app, "DELETE", &path, &t.key, "delete-1", None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let deleted_again = with_key(&app, "DELETE", &path, &t.key, "delete-1", None).await;
    assert_eq!(
        deleted_again.status, 204,
        "the delete's answer, not a 404: {}",
        deleted_again.body
    );
    assert!(replayed(&deleted_again));
    app.get(&path, &t.key).await.problem(404, "not_found");

    // Malformed keys, after the credential is checked.
    for key in [String::new(), "x".repeat(256), "tab\tkey".to_owned()] {
        let req = with_credential(app.http.post(app.url("/v1/projects")), &t.key)
            .header("Idempotency-Key", key.as_str())
            .json(&body);
        app.send(req).await.problem(400, "bad_request");
    }
    let req = app
        .http
        .post(app.url("/v1/projects"))
        .header("Idempotency-Key", "")
        .json(&body);
    app.send(req).await.problem(401, "unauthenticated");
    // A key expires after 24 hours: then it is a new request.
    app.clock.advance(chrono::Duration::hours(25));
    let later = with_key(&app, "POST", "/v1/projects", &t.key, "create-1", Some(&body)).await;
    later.ok(201);
    assert!(!replayed(&later));
    assert_ne!(later.body["id"], first.body["id"]);
}

/// Keys, and the operations that write the platform set: a key made with
/// an idempotency key is made once, its answer (with the secret) comes back
/// to the credential that made it and is sealed where it is kept; another
/// credential of the tenant sending the same key makes a key of its own
/// and never sees the first one's secret. A revocation replays too.
async fn a_key_is_the_credentials_and_a_stored_secret_is_sealed(app: TestApp) {
    let t = app.tenant("sealed").await;
    let person = app.person_in(&t.slug, tenantry::access::Role::Admin).await;
    let body = json!({"name": "deploy", "scopes": ["projects:read"]});
    let made = with_key(&app, "POST", "/v1/api-keys", &t.key, "key-1", Some(&body)).await;
    made.ok(201);
    let secret = made.body["key"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("tnt_"), "{}", made.body);
    let again = with_key(&app, "POST", "/v1/api-keys", &t.key, "key-1", Some(&body)).await;
    assert!(replayed(&again));
    assert_eq!(again.body["key"], secret.as_str());

    let theirs = with_key(&app, "POST", "/v1/api-keys", &person.access, "key-1", Some(&body)).await;
    theirs.ok(201);
    assert!(!replayed(&theirs), "another credential's request is its own");
    assert_ne!(theirs.body["key"], secret.as_str());
    assert_ne!(theirs.body["id"], made.body["id"]);
    let listed = app.get("/v1/api-keys?limit=100", &t.key).await;
    assert_eq!(
        listed.ok(200)["items"].as_array().map_or(0, Vec::len),
        3,
        "the tenant's key and two made"
    );

    // What is kept holds no secret.
    let kept = stored_bodies(&app).await;
    assert!(!kept.is_empty(), "the answers are kept");
    for body in &kept {
        assert!(
            !body.contains(&secret) && !body.contains("tnt_"),
            "a sealed answer: {body}"
        );
    }

    let id = made.body["id"].as_str().unwrap_or_default().to_owned();
    let revoked = with_key(&app, "DELETE", &format!("/v1/api-keys/{id}"), &t.key, "revoke-1", None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let revoked_again = with_key(&app, "DELETE", &format!("/v1/api-keys/{id}"), &t.key, "revoke-1", None).await;
    assert_eq!(revoked_again.status, 204);
    assert!(replayed(&revoked_again));
    app.get("/v1/projects", &secret).await.problem(401, "unauthenticated");
}

/// The bodies of every stored answer, in the platform's database (where
/// the key operations keep theirs in every placement).
async fn stored_bodies(app: &TestApp) -> Vec<String> {
    use sea_orm::sqlx::{self, Connection};
    let url = app.settings.database.url();
    let sql = "SELECT body FROM platform_idempotency_keys";
    if app.settings.is_sqlite() {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("bodies")
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("bodies")
    }
}

/// 1,000 keys, each sent by 10 identical requests at once: exactly one
/// project a key, and every success for a key has the same body. On
/// PostgreSQL a request that meets its key in use is a 409 with
/// `Retry-After: 1`; on SQLite it waits for the first and replays.
async fn identical_requests_at_once_make_one_effect(app: TestApp) {
    const KEYS: usize = 1000;
    const EACH: usize = 10;
    let t = app.tenant("storm").await;
    let app = std::sync::Arc::new(app);
    let mut bodies: Vec<Vec<Value>> = Vec::new();
    let mut in_progress = 0;
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(20) {
        let mut tasks = Vec::new();
        for &k in chunk {
            for _ in 0..EACH {
                let (app, key) = (app.clone(), t.key.clone());
                tasks.push(tokio::spawn(async move {
                    let body = json!({"name": format!("project {k}")});
                    let resp = with_key(&app, "POST", "/v1/projects", &key, &format!("storm-{k}"), Some(&body)).await;
                    (k, resp)
                }));
            }
        }
        let mut per_key: std::collections::BTreeMap<usize, Vec<Value>> = Default::default();
        for task in tasks {
            let (k, resp) = task.await.expect("the request ran");
            match resp.status {
                201 => per_key.entry(k).or_default().push(resp.body),
                409 => {
                    resp.problem(409, "idempotency_in_progress");
                    assert_eq!(resp.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
                    in_progress += 1;
                }
                other => panic!("{other}: {}", resp.body),
            }
        }
        bodies.extend(per_key.into_values());
    }
    if app.settings.is_sqlite() {
        assert_eq!(in_progress, 0, "SQLite serializes them: each waits, then replays");
    }
    assert_eq!(bodies.len(), KEYS, "every key had a success");
    for answers in &bodies {
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "one answer a key: {answers:?}"
        );
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/projects?limit=100&cursor={c}"),
            None => "/v1/projects?limit=100".to_owned(),
        };
        let page = app.get(&path, &t.key).await;
        let page = page.ok(200);
        for item in page["items"].as_array().into_iter().flatten() {
            ids.insert(item["id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), KEYS, "exactly one project a key");
}

/// On PostgreSQL a request whose key is held by a running request is
/// answered at once: `409` `idempotency_in_progress`, `Retry-After: 1`, and
/// nothing written; once the first ends, the key is free.
#[tokio::test]
async fn a_key_in_use_is_a_409_on_postgres() {
    use sea_orm::sqlx::{self, Connection};
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let t = app.tenant("held").await;
    let actor = tenantry::access::Actor::ApiKey { id: t.key_id };
    let record = tenantry::api::idempotency::record_id(&app.state.keys, t.id, actor, b"held-1").expect("a record");
    let lock = i64::from_be_bytes(record.as_bytes()[..8].try_into().expect("8 bytes"));
    // The lock a running request with the key holds, held here instead.
    let mut holder = sqlx::PgConnection::connect(app.settings.database.url())
        .await
        .expect("connect");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut holder)
        .await
        .expect("locked");
    let body = json!({"name": "Held"});
    let busy = with_key(&app, "POST", "/v1/projects", &t.key, "held-1", Some(&body)).await;
    busy.problem(409, "idempotency_in_progress");
    assert_eq!(busy.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(project_count(&app, &t.key).await, 0, "nothing written");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut holder)
        .await
        .expect("unlocked");
    with_key(&app, "POST", "/v1/projects", &t.key, "held-1", Some(&body))
        .await
        .ok(201);
    assert_eq!(project_count(&app, &t.key).await, 1);
}
