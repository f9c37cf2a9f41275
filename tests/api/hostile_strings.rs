//! Hostile text, on both backends. Every free-text field the API takes
//! (project names and descriptions, task titles and descriptions, API key
//! names, the tenant's name, and a person's name, email and tenant name at
//! signup) is written through create and update with quotes, backslashes,
//! dollar-quote tags, comments, placeholders, statements and Unicode of every
//! kind, and read back through get and every list, filter and page byte for
//! byte. The database itself, read past the API, holds exactly that text
//! and exactly the rows that were created, so no value ran as SQL; another
//! tenant sees none of it. Every string-valued query and path parameter
//! refuses such text with a 4xx problem, never a 500, and changes nothing.
//! A NUL character is a 422 naming the field on every write, and writes
//! nothing.

use std::collections::BTreeMap;

use sea_orm::sqlx::{self, Connection, PgConnection, SqliteConnection};
use serde_json::{Value, json};

use crate::backends;
use crate::support::{PASSWORD, Resp, TestApp, TestTenant};

backends!(
    hostile_text_round_trips_through_projects_and_tasks,
    hostile_text_round_trips_through_api_keys_the_tenant_and_people,
    hostile_query_and_path_parameters_are_refused_and_change_nothing,
    hostile_nul_is_a_422_on_every_write_and_writes_nothing,
);

/// Text that breaks SQL built by splicing values into it, each a valid
/// value of every free-text field (1 to 100 characters, no NUL).
const HOSTILE: &[&str] = &[
    // Single quotes, and the statements they would end.
    "'",
    "''",
    "'''",
    "it's",
    "'; DROP TABLE projects; --",
    "'); DROP TABLE tasks; --",
    "' OR '1'='1",
    "x' OR 1=1 --",
    "'||(SELECT current_user)||'",
    // Double quotes (identifiers).
    "\"",
    "\"\"",
    "\"; DROP TABLE \"projects\"; --",
    "\"projects\".\"name\"",
    // Backslashes and escape-string syntax, as text.
    r"\",
    r"\\",
    r"\'",
    r"\\'",
    r"\x00",
    r"\0",
    r"\u0000",
    r"\n\r\t",
    r"E'\n'",
    r"e'\\' || '",
    r"E'\x41\''",
    r"U&'\0041'",
    // Dollar signs and dollar-quote tags, including strings that end in a
    // part of one.
    "$",
    "$$",
    "$$$",
    "$v$",
    "$v1$",
    "x$v",
    "x$v1",
    "x$",
    "$tag$ body $tag$",
    "$v$ $v1$ $v2$ $v3$ $v4$ $v5$ $v6$ $v7$ $v8$ $v9$ $v10$",
    "$v$$v1$$v2$",
    "ends in $v",
    "ends in $v1",
    "ends in $",
    "$$; DROP TABLE projects; $$",
    // SQL comments.
    "--",
    "-- comment",
    "/*",
    "*/",
    "/* unclosed",
    "*/ closed /*",
    "/* nested /* */",
    // Placeholders of every driver.
    "$1",
    "$2::text",
    "$0 $1 $99999999999999999999",
    "?",
    "??",
    ":name",
    "@name",
    "%s %d %%",
    "{0} {{}}",
    // LIKE wildcards.
    "%",
    "_",
    "%_[]^",
    // Semicolons and whole statements.
    ";",
    ";;",
    "; SELECT pg_sleep(5); --",
    "; DELETE FROM tasks; --",
    "COMMIT; DROP TABLE tasks; BEGIN;",
    "SET LOCAL app.tenant_id = '00000000-0000-0000-0000-000000000000'",
    // Unicode: combining marks (kept decomposed), a precomposed twin, emoji
    // and ZWJ sequences, 4-byte characters, right-to-left text and
    // overrides, line and paragraph separators, a BOM, a zero-width space,
    // a noncharacter and control characters.
    "Zürich 東京",
    "e\u{301}",
    "\u{e9}",
    "Z\u{351}\u{361}a\u{301}\u{302}\u{303}l\u{304}g\u{305}o",
    "🚀",
    "𝕳𝖊𝖑𝖑𝖔",
    "\u{10FFFF}",
    "👩\u{200D}👩\u{200D}👧\u{200D}👦",
    "🏳\u{FE0F}\u{200D}🌈",
    "שלום עולם",
    "مرحبا بالعالم",
    "\u{202E}desrever\u{202C}",
    "a\u{2028}b\u{2029}c",
    "\u{2028}",
    "\u{FEFF}bom",
    "zero\u{200B}width",
    "\u{FFFD}\u{FFFF}",
    "\u{1}\u{1F}\u{7F}\u{80}\u{9F}",
    // Whitespace: only whitespace, and at the edges.
    " ",
    "   ",
    "\t",
    "\r\n",
    "\n",
    "\u{A0}",
    "\u{3000}",
    "  padded  ",
    "line\nbreak\ttab\rreturn",
];

