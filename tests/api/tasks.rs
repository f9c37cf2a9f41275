use serde_json::json;

use crate::backends;
use crate::support::{TestApp, ids};

backends!(
    a_task_round_trips_with_defaults_and_clears_with_null,
    task_rules_report_every_field,
    tasks_filter_by_status_project_and_due_date,
    a_task_cannot_be_created_in_a_missing_project,
    task_text_round_trips_exactly,
);

async fn a_task_round_trips_with_defaults_and_clears_with_null(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let task = app.task(&t.key, &p, json!({"title": "Write"})).await;
    assert_eq!(task["status"], "todo");
    assert_eq!(task["priority"], 0);
    assert!(task.get("description").is_some_and(|v| v.is_null()));
    assert!(task.get("due_date").is_some_and(|v| v.is_null()));
    assert_eq!(task["project_id"], p["id"]);

    let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap_or_default());
    assert_eq!(app.get(&path, &t.key).await.ok(200), &task);
    let changed = app
        .patch(
            &path,
            &t.key,
            json!({"status": "in_progress", "priority": 4, "due_date": "2027-01-31", "description": "x"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(changed["status"], "in_progress");
    assert_eq!(changed["priority"], 4);
    assert_eq!(changed["due_date"], "2027-01-31");
    assert_eq!(changed["title"], "Write");
    let cleared = app
        .patch(&path, &t.key, json!({"due_date": null, "description": null}))
        .await
        .ok(200)
        .clone();
    assert!(cleared["due_date"].is_null() && cleared["description"].is_null());
    assert_eq!(cleared["status"], "in_progress");

    let full = app
        .task(
            &t.key,
            &p,
            json!({"title": "Full", "description": "d", "status": "done", "priority": 3, "due_date": "2026-12-24"}),
        )
        .await;
    assert_eq!(full["status"], "done");
    assert_eq!(full["due_date"], "2026-12-24");

    app.delete(&path, &t.key).await.ok(204);
    app.get(&path, &t.key).await.problem(404, "not_found");
}

async fn task_rules_report_every_field(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let create = format!("/v1/projects/{}/tasks", p["id"].as_str().unwrap_or_default());
    let r = app
        .post(
            &create,
            &t.key,
            json!({"title": "", "description": "d".repeat(10_001), "priority": 5}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["description", "priority", "title"]);
    let r = app.post(&create, &t.key, json!({"priority": -1})).await;
    assert_eq!(r.fields(), ["priority", "title"]);

    let task = app.task(&t.key, &p, json!({"title": "ok"})).await;
    let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap_or_default());
    let r = app
        .patch(&path, &t.key, json!({"title": null, "status": null, "priority": null}))
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["priority", "status", "title"]);
    let r = app
        .patch(&path, &t.key, json!({"title": "t".repeat(201), "priority": 9}))
        .await;
    assert_eq!(r.fields(), ["priority", "title"]);

    // Types that cannot be parsed are 400s.
    app.post(&create, &t.key, json!({"title": "x", "status": "blocked"}))
        .await
        .problem(400, "bad_request");
    app.post(&create, &t.key, json!({"title": "x", "priority": "high"}))
        .await
        .problem(400, "bad_request");
    app.post(&create, &t.key, json!({"title": "x", "priority": 1.5}))
        .await
        .problem(400, "bad_request");
    app.post(&create, &t.key, json!({"title": "x", "due_date": "tomorrow"}))
        .await
        .problem(400, "bad_request");
    app.post(&create, &t.key, json!({"title": 7}))
        .await
        .problem(400, "bad_request");
    app.post(&create, &t.key, json!({"title": "x", "project_id": p["id"]}))
        .await
        .problem(400, "bad_request");

    let all = app.read_all("/v1/tasks", &t.key, 100).await;
    assert_eq!(all.len(), 1, "failed requests wrote nothing");
    assert_eq!(app.get(&path, &t.key).await.ok(200)["title"], "ok");
}

async fn tasks_filter_by_status_project_and_due_date(app: TestApp) {
    let t = app.tenant("acme").await;
    let a = app.project(&t.key, "A").await;
    let b = app.project(&t.key, "B").await;
    let a1 = app
        .task(
            &t.key,
            &a,
            json!({"title": "a1", "status": "done", "due_date": "2026-01-01"}),
        )
        .await;
    let a2 = app
        .task(&t.key, &a, json!({"title": "a2", "due_date": "2026-02-01"}))
        .await;
    let a3 = app.task(&t.key, &a, json!({"title": "a3"})).await;
    let b1 = app
        .task(
            &t.key,
            &b,
            json!({"title": "b1", "status": "done", "due_date": "2025-12-01"}),
        )
        .await;
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap_or_default().to_owned();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let aid = id(&a);
    let got = ids(&app.read_all(&format!("/v1/tasks?project_id={aid}"), &t.key, 10).await);
    assert_eq!(sorted(got), sorted(vec![id(&a1), id(&a2), id(&a3)]));
    let got = ids(&app.read_all(&format!("/v1/projects/{aid}/tasks"), &t.key, 10).await);
    assert_eq!(sorted(got), sorted(vec![id(&a1), id(&a2), id(&a3)]));
    let got = ids(&app.read_all("/v1/tasks?status=done", &t.key, 10).await);
    assert_eq!(sorted(got), sorted(vec![id(&a1), id(&b1)]));
    let got = ids(&app.read_all("/v1/tasks?due_before=2026-01-15", &t.key, 10).await);
    assert_eq!(sorted(got), sorted(vec![id(&a1), id(&b1)]));
    let got = ids(&app
        .read_all(
            &format!("/v1/tasks?due_before=2026-12-31&project_id={aid}&status=todo"),
            &t.key,
            10,
        )
        .await);
    assert_eq!(got, vec![id(&a2)]);
    let got = ids(&app
        .read_all(
            &format!("/v1/projects/{aid}/tasks?status=todo&sort=due_date"),
            &t.key,
            10,
        )
        .await);
    assert_eq!(got, vec![id(&a2), id(&a3)]);
    app.get("/v1/tasks?status=blocked", &t.key)
        .await
        .problem(400, "bad_request");
    app.get("/v1/tasks?project_id=nope", &t.key)
        .await
        .problem(400, "bad_request");
    app.get("/v1/tasks?sort=title", &t.key)
        .await
        .problem(400, "bad_request");
}

async fn a_task_cannot_be_created_in_a_missing_project(app: TestApp) {
    let t = app.tenant("acme").await;
    let missing = uuid::Uuid::new_v4();
    app.post(&format!("/v1/projects/{missing}/tasks"), &t.key, json!({"title": "x"}))
        .await
        .problem(404, "not_found");
    app.get(&format!("/v1/projects/{missing}/tasks"), &t.key)
        .await
        .problem(404, "not_found");
}

/// Titles and descriptions reach the database as written, on create and
/// update, whatever dollar signs they hold.
async fn task_text_round_trips_exactly(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    for text in ["x$v", "x$v1", "$v$ and $v1", "$v", "$", "$v$", "it's $1 $$"] {
        let task = app.task(&t.key, &p, json!({"title": text, "description": text})).await;
        assert_eq!(task["title"], text);
        assert_eq!(task["description"], text);
        let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap_or_default());
        let patched = app
            .patch(
                &path,
                &t.key,
                json!({"title": format!("{text}!{text}"), "description": text}),
            )
            .await
            .ok(200)
            .clone();
        assert_eq!(patched["title"], format!("{text}!{text}"));
        let got = app.get(&path, &t.key).await.ok(200).clone();
        assert_eq!(got["description"], text);
    }
}
