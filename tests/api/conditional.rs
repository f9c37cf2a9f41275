//! Conditional requests: a strong `ETag` on every read, `304` for an
//! `If-None-Match` that names it, and `If-Match` on the writes of projects,
//! tasks and the tenant's name as a condition of their statement (`412`
//! `precondition_failed`, nothing written). Another tenant's id stays a
//! `404` whatever the headers.

use serde_json::json;

use crate::support::{Resp, TestApp, with_credential};

crate::backends!(
    a_read_is_tagged_and_not_sent_again_unchanged,
    if_match_writes_only_the_version_it_names,
    two_edits_of_one_version_make_one_change,
);

fn etag(resp: &Resp) -> String {
    resp.headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no ETag on a {}: {}", resp.status, resp.body))
        .to_owned()
}

async fn get_if_none_match(app: &TestApp, path: &str, key: &str, tag: &str) -> Resp {
    let req = with_credential(app.http.get(app.url(path)), key).header("If-None-Match", tag);
    app.send(req).await
}

async fn with_if_match(
    app: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    tag: &str,
    body: Option<serde_json::Value>,
) -> Resp {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = with_credential(app.http.request(method, app.url(path)), key).header("If-Match", tag);
    if let Some(body) = body {
        req = req.json(&body);
    }
    app.send(req).await
}

/// A resource and a list page are tagged; the same tag back is a `304`
/// with no body (the tag and the budget's headers still on it); a change
/// makes a new tag; another tenant's id is a 404 with or without one.
async fn a_read_is_tagged_and_not_sent_again_unchanged(app: TestApp) {
    let t = app.tenant("tagged").await;
    let other = app.tenant("stranger").await;
    let created = app.post("/v1/projects", &t.key, json!({"name": "Apollo"})).await;
    let id = created.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/v1/projects/{id}");
    let read = app.get(&path, &t.key).await;
    read.ok(200);
    let tag = etag(&read);
    assert!(tag.starts_with('"') && tag.ends_with('"'), "a strong tag: {tag}");
    assert_eq!(etag(&app.get(&path, &t.key).await), tag, "stable while unchanged");

    let unchanged = get_if_none_match(&app, &path, &t.key, &tag).await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.body, serde_json::Value::Null, "no body");
    assert_eq!(etag(&unchanged), tag);
    assert!(unchanged.headers.contains_key("ratelimit"));
    let star = get_if_none_match(&app, &path, &t.key, "*").await;
    assert_eq!(star.status, 304);
    get_if_none_match(&app, &path, &t.key, "\"something-else\"")
        .await
        .ok(200);

    let list = app.get("/v1/projects", &t.key).await;
    list.ok(200);
    let list_tag = etag(&list);
    assert_eq!(
        get_if_none_match(&app, "/v1/projects", &t.key, &list_tag).await.status,
        304
    );

    app.clock.advance(chrono::Duration::seconds(1));
    app.patch(&path, &t.key, json!({"name": "Apollo 11"})).await.ok(200);
    let changed = get_if_none_match(&app, &path, &t.key, &tag).await;
    changed.ok(200);
    assert_ne!(etag(&changed), tag);
    let list_changed = get_if_none_match(&app, "/v1/projects", &t.key, &list_tag).await;
    list_changed.ok(200);
    assert_ne!(etag(&list_changed), list_tag);

    // Another tenant's project: the same 404 as an unknown id.
    get_if_none_match(&app, &path, &other.key, &tag)
        .await
        .problem(404, "not_found");
    get_if_none_match(&app, &path, &other.key, "*")
        .await
        .problem(404, "not_found");
    // Other reads are tagged too.
    let tenant = app.get("/v1/tenant", &t.key).await;
    let tenant_tag = etag(&tenant);
    assert_eq!(
        get_if_none_match(&app, "/v1/tenant", &t.key, &tenant_tag).await.status,
        304
    );
}

