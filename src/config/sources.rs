//! Where configuration values come from, layered with figment: embedded
//! defaults (in `Settings::resolve`) < an optional TOML file < environment
//! variables. Every key of the tree is listed in [`KEYS`] with its file
//! path (`database.max_connections`), its environment form
//! (`TENANTRY_DATABASE__MAX_CONNECTIONS`) and the older name it keeps
//! answering to (`TENANTRY_DB_MAX_CONNECTIONS`). The environment form wins
//! over the older name; both win over the file.

use std::collections::BTreeMap;
use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::ConfigError;

/// One key of the configuration tree.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Its path in the file: `section.key`, or `key` at the top.
    pub path: &'static str,
    /// The environment variable it has answered to since before the file.
    pub alias: &'static str,
}

const fn key(path: &'static str, alias: &'static str) -> Key {
    Key { path, alias }
}

/// Every key, in the order `tenantry config` prints them.
pub const KEYS: &[Key] = &[
    key("data_dir", "TENANTRY_DATA_DIR"),
    key("secret", "TENANTRY_SECRET"),
    key("server.listen", "TENANTRY_LISTEN"),
    key("server.trusted_proxies", "TENANTRY_TRUSTED_PROXIES"),
    key("database.url", "DATABASE_URL"),
    key("database.app_url", "TENANTRY_APP_DATABASE_URL"),
    key("database.app_role", "TENANTRY_DB_APP_ROLE"),
    key("database.max_connections", "TENANTRY_DB_MAX_CONNECTIONS"),
    key("database.auto_migrate", "TENANTRY_AUTO_MIGRATE"),
    key("database.default_placement", "TENANTRY_DEFAULT_PLACEMENT"),
    key("database.tenant_connections", "TENANTRY_DB_TENANT_CONNECTIONS"),
    key("database.tenant_idle_secs", "TENANTRY_DB_TENANT_IDLE_SECS"),
    key("database.schema_statements", "TENANTRY_DB_SCHEMA_STATEMENTS"),
    key("redis.url", "REDIS_URL"),
    key("redis.prefix", "TENANTRY_REDIS_PREFIX"),
    key("auth.jwt_key_dir", "TENANTRY_JWT_KEY_DIR"),
    key("auth.jwt_issuer", "TENANTRY_JWT_ISSUER"),
    key("auth.jwt_audience", "TENANTRY_JWT_AUDIENCE"),
    key("auth.access_token_ttl_secs", "TENANTRY_ACCESS_TOKEN_TTL_SECS"),
    key("auth.session_idle_days", "TENANTRY_SESSION_IDLE_DAYS"),
    key("auth.session_max_days", "TENANTRY_SESSION_MAX_DAYS"),
    key("auth.key_cache_ttl_ms", "TENANTRY_KEY_CACHE_TTL_MS"),
    key("limits.max_body_bytes", "TENANTRY_MAX_BODY_BYTES"),
    key("limits.signup", "TENANTRY_SIGNUP_LIMIT"),
    key("limits.rate", "TENANTRY_RATE_LIMIT"),
    key("limits.rate_anonymous", "TENANTRY_RATE_LIMIT_ANONYMOUS"),
    key("log.filter", "TENANTRY_LOG"),
    key("log.format", "TENANTRY_LOG_FORMAT"),
];

impl Key {
    /// `TENANTRY_<SECTION>__<KEY>`.
    pub fn env_name(&self) -> String {
        format!("TENANTRY_{}", self.path.replace('.', "__").to_ascii_uppercase())
    }
}

pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A section of named tables, each with the same keys: `[databases.<name>]`
/// and `[plans.<name>]` in the file, `TENANTRY_<SECTION>__<NAME>__<KEY>` in
/// the environment (the name lowercased).
#[derive(Debug)]
pub struct Named {
    pub section: &'static str,
    pub keys: &'static [&'static str],
    /// What one of them is, for errors.
    pub what: &'static str,
}

/// Database servers that tenants' own databases may live on.
pub const DATABASES: Named = Named {
    section: "databases",
    keys: &["url", "app_url"],
    what: "database server",
};

