//! The status-code rule, checked from the outside: 404 route, 405 method,
//! 415 content type, 413 size, then 401 credential before anything is
//! parsed, 400 unparseable, 422 rule-breaking, 403 scope, 404 missing.
//! Every answer is problem+json and a failed request writes nothing.

use futures_util::stream;
use serde_json::json;

use crate::backends;
use crate::support::TestApp;

backends!(
    errors_before_a_handler_are_problem_json_in_rule_order,
    bodies_over_the_limit_are_413_also_when_chunked,
    malformed_requests_are_400s,
    the_credential_is_checked_before_the_body_or_parameters,
    docs_spec_and_probes_are_served,
);

async fn errors_before_a_handler_are_problem_json_in_rule_order(app: TestApp) {
    let t = app.tenant("acme").await;
    app.call("GET", "/v1/nothing-here", Some(&t.key), None)
        .await
        .problem(404, "route_not_found");
    app.call("GET", "/nope", None, None)
        .await
        .problem(404, "route_not_found");
    // Unknown route wins over a bad content type.
    let r = app
        .send(
            app.http
                .post(app.url("/v1/nothing"))
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    r.problem(404, "route_not_found");
    app.call("PUT", "/v1/projects", Some(&t.key), None)
        .await
        .problem(405, "method_not_allowed");
    app.call("POST", "/v1/tenant", None, Some(&json!({})))
        .await
        .problem(405, "method_not_allowed");
    // 415 before 401: no key, wrong type.
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("content-type", "text/plain")
                .body("name=x"),
        )
        .await;
    r.problem(415, "unsupported_media_type");
    let r = app
        .send(app.http.post(app.url("/v1/projects")).body("{\"name\":\"x\"}"))
        .await;
    r.problem(415, "unsupported_media_type");
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", &t.key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=x"),
        )
        .await;
    r.problem(415, "unsupported_media_type");
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", &t.key)
                .header("content-type", "application/json; charset=utf-8")
                .body("{\"name\":\"ok\"}"),
        )
        .await;
    r.ok(201);
    assert_eq!(app.read_all("/v1/projects", &t.key, 100).await.len(), 1);
}

async fn bodies_over_the_limit_are_413_also_when_chunked(app: TestApp) {
    let t = app.tenant("acme").await;
    let limit = app.settings.limits.max_body_bytes;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(limit));
    // Content-Length over the limit: 413 before the credential is looked at.
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
    r.problem(413, "payload_too_large");
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", &t.key)
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
    r.problem(413, "payload_too_large");
    // Chunked, no length: counted while it streams.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.as_bytes().chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", &t.key)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(stream::iter(chunks))),
        )
        .await;
    r.problem(413, "payload_too_large");
    // A chunked body under the limit is fine.
    let small: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(b"{\"name\":".to_vec()), Ok(b"\"chunked\"}".to_vec())];
    let r = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", &t.key)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(stream::iter(small))),
        )
        .await;
    r.ok(201);
    assert_eq!(
        app.read_all("/v1/projects", &t.key, 100).await.len(),
        1,
        "only the small body was written"
    );
}

async fn malformed_requests_are_400s(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap_or_default());
    let raw = |method: reqwest::Method, url: &str, body: &'static str| {
        app.http
            .request(method, app.url(url))
            .header("X-API-Key", &t.key)
            .header("content-type", "application/json")
            .body(body)
    };
    for body in ["{", "[]", "\"name\"", "{\"name\": \"a\",}", "null"] {
        app.send(raw(reqwest::Method::POST, "/v1/projects", body))
            .await
            .problem(400, "bad_request");
    }
    app.send(raw(reqwest::Method::PATCH, &path, "{\"name\": 1}"))
        .await
        .problem(400, "bad_request");
    app.send(raw(reqwest::Method::PATCH, &path, "{\"colour\": \"red\"}"))
        .await
        .problem(400, "bad_request");
    app.send(raw(
        reqwest::Method::POST,
        "/v1/projects",
        "{\"name\": \"a\", \"id\": \"x\"}",
    ))
    .await
    .problem(400, "bad_request");
    // An empty body where one is required.
    let r = app
        .send(app.http.post(app.url("/v1/projects")).header("X-API-Key", &t.key))
        .await;
    r.problem(400, "bad_request");
    for bad in ["not-a-uuid", "123", "01a217ab-c2e5-77d7-910e"] {
        app.get(&format!("/v1/projects/{bad}"), &t.key)
            .await
            .problem(400, "bad_request");
        app.get(&format!("/v1/tasks/{bad}"), &t.key)
            .await
            .problem(400, "bad_request");
        app.delete(&format!("/v1/api-keys/{bad}"), &t.key)
            .await
            .problem(400, "bad_request");
    }
    // Not exposing internal parameter names.
    let r = app.get("/v1/projects/nope", &t.key).await;
    assert!(
        !r.body["detail"].as_str().unwrap_or_default().contains("param0"),
        "{}",
        r.body
    );
    assert_eq!(app.get(&path, &t.key).await.ok(200)["name"], "Alpha");
}

