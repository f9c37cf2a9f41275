use serde_json::json;

use crate::backends;
use crate::support::TestApp;

backends!(
    a_project_round_trips_through_the_contract,
    patch_changes_only_the_fields_sent_and_null_clears_the_description,
    deleting_a_project_deletes_its_tasks,
    every_invalid_field_is_reported_at_once_and_nothing_is_written,
    any_text_round_trips_exactly,
);

async fn a_project_round_trips_through_the_contract(app: TestApp) {
    let t = app.tenant("acme").await;
    let created = app.post("/v1/projects", &t.key, json!({"name": "Alpha"})).await;
    let p = created.ok(201).clone();
    assert_eq!(p["name"], "Alpha");
    assert!(
        p.get("description").is_some_and(|d| d.is_null()),
        "description is present and null: {p}"
    );
    for field in ["id", "created_at", "updated_at"] {
        assert!(p[field].is_string(), "{field} in {p}");
    }
    assert!(chrono::DateTime::parse_from_rfc3339(p["created_at"].as_str().unwrap_or_default()).is_ok());

    let id = p["id"].as_str().unwrap_or_default();
    let got = app.get(&format!("/v1/projects/{id}"), &t.key).await;
    assert_eq!(got.ok(200), &p);
    assert!(got.content_type.starts_with("application/json"));

    let list = app.get("/v1/projects", &t.key).await;
    let list = list.ok(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list.get("next_cursor").is_some_and(|c| c.is_null()));

    let with_description = app
        .post(
            "/v1/projects",
            &t.key,
            json!({"name": "Beta", "description": "the second"}),
        )
        .await;
    assert_eq!(with_description.ok(201)["description"], "the second");

    app.delete(&format!("/v1/projects/{id}"), &t.key).await.ok(204);
    app.get(&format!("/v1/projects/{id}"), &t.key)
        .await
        .problem(404, "not_found");
    app.delete(&format!("/v1/projects/{id}"), &t.key)
        .await
        .problem(404, "not_found");
}

async fn patch_changes_only_the_fields_sent_and_null_clears_the_description(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app
        .post("/v1/projects", &t.key, json!({"name": "Alpha", "description": "d"}))
        .await
        .ok(201)
        .clone();
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap_or_default());
    app.clock.advance(chrono::Duration::seconds(5));

    let renamed = app
        .patch(&path, &t.key, json!({"name": "Alpha 2"}))
        .await
        .ok(200)
        .clone();
    assert_eq!(renamed["name"], "Alpha 2");
    assert_eq!(renamed["description"], "d");
    assert_eq!(renamed["created_at"], p["created_at"]);
    assert_ne!(renamed["updated_at"], p["updated_at"]);

    let cleared = app
        .patch(&path, &t.key, json!({"description": null}))
        .await
        .ok(200)
        .clone();
    assert!(cleared["description"].is_null());
    assert_eq!(cleared["name"], "Alpha 2");

    let unchanged = app.patch(&path, &t.key, json!({})).await.ok(200).clone();
    assert_eq!(unchanged["name"], "Alpha 2");

    app.patch(&path, &t.key, json!({"name": null}))
        .await
        .problem(422, "validation_failed");
    let after = app.get(&path, &t.key).await.ok(200).clone();
    assert_eq!(after["name"], "Alpha 2");
}

async fn deleting_a_project_deletes_its_tasks(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let task = app.task(&t.key, &p, json!({"title": "one"})).await;
    let other = app.project(&t.key, "Beta").await;
    let kept = app.task(&t.key, &other, json!({"title": "two"})).await;
    app.delete(
        &format!("/v1/projects/{}", p["id"].as_str().unwrap_or_default()),
        &t.key,
    )
    .await
    .ok(204);
    app.get(
        &format!("/v1/tasks/{}", task["id"].as_str().unwrap_or_default()),
        &t.key,
    )
    .await
    .problem(404, "not_found");
    app.get(
        &format!("/v1/tasks/{}", kept["id"].as_str().unwrap_or_default()),
        &t.key,
    )
    .await
    .ok(200);
}

