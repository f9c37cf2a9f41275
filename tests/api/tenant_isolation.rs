//! The cross-tenant walker. It reads the operations from the emitted spec,
//! so an operation added later is covered without editing this file:
//! every operation that takes an id is called as tenant B with tenant A's
//! ids (bodies from the `example` each input schema carries) and must answer
//! 404 without any of A's data; every list filter that takes an id is given
//! A's and must answer 200 with no items. A's data is unchanged afterwards.

use std::collections::HashMap;

use serde_json::{Value, json};

use tenantry::domain::tenants::Placement;

use crate::backends;
use crate::support::TestApp;

backends!(tenant_b_never_reaches_tenant_a);

/// The walker again with A and B in every other pair of placements: a
/// schema of their own (PostgreSQL) or a database of their own (both).
mod tenant_b_never_reaches_tenant_a_across_placements {
    use tenantry::domain::tenants::Placement::{Database, Schema, Shared};

    crate::postgres_only!(
        schema_and_shared,
        shared_and_schema,
        schema_and_schema,
        schema_and_database,
        database_and_schema,
    );

    /// The pairs that exist on both backends.
    macro_rules! on_both {
        ($($name:ident: $a:expr, $b:expr;)*) => {$(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let app = crate::support::TestApp::spawn_sqlite().await;
                    super::super::walk(app, $a, $b).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let Some(app) = crate::support::TestApp::spawn_postgres().await else { return };
                    super::super::walk(app, $a, $b).await;
                }
            }
        )*};
    }

    on_both! {
        database_and_shared: Database, Shared;
        shared_and_database: Shared, Database;
        database_and_database: Database, Database;
    }

    async fn schema_and_shared(app: crate::support::TestApp) {
        super::walk(app, Schema, Shared).await;
    }

    async fn shared_and_schema(app: crate::support::TestApp) {
        super::walk(app, Shared, Schema).await;
    }

    async fn schema_and_schema(app: crate::support::TestApp) {
        super::walk(app, Schema, Schema).await;
    }

    async fn schema_and_database(app: crate::support::TestApp) {
        super::walk(app, Schema, Database).await;
    }

    async fn database_and_schema(app: crate::support::TestApp) {
        super::walk(app, Database, Schema).await;
    }
}

/// The resource a path segment names, to the id of A's row of it. A new
/// resource needs one line here; the walker fails until it has it.
fn fixture_ids(project: &Value, task: &Value, key_id: &str, member: &str) -> HashMap<&'static str, String> {
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    HashMap::from([
        ("projects", id(project)),
        ("tasks", id(task)),
        ("api-keys", key_id.to_owned()),
        ("users", member.to_owned()),
    ])
}

/// The resource a parameter refers to: `{id}` after `/projects`, or a
/// `project_id` anywhere.
fn resource_of(param: &str, previous_segment: &str) -> String {
    match param.strip_suffix("_id") {
        Some(stem) => format!("{stem}s").replace('_', "-"),
        None => previous_segment.to_owned(),
    }
}

fn example_body(spec: &Value, op: &Value) -> Option<Value> {
    let schema = op["requestBody"]["content"]["application/json; charset=utf-8"]["schema"]
        .as_object()
        .or_else(|| op["requestBody"]["content"]["application/json"]["schema"].as_object())?;
    let name = schema.get("$ref")?.as_str()?.rsplit('/').next()?;
    let example = spec["components"]["schemas"][name]["example"].clone();
    assert!(!example.is_null(), "input schema {name} has no example");
    Some(example)
}

async fn tenant_b_never_reaches_tenant_a(app: TestApp) {
    walk(app, Placement::Shared, Placement::Shared).await;
}

