//! The binary, as an operator runs it: stdout carries only the command's
//! JSON; the secret is created once, private to its owner.

use std::process::Command;

use migration::MigratorTrait;
use serde_json::Value;

fn tenantry(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    tenantry_on(dir, None, args)
}

/// The binary with the default log level (`TENANTRY_LOG` unset), on
/// `database` or the embedded default.
fn tenantry_on(dir: &std::path::Path, database: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("TENANTRY_SECRET")
        .env_remove("TENANTRY_DATA_DIR")
        .env_remove("TENANTRY_LOG");
    if let Some(url) = database {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("the binary runs")
}

/// A successful command prints its JSON on stdout and nothing on stderr,
/// the first one (which applies every migration) included.
fn quietly(output: std::process::Output) -> Value {
    assert!(
        output.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_out(&output)
}

async fn commands_succeed_quietly(database: Option<&str>) {
    let dir = tempfile::tempdir().expect("dir");
    // Status applies nothing: on an empty database everything is pending.
    let before = quietly(tenantry_on(dir.path(), database, &["migrate", "status"]));
    assert_eq!(before["platform"]["applied"], serde_json::json!([]));
    assert_eq!(
        before["platform"]["pending"].as_array().map(Vec::len),
        Some(migration::Migrator::migrations().len())
    );
    assert_eq!(before["tenants"]["total"], 0);
    let tenant = quietly(tenantry_on(dir.path(), database, &["tenant", "create", "quiet-co"]));
    assert_eq!(tenant["slug"], "quiet-co");
    let key = quietly(tenantry_on(
        dir.path(),
        database,
        &["api-key", "create", "--tenant", "quiet-co"],
    ));
    assert!(key["key"].as_str().is_some_and(|k| k.starts_with("tnt_")));
    let migrated = quietly(tenantry_on(dir.path(), database, &["migrate"]));
    assert_eq!(migrated["applied"], serde_json::json!([]), "already up to date");
    let after = quietly(tenantry_on(dir.path(), database, &["migrate", "status"]));
    assert_eq!(after["platform"]["pending"], serde_json::json!([]));
    assert_eq!(after["shared"]["pending"], serde_json::json!([]));
    assert_eq!(
        after["shared"]["applied"].as_array().map(Vec::len),
        Some(migration::TenantMigrator::migrations().len())
    );
    assert_eq!(
        after["tenants"],
        serde_json::json!({"total": 1, "current": 1, "behind": 0, "failed": 0})
    );
}

#[tokio::test]
async fn a_successful_command_prints_nothing_on_stderr_on_sqlite() {
    commands_succeed_quietly(None).await;
}

#[tokio::test]
async fn a_successful_command_prints_nothing_on_stderr_on_postgres() {
    let Some(db) = crate::support::postgres::PgDatabase::create_empty().await else {
        return;
    };
    commands_succeed_quietly(Some(&db.url)).await;
}

/// A schema tenant from the operator's shell: made quietly, shown, and
/// counted by `migrate status`; `migrate` with the fleet's options has
/// nothing left to do for it.
#[tokio::test]
async fn a_schema_tenant_from_the_command_line() {
    let Some(db) = crate::support::postgres::PgDatabase::create_empty().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let url = Some(db.url.as_str());
    let made = quietly(tenantry_on(
        dir.path(),
        url,
        &["tenant", "create", "own-schema", "--placement", "schema"],
    ));
    assert_eq!(made["placement"], "schema");
    let id: uuid::Uuid = made["id"].as_str().unwrap_or_default().parse().expect("an id");
    assert_eq!(made["location"], tenantry::db::schema_name(id).as_str());
    let status = quietly(tenantry_on(dir.path(), url, &["migrate", "status"]));
    assert_eq!(
        status["tenants"],
        serde_json::json!({"total": 1, "current": 1, "behind": 0, "failed": 0})
    );
    assert_eq!(status["failing"], serde_json::json!([]));
    let migrated = quietly(tenantry_on(
        dir.path(),
        url,
        &["migrate", "--parallel", "2", "--canary", "1", "--fail-fast"],
    ));
    assert_eq!(migrated["tenants"]["behind"], 0);
    assert_eq!(migrated["tenants"]["failed"], serde_json::json!([]));
    let bad = tenantry_on(dir.path(), url, &["migrate", "--parallel", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn migrate_names_the_migrations_it_applied() {
    let dir = tempfile::tempdir().expect("dir");
    let first = quietly(tenantry_on(dir.path(), None, &["migrate"]));
    // The platform set's, then the tenant set's in the shared tables.
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .chain(&migration::TenantMigrator::migrations())
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(first["applied"], serde_json::json!(names));
}

fn json_out(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON document")
}

#[test]
fn tenant_and_key_creation_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("dir");
    let tenant = json_out(&tenantry(
        dir.path(),
        &["tenant", "create", "Acme-Co", "--name", "Acme Co"],
    ));
    assert_eq!(tenant["slug"], "acme-co");
    assert_eq!(tenant["name"], "Acme Co");
    assert_eq!(tenant["placement"], "shared");
    assert_eq!(tenant["location"], serde_json::Value::Null);
    assert!(dir.path().join("data/tenantry.db").exists(), "SQLite file in ./data");
    let shown = json_out(&tenantry(dir.path(), &["tenant", "show", "ACME-co"]));
    assert_eq!(shown, tenant, "show prints what create printed");
    let missing = tenantry(dir.path(), &["tenant", "show", "nobody"]);
    assert!(!missing.status.success());
    assert!(missing.stdout.is_empty());
    // A schema of its own needs PostgreSQL: refused, and nothing made.
    let refused = tenantry(dir.path(), &["tenant", "create", "schema-co", "--placement", "schema"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!tenantry(dir.path(), &["tenant", "show", "schema-co"]).status.success());
    let unknown = tenantry(dir.path(), &["tenant", "create", "elsewhere-co", "--placement", "moon"]);
    assert_eq!(unknown.status.code(), Some(2));

    let key = json_out(&tenantry(
        dir.path(),
        &[
            "api-key",
            "create",
            "--tenant",
            "acme-co",
            "--scopes",
            "projects:read,tasks:read",
            "--expires-in",
            "30",
        ],
    ));
    assert!(key["key"].as_str().is_some_and(|k| k.starts_with("tnt_")));
    assert_eq!(key["scopes"], serde_json::json!(["projects:read", "tasks:read"]));
    assert_eq!(key["tenant_id"], tenant["id"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/secret"))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret is private");
    }

    let all = json_out(&tenantry(dir.path(), &["api-key", "create", "--tenant", "acme-co"]));
    assert_eq!(
        all["scopes"].as_array().map(Vec::len),
        Some(tenantry::access::Scope::ALL.len()),
        "every scope by default"
    );

    let dup = tenantry(dir.path(), &["tenant", "create", "ACME-CO"]);
    assert!(!dup.status.success());
    assert!(dup.stdout.is_empty());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    for bad in [
        &["tenant", "create", "ab"][..],
        &["tenant", "create", "-bad-"],
        &["tenant", "create", "no_underscores"],
    ] {
        let out = tenantry(dir.path(), bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let out = tenantry(
        dir.path(),
        &["api-key", "create", "--tenant", "acme-co", "--scopes", "root"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = tenantry(dir.path(), &["api-key", "create", "--tenant", "nobody"]);
    assert!(!out.status.success());
    let out = tenantry(
        dir.path(),
        &["api-key", "create", "--tenant", "acme-co", "--expires-in", "9999"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn spec_is_written_without_a_database() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tenantry(dir.path(), &["spec", "--out", "spec-dir"]);
    assert!(out.status.success());
    let written = std::fs::read_to_string(dir.path().join("spec-dir/openapi.json")).expect("written");
    assert_eq!(written, tenantry::openapi::spec_json());
    assert!(!dir.path().join("data").exists(), "no data directory was needed");
}

#[test]
fn config_prints_the_effective_settings_with_and_without_a_file() {
    let dir = tempfile::tempdir().expect("dir");
    let plain = tenantry_on(dir.path(), None, &["config"]);
    assert!(plain.status.success() && plain.stderr.is_empty());
    let plain: toml::Table = String::from_utf8_lossy(&plain.stdout).parse().expect("TOML");
    assert_eq!(plain["server"]["listen"].as_str(), Some("127.0.0.1:8080"));
    assert!(
        plain["database"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("sqlite://"))
    );
    assert!(plain.get("secret").is_none(), "no secret configured, none shown");

    let file = dir.path().join("tenantry.toml");
    std::fs::write(
        &file,
        "secret = \"a-secret-from-the-file-0123456789abcdef\"\n[database]\nurl = \"postgres://owner:pa55word@db:5432/t\"\nmax_connections = 9\n[server]\nlisten = \"0.0.0.0:9000\"\n",
    )
    .expect("written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .args(["--config", file.to_str().expect("utf-8"), "config"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("TENANTRY_LOG")
        .env("TENANTRY_SERVER__LISTEN", "127.0.0.1:9100");
    let out = command.output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !text.contains("pa55word") && !text.contains("a-secret-from-the-file"),
        "{text}"
    );
    let shown: toml::Table = text.parse().expect("TOML");
    assert_eq!(
        shown["database"]["max_connections"].as_integer(),
        Some(9),
        "from the file"
    );
    assert_eq!(
        shown["server"]["listen"].as_str(),
        Some("127.0.0.1:9100"),
        "the environment wins"
    );
    assert_eq!(shown["secret"].as_str(), Some("[redacted]"));

    let missing = tenantry_on(dir.path(), None, &["--config", "/nonexistent.toml", "config"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("TENANTRY_CONFIG"));
}

#[test]
fn every_configuration_key_is_documented() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md")).expect("the docs");
    for key in tenantry::config::sources::KEYS {
        let row = format!("| `{}` | `{}` |", key.path, key.alias);
        assert!(
            readme.contains(&row),
            "docs/configuration.md has a row for {}",
            key.path
        );
    }
}
