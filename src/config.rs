//! Configuration: embedded defaults overridden by environment variables, read
//! in one place and validated at start with the variable's name in the error.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;

/// Everything the server and the CLI read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TENANTRY_DATA_DIR`: where the SQLite file and the generated secret live.
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: the owner connection (migrations, CLI). Default: SQLite in the data directory.
    pub database_url: String,
    /// `TENANTRY_APP_DATABASE_URL`: a separate login for the serving role (PostgreSQL).
    pub app_database_url: Option<String>,
    /// `TENANTRY_DB_APP_ROLE`: the role requests run as on PostgreSQL.
    pub app_role: String,
    /// `TENANTRY_DB_MAX_CONNECTIONS`: pool size.
    pub db_max_connections: u32,
    /// `REDIS_URL`: optional; when set, revocations are broadcast over Redis
    /// pub/sub and API-key lookups may be cached longer.
    pub redis_url: Option<String>,
    /// `TENANTRY_REDIS_PREFIX`: what every Redis key and channel name starts with.
    pub redis_prefix: String,
    /// `TENANTRY_SECRET`: the server secret; generated into the data directory when unset.
    pub secret: Option<SecretString>,
    /// `TENANTRY_AUTO_MIGRATE`: apply pending migrations before serving or running a command.
    pub auto_migrate: bool,
    /// `TENANTRY_LISTEN`: the address `serve` binds when `--listen` is not given.
    pub listen: SocketAddr,
    /// `TENANTRY_MAX_BODY_BYTES`: the largest request body accepted.
    pub max_body_bytes: usize,
    /// `TENANTRY_KEY_CACHE_TTL_MS`: how long a key lookup is reused (0 disables).
    /// Without Redis at most 1000, the bound on revocation across instances;
    /// with Redis up to 600000 (default 60000), applied while revocations are
    /// heard (else 1000).
    pub key_cache_ttl: std::time::Duration,
    /// `TENANTRY_JWT_KEY_DIR`: the access-token signing keys (generated when empty).
    pub jwt_key_dir: PathBuf,
    /// `TENANTRY_JWT_ISSUER`: the `iss` of access tokens.
    pub jwt_issuer: String,
    /// `TENANTRY_JWT_AUDIENCE`: the `aud` of access tokens.
    pub jwt_audience: String,
    /// `TENANTRY_ACCESS_TOKEN_TTL_SECS`: access-token lifetime (60..=900).
    pub access_token_ttl_secs: i64,
    /// `TENANTRY_SESSION_IDLE_DAYS`: a session unused this long ends.
    pub session_idle_days: i64,
    /// `TENANTRY_SESSION_MAX_DAYS`: a session ends this long after sign-in.
    pub session_max_days: i64,
    /// `TENANTRY_SIGNUP_LIMIT`: signups per hour per client address and per
    /// email (`address=10,email=3` by default; `off` lifts them).
    pub signup_limits: SignupLimits,
    /// `TENANTRY_LOG`: a tracing filter directive; when unset each command
    /// has its own default (see `cli::default_log_filter`).
    pub log_filter: Option<String>,
    /// `TENANTRY_LOG_FORMAT`: `pretty` or `json`.
    pub log_json: bool,
}

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    /// A session unused for this long ends.
    pub idle: chrono::Duration,
    /// A session ends this long after it began, however used.
    pub absolute: chrono::Duration,
    /// How long a rotated refresh token still yields its successor.
    pub grace: chrono::Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: chrono::Duration::days(30),
            absolute: chrono::Duration::days(90),
            grace: chrono::Duration::seconds(10),
        }
    }
}

/// A configuration value that cannot be used; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The `iss` of access tokens unless `TENANTRY_JWT_ISSUER` says otherwise.
pub const DEFAULT_JWT_ISSUER: &str = "tenantry";
/// The `aud` of access tokens unless `TENANTRY_JWT_AUDIENCE` says otherwise.
pub const DEFAULT_JWT_AUDIENCE: &str = "tenantry-api";
/// The longest an access token may live (15 minutes), and its default.
pub const MAX_ACCESS_TOKEN_TTL_SECS: i64 = 900;

/// Signups allowed per window; `None` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignupLimits {
    pub per_address: Option<u32>,
    pub per_email: Option<u32>,
}

impl SignupLimits {
    /// 10 per client address and 3 per email, per hour.
    pub const DEFAULT: Self = Self {
        per_address: Some(10),
        per_email: Some(3),
    };

    pub const OFF: Self = Self {
        per_address: None,
        per_email: None,
    };

    /// Reads `off`, or `address=N,email=M` (either part may be left out, and
    /// keeps its default; `0` for a part lifts that limit).
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::OFF);
        }
        let mut limits = Self::DEFAULT;
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, n) = part
                .split_once('=')
                .ok_or_else(|| format!("expected `off` or `address=N,email=M`, got `{part}`"))?;
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("expected a count of signups per hour, got `{}`", n.trim()))?;
            let n = (n > 0).then_some(n);
            match name.trim() {
                "address" => limits.per_address = n,
                "email" => limits.per_email = n,
                other => return Err(format!("unknown limit `{other}`; expected `address` or `email`")),
            }
        }
        Ok(limits)
    }
}

pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
pub const MIN_SECRET_LEN: usize = 32;

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(err(var, format!("expected true or false, got `{other}`"))),
    }
}

fn parse_num<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| err(var, format!("expected a positive integer, got `{value}`")))
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings from `get`, which returns a variable's value when set.
    pub fn from_source(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(get("TENANTRY_DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let database_url = match get("DATABASE_URL") {
            Some(url) => url,
            None => format!("sqlite://{}?mode=rwc", data_dir.join("tenantry.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err("DATABASE_URL", "expected a sqlite: or postgres:// URL"));
        }
        let app_database_url = get("TENANTRY_APP_DATABASE_URL");
        if app_database_url.is_some() && database_url.starts_with("sqlite:") {
            return Err(err("TENANTRY_APP_DATABASE_URL", "only applies to PostgreSQL"));
        }
        let app_role = get("TENANTRY_DB_APP_ROLE").unwrap_or_else(|| "tenantry_app".to_owned());
        if app_role.is_empty()
            || app_role.len() > 63
            || !app_role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || app_role.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err(
                "TENANTRY_DB_APP_ROLE",
                "expected a lowercase identifier of at most 63 characters",
            ));
        }
        let default_pool = if database_url.starts_with("sqlite:") {
            4
        } else {
            default_pg_pool()
        };
        let db_max_connections = match get("TENANTRY_DB_MAX_CONNECTIONS") {
            Some(v) => parse_num("TENANTRY_DB_MAX_CONNECTIONS", &v)?,
            None => default_pool,
        };
        if !(1..=1000).contains(&db_max_connections) {
            return Err(err("TENANTRY_DB_MAX_CONNECTIONS", "expected 1..=1000"));
        }
        let secret = match get("TENANTRY_SECRET") {
            Some(s) if s.len() < MIN_SECRET_LEN => {
                return Err(err(
                    "TENANTRY_SECRET",
                    format!("must be at least {MIN_SECRET_LEN} bytes"),
                ));
            }
            Some(s) => Some(SecretString::from(s)),
            None => None,
        };
        let auto_migrate = match get("TENANTRY_AUTO_MIGRATE") {
            Some(v) => parse_bool("TENANTRY_AUTO_MIGRATE", &v)?,
            None => true,
        };
        let listen = get("TENANTRY_LISTEN")
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
            .parse()
            .map_err(|_| err("TENANTRY_LISTEN", "expected host:port, e.g. 127.0.0.1:8080"))?;
        let max_body_bytes = match get("TENANTRY_MAX_BODY_BYTES") {
            Some(v) => parse_num("TENANTRY_MAX_BODY_BYTES", &v)?,
            None => DEFAULT_MAX_BODY_BYTES,
        };
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(err("TENANTRY_MAX_BODY_BYTES", "expected 1024..=67108864"));
        }
        let redis_url = get("REDIS_URL").filter(|url| !url.is_empty());
        let redis_prefix = get("TENANTRY_REDIS_PREFIX").unwrap_or_else(|| "tenantry:".to_owned());
        if redis_prefix.len() > 64 || redis_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(
                "TENANTRY_REDIS_PREFIX",
                "expected at most 64 characters, no spaces",
            ));
        }
        let (default_ttl, max_ttl) = if redis_url.is_some() {
            (60_000, 600_000)
        } else {
            (1000, 1000)
        };
        let key_cache_ttl_ms: u64 = match get("TENANTRY_KEY_CACHE_TTL_MS") {
            Some(v) => parse_num("TENANTRY_KEY_CACHE_TTL_MS", &v)?,
            None => default_ttl,
        };
        if key_cache_ttl_ms > max_ttl {
            return Err(err(
                "TENANTRY_KEY_CACHE_TTL_MS",
                if redis_url.is_some() {
                    "expected 0..=600000"
                } else {
                    "expected 0..=1000 without REDIS_URL (revocation must reach every instance within 1 s)"
                },
            ));
        }
        let jwt_key_dir = get("TENANTRY_JWT_KEY_DIR").map_or_else(|| data_dir.join("jwt-keys"), PathBuf::from);
        let jwt_issuer = get("TENANTRY_JWT_ISSUER").unwrap_or_else(|| DEFAULT_JWT_ISSUER.to_owned());
        let jwt_audience = get("TENANTRY_JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_JWT_AUDIENCE.to_owned());
        let bounded = |var: &'static str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
            let value = match get(var) {
                Some(v) => parse_num(var, &v)?,
                None => default,
            };
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(err(var, format!("expected {min}..={max}")))
            }
        };
        let access_token_ttl_secs = bounded(
            "TENANTRY_ACCESS_TOKEN_TTL_SECS",
            MAX_ACCESS_TOKEN_TTL_SECS,
            60,
            MAX_ACCESS_TOKEN_TTL_SECS,
        )?;
        let session_idle_days = bounded("TENANTRY_SESSION_IDLE_DAYS", 30, 1, 365)?;
        let session_max_days = bounded("TENANTRY_SESSION_MAX_DAYS", 90, 1, 365)?;
        if session_idle_days > session_max_days {
            return Err(err(
                "TENANTRY_SESSION_IDLE_DAYS",
                "must not exceed TENANTRY_SESSION_MAX_DAYS",
            ));
        }
        let signup_limits = match get("TENANTRY_SIGNUP_LIMIT") {
            Some(v) => SignupLimits::parse(&v).map_err(|e| err("TENANTRY_SIGNUP_LIMIT", e))?,
            None => SignupLimits::DEFAULT,
        };
        let log_json = match get("TENANTRY_LOG_FORMAT").as_deref() {
            None | Some("pretty") => false,
            Some("json") => true,
            Some(other) => {
                return Err(err(
                    "TENANTRY_LOG_FORMAT",
                    format!("expected pretty or json, got `{other}`"),
                ));
            }
        };
        Ok(Self {
            data_dir,
            database_url,
            app_database_url,
            app_role,
            db_max_connections,
            redis_url,
            redis_prefix,
            secret,
            auto_migrate,
            listen,
            max_body_bytes,
            key_cache_ttl: std::time::Duration::from_millis(key_cache_ttl_ms),
            jwt_key_dir,
            jwt_issuer,
            jwt_audience,
            access_token_ttl_secs,
            session_idle_days,
            session_max_days,
            signup_limits,
            log_filter: get("TENANTRY_LOG"),
            log_json,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// The PostgreSQL pool's default size: twice this machine's cores, at least
/// 4. A backend runs one statement on one core; past about twice the cores,
/// more connections add context switches rather than throughput (measured
/// with `bench/`: on 2 cores, 4 connections served get-by-id 15% faster than 16).
fn default_pg_pool() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_source(|k| map.get(k).cloned())
    }

    #[test]
    fn no_configuration_means_sqlite_in_the_data_directory() {
        let s = settings(&[]).expect("defaults are valid");
        assert!(s.is_sqlite());
        assert!(s.database_url.contains("data/tenantry.db"));
        assert!(s.auto_migrate);
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.signup_limits, SignupLimits::DEFAULT);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let e = settings(&[("TENANTRY_AUTO_MIGRATE", "maybe")]).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_AUTO_MIGRATE");
        let e = settings(&[("TENANTRY_SECRET", "short")]).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_SECRET");
        let e = settings(&[("DATABASE_URL", "mysql://x")]).expect_err("invalid");
        assert_eq!(e.var, "DATABASE_URL");
        let e = settings(&[("TENANTRY_DB_APP_ROLE", "Robert'); DROP")]).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_DB_APP_ROLE");
        let e = settings(&[("TENANTRY_SIGNUP_LIMIT", "lots")]).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_SIGNUP_LIMIT");
    }

    #[test]
    fn the_pool_defaults_to_twice_the_cores() {
        let pg = ("DATABASE_URL", "postgres://127.0.0.1/x");
        assert_eq!(settings(&[pg]).expect("valid").db_max_connections, default_pg_pool());
        assert!(default_pg_pool() >= 4);
        assert_eq!(settings(&[]).expect("valid").db_max_connections, 4);
        let sized = settings(&[pg, ("TENANTRY_DB_MAX_CONNECTIONS", "32")]).expect("valid");
        assert_eq!(sized.db_max_connections, 32);
    }

    #[test]
    fn key_lookups_outlive_a_second_only_with_redis() {
        let ms = |s: Settings| s.key_cache_ttl.as_millis();
        assert_eq!(ms(settings(&[]).expect("valid")), 1000);
        let e = settings(&[("TENANTRY_KEY_CACHE_TTL_MS", "1001")]).expect_err("beyond 1 s without Redis");
        assert_eq!(e.var, "TENANTRY_KEY_CACHE_TTL_MS");
        let redis = ("REDIS_URL", "redis://127.0.0.1:6379");
        assert_eq!(ms(settings(&[redis]).expect("valid")), 60_000);
        assert_eq!(
            ms(settings(&[redis, ("TENANTRY_KEY_CACHE_TTL_MS", "600000")]).expect("valid")),
            600_000
        );
        let e = settings(&[redis, ("TENANTRY_KEY_CACHE_TTL_MS", "600001")]).expect_err("too long");
        assert_eq!(e.var, "TENANTRY_KEY_CACHE_TTL_MS");
        let e = settings(&[redis, ("TENANTRY_REDIS_PREFIX", "two words")]).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_REDIS_PREFIX");
    }
}
