//! `tenantry serve | migrate [status] | config | spec | tenant create | tenant show | tenant move | tenant delete |
//! api-key create | user create | member add |
//! jwt-keys rotate`.
//! Every command reads the same configuration; stdout carries only a
//! command's JSON, logs go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::access::{Principal, Scope, Scopes};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::{Db, FleetOptions, FleetProgress};
use crate::domain::{self, api_keys, tenants};
use crate::secret::Keys;
use crate::server::Application;

#[derive(Parser, Debug)]
#[command(name = "tenantry", version, about = "Tenantry: a multi-tenant JSON API server")]
pub struct Cli {
    /// A TOML configuration file, beneath the environment (also `TENANTRY_CONFIG`).
    #[arg(long, global = true, env = "TENANTRY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (applies pending migrations first unless TENANTRY_AUTO_MIGRATE=false).
    Serve {
        /// Address to listen on [default: TENANTRY_LISTEN or 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending migrations — the platform set, the tenant set in the
    /// shared tables, then every tenant with storage of its own — and ensure
    /// the application role (idempotent); prints what it did as JSON.
    Migrate {
        #[command(subcommand)]
        command: Option<MigrateCommand>,
        /// Tenants migrated at once (1–64).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: u16,
        /// Stop starting tenants after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Migrate this many tenants first; stop before the rest if any fails.
        #[arg(long)]
        canary: Option<usize>,
    },
    /// Print the effective configuration as TOML, secrets redacted (no database needed).
    Config,
    /// Write the OpenAPI document (no server or database needed).
    Spec {
        /// Directory to write `openapi.json` into; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Manage people.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage memberships.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Manage the keys that sign access tokens.
    JwtKeys {
        #[command(subcommand)]
        command: JwtKeysCommand,
    },
    /// Seed benchmark data (PostgreSQL, superuser owner; `--features bench` builds only).
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    BenchSeed {
        /// Slug prefix of the seeded tenants (`<prefix>-<n>`).
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        tenants: u32,
        #[arg(long)]
        projects: u32,
        /// Where to write `key<TAB>tenant_id<TAB>project_id` lines.
        #[arg(long)]
        out: PathBuf,
        /// Where the seeded tenants' data lives.
        #[arg(long, value_enum, default_value_t = PlacementArg::Shared)]
        placement: PlacementArg,
    },
    /// Benchmark only: the fleet's migrations timed over the tenants with
    /// storage of their own: a run with nothing to do, then one that adds
    /// a column to every one of them (then taken away again). Prints JSON.
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    BenchFleet {
        /// Tenants migrated at once.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
    },
    /// Benchmark only: an owner's access token for every tenant of a keys
    /// file written by `bench-seed`.
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    BenchTokens {
        /// A `bench-seed` output file.
        #[arg(long)]
        keys: PathBuf,
        /// Where to write `token<TAB>tenant_id<TAB>project_id` lines.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The placements a tenant can be created in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementArg {
    Shared,
    Schema,
    Database,
}

impl From<PlacementArg> for tenants::Placement {
    fn from(arg: PlacementArg) -> Self {
        match arg {
            PlacementArg::Shared => tenants::Placement::Shared,
            PlacementArg::Schema => tenants::Placement::Schema,
            PlacementArg::Database => tenants::Placement::Database,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Print where the migrations stand as JSON, applying none: the
    /// platform set's, the tenant set's in the shared tables, and how many
    /// tenants are current, behind or failed.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant, make and migrate its storage, and print it as JSON.
    Create {
        /// Lowercase letters, digits and inner hyphens, 3–63 characters.
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
        /// Where its data lives: `shared` (rows in the shared tables),
        /// `schema` (a PostgreSQL schema of its own) or `database` (a
        /// database of its own: on PostgreSQL, on the platform's server or
        /// the one `--database` names; on SQLite, a file in the data
        /// directory).
        #[arg(long, value_enum, default_value_t = PlacementArg::Shared)]
        placement: PlacementArg,
        /// With `--placement database`: the database server, a name from
        /// `[databases.<name>]` [default: the platform's own server].
        #[arg(long, value_name = "NAME")]
        database: Option<String>,
    },
    /// Change a tenant's plan or name, and print it as JSON: every serving
    /// instance applies the plan's budgets within a second.
    #[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["plan", "no_plan", "name"]))]
    Update {
        /// The tenant's slug.
        slug: String,
        /// Put it on this plan, a name from `[plans.<name>]`.
        #[arg(long, value_name = "NAME", conflicts_with = "no_plan")]
        plan: Option<String>,
        /// Put it on no plan: the default budgets (`limits.rate`).
        #[arg(long)]
        no_plan: bool,
        /// Its new display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a tenant as JSON, with its placement and location.
    Show {
        /// The tenant's slug.
        slug: String,
    },
    /// Move a tenant's data to another placement while it is served: copy,
    /// catch up, verify, switch (writes paused about a second), then remove
    /// the old copy. Run again to resume after a failure or a kill; prints
    /// a summary as JSON.
    Move {
        /// The tenant's slug.
        slug: String,
        /// Where its data goes: `shared`, `schema` (PostgreSQL) or
        /// `database`; may be left out to resume the move under way.
        #[arg(long, value_enum, conflicts_with = "abort")]
        to: Option<PlacementArg>,
        /// With `--to database`: the database server, a name from
        /// `[databases.<name>]` [default: the platform's own server].
        #[arg(long, value_name = "NAME", requires = "to")]
        database: Option<String>,
        /// Stop once the tenant is served from its new place, leaving the
        /// old copy (refusing writes) for inspection; `tenant move SLUG`
        /// then removes it, `--abort` moves the tenant back.
        #[arg(long, conflicts_with = "abort")]
        keep_source: bool,
        /// Abort the move: before the switch the tenant simply stays where
        /// it was; after it (before the old copy is removed) it moves back.
        #[arg(long)]
        abort: bool,
        /// Seconds between the switch and the old copy's removal (every
        /// instance routes to the new place within 1 s).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
        drain_secs: u64,
        /// Rows copied per batch.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch: u64,
    },
    /// Delete a tenant with everything it owns (its data, keys,
    /// memberships, sessions), and drop its schema or database at once;
    /// print what was deleted as JSON.
    Delete {
        /// The tenant's slug.
        slug: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create an API key and print it as JSON, including its secret `key` (shown only here).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A label for people [default: "API key"].
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated scopes [default: all]:
        /// projects:read, projects:write, tasks:read, tasks:write, api_keys:manage,
        /// members:read, members:manage, tenant:manage.
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Days until the key expires (1–730) [default: never].
        #[arg(long = "expires-in")]
        expires_in: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a person (and optionally their membership in a tenant); print them as JSON.
    Create {
        /// Their email address (stored lowercase; unique).
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin (required: a
        /// password never goes on the command line).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
        /// Display name [default: the email's local part].
        #[arg(long)]
        name: Option<String>,
        /// A tenant's slug to make them a member of.
        #[arg(long)]
        tenant: Option<String>,
        /// Their role in `--tenant`: owner, admin, member or viewer.
        #[arg(long, default_value = "owner", requires = "tenant")]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum JwtKeysCommand {
    /// Add a signing key (it signs once every instance has had 60 s to load
    /// it) and delete keys no live token can need; print the key ids as JSON.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add an existing person to a tenant with a role; print the membership as JSON.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The person's email address.
        #[arg(long)]
        email: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
    },
}

/// Deletes the tenant `slug` as the operator, tells the serving instances
/// (over Redis, when configured; otherwise their key caches forget it
/// within a second), then drops its own storage.
async fn delete_tenant(settings: &Settings, db: &Db, slug: &str) -> Result<serde_json::Value, CliError> {
    let tenant = tenants::by_slug(&db.platform(), slug).await?;
    if db.move_status(tenant.id).await?.is_some() {
        return Err(CliError::Usage(format!(
            "tenant `{slug}` is being moved: finish the move (`tenantry tenant move {slug}`) or abort it (`--abort`) first"
        )));
    }
    let operator = crate::access::Principal::operator(tenant.id);
    // Its effects are the serving instances' to apply; they hear of it here.
    let _ = tenants::delete(&db.scoped(&operator.authenticated()), SystemClock.now()).await?;
    if let Some(broadcast) = broadcast(settings) {
        broadcast
            .publish(crate::cache::broadcast::Notice::TenantDeleted(tenant.id))
            .await;
    }
    let dropped = db.platform().drop_storage(tenant.id).await.map_err(|e| {
        CliError::Failed(format!(
            "the tenant was deleted, but dropping its storage failed ({e}); `tenantry migrate` drops it"
        ))
    })?;
    Ok(serde_json::json!({
        "deleted": {"id": tenant.id, "slug": tenant.slug, "placement": tenant.placement},
        "dropped": dropped,
    }))
}

/// Changes the tenant `slug`'s plan (`Some` to put it on one, `no_plan` to
/// take it off) and name, as the operator; the serving instances read its
/// plan again at their next poll, or at once when told over Redis.
async fn update_tenant(
    settings: &Settings,
    db: &Db,
    slug: &str,
    plan: Option<&str>,
    no_plan: bool,
    name: Option<&str>,
) -> Result<tenants::Tenant, CliError> {
    let tenant = tenants::by_slug(&db.platform(), slug).await?;
    let operator = crate::access::Principal::operator(tenant.id);
    let plan = plan.map(|p| p.trim().to_ascii_lowercase());
    let change = tenants::OperatorChange {
        name,
        plan: (plan.is_some() || no_plan).then_some(plan.as_deref()),
    };
    let replanned = change.plan.is_some();
    let tenant = tenants::change(
        &db.scoped(&operator.authenticated()),
        change,
        &settings.limits.plans,
        SystemClock.now(),
    )
    .await?;
    if replanned && let Some(broadcast) = broadcast(settings) {
        broadcast
            .publish(crate::cache::broadcast::Notice::TenantMoved(tenant.id))
            .await;
    }
    Ok(tenant)
}

/// The serving instances' broadcast, when Redis is configured (they also
/// poll for moved and deleted tenants without it).
fn broadcast(settings: &Settings) -> Option<std::sync::Arc<crate::cache::broadcast::Broadcast>> {
    use secrecy::ExposeSecret;
    let url = settings.redis.url.as_ref()?;
    match crate::cache::broadcast::Broadcast::new(
        url.expose_secret(),
        &settings.redis.prefix,
        std::time::Duration::from_secs(1),
    ) {
        Ok(broadcast) => Some(std::sync::Arc::new(broadcast)),
        Err(e) => {
            eprintln!("warning: could not tell the serving instances over Redis: {e}");
            None
        }
    }
}

/// Moves (or resumes, or aborts the move of) the tenant `slug`, with
/// progress on stderr: one line rewritten in place on a terminal, a line a
/// second otherwise, and every step's line.
async fn move_tenant(
    settings: &Settings,
    db: &Db,
    slug: &str,
    request: crate::db::MoveRequest,
) -> Result<crate::db::MoveReport, CliError> {
    use std::io::{IsTerminal, Write};
    let tenant = tenants::by_slug(&db.platform(), slug).await?;
    let broadcast = broadcast(settings);
    let on_switch = move |id: uuid::Uuid| -> futures_util::future::BoxFuture<'static, ()> {
        let broadcast = broadcast.clone();
        Box::pin(async move {
            if let Some(broadcast) = broadcast {
                broadcast
                    .publish(crate::cache::broadcast::Notice::TenantMoved(id))
                    .await;
            }
        })
    };
    let terminal = std::io::stderr().is_terminal();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    let progress = |event: crate::db::MoveEvent<'_>| {
        use crate::db::MoveEvent;
        let (line, step) = match event {
            MoveEvent::Started { from, to, state } => (
                format!(
                    "moving {slug}: {} -> {} ({})",
                    describe_place(from),
                    describe_place(to),
                    serde_json::to_value(state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                true,
            ),
            MoveEvent::Copied { table, rows } => (format!("copying {table}: {rows} rows"), false),
            MoveEvent::CaughtUp { copied, lag } => {
                (format!("catching up: {copied} changes copied, {lag} behind"), false)
            }
            MoveEvent::Paused => ("switching: writes paused".to_owned(), true),
            MoveEvent::Switched { pause } => (format!("switched: writes paused for {} ms", pause.as_millis()), true),
            MoveEvent::Waiting { instances } => (
                format!("waiting for {instances} serving instance(s) to read the switch"),
                true,
            ),
            MoveEvent::Draining { wait } => (format!("removing the old copy in {} ms", wait.as_millis()), true),
            MoveEvent::Removed => ("removed the old copy".to_owned(), true),
        };
        let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !step && !terminal && last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = if terminal && !step {
            write!(err, "\r\x1b[2K{line}")
        } else if terminal {
            writeln!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
    };
    let report = db.move_tenant(tenant.id, request, &progress, &on_switch).await;
    let report = report.map_err(|e| {
        CliError::Failed(format!(
            "{e} (the move stopped; `tenantry tenant move {slug}` resumes it, `--abort` undoes it)"
        ))
    })?;
    let summary = format!(
        "{}: {} rows copied ({} rows/s), {} changes caught up, writes paused {} ms, {} ms in all; old copy {}",
        if report.reversed { "moved back" } else { "moved" },
        report.rows_copied,
        report.rows_per_sec,
        report.changes_caught_up,
        report.write_pause_ms.map_or("no".to_owned(), |ms| ms.to_string()),
        report.total_ms,
        report.source
    );
    eprintln!("{summary}");
    Ok(report)
}

fn describe_place(place: &crate::db::Place) -> String {
    match &place.location {
        Some(location) => format!("{} ({location})", place.placement),
        None => place.placement.to_string(),
    }
}

/// A command's failure, printed to stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Start(#[from] crate::server::StartError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("{}", describe(.0))]
    Domain(#[from] domain::Error),
    #[error("{0}")]
    Usage(String),
    /// The command did its work and printed its report, and part of it
    /// failed (exit 1).
    #[error("{0}")]
    Failed(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("password hashing failed: {0}")]
    Password(#[from] crate::auth::password::PasswordError),
    #[error("signing keys: {0}")]
    Keys(#[from] crate::auth::jwt::KeyError),
}

impl From<sea_orm::DbErr> for CliError {
    fn from(e: sea_orm::DbErr) -> Self {
        CliError::Db(e.into())
    }
}

fn describe(err: &domain::Error) -> String {
    match err {
        domain::Error::Invalid(violations) => violations
            .iter()
            .map(|v| format!("{}: {} ({})", v.field, v.message, v.code))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// What a command logs when `TENANTRY_LOG` is unset: the server reports at
/// `info` (its migrations in one line; the migrator's and PostgreSQL's
/// notices only at `debug`); every other command only warnings and errors,
/// so a success prints nothing on stderr.
pub fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Serve { .. } => "info,sea_orm_migration=warn,sqlx::postgres::notice=warn",
        _ => "warn",
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = settings
        .log
        .filter
        .clone()
        .unwrap_or_else(|| default_log_filter(&cli.command).to_owned());
    crate::telemetry::init(&filter, settings.log.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, &settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                CliError::Usage(_) | CliError::Domain(domain::Error::Invalid(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(command: Command, settings: &Settings) -> Result<(), CliError> {
    match command {
        Command::Serve { listen } => {
            let app = Application::build_default(settings, listen.unwrap_or(settings.server.listen)).await?;
            app.run_until(crate::server::shutdown_signal()).await?;
            Ok(())
        }
        Command::Migrate {
            command: Some(MigrateCommand::Status),
            ..
        } => {
            let db = Db::connect_owner(settings).await?;
            let status = db.migration_status().await;
            db.close().await;
            print_json(&serde_json::to_value(status?).unwrap_or_default());
            Ok(())
        }
        Command::Migrate {
            command: None,
            parallel,
            fail_fast,
            canary,
        } => {
            let db = Db::connect_owner(settings).await?;
            let options = FleetOptions {
                parallel: usize::from(parallel),
                fail_fast,
                canary,
            };
            let result = migrate_all(&db, settings, options).await;
            db.close().await;
            let (applied, fleet) = result?;
            print_json(&json!({ "applied": applied, "tenants": fleet }));
            match fleet.failed.len() {
                0 => Ok(()),
                n => Err(CliError::Failed(format!(
                    "{n} tenant(s) failed to migrate (see `failed`; `tenantry migrate` again resumes)"
                ))),
            }
        }
        Command::Config => {
            print!("{}", settings.to_toml());
            Ok(())
        }
        Command::Spec { out } => {
            let spec = crate::openapi::spec_json();
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(dir.join("openapi.json"), spec)?;
                }
                None => print!("{spec}"),
            }
            Ok(())
        }
        #[cfg(feature = "bench")]
        Command::BenchSeed {
            prefix,
            tenants,
            projects,
            out,
            placement,
        } => {
            let keys = Keys::from_secret(&crate::secret::load_or_create(settings)?);
            let db = owner_db(settings).await?;
            let result = crate::bench::seed(&db, &keys, &prefix, tenants, projects, placement.into(), &out).await;
            db.close().await;
            result.map_err(|e| CliError::Usage(format!("seeding failed: {e}")))
        }
        #[cfg(feature = "bench")]
        Command::BenchFleet { parallel } => {
            let db = owner_db(settings).await?;
            let result = db.bench_fleet(parallel.clamp(1, 64)).await;
            db.close().await;
            let figures = result.map_err(|e| CliError::Usage(format!("the fleet benchmark failed: {e}")))?;
            print_json(&serde_json::to_value(&figures).unwrap_or_default());
            Ok(())
        }
        #[cfg(feature = "bench")]
        Command::BenchTokens { keys, out } => crate::bench::tokens(settings, &keys, &out)
            .map_err(|e| CliError::Usage(format!("minting tokens failed: {e}"))),
        Command::Tenant {
            command:
                TenantCommand::Create {
                    slug,
                    name,
                    placement,
                    database,
                },
        } => {
            let db = owner_db(settings).await?;
            let tenant = tenants::create_on(
                &db.platform(),
                SystemClock.now(),
                &slug,
                name.as_deref(),
                placement.into(),
                database.as_deref(),
            )
            .await;
            db.close().await;
            print_json(&tenant_json(&tenant?));
            Ok(())
        }
        Command::Tenant {
            command:
                TenantCommand::Update {
                    slug,
                    plan,
                    no_plan,
                    name,
                },
        } => {
            let db = owner_db(settings).await?;
            let result = update_tenant(settings, &db, &slug, plan.as_deref(), no_plan, name.as_deref()).await;
            db.close().await;
            print_json(&tenant_json(&result?));
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Show { slug },
        } => {
            let db = owner_db(settings).await?;
            let result = async {
                let tenant = tenants::by_slug(&db.platform(), &slug).await?;
                let moving = db.move_status(tenant.id).await?;
                Ok::<_, CliError>((tenant, moving))
            }
            .await;
            db.close().await;
            let (tenant, moving) = result?;
            let mut shown = tenant_json(&tenant);
            if let Some(moving) = moving {
                shown["move"] = serde_json::to_value(moving).unwrap_or_default();
            }
            print_json(&shown);
            Ok(())
        }
        Command::Tenant {
            command:
                TenantCommand::Move {
                    slug,
                    to,
                    database,
                    keep_source,
                    abort,
                    drain_secs,
                    batch,
                },
        } => {
            let request = crate::db::MoveRequest {
                to: to.map(|to| (to.into(), database)),
                keep_source,
                abort,
                drain: std::time::Duration::from_secs(drain_secs),
                batch,
                halt: None,
            };
            let db = owner_db(settings).await?;
            let result = move_tenant(settings, &db, &slug, request).await;
            db.close().await;
            print_json(&serde_json::to_value(result?).unwrap_or_default());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Delete { slug },
        } => {
            let db = owner_db(settings).await?;
            let result = delete_tenant(settings, &db, &slug).await;
            db.close().await;
            print_json(&result?);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin: _,
                    name,
                    tenant,
                    role,
                },
        } => create_user(settings, &email, name.as_deref(), tenant.as_deref(), &role).await,
        Command::JwtKeys {
            command: JwtKeysCommand::Rotate,
        } => {
            let now = SystemClock.now();
            let kid = crate::auth::jwt::Keyring::rotate(&settings.auth.jwt_key_dir, now)?;
            let ring = crate::auth::jwt::Keyring::load_or_create(&settings.auth.jwt_key_dir, now)?;
            print_json(&json!({
                "new_kid": kid,
                "signing_kid": ring.signing_kid(now),
                "kids": ring.kids(),
            }));
            Ok(())
        }
        Command::Member {
            command: MemberCommand::Add { tenant, email, role },
        } => {
            let role = crate::access::Role::parse(&role).ok_or_else(|| {
                CliError::Usage(format!("unknown role `{role}`; known: owner, admin, member, viewer"))
            })?;
            let db = owner_db(settings).await?;
            let result = async {
                let tenant = tenants::by_slug(&db.platform(), &tenant).await?;
                let operator = Principal::operator(tenant.id);
                let scoped = db.scoped(&operator.authenticated());
                let user =
                    crate::domain::members::add(&scoped, &db.platform(), &email, role, SystemClock.now()).await?;
                Ok::<_, domain::Error>((tenant, user))
            }
            .await;
            db.close().await;
            let (tenant, user) = result?;
            print_json(&json!({
                "tenant_id": tenant.id,
                "tenant_slug": tenant.slug,
                "user_id": user,
                "email": email.trim().to_lowercase(),
                "role": role.as_str(),
            }));
            Ok(())
        }
        Command::ApiKey {
            command:
                ApiKeyCommand::Create {
                    tenant,
                    name,
                    scopes,
                    expires_in,
                },
        } => {
            let scopes = scopes
                .map(|list| {
                    list.iter()
                        .map(|s| {
                            Scope::parse(s.trim()).ok_or_else(|| {
                                CliError::Usage(format!(
                                    "unknown scope `{s}`; known: {}",
                                    Scope::ALL.map(Scope::as_str).join(", ")
                                ))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let keys = Keys::from_secret(&crate::secret::load_or_create(settings)?);
            let db = owner_db(settings).await?;
            let result = async {
                let tenant = tenants::by_slug(&db.platform(), &tenant).await?;
                let operator = Principal::operator(tenant.id);
                let scoped = db.scoped(&operator.authenticated());
                let input = api_keys::NewApiKey {
                    name,
                    scopes,
                    expires_in_days: expires_in,
                }
                .validate()?;
                let created = api_keys::create(
                    &scoped,
                    &keys.api_key,
                    SystemClock.now(),
                    api_keys::Creator::Operator,
                    Scopes::all(),
                    input,
                )
                .await?;
                Ok::<_, domain::Error>((tenant, created))
            }
            .await;
            db.close().await;
            let (tenant, created) = result?;
            let key = created.key;
            print_json(&json!({
                "id": key.id,
                "tenant_id": tenant.id,
                "tenant_slug": tenant.slug,
                "name": key.name,
                "prefix": key.prefix,
                "scopes": Scopes::from_stored(&key.scopes).iter().map(Scope::as_str).collect::<Vec<_>>(),
                "created_at": key.created_at,
                "expires_at": key.expires_at,
                "key": created.secret,
            }));
            Ok(())
        }
    }
}

/// A tenant as the operator's commands print it: where its data lives
/// (`placement`, and `location` outside the shared tables) beside what the
/// API shows.
fn tenant_json(tenant: &tenants::Tenant) -> serde_json::Value {
    json!({
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "placement": tenant.placement,
        "location": tenant.location,
        "plan": tenant.plan,
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
    })
}

async fn create_user(
    settings: &Settings,
    email: &str,
    name: Option<&str>,
    tenant: Option<&str>,
    role: &str,
) -> Result<(), CliError> {
    use std::io::BufRead;
    let role = crate::access::Role::parse(role)
        .ok_or_else(|| CliError::Usage(format!("unknown role `{role}`; known: owner, admin, member, viewer")))?;
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = secrecy::SecretString::from(password.trim_end_matches(['\r', '\n']).to_owned());
    let now = SystemClock.now();
    let user = crate::domain::accounts::new_user(email, name, &password, now)?;
    let hash = crate::auth::password::PasswordHasher::new(1, 0).hash(&password).await?;
    let db = owner_db(settings).await?;
    let result = async {
        let tenant = match tenant {
            Some(slug) => Some(tenants::by_slug(&db.platform(), slug).await?),
            None => None,
        };
        let user =
            crate::domain::accounts::create_user(&db.platform(), user, hash, tenant.as_ref().map(|t| (t.id, role)))
                .await?;
        Ok::<_, domain::Error>((user, tenant))
    }
    .await;
    db.close().await;
    let (user, tenant) = result?;
    print_json(&json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "created_at": user.created_at,
        "tenant_id": tenant.as_ref().map(|t| t.id),
        "tenant_slug": tenant.as_ref().map(|t| t.slug.clone()),
        "role": tenant.as_ref().map(|_| role.as_str()),
    }));
    Ok(())
}

/// The owner connection, migrated first unless `TENANTRY_AUTO_MIGRATE=false`.
/// The platform set, the shared tables' tenant set, then the fleet, with
/// progress on stderr while tenants are migrated: one line rewritten in
/// place on a terminal, a line a second otherwise, and the last one always.
async fn migrate_all(
    db: &Db,
    settings: &Settings,
    options: FleetOptions,
) -> Result<(Vec<String>, crate::db::FleetReport), CliError> {
    use std::io::{IsTerminal, Write};
    let applied = db.migrate(&settings.database.app_role).await?;
    let terminal = std::io::stderr().is_terminal();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    let progress = |p: FleetProgress| {
        let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let finished = p.done == p.total;
        if !finished && last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) && !terminal {
            return;
        }
        *last = Some(std::time::Instant::now());
        let line = format!("migrating tenants: {}/{} done, {} failed", p.done, p.total, p.failed);
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r{line}{}", if finished { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
    };
    let fleet = db.migrate_fleet(options, &progress).await?;
    if fleet.behind > 0 {
        // The last line whatever stopped the run (tenants left unattempted
        // never report themselves done).
        let line = format!(
            "migrated tenants: {} done, {} failed, {} not attempted",
            fleet.migrated,
            fleet.failed.len(),
            fleet.not_attempted
        );
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            writeln!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
    }
    Ok((applied, fleet))
}

async fn owner_db(settings: &Settings) -> Result<Db, CliError> {
    let db = Db::connect_owner(settings).await?;
    if settings.database.auto_migrate {
        db.migrate(&settings.database.app_role).await?;
    }
    Ok(db)
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