/// Local parts of email addresses the rules accept (no whitespace or
/// control characters), as hostile as those allow.
const EMAIL_LOCALS: &[&str] = &[
    "o'brien",
    "O'Brien.Upper",
    "''",
    "';drop-table-users;--",
    "\"quoted\"",
    r"back\slash",
    r"\'",
    "$v$",
    "x$v",
    "$1",
    "?",
    ":name",
    "/*",
    "*/",
    "--",
    "%_",
    "u\u{308}\u{301}",
    "🚀",
];

const STATUSES: [&str; 3] = ["todo", "in_progress", "done"];
const DUE_DATES: [Option<&str>; 4] = [None, Some("2026-01-31"), Some("2026-07-04"), Some("2027-12-24")];
const PROJECT_NAME_MAX: usize = 200;
const TASK_TITLE_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 10_000;
const API_KEY_NAME_MAX: usize = 100;
const TENANT_NAME_MAX: usize = 200;
const PERSON_NAME_MAX: usize = 200;
/// The longest tenant reference (login, switch-tenant).
const TENANT_REF_MAX: usize = 63;

/// Exactly `len` characters of quotes, backslashes, dollar tags, comment
/// openers, semicolons, combining marks, a line separator and 4-byte
/// characters, starting at `seed` in the cycle and bracketed by `<` and
/// `>` (no whitespace at the edges).
fn long_text(len: usize, seed: usize) -> String {
    const PIECES: &str = "'\"\\$v$$--/*;🚀e\u{301}\u{2028}x$v1𝕳\u{202E}?$1:";
    let body: String = PIECES.chars().cycle().skip(seed).take(len - 2).collect();
    format!("<{body}>")
}

/// Percent-encodes every byte but ASCII letters and digits.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Byte-for-byte equality of a JSON string with `want`.
#[track_caller]
fn same_text(got: &Value, want: &str, what: &str) {
    assert_eq!(
        got.as_str().map(str::as_bytes),
        Some(want.as_bytes()),
        "{what}: got {got}, sent {want:?}"
    );
}