async fn the_credential_is_checked_before_the_body_or_parameters(app: TestApp) {
    let t = app.tenant("acme").await;
    let json = |b: reqwest::RequestBuilder| b.header("content-type", "application/json");
    app.send(json(app.http.post(app.url("/v1/projects"))).body("{"))
        .await
        .problem(401, "unauthenticated");
    app.send(json(app.http.post(app.url("/v1/projects"))).body("{\"name\": \"\"}"))
        .await
        .problem(401, "unauthenticated");
    app.call("GET", "/v1/projects/not-a-uuid", None, None)
        .await
        .problem(401, "unauthenticated");
    app.call("GET", "/v1/projects?limit=abc", None, None)
        .await
        .problem(401, "unauthenticated");
    app.call("GET", "/v1/projects?limit=1000", Some("tnt_bad"), None)
        .await
        .problem(401, "unauthenticated");
    app.call("GET", "/v1/projects?cursor=zzz", None, None)
        .await
        .problem(401, "unauthenticated");
    // Then 400, 422, 403, 404 in that order.
    let reader = app.key_with(&t, &[tenantry::access::Scope::ProjectsRead]).await;
    let json_body = |b: reqwest::RequestBuilder| {
        b.header("X-API-Key", &reader)
            .header("content-type", "application/json")
    };
    app.send(json_body(app.http.post(app.url("/v1/projects"))).body("{"))
        .await
        .problem(400, "bad_request");
    app.post("/v1/projects", &reader, json!({"name": ""}))
        .await
        .problem(422, "validation_failed");
    app.post("/v1/projects", &reader, json!({"name": "fine"}))
        .await
        .problem(403, "forbidden");
    let missing = uuid::Uuid::new_v4();
    app.patch(&format!("/v1/projects/{missing}"), &reader, json!({"name": "x"}))
        .await
        .problem(403, "forbidden");
    app.patch(&format!("/v1/projects/{missing}"), &t.key, json!({"name": "x"}))
        .await
        .problem(404, "not_found");
    app.get("/v1/projects?limit=0&cursor=zzz", &reader)
        .await
        .problem(400, "invalid_cursor");
    let tasks_only = app.key_with(&t, &[tenantry::access::Scope::TasksRead]).await;
    app.get("/v1/projects?limit=0", &tasks_only)
        .await
        .problem(422, "validation_failed");
    app.get("/v1/projects?limit=5", &tasks_only)
        .await
        .problem(403, "forbidden");
}

async fn docs_spec_and_probes_are_served(app: TestApp) {
    let health = app.call("GET", "/healthz", None, None).await;
    assert_eq!(health.ok(200)["status"], "ok");
    let ready = app.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.ok(200)["status"], "ok");
    // The served document is the committed one, refined; so is the one /docs shows.
    let spec = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(spec.ok(200)["info"]["title"], "Tenantry API");
    let committed: serde_json::Value = serde_json::from_str(&tenantry::openapi::spec_json()).expect("the spec is JSON");
    assert_eq!(spec.body, committed);
    let docs = app.send(app.http.get(app.url("/docs"))).await;
    assert_eq!(docs.status, 200);
    assert!(docs.content_type.starts_with("text/html"));
    assert!(docs.headers.contains_key("x-request-id"));
    let again = app.send(app.http.get(app.url("/docs"))).await;
    assert_ne!(
        docs.headers.get("x-request-id"),
        again.headers.get("x-request-id"),
        "every request has an id of its own"
    );
    let html = docs.body.as_str().unwrap_or_default();
    assert!(
        html.contains(&tenantry::openapi::spec_json().trim_end().to_owned()),
        "/docs embeds the refined document"
    );
}
