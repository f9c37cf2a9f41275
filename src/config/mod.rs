//! Configuration: one settings value in sections (server, database, redis,
//! auth, limits, log), from embedded defaults < an optional TOML file
//! (`--config PATH` or `TENANTRY_CONFIG`) < environment variables, read in
//! one place and validated at start with the offending key named. Every
//! file key `section.key` has the environment form
//! `TENANTRY_<SECTION>__<KEY>`, and the variables of earlier releases keep
//! working (see [`sources::KEYS`]). Secrets (the server secret, URLs that
//! may carry passwords) are `SecretString`s: never printed, redacted by
//! `tenantry config`.

pub mod rates;
pub mod sources;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

pub use rates::Rate;
use sources::Sources;

/// Everything the server and the CLI are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `data_dir`: where the SQLite file, the generated secret and the signing keys live.
    pub data_dir: PathBuf,
    /// `secret`: the server secret; generated into the data directory when unset.
    pub secret: Option<SecretString>,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    /// The file the settings were read from, if any.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `server.listen`: the address `serve` binds when `--listen` is not given.
    pub listen: SocketAddr,
    /// `server.trusted_proxies`: the proxies (CIDRs) whose `X-Forwarded-For`
    /// names the client; none by default (the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `database.url`: the owner connection (migrations, CLI). Default: SQLite in the data directory.
    pub url: SecretString,
    /// `database.app_url`: a separate login for the serving role (PostgreSQL).
    pub app_url: Option<SecretString>,
    /// `database.app_role`: the role requests run as on PostgreSQL.
    pub app_role: String,
    /// `database.max_connections`: pool size.
    pub max_connections: u32,
    /// `database.auto_migrate`: apply pending migrations before serving or running a command.
    pub auto_migrate: bool,
    /// `database.default_placement`: where signup puts a new tenant's data
    /// (`shared`, `schema` on PostgreSQL, or `database`).
    pub default_placement: entity::tenant::Placement,
    /// `database.tenant_connections`: the most connections open at once to
    /// the databases of tenants placed in one of their own, however many
    /// such tenants there are.
    pub tenant_connections: u32,
    /// `database.tenant_idle_secs`: a tenant database's pool unused this
    /// long is closed.
    pub tenant_idle: std::time::Duration,
    /// `database.schema_statements`: the most statements each connection
    /// keeps prepared for tenants in schemas of their own (each schema
    /// needs its own, about 25 KB of server memory each).
    pub schema_statements: u32,
    /// `[databases.<name>]`: other database servers that tenants' own
    /// databases may live on (`tenant create --placement database
    /// --database NAME`).
    pub servers: std::collections::BTreeMap<String, DatabaseServer>,
}