/// Plans: the request budgets of the tenants on each.
pub const PLANS: Named = Named {
    section: "plans",
    keys: &["rate_limit", "credential_rate_limit"],
    what: "plan",
};

pub const NAMED: &[&Named] = &[&DATABASES, &PLANS];

/// The named section, its member (lowercased) and key a variable of the
/// form `TENANTRY_<SECTION>__<NAME>__<KEY>` sets.
pub fn named_var(var: &str) -> Option<(&'static Named, String, &'static str)> {
    NAMED.iter().find_map(|named| {
        let prefix = format!("TENANTRY_{}__", named.section.to_ascii_uppercase());
        let rest = var.strip_prefix(&prefix)?;
        let (name, key) = rest.rsplit_once("__")?;
        let key = named.keys.iter().find(|k| k.eq_ignore_ascii_case(key))?;
        (!name.is_empty()).then(|| (*named, name.to_ascii_lowercase(), *key))
    })
}

/// A variable in the sectioned form (`TENANTRY_<SECTION>__<KEY>`) that names
/// no key is a typo worth saying, as an unknown key in the file is (an
/// empty one is ignored, as every empty variable is).
pub fn refuse_unknown_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
    for (name, value) in vars {
        if value.is_empty() {
            continue;
        }
        if name.starts_with("TENANTRY_")
            && name.contains("__")
            && !KEYS.iter().any(|k| k.env_name() == name)
            && named_var(&name).is_none()
        {
            return Err(ConfigError {
                var: name,
                reason: "no such configuration key (see docs/configuration.md)".to_owned(),
            });
        }
    }
    Ok(())
}

/// The environment's values of the known keys, named by the variable each
/// came from.
struct Vars {
    values: Vec<(&'static Key, String, String)>,
    /// `<section>.<name>.<key>`, the variable, its value.
    named: Vec<(String, String, String)>,
}

impl Vars {
    fn read(get: &dyn Fn(&str) -> Option<String>, names: &[String]) -> Self {
        let named = names
            .iter()
            .filter_map(|var| {
                let (section, name, key) = named_var(var)?;
                let value = get(var)?;
                Some((format!("{}.{name}.{key}", section.section), var.clone(), value))
            })
            .collect();
        let values = KEYS
            .iter()
            .filter_map(|k| {
                let sectioned = k.env_name();
                get(&sectioned)
                    .map(|v| (k, sectioned, v))
                    .or_else(|| get(k.alias).map(|v| (k, k.alias.to_owned(), v)))
            })
            .collect();
        Self { values, named }
    }
}

impl Provider for Vars {
    fn metadata(&self) -> Metadata {
        let names: BTreeMap<String, String> = self
            .values
            .iter()
            .map(|(k, var, _)| (k.path.to_owned(), var.clone()))
            .chain(self.named.iter().map(|(path, var, _)| (path.clone(), var.clone())))
            .collect();
        Metadata::named("environment variable")
            .interpolater(move |_: &Profile, path: &[&str]| names.get(&path.join(".")).cloned().unwrap_or_default())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (k, _, value) in &self.values {
            match k.path.split_once('.') {
                Some((section, name)) => {
                    let entry = root
                        .entry(section.to_owned())
                        .or_insert_with(|| Value::from(Dict::new()));
                    if let Value::Dict(_, dict) = entry {
                        dict.insert(name.to_owned(), Value::from(value.clone()));
                    }
                }
                None => {
                    root.insert(k.path.to_owned(), Value::from(value.clone()));
                }
            }
        }
        for (path, _, value) in &self.named {
            let mut parts = path.splitn(3, '.');
            let (Some(section), Some(name), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let section = root
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, members) = section {
                let entry = members
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, keys) = entry {
                    keys.insert(key.to_owned(), Value::from(value.clone()));
                }
            }
        }
        Ok(Profile::Default.collect(root))
    }
}

/// The merged sources, answering a key's value and where it came from.
pub struct Sources {
    figment: Figment,
}

