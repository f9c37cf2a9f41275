//! The test harness: a real server on port 0 over a fresh database per test
//! (a SQLite file in a temporary directory, or a PostgreSQL database cloned
//! from a migrated template), a movable clock, and helpers that create
//! tenants and keys the way the CLI does.

pub mod postgres;

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tenantry::access::{Principal, Scope, Scopes};
use tenantry::app::AppState;
use tenantry::clock::{Clock, ManualClock};
use tenantry::config::Settings;
use tenantry::db::Db;
use tenantry::domain::{api_keys, tenants};
use tenantry::server::Application;
use uuid::Uuid;

/// Runs an async test function once per backend, each in its own test:
/// `backends!(name)` makes `name::sqlite` and `name::postgres` from
/// `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            $crate::backend_pair!($name);

            /// Once more with the test's tenants in another placement,
            /// chosen from the test's name (see `support::placement_for`).
            #[tokio::test]
            async fn postgres_placed() {
                let Some(mut app) = $crate::support::TestApp::spawn_postgres().await else { return };
                app.placement = $crate::support::placement_for(concat!(module_path!(), "::", stringify!($name)));
                super::$name(app).await;
            }
        }
    )*};
}

/// The two tests of `backends!` and `both_backends!`, inside the test's
/// module: `sqlite` and `postgres`, each running `super::$name`.
#[doc(hidden)]
#[macro_export]
macro_rules! backend_pair {
    ($name:ident) => {
        #[tokio::test]
        async fn sqlite() {
            let app = $crate::support::TestApp::spawn_sqlite().await;
            super::$name(app).await;
        }

        #[tokio::test]
        async fn postgres() {
            let Some(app) = $crate::support::TestApp::spawn_postgres().await else {
                return;
            };
            super::$name(app).await;
        }
    };
}

/// The placement besides `shared` that a test's second PostgreSQL run puts
/// its tenants in, from a hash of its name: every placement there is is
/// exercised by part of the suite on every run, without multiplying it.
pub fn placement_for(test: &str) -> tenants::Placement {
    const OTHERS: [tenants::Placement; 2] = [tenants::Placement::Schema, tenants::Placement::Database];
    let hash = test.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    OTHERS[usize::try_from(hash % OTHERS.len() as u64).unwrap_or(0)]
}

/// A test on both backends, its tenants where it puts them (no placed
/// run): `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            $crate::backend_pair!($name);
        }
    )*};
}

/// A PostgreSQL-only test (row-level security, the catalog).
#[macro_export]
macro_rules! postgres_only {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::spawn_postgres().await else { return };
                super::$name(app).await;
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// The owner connection (what the CLI uses).
    pub owner: Db,
    pub settings: Settings,
    /// Where [`TestApp::tenant`] places the tenants it makes.
    pub placement: tenants::Placement,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
    _pg: Option<postgres::PgDatabase>,
}

/// A tenant with a key that holds every scope.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: Uuid,
    pub slug: String,
    pub key: String,
    pub key_id: Uuid,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {} for {}",
            self.content_type,
            self.body
        );
        assert_eq!(self.body["code"], code, "code; body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], format!("urn:tenantry:problem:{code}"));
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        self
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        &self.body
    }

    /// Every `/v1` answer given once its caller is known (a success, or a
    /// refusal past authentication) says how its budget stands.
    #[track_caller]
    pub fn assert_rate_headers(&self) {
        let after_the_limit = (200..300).contains(&self.status)
            || [
                "forbidden",
                "not_found",
                "conflict",
                "validation_failed",
                "rate_limited",
            ]
            .contains(&self.body["code"].as_str().unwrap_or_default());
        if !after_the_limit {
            return;
        }
        for name in ["ratelimit-policy", "ratelimit"] {
            assert!(
                self.headers.contains_key(name),
                "a {} without `{name}`: {}",
                self.status,
                self.body
            );
        }
    }

    /// The `field` names in `errors[]`, sorted.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        fields.sort();
        fields
    }
}