/// A database server named in the configuration (`[databases.<name>]`,
/// or `TENANTRY_DATABASES__<NAME>__URL`).
#[derive(Debug, Clone)]
pub struct DatabaseServer {
    /// `databases.<name>.url`: a login that may create databases there (a
    /// PostgreSQL URL; its database is the one connected to for that).
    pub url: SecretString,
    /// `databases.<name>.app_url`: a separate login for the serving role
    /// there; otherwise `url` with `SET ROLE` to `database.app_role`.
    pub app_url: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis.url`: optional; when set, revocations are broadcast over Redis
    /// pub/sub and API-key lookups may be cached longer.
    pub url: Option<SecretString>,
    /// `redis.prefix`: what every Redis key and channel name starts with.
    pub prefix: String,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `auth.jwt_key_dir`: the access-token signing keys (generated when empty).
    pub jwt_key_dir: PathBuf,
    /// `auth.jwt_issuer`: the `iss` of access tokens.
    pub jwt_issuer: String,
    /// `auth.jwt_audience`: the `aud` of access tokens.
    pub jwt_audience: String,
    /// `auth.access_token_ttl_secs`: access-token lifetime (60..=900).
    pub access_token_ttl_secs: i64,
    /// `auth.session_idle_days`: a session unused this long ends.
    pub session_idle_days: i64,
    /// `auth.session_max_days`: a session ends this long after sign-in.
    pub session_max_days: i64,
    /// `auth.key_cache_ttl_ms`: how long a key lookup is reused (0 disables).
    /// Without Redis at most 1000, the bound on revocation across instances;
    /// with Redis up to 600000 (default 60000), applied while revocations are
    /// heard (else 1000).
    pub key_cache_ttl: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// `limits.max_body_bytes`: the largest request body accepted.
    pub max_body_bytes: usize,
    /// `limits.signup`: signups per hour per client address and per email
    /// (`address=10,email=3` by default; `off` lifts them).
    pub signup: SignupLimits,
    /// `limits.rate`: each tenant's requests (all its keys and people
    /// together); `None` when `off`.
    pub rate: Option<Rate>,
    /// `limits.rate_anonymous`: each client address's requests to the
    /// operations no credential opens; `None` when `off`.
    pub rate_anonymous: Option<Rate>,
    /// `[plans.<name>]`: the budgets of the tenants on each plan (a tenant
    /// on none has `limits.rate`).
    pub plans: std::collections::BTreeMap<String, Plan>,
}

/// A plan's request budgets (`[plans.<name>]`, or
/// `TENANTRY_PLANS__<NAME>__<KEY>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// `plans.<name>.rate_limit`: the tenant's budget, all its keys and
    /// people together (`off`: none) [default: `limits.rate`].
    pub rate: Option<Rate>,
    /// `plans.<name>.credential_rate_limit`: each of its credentials' own
    /// budget within the tenant's (an API key's, or a person's across
    /// their sessions) [default: none].
    pub credential_rate: Option<Rate>,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `log.filter`: a tracing filter directive; when unset each command
    /// has its own default (see `cli::default_log_filter`).
    pub filter: Option<String>,
    /// `log.format`: `pretty` or `json`.
    pub json: bool,
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
    /// The environment variable, or the file key and its file.
    pub var: String,
    pub reason: String,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The `iss` of access tokens unless `TENANTRY_JWT_ISSUER` says otherwise.
pub const DEFAULT_JWT_ISSUER: &str = "tenantry";
/// The `aud` of access tokens unless `TENANTRY_JWT_AUDIENCE` says otherwise.
pub const DEFAULT_JWT_AUDIENCE: &str = "tenantry-api";
/// The longest an access token may live (15 minutes), and its default.
pub const MAX_ACCESS_TOKEN_TTL_SECS: i64 = 900;

impl std::fmt::Display for SignupLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.per_address, self.per_email) {
            (None, None) => f.write_str("off"),
            (address, email) => write!(f, "address={},email={}", address.unwrap_or(0), email.unwrap_or(0)),
        }
    }
}

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

impl DatabaseSettings {
    /// The owner connection's URL.
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl Settings {
    pub fn is_sqlite(&self) -> bool {
        self.database.url().starts_with("sqlite:")
    }

    /// Reads the process environment and, when `file` is given (else
    /// `TENANTRY_CONFIG`), that TOML file beneath it.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        sources::refuse_unknown_vars(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }))?;
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| get("TENANTRY_CONFIG").map(PathBuf::from));
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| sources::named_var(name).is_some())
            .collect();
        Self::read(file.as_deref(), &get, &names)
    }

    /// Reads settings from these variables only (no file, no process
    /// environment), the named database servers' among them.
    pub fn from_vars(vars: &[(String, String)]) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            vars.iter()
                .rev()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let names: Vec<String> = vars
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| sources::named_var(k).is_some())
            .collect();
        Self::read(None, &get, &names)
    }

    /// Reads the process environment only.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(None)
    }

    /// Reads settings from `get`, which returns a variable's value when set
    /// (no file).
    pub fn from_source(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_sources(None, &get)
    }

    /// `file` beneath the variables `get` answers.
    pub fn from_sources(file: Option<&Path>, get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(file, get, &[])
    }

    fn read(
        file: Option<&Path>,
        get: &dyn Fn(&str) -> Option<String>,
        named_vars: &[String],
    ) -> Result<Self, ConfigError> {
        let sources = Sources::load(file, get, named_vars)?;
        let mut settings = resolve(&sources)?;
        settings.file = file.map(Path::to_path_buf);
        Ok(settings)
    }
}

/// What `tenantry config` shows for a secret.
pub const REDACTED: &str = "[redacted]";

