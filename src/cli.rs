//! `tenantry serve | migrate | spec | tenant create | api-key create`.
//! Every command reads the same configuration; stdout carries only a
//! command's JSON, logs go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::app::Application;
use crate::auth::{Principal, Scope, Scopes};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::Db;
use crate::domain::{self, api_keys, tenants};
use crate::secret::Keys;

#[derive(Parser, Debug)]
#[command(name = "tenantry", version, about = "Tenantry: a multi-tenant JSON API server")]
pub struct Cli {
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
    /// Apply pending migrations and ensure the application role (idempotent).
    Migrate,
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
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant and print it as JSON.
    Create {
        /// Lowercase letters, digits and inner hyphens, 3–63 characters.
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
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
        /// projects:read, projects:write, tasks:read, tasks:write, api_keys:manage.
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Days until the key expires (1–730) [default: never].
        #[arg(long = "expires-in")]
        expires_in: Option<i64>,
    },
}

/// A command's failure, printed to stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Start(#[from] crate::app::StartError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("{}", describe(.0))]
    Domain(#[from] domain::Error),
    #[error("{0}")]
    Usage(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log_filter, settings.log_json);
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
            let app = Application::build_default(settings, listen.unwrap_or(settings.listen)).await?;
            app.run_until(crate::app::shutdown_signal()).await?;
            Ok(())
        }
        Command::Migrate => {
            let db = Db::connect_owner(settings).await?;
            db.migrate(&settings.app_role).await?;
            db.close().await;
            tracing::info!("migrations applied");
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
        } => {
            let keys = Keys::from_secret(&crate::secret::load_or_create(settings)?);
            let db = owner_db(settings).await?;
            let result = crate::bench::seed(&db, &keys, &prefix, tenants, projects, &out).await;
            db.close().await;
            result.map_err(|e| CliError::Usage(format!("seeding failed: {e}")))
        }
        Command::Tenant {
            command: TenantCommand::Create { slug, name },
        } => {
            let db = owner_db(settings).await?;
            let tenant = tenants::create(&db.platform(), SystemClock.now(), &slug, name.as_deref()).await;
            db.close().await;
            let tenant = tenant?;
            print_json(&json!({
                "id": tenant.id,
                "slug": tenant.slug,
                "name": tenant.name,
                "created_at": tenant.created_at,
                "updated_at": tenant.updated_at,
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
                let created = api_keys::create(&scoped, &keys.api_key, SystemClock.now(), Scopes::all(), input).await?;
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

/// The owner connection, migrated first unless `TENANTRY_AUTO_MIGRATE=false`.
async fn owner_db(settings: &Settings) -> Result<Db, CliError> {
    let db = Db::connect_owner(settings).await?;
    if settings.auto_migrate {
        db.migrate(&settings.app_role).await?;
    }
    Ok(db)
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