/// The Redis every test run uses (`TENANTRY_TEST_REDIS_URL`, default the
/// local one), checked reachable: a test that needs Redis fails without it.
pub async fn redis_url() -> String {
    let url = std::env::var("TENANTRY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let client = redis::Client::open(url.as_str()).expect("a valid Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is needed by this test and is unreachable: {e}"));
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .expect("Redis answers PING");
    assert_eq!(pong, "PONG");
    url
}

/// Settings for an instance broadcasting revocations over Redis under a
/// prefix of the test's own.
pub async fn redis_settings(key_cache_ttl_ms: u64) -> Vec<(&'static str, String)> {
    vec![
        ("REDIS_URL", redis_url().await),
        (
            "TENANTRY_REDIS_PREFIX",
            format!("tenantry-test-{}:", Uuid::new_v4().simple()),
        ),
        ("TENANTRY_KEY_CACHE_TTL_MS", key_cache_ttl_ms.to_string()),
    ]
}

pub fn settings(vars: &[(&str, String)]) -> Settings {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Settings::from_vars(&vars).expect("test settings are valid")
}

impl TestApp {
    pub async fn spawn_sqlite() -> TestApp {
        Self::spawn_sqlite_with(&[]).await
    }

    /// On SQLite, with `extra` settings.
    pub async fn spawn_sqlite_with(extra: &[(&str, String)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self::start(dir, url, true, None, extra).await
    }

    /// `None` only when PostgreSQL is unreachable and skipping was asked for
    /// outside CI (see `postgres::database`).
    pub async fn spawn_postgres() -> Option<TestApp> {
        Self::spawn_postgres_with(&[]).await
    }

    /// On PostgreSQL, with `extra` settings.
    pub async fn spawn_postgres_with(extra: &[(&str, String)]) -> Option<TestApp> {
        let pg = postgres::PgDatabase::create().await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = pg.url.clone();
        Some(Self::start(dir, url, false, Some(pg), extra).await)
    }

    async fn start(
        dir: tempfile::TempDir,
        url: String,
        migrate: bool,
        pg: Option<postgres::PgDatabase>,
        extra: &[(&str, String)],
    ) -> TestApp {
        let mut vars = vec![
            ("DATABASE_URL", url),
            ("TENANTRY_DATA_DIR", dir.path().display().to_string()),
            ("TENANTRY_SECRET", format!("test-secret-{}", Uuid::new_v4())),
            ("TENANTRY_AUTO_MIGRATE", migrate.to_string()),
            ("TENANTRY_DB_MAX_CONNECTIONS", "4".to_owned()),
            ("TENANTRY_MAX_BODY_BYTES", "65536".to_owned()),
            // Tests sign up many people from one address; the limit's own
            // test sets it back.
            ("TENANTRY_SIGNUP_LIMIT", "off".to_owned()),
            // Budgets no test spends (on a clock that stands still), so
            // every response still says how its budget stands; the limits'
            // own tests set them low.
            ("TENANTRY_RATE_LIMIT", "1000000/s".to_owned()),
            ("TENANTRY_RATE_LIMIT_ANONYMOUS", "1000000/s".to_owned()),
        ];
        vars.extend(extra.iter().cloned());
        let settings = settings(&vars);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let app = Application::build(&settings, "127.0.0.1:0".parse().expect("addr"), clock.clone())
            .await
            .expect("the application starts");
        let owner = Db::connect_owner(&settings).await.expect("owner connection");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            http: reqwest::Client::new(),
            clock,
            state,
            owner,
            settings,
            placement: tenants::Placement::Shared,
            shutdown: Some(tx),
            _dir: dir,
            _pg: pg,
        }
    }

    /// A new tenant (unique slug starting with `prefix`) with an all-scope key.
    pub async fn tenant(&self, prefix: &str) -> TestTenant {
        self.tenant_in(prefix, self.placement).await
    }

    /// A new tenant in `placement`, with an all-scope key.
    pub async fn tenant_in(&self, prefix: &str, placement: tenants::Placement) -> TestTenant {
        let slug = format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let tenant = tenants::create(&self.owner.platform(), self.clock.now(), &slug, None, placement)
            .await
            .expect("tenant created");
        let (key, key_id) = self.key(tenant.id, Scopes::all(), None).await;
        TestTenant {
            id: tenant.id,
            slug,
            key,
            key_id,
        }
    }

    /// A key for `tenant` with `scopes`, as the CLI makes it.
    pub async fn key(&self, tenant: Uuid, scopes: Scopes, expires_in_days: Option<i64>) -> (String, Uuid) {
        let operator = Principal::operator(tenant);
        let db = self.owner.scoped(&operator.authenticated());
        let input = api_keys::NewApiKey {
            name: Some("test".into()),
            scopes: Some(scopes.iter().collect()),
            expires_in_days,
        }
        .validate()
        .expect("valid key input");
        let created = api_keys::create(
            &db,
            &self.state.keys.api_key,
            self.clock.now(),
            api_keys::Creator::Operator,
            Scopes::all(),
            input,
        )
        .await
        .expect("key created");
        (created.secret, created.key.id)
    }

    pub async fn key_with(&self, tenant: &TestTenant, scopes: &[Scope]) -> String {
        self.key(tenant.id, scopes.iter().copied().collect(), None).await.0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let request = req.build().expect("a request");
        let v1 = request.url().path().starts_with("/v1/");
        let resp = self.http.execute(request).await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = resp.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        let resp = Resp {
            status,
            content_type,
            headers,
            body,
        };
        // (A plan may lift a tenant's budgets: then only its own tests look.)
        if v1
            && self.state.rates.tenant.is_some()
            && self.state.rates.anonymous.is_some()
            && self.state.rates.plans.is_empty()
        {
            resp.assert_rate_headers();
        }
        resp
    }

    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(key) = key {
            req = with_credential(req, key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.call("GET", path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call("POST", path, Some(key), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(key), Some(&body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Resp {
        self.call("DELETE", path, Some(key), None).await
    }

    /// Creates a project and returns its JSON.
    pub async fn project(&self, key: &str, name: &str) -> Value {
        self.post("/v1/projects", key, serde_json::json!({ "name": name }))
            .await
            .ok(201)
            .clone()
    }

    /// Creates a task in `project` and returns its JSON.
    pub async fn task(&self, key: &str, project: &Value, body: Value) -> Value {
        let path = format!("/v1/projects/{}/tasks", project["id"].as_str().expect("project id"));
        self.post(&path, key, body).await.ok(201).clone()
    }

    /// Reads every page of a list, asserting the page shape; returns the items.
    pub async fn read_all(&self, path: &str, key: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let url = match &cursor {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            };
            let page = self.get(&url, key).await.ok(200).clone();
            let batch = page["items"].as_array().expect("items").clone();
            assert!(batch.len() <= limit);
            items.extend(batch);
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => {
                    assert!(
                        page["next_cursor"].is_null(),
                        "next_cursor is present and null on the last page"
                    );
                    return items;
                }
            }
        }
        panic!("pagination did not end");
    }
}

/// Sends `credential` as a bearer token when it is a JWT (`eyJ…`), else as
/// `X-API-Key`: every helper takes either.
pub fn with_credential(req: reqwest::RequestBuilder, credential: &str) -> reqwest::RequestBuilder {
    if credential.starts_with("eyJ") {
        req.bearer_auth(credential)
    } else {
        req.header("X-API-Key", credential)
    }
}

/// A signed-up person and their session.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub password: String,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub session_id: Uuid,
    pub access: String,
    pub refresh: String,
}

impl Person {
    /// Takes in a fresh `AuthSession` answer.
    pub fn renew(&mut self, session: &Value) {
        self.access = session["access_token"].as_str().expect("access token").to_owned();
        self.refresh = session["refresh_token"].as_str().expect("refresh token").to_owned();
        self.session_id = session["session_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("session id");
        self.tenant_id = session["tenant"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("tenant id");
    }
}

pub const PASSWORD: &str = "plum-orbit-lantern-47";

impl TestApp {
    /// Signs up a new person with a tenant of their own.
    pub async fn signup(&self, name: &str) -> Person {
        let email = format!("{name}.{}@example.com", &Uuid::new_v4().simple().to_string()[..8]);
        let body = self
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(&serde_json::json!({
                    "email": email,
                    "password": PASSWORD,
                    "name": name,
                    "tenant_name": format!("{name}'s team"),
                })),
            )
            .await
            .ok(201)
            .clone();
        let mut person = Person {
            email,
            password: PASSWORD.to_owned(),
            user_id: body["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user id"),
            tenant_id: Uuid::nil(),
            tenant_slug: body["tenant"]["slug"].as_str().expect("slug").to_owned(),
            session_id: Uuid::nil(),
            access: String::new(),
            refresh: String::new(),
        };
        person.renew(&body);
        person
    }

    /// Signs `person` in again (a second device); returns the `AuthSession`.
    pub async fn login(&self, email: &str, password: &str, tenant: Option<&str>) -> Resp {
        let mut body = serde_json::json!({ "email": email, "password": password });
        if let Some(tenant) = tenant {
            body["tenant"] = tenant.into();
        }
        self.call("POST", "/v1/auth/login", None, Some(&body)).await
    }

    /// A new person added to the tenant `tenant_slug` with `role` through the
    /// CLI (`tenantry user create`), signed in there.
    pub async fn person_in(&self, tenant_slug: &str, role: tenantry::access::Role) -> Person {
        let email = format!(
            "{}.{}@example.com",
            role.as_str(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let out = self.cli(
            &[
                "user",
                "create",
                "--email",
                &email,
                "--password-stdin",
                "--tenant",
                tenant_slug,
                "--role",
                role.as_str(),
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let session = self.login(&email, PASSWORD, Some(tenant_slug)).await.ok(200).clone();
        let mut person = Person {
            email,
            password: PASSWORD.to_owned(),
            user_id: session["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user id"),
            tenant_id: Uuid::nil(),
            tenant_slug: tenant_slug.to_owned(),
            session_id: Uuid::nil(),
            access: String::new(),
            refresh: String::new(),
        };
        person.renew(&session);
        person
    }

    pub async fn refresh(&self, refresh_token: &str) -> Resp {
        self.call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&serde_json::json!({ "refresh_token": refresh_token })),
        )
        .await
    }
}

impl TestApp {
    /// Runs the `tenantry` binary against this app's database, secret and
    /// data directory, with `stdin` as its standard input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        self.cli_with(&[], args, stdin)
    }

    /// [`TestApp::cli`] with more variables in its environment.
    pub fn cli_with(&self, env: &[(&str, String)], args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .cli_command(env, args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("the binary ends")
    }

    /// The binary running `args` in the background, its output discarded:
    /// for a test that kills it.
    pub fn cli_spawn(&self, env: &[(&str, String)], args: &[&str]) -> Spawned {
        static SPAWNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = self.settings.data_dir.join(format!("spawned-{n}.stderr"));
        let file = std::fs::File::create(&log).expect("the command's stderr file");
        let child = self
            .cli_command(env, args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the binary runs");
        Spawned { child, log }
    }

    fn cli_command(&self, env: &[(&str, String)], args: &[&str]) -> std::process::Command {
        use secrecy::ExposeSecret;
        let secret = self
            .settings
            .secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"));
        command
            .args(args)
            .env("DATABASE_URL", self.settings.database.url())
            .env("TENANTRY_SECRET", secret)
            .env("TENANTRY_DATA_DIR", &self.settings.data_dir)
            .env("TENANTRY_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    }
}

/// A command started in the background; its stderr goes to a file, read
/// when it ends before a test expected it to.
pub struct Spawned {
    pub child: std::process::Child,
    log: std::path::PathBuf,
}

impl Spawned {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the command has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics, with its exit status and stderr, if the command has ended.
    pub fn assert_running(&mut self, waiting_for: &str) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            let stderr = self.stderr();
            panic!("the command ended ({status}) before {waiting_for}:\n{stderr}");
        }
    }
}

/// A second instance of the server on the same database and secret, with a
/// clock of its own (for what crosses instances).
pub struct Sibling {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    pub async fn sibling(&self) -> Sibling {
        let clock = Arc::new(ManualClock::new(self.clock.now()));
        let app = Application::build(&self.settings, "127.0.0.1:0".parse().expect("addr"), clock.clone())
            .await
            .expect("the second instance starts");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Sibling {
            base,
            clock,
            state,
            _shutdown: tx,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().expect("id").to_owned()).collect()
}
