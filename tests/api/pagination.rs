use std::collections::HashSet;

use serde_json::{Value, json};

use crate::backends;
use crate::support::{TestApp, ids};

backends!(
    projects_page_in_creation_order_without_duplicates_or_gaps,
    the_page_size_may_change_between_pages,
    task_pages_hold_under_every_sort_while_rows_come_and_go,
    a_cursor_is_bound_to_its_query_and_cannot_be_altered,
    limit_outside_its_range_is_a_422_and_a_non_number_a_400,
);

async fn projects_page_in_creation_order_without_duplicates_or_gaps(app: TestApp) {
    let t = app.tenant("acme").await;
    let mut created = Vec::new();
    for i in 0..45 {
        // Every third project shares its timestamp with the one before: ties
        // are broken by id.
        if i % 3 != 0 {
            app.clock.advance(chrono::Duration::microseconds(1));
        }
        created.push(
            app.project(&t.key, &format!("p{i}")).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let first = app.get("/v1/projects", &t.key).await.ok(200).clone();
    assert_eq!(
        first["items"].as_array().map(Vec::len),
        Some(20),
        "default page size is 20"
    );
    let all = app.read_all("/v1/projects", &t.key, 20).await;
    let mut expected = created.clone();
    // Equal timestamps order by id.
    let by_key: Vec<(String, String)> = {
        let list = app.read_all("/v1/projects", &t.key, 100).await;
        list.iter()
            .map(|p| {
                (
                    p["created_at"].as_str().unwrap_or_default().to_owned(),
                    p["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let mut sorted = by_key.clone();
    sorted.sort();
    assert_eq!(by_key, sorted, "ascending (created_at, id)");
    expected.sort_by_key(|id| by_key.iter().position(|(_, i)| i == id));
    assert_eq!(ids(&all), expected);
}

async fn the_page_size_may_change_between_pages(app: TestApp) {
    let t = app.tenant("acme").await;
    for i in 0..10 {
        app.clock.advance(chrono::Duration::milliseconds(1));
        app.project(&t.key, &format!("p{i}")).await;
    }
    let first = app.get("/v1/projects?limit=3", &t.key).await.ok(200).clone();
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let rest = app
        .get(&format!("/v1/projects?limit=7&cursor={cursor}"), &t.key)
        .await
        .ok(200)
        .clone();
    let mut seen = ids(first["items"].as_array().map_or(&[][..], Vec::as_slice));
    seen.extend(ids(rest["items"].as_array().map_or(&[][..], Vec::as_slice)));
    assert_eq!(seen.len(), 10);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 10);
    assert!(rest["next_cursor"].is_null());
}

/// Reads all pages of `path` while, between pages, inserting new tasks and
/// deleting tasks already read; every task that existed at the start and
/// was not deleted before being reached must appear exactly once, in order.
async fn walk_with_churn(
    app: &TestApp,
    key: &str,
    project: &Value,
    path: &str,
    sort_key: impl Fn(&Value) -> (Option<String>, String),
) {
    let before: Vec<Value> = app.read_all(path, key, 100).await;
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen: Vec<Value> = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut n = 0;
    loop {
        let url = match &cursor {
            None => format!("{path}{sep}limit=4"),
            Some(c) => format!("{path}{sep}limit=4&cursor={c}"),
        };
        let page = app.get(&url, key).await.ok(200).clone();
        seen.extend(page["items"].as_array().cloned().unwrap_or_default());
        // Churn: a new task with and one without a due date, and delete the
        // oldest task already read.
        n += 1;
        app.task(
            key,
            project,
            json!({"title": format!("new{n}"), "due_date": "2026-06-15"}),
        )
        .await;
        app.task(key, project, json!({"title": format!("new{n}b")})).await;
        if let Some(victim) = seen.first() {
            let id = victim["id"].as_str().unwrap_or_default().to_owned();
            if deleted.insert(id.clone()) {
                app.delete(&format!("/v1/tasks/{id}"), key).await.ok(204);
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let seen_ids = ids(&seen);
    assert_eq!(
        seen_ids.len(),
        seen_ids.iter().collect::<HashSet<_>>().len(),
        "no duplicates in {path}"
    );
    for original in ids(&before) {
        assert!(seen_ids.contains(&original), "{original} was skipped in {path}");
    }
    let original: HashSet<String> = ids(&before).into_iter().collect();
    let order: Vec<_> = seen
        .iter()
        .filter(|t| original.contains(t["id"].as_str().unwrap_or_default()))
        .map(&sort_key)
        .collect();
    let expected: Vec<_> = before.iter().map(&sort_key).collect();
    assert_eq!(order, expected, "original rows keep their order in {path}");
}

async fn task_pages_hold_under_every_sort_while_rows_come_and_go(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    let dates = [
        Some("2026-03-01"),
        None,
        Some("2026-01-10"),
        Some("2026-03-01"),
        None,
        Some("2025-12-31"),
    ];
    for i in 0..18 {
        if i % 2 == 0 {
            app.clock.advance(chrono::Duration::milliseconds(1));
        }
        let mut body = json!({"title": format!("t{i}")});
        if let Some(d) = dates[i % dates.len()] {
            body["due_date"] = json!(d);
        }
        app.task(&t.key, &p, body).await;
    }
    let created = |t: &Value| {
        (
            t["created_at"].as_str().map(str::to_owned),
            t["id"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let due = |t: &Value| {
        (
            t["due_date"].as_str().map(str::to_owned),
            t["id"].as_str().unwrap_or_default().to_owned(),
        )
    };

    // NULL due dates last in both directions.
    let asc = app.read_all("/v1/tasks?sort=due_date", &t.key, 100).await;
    let asc_keys: Vec<_> = asc.iter().map(due).collect();
    let first_null = asc_keys.iter().position(|(d, _)| d.is_none()).unwrap_or(asc_keys.len());
    assert!(
        asc_keys[first_null..].iter().all(|(d, _)| d.is_none()),
        "nulls last ascending"
    );
    assert!(asc_keys[..first_null].windows(2).all(|w| w[0] <= w[1]));
    let desc = app
        .read_all("/v1/tasks?sort=due_date&direction=desc", &t.key, 100)
        .await;
    let desc_keys: Vec<_> = desc.iter().map(due).collect();
    let first_null = desc_keys
        .iter()
        .position(|(d, _)| d.is_none())
        .unwrap_or(desc_keys.len());
    assert!(
        desc_keys[first_null..].iter().all(|(d, _)| d.is_none()),
        "nulls last descending"
    );
    assert!(desc_keys[..first_null].windows(2).all(|w| w[0] >= w[1]));

    let pid = p["id"].as_str().unwrap_or_default().to_owned();
    walk_with_churn(&app, &t.key, &p, "/v1/tasks?sort=created_at", created).await;
    walk_with_churn(&app, &t.key, &p, "/v1/tasks?sort=created_at&direction=desc", created).await;
    walk_with_churn(&app, &t.key, &p, "/v1/tasks?sort=due_date", due).await;
    walk_with_churn(&app, &t.key, &p, "/v1/tasks?sort=due_date&direction=desc", due).await;
    walk_with_churn(
        &app,
        &t.key,
        &p,
        &format!("/v1/projects/{pid}/tasks?sort=due_date&direction=desc"),
        due,
    )
    .await;
}

async fn a_cursor_is_bound_to_its_query_and_cannot_be_altered(app: TestApp) {
    let t = app.tenant("acme").await;
    let p = app.project(&t.key, "Alpha").await;
    for i in 0..5 {
        app.clock.advance(chrono::Duration::milliseconds(1));
        app.task(&t.key, &p, json!({"title": format!("t{i}"), "status": "todo"}))
            .await;
    }
    let page = app.get("/v1/tasks?limit=2&status=todo", &t.key).await.ok(200).clone();
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    app.get(&format!("/v1/tasks?limit=2&status=todo&cursor={cursor}"), &t.key)
        .await
        .ok(200);
    for other in [
        "status=done",
        "sort=due_date",
        "direction=desc",
        "due_before=2030-01-01",
    ] {
        app.get(&format!("/v1/tasks?limit=2&{other}&cursor={cursor}"), &t.key)
            .await
            .problem(400, "invalid_cursor");
    }
    app.get(&format!("/v1/tasks?limit=2&cursor={cursor}"), &t.key)
        .await
        .problem(400, "invalid_cursor");
    app.get(&format!("/v1/projects?cursor={cursor}"), &t.key)
        .await
        .problem(400, "invalid_cursor");
    let mut tampered = cursor.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    app.get(&format!("/v1/tasks?limit=2&status=todo&cursor={tampered}"), &t.key)
        .await
        .problem(400, "invalid_cursor");
    app.get("/v1/tasks?cursor=not-a-cursor", &t.key)
        .await
        .problem(400, "invalid_cursor");
    // Another tenant cannot use it either.
    let other = app.tenant("other").await;
    app.get(&format!("/v1/tasks?limit=2&status=todo&cursor={cursor}"), &other.key)
        .await
        .problem(400, "invalid_cursor");
}

async fn limit_outside_its_range_is_a_422_and_a_non_number_a_400(app: TestApp) {
    let t = app.tenant("acme").await;
    for path in ["/v1/projects", "/v1/tasks", "/v1/api-keys"] {
        for bad in ["0", "101", "-1"] {
            let r = app.get(&format!("{path}?limit={bad}"), &t.key).await;
            r.problem(422, "validation_failed");
            assert_eq!(r.fields(), ["limit"]);
        }
        app.get(&format!("{path}?limit=abc"), &t.key)
            .await
            .problem(400, "bad_request");
        app.get(&format!("{path}?limit=100"), &t.key).await.ok(200);
        app.get(&format!("{path}?limit=1"), &t.key).await.ok(200);
    }
}