/// A URL with the password of its user part replaced by [`REDACTED`].
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:{REDACTED}@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Settings {
    /// The effective configuration as TOML, secrets redacted: the server
    /// secret entirely, URLs' passwords.
    pub fn to_toml(&self) -> String {
        use toml::{Table, Value};
        let text = |s: &str| Value::String(s.to_owned());
        let int = |n: i64| Value::Integer(n);
        let mut root = Table::new();
        root.insert("data_dir".into(), text(&self.data_dir.display().to_string()));
        if self.secret.is_some() {
            root.insert("secret".into(), text(REDACTED));
        }
        let mut server = Table::new();
        server.insert("listen".into(), text(&self.server.listen.to_string()));
        server.insert(
            "trusted_proxies".into(),
            text(
                &self
                    .server
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        );
        let mut database = Table::new();
        database.insert("url".into(), text(&redact_url(self.database.url())));
        if let Some(url) = &self.database.app_url {
            database.insert("app_url".into(), text(&redact_url(url.expose_secret())));
        }
        database.insert("app_role".into(), text(&self.database.app_role));
        database.insert("max_connections".into(), int(i64::from(self.database.max_connections)));
        database.insert("auto_migrate".into(), Value::Boolean(self.database.auto_migrate));
        database.insert(
            "default_placement".into(),
            text(self.database.default_placement.as_str()),
        );
        database.insert(
            "tenant_connections".into(),
            int(i64::from(self.database.tenant_connections)),
        );
        database.insert(
            "tenant_idle_secs".into(),
            int(i64::try_from(self.database.tenant_idle.as_secs()).unwrap_or(i64::MAX)),
        );
        database.insert(
            "schema_statements".into(),
            int(i64::from(self.database.schema_statements)),
        );
        let mut servers = Table::new();
        for (name, server) in &self.database.servers {
            let mut entry = Table::new();
            entry.insert("url".into(), text(&redact_url(server.url.expose_secret())));
            if let Some(url) = &server.app_url {
                entry.insert("app_url".into(), text(&redact_url(url.expose_secret())));
            }
            servers.insert(name.clone(), Value::Table(entry));
        }
        let mut redis = Table::new();
        if let Some(url) = &self.redis.url {
            redis.insert("url".into(), text(&redact_url(url.expose_secret())));
        }
        redis.insert("prefix".into(), text(&self.redis.prefix));
        let a = &self.auth;
        let mut auth = Table::new();
        auth.insert("jwt_key_dir".into(), text(&a.jwt_key_dir.display().to_string()));
        auth.insert("jwt_issuer".into(), text(&a.jwt_issuer));
        auth.insert("jwt_audience".into(), text(&a.jwt_audience));
        auth.insert("access_token_ttl_secs".into(), int(a.access_token_ttl_secs));
        auth.insert("session_idle_days".into(), int(a.session_idle_days));
        auth.insert("session_max_days".into(), int(a.session_max_days));
        auth.insert(
            "key_cache_ttl_ms".into(),
            int(i64::try_from(a.key_cache_ttl.as_millis()).unwrap_or(i64::MAX)),
        );
        let mut limits = Table::new();
        limits.insert(
            "max_body_bytes".into(),
            int(i64::try_from(self.limits.max_body_bytes).unwrap_or(i64::MAX)),
        );
        limits.insert("signup".into(), text(&self.limits.signup.to_string()));
        limits.insert("rate".into(), text(&rates::show(self.limits.rate)));
        limits.insert("rate_anonymous".into(), text(&rates::show(self.limits.rate_anonymous)));
        let mut plans = Table::new();
        for (name, plan) in &self.limits.plans {
            let mut entry = Table::new();
            entry.insert("rate_limit".into(), text(&rates::show(plan.rate)));
            entry.insert("credential_rate_limit".into(), text(&rates::show(plan.credential_rate)));
            plans.insert(name.clone(), Value::Table(entry));
        }
        let mut log = Table::new();
        if let Some(filter) = &self.log.filter {
            log.insert("filter".into(), text(filter));
        }
        log.insert("format".into(), text(if self.log.json { "json" } else { "pretty" }));
        for (name, table) in [
            ("server", server),
            ("database", database),
            ("redis", redis),
            ("auth", auth),
            ("limits", limits),
            ("log", log),
        ] {
            root.insert(name.into(), Value::Table(table));
        }
        if !servers.is_empty() {
            root.insert(sources::DATABASES.section.into(), Value::Table(servers));
        }
        if !plans.is_empty() {
            root.insert(sources::PLANS.section.into(), Value::Table(plans));
        }
        toml::to_string(&root).unwrap_or_default()
    }
}

/// Reads and checks every key, defaults for the ones no source sets.
fn resolve(src: &Sources) -> Result<Settings, ConfigError> {
    let err = |path: &str, reason: String| ConfigError {
        var: src.name(path),
        reason,
    };
    let num = |path: &str, value: &str| -> Result<i64, ConfigError> {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| err(path, format!("expected a whole number, got `{value}`")))
    };
    let bounded = |path: &str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
        let value = match src.get(path) {
            Some(v) => num(path, &v)?,
            None => default,
        };
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(err(path, format!("expected {min}..={max}")))
        }
    };
    let flag = |path: &str, default: bool| -> Result<bool, ConfigError> {
        match src.get(path).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                other => Err(err(path, format!("expected true or false, got `{other}`"))),
            },
        }
    };

    let data_dir = PathBuf::from(src.get("data_dir").unwrap_or_else(|| "./data".to_owned()));
    let database_url = match src.get("database.url") {
        Some(url) => url,
        None => format!("sqlite://{}?mode=rwc", data_dir.join("tenantry.db").display()),
    };
    let sqlite = database_url.starts_with("sqlite:");
    if !(sqlite || database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
        return Err(err("database.url", "expected a sqlite: or postgres:// URL".to_owned()));
    }
    let app_url = src.get("database.app_url");
    if app_url.is_some() && sqlite {
        return Err(err("database.app_url", "only applies to PostgreSQL".to_owned()));
    }
    let app_role = src
        .get("database.app_role")
        .unwrap_or_else(|| "tenantry_app".to_owned());
    if app_role.is_empty()
        || app_role.len() > 63
        || !app_role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || app_role.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(err(
            "database.app_role",
            "expected a lowercase identifier of at most 63 characters".to_owned(),
        ));
    }
    let default_pool = if sqlite { 4 } else { i64::from(default_pg_pool()) };
    let max_connections = bounded("database.max_connections", default_pool, 1, 1000)? as u32;
    let secret = match src.get("secret") {
        Some(s) if s.len() < MIN_SECRET_LEN => {
            return Err(err("secret", format!("must be at least {MIN_SECRET_LEN} bytes")));
        }
        Some(s) => Some(SecretString::from(s)),
        None => None,
    };
    let auto_migrate = flag("database.auto_migrate", true)?;
    let default_placement = match src.get("database.default_placement") {
        None => entity::tenant::Placement::Shared,
        Some(v) => match entity::tenant::Placement::parse(v.trim()) {
            Some(entity::tenant::Placement::Schema) if sqlite => {
                return Err(err(
                    "database.default_placement",
                    "`schema` needs PostgreSQL; on SQLite use `shared` or `database`".to_owned(),
                ));
            }
            Some(p) => p,
            None => {
                return Err(err(
                    "database.default_placement",
                    format!("expected shared, schema or database, got `{v}`"),
                ));
            }
        },
    };
    let tenant_connections = bounded("database.tenant_connections", 64, 1, 10_000)? as u32;
    let tenant_idle_secs = bounded("database.tenant_idle_secs", 60, 1, 86_400)?;
    let schema_statements = bounded("database.schema_statements", 2_000, 1, 100_000)? as u32;
    let mut servers = std::collections::BTreeMap::new();
    for name in src.members(&sources::DATABASES) {
        let path = |key: &str| format!("{}.{name}.{key}", sources::DATABASES.section);
        if !sources::is_name(&name) {
            return Err(err(
                &path("url"),
                "a server's name is a lowercase identifier of at most 32 characters".to_owned(),
            ));
        }
        let url = src
            .get(&path("url"))
            .ok_or_else(|| err(&path("url"), "a database server needs a url".to_owned()))?;
        if sqlite {
            return Err(err(
                &path("url"),
                "named database servers need PostgreSQL (DATABASE_URL is SQLite)".to_owned(),
            ));
        }
        for (key, value) in [("url", Some(&url)), ("app_url", src.get(&path("app_url")).as_ref())] {
            if let Some(value) = value
                && !(value.starts_with("postgres://") || value.starts_with("postgresql://"))
            {
                return Err(err(&path(key), "expected a postgres:// URL".to_owned()));
            }
        }
        servers.insert(
            name.clone(),
            DatabaseServer {
                url: SecretString::from(url),
                app_url: src.get(&path("app_url")).map(SecretString::from),
            },
        );
    }
    let listen = src
        .get("server.listen")
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
        .parse()
        .map_err(|_| err("server.listen", "expected host:port, e.g. 127.0.0.1:8080".to_owned()))?;
    let max_body_bytes = bounded(
        "limits.max_body_bytes",
        DEFAULT_MAX_BODY_BYTES as i64,
        1024,
        64 * 1024 * 1024,
    )? as usize;
    let redis_url = src.get("redis.url");
    let redis_prefix = src.get("redis.prefix").unwrap_or_else(|| "tenantry:".to_owned());
    if redis_prefix.len() > 64 || redis_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(
            "redis.prefix",
            "expected at most 64 characters, no spaces".to_owned(),
        ));
    }
    let (default_ttl, max_ttl) = if redis_url.is_some() {
        (60_000, 600_000)
    } else {
        (1000, 1000)
    };
    let key_cache_ttl_ms = match src.get("auth.key_cache_ttl_ms") {
        Some(v) => num("auth.key_cache_ttl_ms", &v)?,
        None => default_ttl,
    };
    if !(0..=max_ttl).contains(&key_cache_ttl_ms) {
        return Err(err(
            "auth.key_cache_ttl_ms",
            if redis_url.is_some() {
                "expected 0..=600000".to_owned()
            } else {
                "expected 0..=1000 without a Redis URL (revocation must reach every instance within 1 s)".to_owned()
            },
        ));
    }
    let jwt_key_dir = src
        .get("auth.jwt_key_dir")
        .map_or_else(|| data_dir.join("jwt-keys"), PathBuf::from);
    let jwt_issuer = src
        .get("auth.jwt_issuer")
        .unwrap_or_else(|| DEFAULT_JWT_ISSUER.to_owned());
    let jwt_audience = src
        .get("auth.jwt_audience")
        .unwrap_or_else(|| DEFAULT_JWT_AUDIENCE.to_owned());
    let access_token_ttl_secs = bounded(
        "auth.access_token_ttl_secs",
        MAX_ACCESS_TOKEN_TTL_SECS,
        60,
        MAX_ACCESS_TOKEN_TTL_SECS,
    )?;
    let session_idle_days = bounded("auth.session_idle_days", 30, 1, 365)?;
    let session_max_days = bounded("auth.session_max_days", 90, 1, 365)?;
    if session_idle_days > session_max_days {
        return Err(err(
            "auth.session_idle_days",
            "must not exceed the session's maximum (auth.session_max_days)".to_owned(),
        ));
    }
    let signup = match src.get("limits.signup") {
        Some(v) => SignupLimits::parse(&v).map_err(|e| err("limits.signup", e))?,
        None => SignupLimits::DEFAULT,
    };
    let rate = |path: &str, default: Rate| match src.get(path) {
        Some(v) => Rate::parse(&v).map_err(|e| err(path, e)),
        None => Ok(Some(default)),
    };
    let rate_anonymous = rate("limits.rate_anonymous", Rate::ANONYMOUS)?;
    let rate = rate("limits.rate", Rate::TENANT)?;
    let mut plans = std::collections::BTreeMap::new();
    for name in src.members(&sources::PLANS) {
        let path = |key: &str| format!("{}.{name}.{key}", sources::PLANS.section);
        if !sources::is_name(&name) {
            return Err(err(
                &path("rate_limit"),
                "a plan's name is a lowercase identifier of at most 32 characters".to_owned(),
            ));
        }
        let read = |key: &str| {
            src.get(&path(key))
                .map(|v| Rate::parse(&v).map_err(|e| err(&path(key), e)))
                .transpose()
        };
        let plan = Plan {
            rate: read("rate_limit")?.unwrap_or(rate),
            credential_rate: read("credential_rate_limit")?.flatten(),
        };
        plans.insert(name.clone(), plan);
    }
    let trusted_proxies = match src.get("server.trusted_proxies") {
        Some(v) => rates::parse_proxies(&v).map_err(|e| err("server.trusted_proxies", e))?,
        None => Vec::new(),
    };
    let json = match src.get("log.format").as_deref() {
        None | Some("pretty") => false,
        Some("json") => true,
        Some(other) => {
            return Err(err("log.format", format!("expected pretty or json, got `{other}`")));
        }
    };
    Ok(Settings {
        data_dir,
        secret,
        server: ServerSettings {
            listen,
            trusted_proxies,
        },
        database: DatabaseSettings {
            url: SecretString::from(database_url),
            app_url: app_url.map(SecretString::from),
            app_role,
            max_connections,
            auto_migrate,
            default_placement,
            tenant_connections,
            tenant_idle: std::time::Duration::from_secs(tenant_idle_secs as u64),
            schema_statements,
            servers,
        },
        redis: RedisSettings {
            url: redis_url.map(SecretString::from),
            prefix: redis_prefix,
        },
        auth: AuthSettings {
            jwt_key_dir,
            jwt_issuer,
            jwt_audience,
            access_token_ttl_secs,
            session_idle_days,
            session_max_days,
            key_cache_ttl: std::time::Duration::from_millis(key_cache_ttl_ms as u64),
        },
        limits: LimitSettings {
            max_body_bytes,
            signup,
            rate,
            rate_anonymous,
            plans,
        },
        log: LogSettings {
            filter: src.get("log.filter"),
            json,
        },
        file: None,
    })
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
        assert!(s.database.url().contains("data/tenantry.db"));
        assert!(s.database.auto_migrate);
        assert_eq!(s.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.limits.signup, SignupLimits::DEFAULT);
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
        assert_eq!(
            settings(&[pg]).expect("valid").database.max_connections,
            default_pg_pool()
        );
        assert!(default_pg_pool() >= 4);
        assert_eq!(settings(&[]).expect("valid").database.max_connections, 4);
        let sized = settings(&[pg, ("TENANTRY_DB_MAX_CONNECTIONS", "32")]).expect("valid");
        assert_eq!(sized.database.max_connections, 32);
    }

    #[test]
    fn database_servers_are_named_in_the_file_or_the_environment() {
        let pg = "postgres://tenantry:pw@db:5432/tenantry";
        let toml =
            "[database]\nurl = \"postgres://x@a/b\"\n[databases.reserve]\nurl = \"postgres://o:secret@db2/postgres\"\n";
        let s = with_file(toml, &[]).expect("valid");
        assert_eq!(s.database.servers.keys().collect::<Vec<_>>(), ["reserve"]);
        assert!(!s.to_toml().contains("secret"), "{}", s.to_toml());
        let vars = [
            ("DATABASE_URL".to_owned(), pg.to_owned()),
            (
                "TENANTRY_DATABASES__EU_WEST__URL".to_owned(),
                "postgres://db3/postgres".to_owned(),
            ),
            (
                "TENANTRY_DATABASES__EU_WEST__APP_URL".to_owned(),
                "postgres://app@db3/postgres".to_owned(),
            ),
        ];
        let s = Settings::from_vars(&vars).expect("valid");
        let server = &s.database.servers["eu_west"];
        assert!(server.app_url.is_some());
        // A typo in a server's key, a bad name, a server beside SQLite.
        let e = with_file(
            "[databases.reserve]\nurll = \"postgres://x\"\n",
            &[("DATABASE_URL", pg)],
        )
        .expect_err("unknown key");
        assert_eq!(e.var, "databases.reserve.urll");
        let e = with_file(
            "[databases.Bad-Name]\nurl = \"postgres://x\"\n",
            &[("DATABASE_URL", pg)],
        )
        .expect_err("bad name");
        assert!(e.var.starts_with("databases.Bad-Name"), "{}", e.var);
        let e = Settings::from_vars(&[("TENANTRY_DATABASES__X__URL".to_owned(), "postgres://db/p".to_owned())])
            .expect_err("SQLite has no named servers");
        assert_eq!(e.var, "TENANTRY_DATABASES__X__URL");
        assert!(
            super::sources::refuse_unknown_vars([("TENANTRY_DATABASES__X__URL".to_owned(), "v".to_owned())]).is_ok()
        );
        assert!(
            super::sources::refuse_unknown_vars([("TENANTRY_DATABASES__X__PORT".to_owned(), "v".to_owned())]).is_err()
        );
    }

    #[test]
    fn the_default_placement_is_checked_against_the_backend() {
        use entity::tenant::Placement;
        assert_eq!(
            settings(&[]).expect("valid").database.default_placement,
            Placement::Shared
        );
        let s = settings(&[("TENANTRY_DEFAULT_PLACEMENT", "database")]).expect("valid");
        assert_eq!(s.database.default_placement, Placement::Database);
        let e = settings(&[("TENANTRY_DEFAULT_PLACEMENT", "schema")]).expect_err("no schemas on SQLite");
        assert_eq!(e.var, "TENANTRY_DEFAULT_PLACEMENT");
        let pg = ("DATABASE_URL", "postgres://127.0.0.1/x");
        let s = settings(&[pg, ("TENANTRY_DEFAULT_PLACEMENT", "schema")]).expect("valid");
        assert_eq!(s.database.default_placement, Placement::Schema);
        let e = settings(&[("TENANTRY_DEFAULT_PLACEMENT", "elsewhere")]).expect_err("unknown");
        assert_eq!(e.var, "TENANTRY_DEFAULT_PLACEMENT");
    }

    #[test]
    fn plans_are_named_in_the_file_or_the_environment() {
        let toml = "[limits]\nrate = \"100/s\"\n[plans.free]\nrate_limit = \"60/min\"\n\
                    [plans.pro]\ncredential_rate_limit = \"10/s\"\n[plans.unlimited]\nrate_limit = \"off\"\n";
        let s = with_file(toml, &[]).expect("valid");
        let plan = |name: &str| s.limits.plans[name];
        assert_eq!(plan("free").rate, Rate::parse("60/min").expect("valid"));
        assert_eq!(plan("free").credential_rate, None);
        // A plan that names no tenant budget has the default one.
        assert_eq!(plan("pro").rate, Rate::parse("100/s").expect("valid"));
        assert_eq!(plan("pro").credential_rate, Rate::parse("10/s").expect("valid"));
        assert_eq!(plan("unlimited").rate, None);
        assert!(s.to_toml().contains("[plans.pro]"), "{}", s.to_toml());
        let vars = |value: &str| [("TENANTRY_PLANS__TEAM__RATE_LIMIT".to_owned(), value.to_owned())];
        let s = Settings::from_vars(&vars("5/s")).expect("valid");
        assert_eq!(s.limits.plans["team"].rate, Rate::parse("5/s").expect("valid"));
        let e = Settings::from_vars(&vars("5/day")).expect_err("invalid");
        assert_eq!(e.var, "TENANTRY_PLANS__TEAM__RATE_LIMIT");
        let e = with_file("[plans.free]\nrate = \"1/s\"\n", &[]).expect_err("unknown key");
        assert_eq!(e.var, "plans.free.rate");
        let e = with_file("[plans.Free]\nrate_limit = \"1/s\"\n", &[]).expect_err("bad name");
        assert_eq!(e.var, "plans.Free");
        let e = with_file("[plans.free]\nrate_limit = \"1/week\"\n", &[]).expect_err("bad rate");
        assert!(e.var.starts_with("plans.free.rate_limit"), "{}", e.var);
    }

    #[test]
    fn key_lookups_outlive_a_second_only_with_redis() {
        let ms = |s: Settings| s.auth.key_cache_ttl.as_millis();
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

    fn with_file(toml: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("tenantry-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("tenantry.toml");
        std::fs::write(&path, toml).expect("written");
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let result = Settings::from_sources(Some(&path), &|k: &str| map.get(k).cloned());
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    #[test]
    fn a_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
        let toml = "data_dir = \"/srv/tenantry\"\n[database]\nmax_connections = 12\nauto_migrate = false\n\n[limits]\nmax_body_bytes = 4096\nsignup = \"off\"\n";
        let s = with_file(toml, &[]).expect("valid");
        assert_eq!(s.data_dir, PathBuf::from("/srv/tenantry"));
        assert!(
            s.database.url().contains("/srv/tenantry/tenantry.db"),
            "derived from the file's data_dir"
        );
        assert_eq!(s.database.max_connections, 12);
        assert!(!s.database.auto_migrate);
        assert_eq!(s.limits.max_body_bytes, 4096);
        assert_eq!(s.limits.signup, SignupLimits::OFF);
        assert_eq!(
            s.server.listen.to_string(),
            DEFAULT_LISTEN,
            "a key the file leaves out keeps its default"
        );

        // The environment wins: the sectioned form over the older name.
        let s = with_file(
            toml,
            &[
                ("TENANTRY_DB_MAX_CONNECTIONS", "20"),
                ("TENANTRY_LIMITS__MAX_BODY_BYTES", "8192"),
                ("TENANTRY_MAX_BODY_BYTES", "2048"),
            ],
        )
        .expect("valid");
        assert_eq!(s.database.max_connections, 20);
        assert_eq!(s.limits.max_body_bytes, 8192);
        assert_eq!(s.data_dir, PathBuf::from("/srv/tenantry"));
    }

    #[test]
    fn errors_name_the_key_where_it_was_set() {
        let e = with_file("[database]\nmax_connections = 0\n", &[]).expect_err("out of range");
        assert!(e.var.starts_with("database.max_connections (in "), "{}", e.var);
        assert!(e.var.contains("tenantry.toml"), "{}", e.var);
        let e = with_file("", &[("TENANTRY_DATABASE__MAX_CONNECTIONS", "0")]).expect_err("out of range");
        assert_eq!(e.var, "TENANTRY_DATABASE__MAX_CONNECTIONS");
        let e = with_file("[database]\nmax_conections = 5\n", &[]).expect_err("a typo");
        assert_eq!(e.var, "database.max_conections");
        let e = with_file("[nope]\nx = 1\n", &[]).expect_err("no such section");
        assert_eq!(e.var, "nope.x");
        let missing = Settings::from_sources(Some(Path::new("/nonexistent/tenantry.toml")), &|_: &str| None)
            .expect_err("a named file must exist");
        assert_eq!(missing.var, "TENANTRY_CONFIG");
    }

    #[test]
    fn a_sectioned_variable_that_names_no_key_is_refused() {
        let names = |list: &[&str]| {
            list.iter()
                .map(|s| ((*s).to_owned(), "1".to_owned()))
                .collect::<Vec<_>>()
        };
        let e =
            sources::refuse_unknown_vars(names(&["PATH", "TENANTRY_DATABASE__MAX_CONECTIONS"])).expect_err("a typo");
        assert_eq!(e.var, "TENANTRY_DATABASE__MAX_CONECTIONS");
        sources::refuse_unknown_vars([("TENANTRY_DATABASE__MAX_CONECTIONS".to_owned(), String::new())])
            .expect("an empty variable counts as unset");
        // Known sectioned names, older names and other TENANTRY_ variables pass.
        sources::refuse_unknown_vars(names(&[
            "TENANTRY_DATABASE__MAX_CONNECTIONS",
            "TENANTRY_DB_MAX_CONNECTIONS",
            "TENANTRY_TEST_DATABASE_URL",
            "TENANTRY_CONFIG",
        ]))
        .expect("all known or not sectioned");
    }

    #[test]
    fn every_key_has_an_environment_form_and_its_older_name() {
        for k in sources::KEYS {
            assert!(k.env_name().starts_with("TENANTRY_"), "{}", k.path);
            assert!(!k.alias.is_empty(), "{}", k.path);
        }
        assert_eq!(
            sources::find("database.max_connections")
                .map(sources::Key::env_name)
                .as_deref(),
            Some("TENANTRY_DATABASE__MAX_CONNECTIONS")
        );
    }

    #[test]
    fn the_printed_configuration_hides_every_secret() {
        let s = with_file(
            "secret = \"0123456789abcdef0123456789abcdef-file\"\n[database]\nurl = \"postgres://owner:hunter2@db.internal:5432/tenantry\"\n",
            &[("REDIS_URL", "redis://:s3cret@cache:6379/0")],
        )
        .expect("valid");
        let printed = s.to_toml();
        for secret in ["hunter2", "s3cret", "0123456789abcdef"] {
            assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
        }
        assert!(
            printed.contains("postgres://owner:[redacted]@db.internal:5432/tenantry"),
            "{printed}"
        );
        assert!(printed.contains("secret = \"[redacted]\""), "{printed}");
        let again: toml::Table = printed.parse().expect("the output is TOML");
        assert_eq!(
            again["database"]["max_connections"].as_integer(),
            Some(i64::from(default_pg_pool()))
        );
        assert!(!format!("{s:?}").contains("hunter2"), "Debug never shows a secret");
        assert_eq!(
            redact_url("sqlite://./data/tenantry.db?mode=rwc"),
            "sqlite://./data/tenantry.db?mode=rwc"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
    }
}