/// `If-Match` with the current tag writes; with an old one, or another
/// resource's, it is a `412` and nothing changes; `*` asks only that the
/// resource is there. Another tenant's id is a `404`, never a `412`.
async fn if_match_writes_only_the_version_it_names(app: TestApp) {
    let t = app.tenant("matched").await;
    let other = app.tenant("outsider").await;
    let project = app.post("/v1/projects", &t.key, json!({"name": "Gemini"})).await;
    let id = project.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/v1/projects/{id}");
    let second = app.post("/v1/projects", &t.key, json!({"name": "Mercury"})).await;
    let second_path = format!("/v1/projects/{}", second.ok(201)["id"].as_str().unwrap_or_default());
    let old = etag(&app.get(&path, &t.key).await);
    let second_tag = etag(&app.get(&second_path, &t.key).await);

    app.clock.advance(chrono::Duration::seconds(1));
    let updated = with_if_match(&app, "PATCH", &path, &t.key, &old, Some(json!({"name": "Gemini 4"}))).await;
    updated.ok(200);
    let current = etag(&app.get(&path, &t.key).await);
    assert_ne!(current, old);

    app.clock.advance(chrono::Duration::seconds(1));
    let stale = with_if_match(&app, "PATCH", &path, &t.key, &old, Some(json!({"name": "lost"}))).await;
    stale.problem(412, "precondition_failed");
    let borrowed = with_if_match(&app, "PATCH", &path, &t.key, &second_tag, Some(json!({"name": "lost"}))).await;
    borrowed.problem(412, "precondition_failed");
    with_if_match(&app, "DELETE", &path, &t.key, &old, None)
        .await
        .problem(412, "precondition_failed");
    let now = app.get(&path, &t.key).await;
    assert_eq!(now.ok(200)["name"], "Gemini 4", "nothing written");
    assert_eq!(etag(&now), current);

    // Another tenant's id: 404 whatever the tag.
    for tag in [current.as_str(), old.as_str(), "*"] {
        with_if_match(&app, "PATCH", &path, &other.key, tag, Some(json!({"name": "x"})))
            .await
            .problem(404, "not_found");
        with_if_match(&app, "DELETE", &path, &other.key, tag, None)
            .await
            .problem(404, "not_found");
    }

    // Tasks alike; then the current tags delete.
    let task = app
        .post(&format!("{path}/tasks"), &t.key, json!({"title": "Dock"}))
        .await;
    let task_path = format!("/v1/tasks/{}", task.ok(201)["id"].as_str().unwrap_or_default());
    let task_tag = etag(&app.get(&task_path, &t.key).await);
    app.clock.advance(chrono::Duration::seconds(1));
    with_if_match(
        &app,
        "PATCH",
        &task_path,
        &t.key,
        &task_tag,
        Some(json!({"status": "done"})),
    )
    .await
    .ok(200);
    with_if_match(&app, "DELETE", &task_path, &t.key, &task_tag, None)
        .await
        .problem(412, "precondition_failed");
    let task_now = etag(&app.get(&task_path, &t.key).await);
    assert_eq!(
        with_if_match(&app, "DELETE", &task_path, &t.key, &task_now, None)
            .await
            .status,
        204
    );
    assert_eq!(
        with_if_match(&app, "DELETE", &path, &t.key, "*", None).await.status,
        204
    );
    with_if_match(&app, "DELETE", &path, &t.key, "*", None)
        .await
        .problem(404, "not_found");

    // The tenant's own name alike.
    let tenant_tag = etag(&app.get("/v1/tenant", &t.key).await);
    app.clock.advance(chrono::Duration::seconds(1));
    with_if_match(
        &app,
        "PATCH",
        "/v1/tenant",
        &t.key,
        &tenant_tag,
        Some(json!({"name": "Matched"})),
    )
    .await
    .ok(200);
    with_if_match(
        &app,
        "PATCH",
        "/v1/tenant",
        &t.key,
        &tenant_tag,
        Some(json!({"name": "Lost"})),
    )
    .await
    .problem(412, "precondition_failed");
    assert_eq!(app.get("/v1/tenant", &t.key).await.ok(200)["name"], "Matched");
}

/// Two edits sent at once with the same `If-Match`: exactly one is
/// applied, the other is a `412`.
async fn two_edits_of_one_version_make_one_change(app: TestApp) {
    let t = app.tenant("racing").await;
    let app = std::sync::Arc::new(app);
    for round in 0..10 {
        let project = app
            .post("/v1/projects", &t.key, json!({"name": format!("race {round}")}))
            .await;
        let path = format!("/v1/projects/{}", project.ok(201)["id"].as_str().unwrap_or_default());
        let tag = etag(&app.get(&path, &t.key).await);
        app.clock.advance(chrono::Duration::seconds(1));
        let edits: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|name| {
                let (app, key, path, tag) = (app.clone(), t.key.clone(), path.clone(), tag.clone());
                tokio::spawn(async move {
                    with_if_match(&app, "PATCH", &path, &key, &tag, Some(json!({"name": name}))).await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for edit in edits {
            statuses.push(edit.await.expect("the edit ran").status);
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}");
    }
}