/// A 422 naming exactly `fields`, each with `code`.
#[track_caller]
fn refused(r: &Resp, fields: &[&str], code: &str) {
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), fields, "fields of {}", r.body);
    for error in r.body["errors"].as_array().into_iter().flatten() {
        assert_eq!(error["code"], code, "{error}");
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// Every row of a list (small pages, so that cursors are followed), by id.
async fn listed(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    app.read_all(path, key, 7).await
}

/// The database, read past the API (on PostgreSQL as the owner, whom
/// row-level security does not filter).
enum Raw {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Raw {
    async fn open(app: &TestApp) -> Raw {
        let url = app.settings.database.url();
        if url.starts_with("postgres") {
            Raw::Pg(PgConnection::connect(url).await.expect("connect to PostgreSQL"))
        } else {
            Raw::Sqlite(SqliteConnection::connect(url).await.expect("connect to SQLite"))
        }
    }

    /// Every row of a two-column text query, sorted.
    async fn pairs(&mut self, sql: &str) -> Vec<(Option<String>, Option<String>)> {
        type Pair = (Option<String>, Option<String>);
        let owned = sqlx::AssertSqlSafe(sql.to_owned());
        let mut rows = match self {
            Raw::Pg(conn) => sqlx::query_as::<_, Pair>(owned).fetch_all(conn).await,
            Raw::Sqlite(conn) => sqlx::query_as::<_, Pair>(owned).fetch_all(conn).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.sort();
        rows
    }

    async fn count(&mut self, sql: &str) -> i64 {
        let owned = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Pg(conn) => sqlx::query_scalar::<_, i64>(owned).fetch_one(conn).await,
            Raw::Sqlite(conn) => sqlx::query_scalar::<_, i64>(owned).fetch_one(conn).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A tenant-set table in every storage: the shared one and, on
    /// PostgreSQL, each tenant schema, as one `UNION ALL` of `columns`.
    async fn everywhere(&mut self, columns: &str, table: &str) -> String {
        let mut storages = vec!["public".to_owned()];
        if let Raw::Pg(conn) = self {
            let schemas: Vec<String> =
                sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%' ORDER BY 1")
                    .fetch_all(conn)
                    .await
                    .expect("tenant schemas");
            storages.extend(schemas);
        } else {
            return format!("SELECT {columns} FROM {table}");
        }
        storages
            .iter()
            .map(|schema| format!("SELECT {columns} FROM {schema}.{table}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    }

    /// Every row of a tenant-set table, in every storage, sorted.
    async fn tenant_pairs(&mut self, columns: &str, table: &str) -> Vec<(Option<String>, Option<String>)> {
        let sql = self.everywhere(columns, table).await;
        self.pairs(&sql).await
    }

    async fn tenant_count(&mut self, table: &str) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM ({}) AS every_storage",
            self.everywhere("1", table).await
        );
        self.count(&sql).await
    }

    /// Row counts of the tables requests write to.
    async fn counts(&mut self) -> BTreeMap<&'static str, i64> {
        BTreeMap::from([
            ("tenants", self.count("SELECT count(*) FROM tenants").await),
            ("users", self.count("SELECT count(*) FROM users").await),
            ("memberships", self.count("SELECT count(*) FROM memberships").await),
            ("projects", self.tenant_count("projects").await),
            ("tasks", self.tenant_count("tasks").await),
            ("api_keys", self.count("SELECT count(*) FROM api_keys").await),
        ])
    }
}

fn text_pair(a: &Value, b: &Value) -> (Option<String>, Option<String>) {
    (a.as_str().map(str::to_owned), b.as_str().map(str::to_owned))
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Creates a project, checks the answer and a read of it, and returns it.
async fn create_project(app: &TestApp, key: &str, name: &str, description: Option<&str>) -> Value {
    let created = app
        .post("/v1/projects", key, json!({"name": name, "description": description}))
        .await
        .ok(201)
        .clone();
    same_text(&created["name"], name, "created project name");
    match description {
        Some(d) => same_text(&created["description"], d, "created project description"),
        None => assert!(created["description"].is_null(), "{created}"),
    }
    let got = app.get(&format!("/v1/projects/{}", id_of(&created)), key).await;
    assert_eq!(got.ok(200), &created, "a read gives what the create answered");
    created
}

/// Changes a project, checks the answer and a read of it, and returns it.
async fn patch_project(app: &TestApp, key: &str, project: &Value, body: Value) -> Value {
    let path = format!("/v1/projects/{}", id_of(project));
    let patched = app.patch(&path, key, body.clone()).await.ok(200).clone();
    for field in ["name", "description"] {
        match body.get(field) {
            Some(Value::String(s)) => same_text(&patched[field], s, "patched project"),
            Some(_) => panic!("only text is sent"),
            None => assert_eq!(patched[field], project[field], "{field} kept"),
        }
    }
    assert_eq!(app.get(&path, key).await.ok(200), &patched);
    patched
}

async fn create_task(app: &TestApp, key: &str, project: &Value, body: Value) -> Value {
    let created = app.task(key, project, body.clone()).await;
    same_text(
        &created["title"],
        body["title"].as_str().expect("a title"),
        "created task title",
    );
    match body["description"].as_str() {
        Some(d) => same_text(&created["description"], d, "created task description"),
        None => assert!(created["description"].is_null(), "{created}"),
    }
    let got = app.get(&format!("/v1/tasks/{}", id_of(&created)), key).await;
    assert_eq!(got.ok(200), &created);
    created
}

async fn patch_task(app: &TestApp, key: &str, task: &Value, body: Value) -> Value {
    let path = format!("/v1/tasks/{}", id_of(task));
    let patched = app.patch(&path, key, body.clone()).await.ok(200).clone();
    for field in ["title", "description"] {
        match body.get(field) {
            Some(Value::String(s)) => same_text(&patched[field], s, "patched task"),
            Some(_) => panic!("only text is sent"),
            None => assert_eq!(patched[field], task[field], "{field} kept"),
        }
    }
    assert_eq!(app.get(&path, key).await.ok(200), &patched);
    patched
}

/// A list read page by page is exactly `expected` (whole objects, so every
/// text byte for byte), in the list's own order.
#[track_caller]
fn same_rows(listed: &[Value], expected: &BTreeMap<String, Value>, what: &str) {
    assert_eq!(listed.len(), expected.len(), "{what}: row count");
    for row in listed {
        let want = expected
            .get(&id_of(row))
            .unwrap_or_else(|| panic!("{what}: a row that was not expected: {row}"));
        assert_eq!(row, want, "{what}");
    }
}

async fn hostile_text_round_trips_through_projects_and_tasks(app: TestApp) {
    let t = app.tenant("hostile").await;
    let bystander = app.tenant("bystander").await;
    let theirs = app.project(&bystander.key, "bystander's own").await;
    let their_task = app
        .task(&bystander.key, &theirs, json!({"title": "bystander's task"}))
        .await;
    let n = HOSTILE.len();
    let mut projects: BTreeMap<String, Value> = BTreeMap::new();
    let mut tasks: BTreeMap<String, Value> = BTreeMap::new();

    for (i, &text) in HOSTILE.iter().enumerate() {
        let other = HOSTILE[(i + 1) % n];
        let third = HOSTILE[(i + 2) % n];
        // Created with one hostile text, then changed to others (and, for
        // some, the description emptied, which is not the same as null).
        let project = create_project(&app, &t.key, text, Some(other)).await;
        let project = patch_project(&app, &t.key, &project, json!({"name": third, "description": text})).await;
        let project = if i % 5 == 0 {
            patch_project(&app, &t.key, &project, json!({"description": ""})).await
        } else {
            project
        };
        let mut body = json!({
            "title": text,
            "description": third,
            "status": STATUSES[i % STATUSES.len()],
        });
        if let Some(due) = DUE_DATES[i % DUE_DATES.len()] {
            body["due_date"] = json!(due);
        }
        let task = create_task(&app, &t.key, &project, body).await;
        let task = patch_task(&app, &t.key, &task, json!({"title": other, "description": text})).await;
        projects.insert(id_of(&project), project);
        tasks.insert(id_of(&task), task);
    }

    // Every hostile text at once, and text at exactly the longest allowed
    // length (in characters, not bytes).
    let all = HOSTILE.concat();
    assert!(all.chars().count() <= DESCRIPTION_MAX);
    let project = create_project(&app, &t.key, &long_text(PROJECT_NAME_MAX, 0), Some(&all)).await;
    let project = patch_project(
        &app,
        &t.key,
        &project,
        json!({"name": long_text(PROJECT_NAME_MAX, 3), "description": long_text(DESCRIPTION_MAX, 5)}),
    )
    .await;
    let task = create_task(
        &app,
        &t.key,
        &project,
        json!({"title": long_text(TASK_TITLE_MAX, 1), "description": long_text(DESCRIPTION_MAX, 2)}),
    )
    .await;
    let task = patch_task(
        &app,
        &t.key,
        &task,
        json!({"title": long_text(TASK_TITLE_MAX, 7), "description": all}),
    )
    .await;
    projects.insert(id_of(&project), project.clone());
    tasks.insert(id_of(&task), task.clone());

    // One character over is a 422 naming the field, on create and update.
    let over_name = long_text(PROJECT_NAME_MAX + 1, 0);
    let over_description = long_text(DESCRIPTION_MAX + 1, 0);
    let r = app
        .post(
            "/v1/projects",
            &t.key,
            json!({"name": over_name, "description": over_description}),
        )
        .await;
    refused(&r, &["description", "name"], "too_long");
    let r = app
        .post("/v1/projects", &t.key, json!({"name": over_name, "description": "ok"}))
        .await;
    refused(&r, &["name"], "too_long");
    let r = app
        .patch(
            &format!("/v1/projects/{}", id_of(&project)),
            &t.key,
            json!({"name": over_name, "description": over_description}),
        )
        .await;
    refused(&r, &["description", "name"], "too_long");
    let r = app
        .post(
            &format!("/v1/projects/{}/tasks", id_of(&project)),
            &t.key,
            json!({"title": long_text(TASK_TITLE_MAX + 1, 1), "description": over_description}),
        )
        .await;
    refused(&r, &["description", "title"], "too_long");
    let r = app
        .patch(
            &format!("/v1/tasks/{}", id_of(&task)),
            &t.key,
            json!({"title": long_text(TASK_TITLE_MAX + 1, 1), "description": over_description}),
        )
        .await;
    refused(&r, &["description", "title"], "too_long");

    // Every list, page by page, under every filter and sort, gives each row
    // exactly as its last read did.
    same_rows(&listed(&app, "/v1/projects", &t.key).await, &projects, "projects");
    for query in [
        "",
        "?sort=created_at&direction=desc",
        "?sort=due_date",
        "?sort=due_date&direction=desc",
    ] {
        same_rows(
            &listed(&app, &format!("/v1/tasks{query}"), &t.key).await,
            &tasks,
            &format!("tasks{query}"),
        );
    }
    for status in STATUSES {
        let expected = tasks
            .iter()
            .filter(|(_, task)| task["status"] == status)
            .map(|(id, task)| (id.clone(), task.clone()))
            .collect();
        let path = format!("/v1/tasks?status={status}&sort=due_date&direction=desc");
        same_rows(&listed(&app, &path, &t.key).await, &expected, &path);
    }
    let expected = tasks
        .iter()
        .filter(|(_, task)| task["due_date"].as_str().is_some_and(|d| d < "2027-01-01"))
        .map(|(id, task)| (id.clone(), task.clone()))
        .collect();
    let path = "/v1/tasks?due_before=2027-01-01";
    same_rows(&listed(&app, path, &t.key).await, &expected, path);
    for project in projects.values().step_by(9) {
        let pid = id_of(project);
        let expected: BTreeMap<String, Value> = tasks
            .iter()
            .filter(|(_, task)| task["project_id"].as_str() == Some(pid.as_str()))
            .map(|(id, task)| (id.clone(), task.clone()))
            .collect();
        assert_eq!(expected.len(), 1);
        for path in [
            format!("/v1/tasks?project_id={pid}"),
            format!("/v1/projects/{pid}/tasks?sort=due_date"),
        ] {
            same_rows(&listed(&app, &path, &t.key).await, &expected, &path);
        }
    }

    // The database holds exactly this text and these rows: nothing was
    // dropped, deleted or added by a value run as SQL.
    let mut raw = Raw::open(&app).await;
    let mut want_projects: Vec<_> = projects
        .values()
        .map(|p| text_pair(&p["name"], &p["description"]))
        .collect();
    want_projects.push(text_pair(&theirs["name"], &theirs["description"]));
    assert_eq!(
        raw.tenant_pairs("name, description", "projects").await,
        sorted(want_projects),
        "stored project text"
    );
    let mut want_tasks: Vec<_> = tasks
        .values()
        .map(|t| text_pair(&t["title"], &t["description"]))
        .collect();
    want_tasks.push(text_pair(&their_task["title"], &their_task["description"]));
    assert_eq!(
        raw.tenant_pairs("title, description", "tasks").await,
        sorted(want_tasks),
        "stored task text"
    );
    let counts = raw.counts().await;
    assert_eq!(counts["projects"], projects.len() as i64 + 1, "{counts:?}");
    assert_eq!(counts["tasks"], tasks.len() as i64 + 1, "{counts:?}");
    assert_eq!(counts["tenants"], 2, "{counts:?}");
    assert_eq!(counts["api_keys"], 2, "{counts:?}");

    // The other tenant sees only its own rows, and none of these by id.
    let their_projects = listed(&app, "/v1/projects", &bystander.key).await;
    assert_eq!(their_projects, vec![theirs.clone()]);
    let their_tasks = listed(&app, "/v1/tasks", &bystander.key).await;
    assert_eq!(their_tasks, vec![their_task.clone()]);
    for (id, project) in projects.iter().step_by(7) {
        app.get(&format!("/v1/projects/{id}"), &bystander.key)
            .await
            .problem(404, "not_found");
        let pid = id_of(project);
        assert!(
            listed(&app, &format!("/v1/tasks?project_id={pid}"), &bystander.key)
                .await
                .is_empty()
        );
    }
    for id in tasks.keys().step_by(7) {
        app.get(&format!("/v1/tasks/{id}"), &bystander.key)
            .await
            .problem(404, "not_found");
    }
}

/// The tenant's and a person's names as stored: trimmed of whitespace at
/// the edges, which the rules do to these two (and not to project, task or
/// key text).
fn trimmed(text: &str) -> &str {
    text.trim()
}

async fn hostile_text_round_trips_through_api_keys_the_tenant_and_people(app: TestApp) {
    let t = app.tenant("hostile").await;
    let bystander = app.tenant("bystander").await;
    let their_tenant = app.get("/v1/tenant", &bystander.key).await.ok(200).clone();

    // API key names: as created, as the key itself reads them, as listed.
    let mut key_names: BTreeMap<String, String> = BTreeMap::from([(t.key_id.to_string(), "test".to_owned())]);
    let longest = long_text(API_KEY_NAME_MAX, 4);
    for name in HOSTILE.iter().copied().chain([longest.as_str()]) {
        let created = app
            .post(
                "/v1/api-keys",
                &t.key,
                json!({"name": name, "scopes": ["projects:read"]}),
            )
            .await
            .ok(201)
            .clone();
        same_text(&created["name"], name, "created key name");
        let secret = created["key"].as_str().expect("the secret");
        let current = app.get("/v1/api-keys/current", secret).await.ok(200).clone();
        same_text(&current["api_key"]["name"], name, "the key's own name");
        assert_eq!(current["tenant"]["id"], t.id.to_string());
        key_names.insert(id_of(&created), name.to_owned());
    }
    let r = app
        .post(
            "/v1/api-keys",
            &t.key,
            json!({"name": long_text(API_KEY_NAME_MAX + 1, 4), "scopes": ["projects:read"]}),
        )
        .await;
    refused(&r, &["name"], "too_long");
    let keys = listed(&app, "/v1/api-keys", &t.key).await;
    assert_eq!(keys.len(), key_names.len(), "every key listed once");
    for key in &keys {
        let want = key_names.get(&id_of(key)).expect("a key of this tenant");
        same_text(&key["name"], want, "listed key name");
    }

    // The tenant's name.
    let mut tenant_name = t.slug.clone();
    let longest = long_text(TENANT_NAME_MAX, 6);
    for name in HOSTILE.iter().copied().chain([longest.as_str()]) {
        let r = app.patch("/v1/tenant", &t.key, json!({"name": name})).await;
        if trimmed(name).is_empty() {
            refused(&r, &["name"], "too_short");
        } else {
            tenant_name = trimmed(name).to_owned();
            same_text(&r.ok(200)["name"], &tenant_name, "renamed tenant");
        }
        let got = app.get("/v1/tenant", &t.key).await.ok(200).clone();
        same_text(&got["name"], &tenant_name, "the tenant's name");
    }
    let r = app
        .patch("/v1/tenant", &t.key, json!({"name": long_text(TENANT_NAME_MAX + 1, 6)}))
        .await;
    refused(&r, &["name"], "too_long");
    let current = app.get("/v1/api-keys/current", &t.key).await.ok(200).clone();
    same_text(
        &current["tenant"]["name"],
        &tenant_name,
        "the tenant as its key reads it",
    );
    assert_eq!(app.get("/v1/tenant", &bystander.key).await.ok(200), &their_tenant);

    // People: a display name and a tenant name at signup, read back from
    // the session, /me and the member list; emails with quotes and dollar
    // signs, stored lowercase and signed in with.
    let mut people: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut tenant_names: Vec<(Option<String>, Option<String>)> = vec![
        (Some(tenant_name.clone()), None),
        (their_tenant["name"].as_str().map(str::to_owned), None),
    ];
    let mut first_person: Option<Value> = None;
    let longest = long_text(PERSON_NAME_MAX, 8);
    let names = HOSTILE.iter().copied().chain([longest.as_str()]);
    for (i, name) in names.enumerate() {
        let email = format!("{}+{i}@example.com", EMAIL_LOCALS[i % EMAIL_LOCALS.len()]);
        let body = json!({
            "email": email,
            "password": PASSWORD,
            "name": name,
            "tenant_name": name,
            "tenant_slug": format!("people-{i}"),
        });
        let r = app.call("POST", "/v1/auth/signup", None, Some(&body)).await;
        if trimmed(name).is_empty() {
            refused(&r, &["name", "tenant_name"], "too_short");
            continue;
        }
        let session = r.ok(201).clone();
        let want_email = email.to_lowercase();
        same_text(&session["user"]["name"], trimmed(name), "signed-up name");
        same_text(&session["user"]["email"], &want_email, "signed-up email");
        same_text(&session["tenant"]["name"], trimmed(name), "signed-up tenant name");
        let access = session["access_token"].as_str().expect("an access token");
        let me = app.get("/v1/me", access).await.ok(200).clone();
        same_text(&me["user"]["name"], trimmed(name), "/me name");
        same_text(&me["user"]["email"], &want_email, "/me email");
        let memberships = me["memberships"].as_array().expect("memberships");
        assert_eq!(memberships.len(), 1, "{me}");
        same_text(&memberships[0]["tenant"]["name"], trimmed(name), "/me tenant name");
        let members = listed(&app, "/v1/members", access).await;
        assert_eq!(members.len(), 1, "{members:?}");
        same_text(&members[0]["name"], trimmed(name), "member name");
        same_text(&members[0]["email"], &want_email, "member email");
        people.push((Some(trimmed(name).to_owned()), Some(want_email)));
        tenant_names.push((Some(trimmed(name).to_owned()), None));
        if first_person.is_none() {
            first_person = Some(session.clone());
        }
        // Some sign in again by email, in another case.
        if i < EMAIL_LOCALS.len() && i % 3 == 0 {
            let again = app.login(&email.to_uppercase(), PASSWORD, None).await.ok(200).clone();
            assert_eq!(again["user"]["id"], session["user"]["id"]);
            same_text(&again["user"]["email"], &email.to_lowercase(), "signed-in email");
        }
    }
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({
                "email": "too-long@example.com",
                "password": PASSWORD,
                "name": long_text(PERSON_NAME_MAX + 1, 8),
                "tenant_name": long_text(TENANT_NAME_MAX + 1, 8),
            })),
        )
        .await;
    refused(&r, &["name", "tenant_name"], "too_long");

    // Hostile tenant references find no tenant, whether signing in or
    // switching; hostile refresh tokens find no session.
    let person = first_person.expect("someone signed up");
    let email = person["user"]["email"].as_str().expect("an email").to_owned();
    let access = person["access_token"].as_str().expect("an access token").to_owned();
    for (i, reference) in HOSTILE.iter().enumerate() {
        let r = app
            .post("/v1/auth/switch-tenant", &access, json!({"tenant": reference}))
            .await;
        if reference.chars().count() > TENANT_REF_MAX {
            refused(&r, &["tenant"], "too_long");
        } else {
            r.problem(404, "not_found");
        }
        if i % 20 == 0 && reference.chars().count() <= TENANT_REF_MAX {
            app.login(&email, PASSWORD, Some(reference))
                .await
                .problem(404, "not_found");
        }
        app.call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": reference})),
        )
        .await
        .problem(401, "unauthenticated");
    }
    // The person is still where they were.
    let me = app.get("/v1/me", &access).await.ok(200).clone();
    assert_eq!(me["tenant_id"], person["tenant"]["id"]);

    // The database holds exactly this text and these rows.
    let mut raw = Raw::open(&app).await;
    assert_eq!(
        raw.pairs("SELECT name, email FROM users").await,
        sorted(people.clone()),
        "stored names and emails"
    );
    assert_eq!(
        raw.pairs("SELECT name, CAST(NULL AS TEXT) FROM tenants").await,
        sorted(tenant_names.clone()),
        "stored tenant names"
    );
    let mut want_keys: Vec<_> = key_names.values().map(|n| (Some(n.clone()), None)).collect();
    want_keys.push((Some("test".to_owned()), None));
    assert_eq!(
        raw.pairs("SELECT name, CAST(NULL AS TEXT) FROM api_keys").await,
        sorted(want_keys),
        "stored key names"
    );
    let counts = raw.counts().await;
    assert_eq!(counts["users"], people.len() as i64, "{counts:?}");
    assert_eq!(counts["memberships"], people.len() as i64, "{counts:?}");
    assert_eq!(counts["tenants"], tenant_names.len() as i64, "{counts:?}");
    assert_eq!(counts["projects"], 0, "{counts:?}");

    // The other tenant sees only its own key and its own name.
    let theirs = listed(&app, "/v1/api-keys", &bystander.key).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["id"], bystander.key_id.to_string());
    assert_eq!(app.get("/v1/tenant", &bystander.key).await.ok(200), &their_tenant);
    assert!(listed(&app, "/v1/members", &bystander.key).await.is_empty());
}

/// A project and a task to aim at, and what the database holds around them.
struct Fixture {
    t: TestTenant,
    project: Value,
    task: Value,
    person_access: String,
}

impl Fixture {
    async fn new(app: &TestApp) -> Fixture {
        let t = app.tenant("hostile").await;
        let project = create_project(app, &t.key, "target", Some("d")).await;
        let task = create_task(
            app,
            &t.key,
            &project,
            json!({"title": "target", "description": "d", "due_date": "2026-05-01"}),
        )
        .await;
        let person = app.signup("hostile").await;
        Fixture {
            t,
            project,
            task,
            person_access: person.access,
        }
    }

    /// Nothing the tenant can read has changed.
    async fn unchanged(&self, app: &TestApp, keys_before: &[Value]) {
        let key = &self.t.key;
        assert_eq!(listed(app, "/v1/projects", key).await, vec![self.project.clone()]);
        assert_eq!(listed(app, "/v1/tasks", key).await, vec![self.task.clone()]);
        assert_eq!(
            app.get(&format!("/v1/projects/{}", id_of(&self.project)), key)
                .await
                .ok(200),
            &self.project
        );
        assert_eq!(
            app.get(&format!("/v1/tasks/{}", id_of(&self.task)), key).await.ok(200),
            &self.task
        );
        let keys = listed(app, "/v1/api-keys", key).await;
        assert_eq!(
            keys.iter().map(id_of).collect::<Vec<_>>(),
            keys_before.iter().map(id_of).collect::<Vec<_>>()
        );
    }
}

async fn hostile_query_and_path_parameters_are_refused_and_change_nothing(app: TestApp) {
    let f = Fixture::new(&app).await;
    let key = f.t.key.as_str();
    let keys_before = listed(&app, "/v1/api-keys", key).await;
    let tenant_before = app.get("/v1/tenant", key).await.ok(200).clone();
    let counts_before = Raw::open(&app).await.counts().await;
    let pid = id_of(&f.project);
    let lists = [
        "/v1/projects".to_owned(),
        "/v1/tasks".to_owned(),
        format!("/v1/projects/{pid}/tasks"),
        "/v1/api-keys".to_owned(),
        "/v1/members".to_owned(),
    ];
    let too_long = long_text(600, 0);
    for text in HOSTILE.iter().copied().chain([too_long.as_str()]) {
        let e = enc(text);
        // Cursors: none of these is one this server issued.
        for list in &lists {
            app.get(&format!("{list}?cursor={e}"), key)
                .await
                .problem(400, "invalid_cursor");
        }
        // Every other string-valued parameter of the lists has a type
        // (an enum, a uuid, a date, a number) that this text is not.
        for list in &lists[1..3] {
            for param in ["status", "sort", "direction", "due_before", "limit"] {
                app.get(&format!("{list}?{param}={e}"), key)
                    .await
                    .problem(400, "bad_request");
            }
        }
        app.get(&format!("/v1/tasks?project_id={e}"), key)
            .await
            .problem(400, "bad_request");
        for list in ["/v1/projects", "/v1/api-keys", "/v1/members"] {
            app.get(&format!("{list}?limit={e}"), key)
                .await
                .problem(400, "bad_request");
        }
        // Path ids.
        let by_id = [
            ("GET", format!("/v1/projects/{e}"), None),
            ("PATCH", format!("/v1/projects/{e}"), Some(json!({"name": "x"}))),
            ("DELETE", format!("/v1/projects/{e}"), None),
            ("GET", format!("/v1/projects/{e}/tasks"), None),
            ("POST", format!("/v1/projects/{e}/tasks"), Some(json!({"title": "x"}))),
            ("GET", format!("/v1/tasks/{e}"), None),
            ("PATCH", format!("/v1/tasks/{e}"), Some(json!({"title": "x"}))),
            ("DELETE", format!("/v1/tasks/{e}"), None),
            ("DELETE", format!("/v1/api-keys/{e}"), None),
            ("PATCH", format!("/v1/members/{e}"), Some(json!({"role": "member"}))),
            ("DELETE", format!("/v1/members/{e}"), None),
        ];
        for (method, path, body) in &by_id {
            let r = app.call(method, path, Some(key), body.as_ref()).await;
            r.problem(400, "bad_request");
        }
        app.call(
            "DELETE",
            &format!("/v1/auth/sessions/{e}"),
            Some(&f.person_access),
            None,
        )
        .await
        .problem(400, "bad_request");
    }
    f.unchanged(&app, &keys_before).await;
    assert_eq!(app.get("/v1/tenant", key).await.ok(200), &tenant_before);
    assert_eq!(Raw::open(&app).await.counts().await, counts_before);
    app.get("/v1/me", &f.person_access).await.ok(200);
}

async fn hostile_nul_is_a_422_on_every_write_and_writes_nothing(app: TestApp) {
    let f = Fixture::new(&app).await;
    let key = f.t.key.as_str();
    let keys_before = listed(&app, "/v1/api-keys", key).await;
    let tenant_before = app.get("/v1/tenant", key).await.ok(200).clone();
    let counts_before = Raw::open(&app).await.counts().await;
    let project_path = format!("/v1/projects/{}", id_of(&f.project));
    let tasks_path = format!("{project_path}/tasks");
    let task_path = format!("/v1/tasks/{}", id_of(&f.task));
    let mut at_the_limit = long_text(PROJECT_NAME_MAX, 0);
    at_the_limit.replace_range(..1, "\0");
    let nuls = [
        "\0".to_owned(),
        "a\0b".to_owned(),
        "ends in NUL\0".to_owned(),
        "'; DROP TABLE projects; --\0".to_owned(),
        "$v$\0$v$".to_owned(),
        format!("{}\0", HOSTILE.concat().chars().take(150).collect::<String>()),
        at_the_limit,
    ];
    for nul in &nuls {
        let writes: [(&str, &str, Value, &[&str]); 11] = [
            ("POST", "/v1/projects", json!({"name": nul}), &["name"]),
            (
                "POST",
                "/v1/projects",
                json!({"name": "ok", "description": nul}),
                &["description"],
            ),
            (
                "POST",
                "/v1/projects",
                json!({"name": nul, "description": nul}),
                &["description", "name"],
            ),
            ("PATCH", &project_path, json!({"name": nul}), &["name"]),
            ("PATCH", &project_path, json!({"description": nul}), &["description"]),
            ("POST", &tasks_path, json!({"title": nul}), &["title"]),
            (
                "POST",
                &tasks_path,
                json!({"title": nul, "description": nul}),
                &["description", "title"],
            ),
            ("PATCH", &task_path, json!({"title": nul}), &["title"]),
            ("PATCH", &task_path, json!({"description": nul}), &["description"]),
            ("POST", "/v1/api-keys", json!({"name": nul}), &["name"]),
            ("PATCH", "/v1/tenant", json!({"name": nul}), &["name"]),
        ];
        for (method, path, body, fields) in &writes {
            let r = app.call(method, path, Some(key), Some(body)).await;
            assert_ne!(r.status, 500, "{method} {path}: {}", r.body);
            refused(&r, fields, "invalid");
        }
        // Signup, sign-in and the other text a person sends.
        let email = "nul.person@example.com";
        let signups: [(Value, &[&str]); 4] = [
            (
                json!({"email": email, "password": PASSWORD, "name": nul, "tenant_name": "ok"}),
                &["name"],
            ),
            (
                json!({"email": email, "password": PASSWORD, "name": "ok", "tenant_name": nul}),
                &["tenant_name"],
            ),
            (
                json!({"email": format!("nul\0{email}"), "password": PASSWORD, "name": "ok", "tenant_name": "ok"}),
                &["email"],
            ),
            (
                json!({"email": email, "password": format!("{PASSWORD}\0{nul}"), "name": "ok", "tenant_name": "ok"}),
                &["password"],
            ),
        ];
        for (body, fields) in &signups {
            let r = app.call("POST", "/v1/auth/signup", None, Some(body)).await;
            refused(&r, fields, "invalid");
        }
        let r = app
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": format!("a\0{email}"), "password": PASSWORD})),
            )
            .await;
        refused(&r, &["email"], "invalid");
        let r = app
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": email, "password": format!("{PASSWORD}\0")})),
            )
            .await;
        refused(&r, &["password"], "invalid");
        let short_nul: String = nul.chars().take(TENANT_REF_MAX).collect();
        if short_nul.contains('\0') {
            let r = app
                .call(
                    "POST",
                    "/v1/auth/login",
                    None,
                    Some(&json!({"email": email, "password": PASSWORD, "tenant": short_nul})),
                )
                .await;
            refused(&r, &["tenant"], "invalid");
            let r = app
                .post("/v1/auth/switch-tenant", &f.person_access, json!({"tenant": short_nul}))
                .await;
            refused(&r, &["tenant"], "invalid");
            let r = app
                .call(
                    "POST",
                    "/v1/auth/refresh",
                    None,
                    Some(&json!({"refresh_token": short_nul})),
                )
                .await;
            refused(&r, &["refresh_token"], "invalid");
        }
        let r = app
            .post(
                "/v1/auth/password",
                &f.person_access,
                json!({"current_password": format!("{PASSWORD}\0"), "new_password": format!("{PASSWORD}\0!")}),
            )
            .await;
        refused(&r, &["current_password", "new_password"], "invalid");
    }
    // A raw NUL byte is not JSON at all: a 400, not a 500.
    let raw_nul = app
        .send(
            app.http
                .post(app.url("/v1/projects"))
                .header("X-API-Key", key)
                .header("Content-Type", "application/json")
                .body(&b"{\"name\": \"a\x00b\"}"[..]),
        )
        .await;
    raw_nul.problem(400, "bad_request");

    // Nothing was written: the rows are as they were, the person can still
    // sign in with their old password, and the email never signed up can.
    f.unchanged(&app, &keys_before).await;
    assert_eq!(app.get("/v1/tenant", key).await.ok(200), &tenant_before);
    assert_eq!(Raw::open(&app).await.counts().await, counts_before);
    app.get("/v1/me", &f.person_access).await.ok(200);
    let signed_up = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({
                "email": "nul.person@example.com",
                "password": PASSWORD,
                "name": "ok",
                "tenant_name": "ok",
            })),
        )
        .await;
    signed_up.ok(201);
}