/// The walk itself, with A in `a_in` and B in `b_in`.
async fn walk(app: TestApp, a_in: Placement, b_in: Placement) {
    let a = app.tenant_in("alpha", a_in).await;
    let b = app.tenant_in("beta", b_in).await;
    let project = app
        .post(
            "/v1/projects",
            &a.key,
            json!({"name": "A-secret-project", "description": "A-secret"}),
        )
        .await
        .ok(201)
        .clone();
    let task = app
        .task(
            &a.key,
            &project,
            json!({"title": "A-secret-task", "due_date": "2026-01-01"}),
        )
        .await;
    let (_, spare_key) = app.key(a.id, tenantry::access::Scopes::all(), None).await;
    // A member of A's: a person added to A from the CLI.
    let member = app.cli(
        &[
            "user",
            "create",
            "--email",
            "a-member@example.com",
            "--password-stdin",
            "--tenant",
            &a.slug,
            "--role",
            "admin",
        ],
        &format!("{}\n", crate::support::PASSWORD),
    );
    assert!(member.status.success(), "{}", String::from_utf8_lossy(&member.stderr));
    let member: Value = serde_json::from_slice(&member.stdout).expect("JSON");
    let ids = fixture_ids(
        &project,
        &task,
        &spare_key.to_string(),
        member["id"].as_str().unwrap_or_default(),
    );
    let a_markers: Vec<String> = ids
        .values()
        .cloned()
        .chain(["A-secret".to_owned(), a.id.to_string(), a.slug.clone()])
        .collect();
    let b_project = app.project(&b.key, "B's own").await;

    let spec: Value = serde_json::from_str(&tenantry::openapi::spec_json()).expect("spec is JSON");
    let mut id_operations = 0;
    let mut filter_operations = 0;
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let op_id = op["operationId"].as_str().unwrap_or("?");
            // A person's own data (sessions, profile) is walked by the
            // cross-user walker (user_isolation.rs); public operations hold none.
            let tenant_scoped = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("ApiKeyAuth").is_some()));
            if !tenant_scoped {
                continue;
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut path = template.clone();
            let mut takes_id = false;
            let segments: Vec<&str> = template.split('/').collect();
            for (i, segment) in segments.iter().enumerate() {
                if let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let resource = resource_of(param, segments[i - 1]);
                    let id = ids.get(resource.as_str()).unwrap_or_else(|| {
                        panic!("{op_id}: no fixture id for resource `{resource}`; add one to fixture_ids")
                    });
                    path = path.replace(segment, id);
                    takes_id = true;
                }
            }
            let body = example_body(&spec, op);
            if takes_id {
                id_operations += 1;
                let r = app
                    .call(&method.to_uppercase(), &path, Some(&b.key), body.as_ref())
                    .await;
                r.problem(404, "not_found");
                for marker in &a_markers {
                    assert!(
                        !r.body.to_string().contains(marker.as_str()),
                        "{op_id} leaked {marker}: {}",
                        r.body
                    );
                }
                continue;
            }
            if method != "get" {
                continue;
            }
            // A list: as B it never shows A's rows, and filters given A's ids
            // answer an empty page.
            let r = app.call("GET", &path, Some(&b.key), None).await;
            assert_eq!(r.status, 200, "{op_id}: {}", r.body);
            for marker in &a_markers {
                assert!(
                    !r.body.to_string().contains(marker.as_str()),
                    "{op_id} leaked {marker}: {}",
                    r.body
                );
            }
            for param in params
                .iter()
                .filter(|p| p["in"] == "query" && p["schema"]["format"] == "uuid")
            {
                let name = param["name"].as_str().unwrap_or_default();
                let resource = resource_of(name, "");
                let id = ids
                    .get(resource.as_str())
                    .unwrap_or_else(|| panic!("{op_id}: no fixture id for `{resource}`"));
                let r = app
                    .call("GET", &format!("{path}?{name}={id}"), Some(&b.key), None)
                    .await;
                assert_eq!(r.status, 200, "{op_id}?{name}: {}", r.body);
                assert_eq!(r.body["items"], json!([]), "{op_id}?{name}=<A's> lists nothing");
                filter_operations += 1;
            }
        }
    }
    assert!(
        id_operations >= 9,
        "the walker saw only {id_operations} id-taking operations"
    );
    assert!(filter_operations >= 1, "the walker saw no id filters");

    // A's data is intact, B's own still works.
    let pid = ids["projects"].clone();
    let got = app.get(&format!("/v1/projects/{pid}"), &a.key).await.ok(200).clone();
    assert_eq!(got, project);
    assert_eq!(
        app.get(&format!("/v1/tasks/{}", ids["tasks"]), &a.key).await.ok(200),
        &task
    );
    let keys = app.get("/v1/api-keys?limit=100", &a.key).await.ok(200).clone();
    assert_eq!(
        keys["items"].as_array().map(Vec::len),
        Some(2),
        "B revoked none of A's keys"
    );
    let b_pid = b_project["id"].as_str().unwrap_or_default();
    app.get(&format!("/v1/projects/{b_pid}"), &b.key).await.ok(200);
    // And B cannot attach a task to A's project.
    app.post(&format!("/v1/projects/{pid}/tasks"), &b.key, json!({"title": "x"}))
        .await
        .problem(404, "not_found");
    assert_eq!(app.read_all("/v1/tasks", &a.key, 100).await.len(), 1);
}