async fn every_invalid_field_is_reported_at_once_and_nothing_is_written(app: TestApp) {
    let t = app.tenant("acme").await;
    let long_name = "n".repeat(201);
    let long_description = "d".repeat(10_001);
    let r = app
        .post(
            "/v1/projects",
            &t.key,
            json!({"name": long_name, "description": long_description}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["description", "name"]);
    for error in r.body["errors"].as_array().into_iter().flatten() {
        assert!(error["message"].is_string() && error["code"].is_string(), "{error}");
    }
    let r = app.post("/v1/projects", &t.key, json!({"name": ""})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "too_short");
    let r = app.post("/v1/projects", &t.key, json!({})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "required");
    app.post("/v1/projects", &t.key, json!({"name": null}))
        .await
        .problem(422, "validation_failed");
    let r = app
        .post(
            "/v1/projects",
            &t.key,
            json!({"name": "nul\u{0}byte", "description": "\u{0}"}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["description", "name"]);

    // Multi-byte characters count as one each: 200 of them are accepted.
    let wide = "é".repeat(200);
    app.post("/v1/projects", &t.key, json!({"name": wide})).await.ok(201);

    let p = app.project(&t.key, "Alpha").await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap_or_default());
    let r = app
        .patch(&path, &t.key, json!({"name": "", "description": "d".repeat(10_001)}))
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["description", "name"]);

    let all = app.read_all("/v1/projects", &t.key, 100).await;
    assert_eq!(all.len(), 2, "only the two valid creates were written");
    assert_eq!(app.get(&path, &t.key).await.ok(200)["name"], "Alpha");
}

/// Text reaches the database as written, whatever quotes, dollar signs,
/// backslashes or SQL it holds (on PostgreSQL, single-statement requests
/// carry their values as literals).
async fn any_text_round_trips_exactly(app: TestApp) {
    let t = app.tenant("acme").await;
    let awkward = [
        "it's",
        "''",
        "\\'; DROP TABLE projects; --",
        "$v$",
        "$v$ $v1$ $v2$",
        "x$v",
        "x$v1",
        "$v$ and $v1",
        "$v",
        "$",
        "ends in $",
        "$$ $1 $2 ::uuid",
        "back\\slash \\n \\x41 E'\\''",
        "/* not a comment */ -- nor this",
        "Zürich 東京 🚀 \u{200b}",
        "line\nbreak\ttab",
    ];
    let mut ids = Vec::new();
    for name in awkward {
        let created = app
            .post("/v1/projects", &t.key, json!({"name": name, "description": name}))
            .await;
        let p = created.ok(201);
        assert_eq!(p["name"], name);
        assert_eq!(p["description"], name);
        let id = p["id"].as_str().unwrap_or_default().to_owned();
        let got = app.get(&format!("/v1/projects/{id}"), &t.key).await;
        assert_eq!(got.ok(200)["name"], name);
        let patched = app
            .patch(
                &format!("/v1/projects/{id}"),
                &t.key,
                json!({"name": name, "description": name}),
            )
            .await;
        assert_eq!(patched.ok(200)["description"], name);
        let renamed = format!("{name} (renamed)");
        let patched = app
            .patch(&format!("/v1/projects/{id}"), &t.key, json!({"name": renamed}))
            .await;
        assert_eq!(patched.ok(200)["name"], renamed.as_str());
        ids.push(id);
    }
    let list = app.get("/v1/projects?limit=100", &t.key).await;
    let names: Vec<String> = list.ok(200)["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<String> = awkward.iter().map(|n| format!("{n} (renamed)")).collect();
    assert_eq!(names, expected);
    // The table is still there, and nothing else was written.
    assert_eq!(ids.len(), awkward.len());
}
