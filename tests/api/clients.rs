//! The generated SDKs, held to the committed spec: the spec passes the
//! validator and the linter, the committed clients are exactly what the
//! pinned generators make of it, and both SDKs pass their end-to-end suites
//! against a live server on PostgreSQL (tenant and keys made with the CLI).
//! `clients/setup.sh` installs the tools once per run (npm and pip).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::support::postgres::PgDatabase;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

fn node_path() -> String {
    let node_bin = clients_dir().join("tools/node_modules/node/bin");
    format!("{}:{}", node_bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs `cmd`, failing the test with its output when it fails.
#[track_caller]
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Installs the client tools once for the whole test binary.
fn setup() {
    static DONE: OnceLock<Mutex<bool>> = OnceLock::new();
    let mut done = DONE
        .get_or_init(|| Mutex::new(false))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if !*done {
        run(&mut Command::new(clients_dir().join("setup.sh")), "clients/setup.sh");
        *done = true;
    }
}

#[test]
fn the_spec_passes_the_validator_and_the_linter() {
    setup();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let out = run(
        Command::new(clients_dir().join(".venv/bin/openapi-spec-validator")).arg(&spec),
        "openapi-spec-validator",
    );
    assert!(out.contains("OK"), "{out}");
    run(
        Command::new(clients_dir().join("tools/node_modules/.bin/redocly"))
            .env("PATH", node_path())
            .args(["lint", "--config"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/redocly.yaml"))
            .arg(&spec),
        "redocly lint (zero errors)",
    );
}

fn diff_dirs(a: &Path, b: &Path) -> Option<String> {
    let out = Command::new("diff")
        .args(["-r", "-x", "__pycache__"])
        .arg(a)
        .arg(b)
        .output()
        .ok()?;
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stdout).chars().take(4000).collect())
}

#[test]
fn the_committed_clients_are_what_the_generators_make() {
    setup();
    let tmp = tempfile::tempdir().expect("temp dir");
    run(
        Command::new(clients_dir().join("generate.sh")).arg(tmp.path()),
        "clients/generate.sh",
    );
    for generated in ["typescript/src/generated", "python/tenantry_client/generated"] {
        if let Some(diff) = diff_dirs(&clients_dir().join(generated), &tmp.path().join(generated)) {
            panic!("clients/{generated} is out of date: run `clients/generate.sh` and commit it\n{diff}");
        }
    }
}

/// The server binary, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn both_sdks_pass_their_end_to_end_suites_against_a_live_server() {
    setup();
    let Some(db) = PgDatabase::create().await else { return };
    let data = tempfile::tempdir().expect("data dir");
    let bin = env!("CARGO_BIN_EXE_tenantry");
    let cli = |args: &[&str]| -> serde_json::Value {
        let out = run(
            Command::new(bin)
                .args(args)
                .env("DATABASE_URL", &db.url)
                .env("TENANTRY_DATA_DIR", data.path())
                .env("TENANTRY_LOG", "warn"),
            "tenantry CLI",
        );
        serde_json::from_str(&out).expect("the CLI prints JSON")
    };
    let mut suites = Vec::new();
    for suite in ["typescript", "python"] {
        let slug = format!("sdk-{suite}");
        cli(&["tenant", "create", &slug]);
        let full = cli(&["api-key", "create", "--tenant", &slug]);
        let read = cli(&[
            "api-key",
            "create",
            "--tenant",
            &slug,
            "--scopes",
            "projects:read,tasks:read",
        ]);
        // A tenant of its own for the rate-limited server (its budget is the suite's alone).
        let limited_slug = format!("sdk-{suite}-limited");
        cli(&["tenant", "create", &limited_slug]);
        let limited = cli(&["api-key", "create", "--tenant", &limited_slug]);
        let key = |v: &serde_json::Value| v["key"].as_str().expect("key").to_owned();
        suites.push((suite, key(&full), key(&read), key(&limited)));
    }

    let serve = |limits: &[(&str, &str)]| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = Server(
            Command::new(bin)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .env("DATABASE_URL", &db.url)
                .env("TENANTRY_DATA_DIR", data.path())
                .env("TENANTRY_LOG", "warn")
                // The suites sign up and sign in more people from this one
                // address than the default limits let through.
                .env("TENANTRY_SIGNUP_LIMIT", "off")
                .env("TENANTRY_RATE_LIMIT_ANONYMOUS", "off")
                .envs(limits.iter().copied())
                .stdout(Stdio::null())
                .spawn()
                .expect("the server starts"),
        );
        (format!("http://127.0.0.1:{port}"), server)
    };
    let http = reqwest::Client::new();
    let ready = async |base: &str| {
        let mut ready = false;
        for attempt in 0..200u64 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 + attempt)).await;
        }
        assert!(ready, "the server at {base} answered /readyz");
    };
    let (base, _server) = serve(&[]);
    ready(&base).await;
    // Its tenants may send 2 requests a second: the SDKs' 429 handling.
    let (limited_base, _limited) = serve(&[("TENANTRY_RATE_LIMIT", "2/s")]);
    ready(&limited_base).await;

    for (suite, key, readonly, limited) in suites {
        let env = [
            ("TENANTRY_BASE_URL", base.as_str()),
            ("TENANTRY_API_KEY", &key),
            ("TENANTRY_READONLY_KEY", &readonly),
            ("TENANTRY_LIMITED_BASE_URL", limited_base.as_str()),
            ("TENANTRY_LIMITED_API_KEY", &limited),
            // The CLI of this server, for the tenant-switch tests: they add a person
            // to a second tenant with `tenantry member add` (no HTTP endpoint does).
            ("TENANTRY_BIN", bin),
            ("DATABASE_URL", &db.url),
            ("TENANTRY_DATA_DIR", data.path().to_str().expect("a UTF-8 data dir")),
        ];
        match suite {
            "typescript" => {
                let dir = clients_dir().join("typescript");
                let npm = |args: &[&str], what: &str| {
                    run(
                        Command::new("npm")
                            .args(args)
                            .current_dir(&dir)
                            .env("PATH", node_path())
                            .envs(env),
                        what,
                    )
                };
                npm(&["run", "--silent", "build"], "tsc --strict build");
                npm(&["run", "--silent", "typecheck"], "tsc --strict on the tests");
                let out = npm(&["test"], "TypeScript end-to-end suite");
                assert!(out.contains("# fail 0"), "{out}");
                npm(&["pack", "--dry-run", "--silent"], "npm pack");
            }
            _ => {
                let python = clients_dir().join(".venv/bin/python");
                let dir = clients_dir().join("python");
                run(Command::new(&python).args(["-m", "mypy"]).current_dir(&dir), "mypy");
                run(
                    Command::new(&python)
                        .args(["-m", "pytest", "-q", "tests"])
                        .current_dir(&dir)
                        .envs(env),
                    "Python end-to-end suite",
                );
            }
        }
    }
}