/// On a runtime of several threads, so requests really are written to the
/// shared connections at the same time.
mod concurrent_requests_of_many_tenants_stay_apart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        let app = crate::support::TestApp::spawn_sqlite().await;
        super::concurrent_requests_of_many_tenants_stay_apart(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        let Some(app) = crate::support::TestApp::spawn_postgres().await else {
            return;
        };
        super::concurrent_requests_of_many_tenants_stay_apart(app).await;
    }
}

/// Many tenants' requests in flight at once (on PostgreSQL they share a few
/// connections, many transactions queued on each): every answer is the
/// caller's own, another tenant's id is a 404, and every write lands on
/// the writer's row.
async fn concurrent_requests_of_many_tenants_stay_apart(app: TestApp) {
    const TENANTS: usize = 4;
    let mut tenants = Vec::new();
    for t in 0..TENANTS {
        // On PostgreSQL one tenant has a schema of its own, so the
        // transactions queued on one connection switch search paths too;
        // on both one has a database of its own.
        let postgres = app.settings.database.url().starts_with("postgres");
        let placement = match t {
            1 if postgres => Placement::Schema,
            3 => Placement::Database,
            _ => Placement::Shared,
        };
        let tenant = app.tenant_in(&format!("crowd{t}"), placement).await;
        let mut projects = Vec::new();
        for p in 0..3 {
            let project = app.project(&tenant.key, &format!("T{t}-P{p}")).await;
            projects.push(project["id"].as_str().unwrap_or_default().to_owned());
        }
        tenants.push((tenant, projects));
    }
    let app = std::sync::Arc::new(app);
    let tenants = std::sync::Arc::new(tenants);
    let calls = (0..800).map(|k| {
        let app = app.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let t = k % TENANTS;
            let (tenant, projects) = &tenants[t];
            let own = &projects[k % 3];
            let other = &tenants[(t + 1 + k % (TENANTS - 1)) % TENANTS].1[k % 3];
            match k % 4 {
                0 => {
                    let r = app.get(&format!("/v1/projects/{own}"), &tenant.key).await;
                    let body = r.ok(200);
                    assert_eq!(body["name"], format!("T{t}-P{}", k % 3), "get {k}");
                }
                1 => {
                    let r = app.get(&format!("/v1/projects/{other}"), &tenant.key).await;
                    r.problem(404, "not_found");
                }
                2 => {
                    let r = app.get("/v1/projects?limit=10", &tenant.key).await;
                    let names: Vec<String> = r.ok(200)["items"]
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    assert_eq!(
                        names,
                        (0..3).map(|p| format!("T{t}-P{p}")).collect::<Vec<_>>(),
                        "list {k}"
                    );
                }
                _ => {
                    let r = app
                        .patch(
                            &format!("/v1/projects/{own}"),
                            &tenant.key,
                            json!({"description": format!("by T{t} at {k}")}),
                        )
                        .await;
                    assert_eq!(r.ok(200)["description"], format!("by T{t} at {k}"), "patch {k}");
                    let r = app
                        .patch(
                            &format!("/v1/projects/{other}"),
                            &tenant.key,
                            json!({"description": "stray"}),
                        )
                        .await;
                    r.problem(404, "not_found");
                }
            }
        })
    });
    for done in futures_util::future::join_all(calls).await {
        done.expect("a request task panicked");
    }
    for (t, (tenant, _)) in tenants.iter().enumerate() {
        for item in app.read_all("/v1/projects", &tenant.key, 10).await {
            let description = item["description"].as_str().unwrap_or_default();
            assert!(
                description.is_empty() || description.starts_with(&format!("by T{t} at")),
                "tenant {t} holds another's write: {description}"
            );
        }
    }
}