impl Sources {
    /// `file` (when given; it must exist) under the environment `get`;
    /// `names` are the variables set that name a member of a named section
    /// (they cannot be asked for by name).
    pub fn load(
        file: Option<&Path>,
        get: &dyn Fn(&str) -> Option<String>,
        names: &[String],
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError {
                    var: "TENANTRY_CONFIG".to_owned(),
                    reason: format!("no configuration file at {}", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment.merge(Vars::read(get, names));
        let sources = Self { figment };
        sources.refuse_unknown_keys()?;
        Ok(sources)
    }

    /// A key in the file that is not in [`KEYS`] is a mistake worth saying.
    fn refuse_unknown_keys(&self) -> Result<(), ConfigError> {
        let data = self.figment.data().map_err(|e| ConfigError {
            var: "TENANTRY_CONFIG".to_owned(),
            reason: e.to_string(),
        })?;
        for dict in data.values() {
            for (name, value) in dict {
                if let Some(named) = NAMED.iter().find(|n| n.section == name) {
                    check_named(named, value)?;
                    continue;
                }
                let paths: Vec<String> = match value {
                    Value::Dict(_, inner) if find(name).is_none() => {
                        inner.keys().map(|k| format!("{name}.{k}")).collect()
                    }
                    _ => vec![name.clone()],
                };
                for path in paths {
                    if find(&path).is_none() {
                        return Err(ConfigError {
                            var: path.clone(),
                            reason: "no such configuration key".to_owned(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The names of the members of `named` configured, sorted.
    pub fn members(&self, named: &Named) -> Vec<String> {
        match self.figment.find_value(named.section) {
            Ok(Value::Dict(_, members)) => members.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The value at `path` as text (numbers and booleans from the file as
    /// written, a list of strings joined with commas), if any source sets it.
    pub fn get(&self, path: &str) -> Option<String> {
        match self.figment.find_value(path).ok()? {
            Value::Array(_, items) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().map_or_else(|| format!("{item:?}"), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Value::String(_, s) => Some(s).filter(|s| !s.is_empty()),
            Value::Char(_, c) => Some(c.to_string()),
            Value::Bool(_, b) => Some(b.to_string()),
            Value::Num(_, n) => n
                .to_u128()
                .map(|n| n.to_string())
                .or_else(|| n.to_i128().map(|n| n.to_string()))
                .or_else(|| n.to_f64().map(|n| n.to_string())),
            Value::Empty(..) | Value::Dict(..) => None,
        }
    }

    /// Where the value at `path` came from, for errors: the environment
    /// variable, or the key and the file; the key's older name when unset.
    pub fn name(&self, path: &str) -> String {
        let fallback = || find(path).map_or_else(|| path.to_owned(), |k| k.alias.to_owned());
        let Ok(value) = self.figment.find_value(path) else {
            return fallback();
        };
        let Some(metadata) = self.figment.get_metadata(value.tag()) else {
            return fallback();
        };
        let keys: Vec<&str> = path.split('.').collect();
        match &metadata.source {
            Some(source) => format!("{path} (in {source})"),
            None => {
                let name = metadata.interpolate(&Profile::Default, &keys);
                if name.is_empty() { fallback() } else { name }
            }
        }
    }
}

/// Each `[<section>.<name>]` is a table of the section's keys, its name
/// a lowercase identifier.
fn check_named(named: &Named, value: &Value) -> Result<(), ConfigError> {
    let refuse = |var: String, reason: String| ConfigError { var, reason };
    let section = named.section;
    let Value::Dict(_, members) = value else {
        return Err(refuse(
            section.to_owned(),
            format!("expected [{section}.<name>] sections"),
        ));
    };
    for (name, keys) in members {
        if !is_name(name) {
            return Err(refuse(
                format!("{section}.{name}"),
                format!(
                    "a {}'s name is a lowercase identifier of at most 32 characters",
                    named.what
                ),
            ));
        }
        let Value::Dict(_, keys) = keys else {
            return Err(refuse(
                format!("{section}.{name}"),
                format!("expected a table of {}", named.keys.join(", ")),
            ));
        };
        for key in keys.keys() {
            if !named.keys.contains(&key.as_str()) {
                return Err(refuse(
                    format!("{section}.{name}.{key}"),
                    "no such configuration key".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

/// A named member's name (a database server's, a plan's): what a tenant's
/// location, `--database NAME` and `--plan NAME` say.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
