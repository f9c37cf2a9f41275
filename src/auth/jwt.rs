//! Access tokens: short-lived JWTs signed with Ed25519 (`alg: EdDSA`).
//!
//! Signing keys live in a directory as PKCS#8 PEM files named `<kid>.pem`
//! (files 0600, directory 0700 on unix), where the kid is
//! `<created unix seconds>-<8 random base32 characters>`, so keys order by
//! creation time. Every instance verifies with every key in the directory and
//! signs with the newest key that is at least [`ACTIVATION_DELAY_SECS`] old:
//! a rotated key is published (every instance reloads it) before anything is
//! signed with it. [`Keyring::rotate`] adds a key and deletes the keys that can
//! no longer verify a live token.
//!
//! Neither key material nor tokens are ever logged; errors name files and
//! kids only.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::{Rng, RngCore};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest an access token may live (15 minutes). Key retirement relies
/// on it: [`Keyring::issue`] caps the lifetime, [`Keyring::sign`] and
/// [`Keyring::verify`] refuse longer ones.
pub const MAX_ACCESS_TTL_SECS: i64 = crate::config::MAX_ACCESS_TOKEN_TTL_SECS;
/// How old a key must be before it signs: every instance reloads its key
/// directory more often than this, so it already knows the key.
pub const ACTIVATION_DELAY_SECS: i64 = 60;
pub const DEFAULT_ISSUER: &str = crate::config::DEFAULT_JWT_ISSUER;
pub const DEFAULT_AUDIENCE: &str = crate::config::DEFAULT_JWT_AUDIENCE;
/// Longer tokens are refused before they are parsed.
pub const MAX_TOKEN_LEN: usize = 4096;
/// How far in the future `iat` may be (clock skew between instances).
const IAT_LEEWAY_SECS: i64 = 60;
/// A key file larger than this is not a PEM Ed25519 key.
const MAX_KEY_FILE_LEN: u64 = 16 * 1024;
const KEY_FILE_EXTENSION: &str = "pem";
const KID_SUFFIX_LEN: usize = 8;
const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The tenant the token acts on.
    pub tid: Uuid,
    pub role: String,
    /// The session the token was issued for.
    pub sid: Uuid,
    /// The session generation the token was made in; a session whose
    /// generation moved on (role change) refuses it.
    #[serde(rename = "gen")]
    pub generation: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// Whom a token is issued to.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user: Uuid,
    pub tenant: Uuid,
    pub role: &'a str,
    pub session: Uuid,
    pub generation: i64,
}

/// What tokens are issued with and checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// Lifetime of issued tokens; capped at [`MAX_ACCESS_TTL_SECS`].
    pub ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            ttl: Duration::seconds(MAX_ACCESS_TTL_SECS),
        }
    }
}

/// Why a presented token was refused. The messages reach API clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token uses an unsupported signing algorithm")]
    UnsupportedAlgorithm,
    #[error("the access token was signed by an unknown or retired key")]
    UnknownKey,
    #[error("the access token's signature is invalid")]
    BadSignature,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is meant for another audience")]
    WrongAudience,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
}

/// A key directory that cannot be used, or a token that cannot be signed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use the signing key path {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a signing key this server can use (an Ed25519 PKCS#8 PEM file named <kid>.pem)")]
    BadKey { path: String },
    #[error("cannot sign the access token: {0}")]
    Sign(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn bad_key(path: &Path) -> KeyError {
    KeyError::BadKey {
        path: path.display().to_string(),
    }
}

/// One key: the private half signs, the public half verifies.
struct Key {
    kid: String,
    created: i64,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl Key {
    fn from_signing_key(kid: String, created: i64, signing: &SigningKey) -> Result<Self, String> {
        let der = signing.to_pkcs8_der().map_err(|e| e.to_string())?;
        Ok(Self {
            kid,
            created,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            // The EdDSA verifier takes the raw 32-byte public key.
            decoding: DecodingKey::from_ed_der(signing.verifying_key().as_bytes()),
        })
    }
}

/// The keys of one directory, oldest first (a keyring only holds a non-empty set).
#[derive(Debug)]
struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    fn signing(&self, now: i64) -> Option<&Key> {
        signing_position(&self.keys, |k| k.created, now).and_then(|i| self.keys.get(i))
    }

    fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Which of the keys (ordered by creation time) signs at `now`: the newest
/// one at least [`ACTIVATION_DELAY_SECS`] old, else the oldest.
fn signing_position<T>(keys: &[T], created: impl Fn(&T) -> i64, now: i64) -> Option<usize> {
    keys.iter()
        .rposition(|k| created(k).saturating_add(ACTIVATION_DELAY_SECS) <= now)
        .or(if keys.is_empty() { None } else { Some(0) })
}

/// Whether a key followed by a key created at `successor_created` can no
/// longer verify a live token: the successor took over signing (its creation
/// plus the activation delay) more than the longest token lifetime plus
/// another activation delay (reload lag, clock skew) ago.
fn is_retired(successor_created: i64, now: i64) -> bool {
    let took_over = successor_created.saturating_add(ACTIVATION_DELAY_SECS);
    now.saturating_sub(took_over) > MAX_ACCESS_TTL_SECS + ACTIVATION_DELAY_SECS
}

/// The creation time a kid names, if it is one: `<unix seconds>-<8 of [a-z0-9]>`.
fn parse_kid(kid: &str) -> Option<i64> {
    let (secs, suffix) = kid.split_once('-')?;
    let digits_ok = !secs.is_empty() && secs.len() <= 18 && secs.bytes().all(|b| b.is_ascii_digit());
    let suffix_ok =
        suffix.len() == KID_SUFFIX_LEN && suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if digits_ok && suffix_ok {
        secs.parse().ok()
    } else {
        None
    }
}

fn new_kid(now: DateTime<Utc>) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..KID_SUFFIX_LEN)
        .map(|_| char::from(BASE32_LOWER[rng.random_range(0..BASE32_LOWER.len())]))
        .collect();
    format!("{}-{suffix}", now.timestamp())
}

/// A `.pem` file in the key directory.
struct KeyFile {
    path: PathBuf,
    kid: String,
    created: i64,
}

/// The key files of `dir`, oldest first. Other files are ignored; a `.pem`
/// file whose name is not a kid is refused.
fn key_files(dir: &Path) -> Result<Vec<KeyFile>, KeyError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != KEY_FILE_EXTENSION) {
            continue;
        }
        if entry.file_type().map_err(io_error(&path))?.is_dir() {
            continue;
        }
        let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            return Err(bad_key(&path));
        };
        let Some(created) = parse_kid(&kid) else {
            return Err(bad_key(&path));
        };
        files.push(KeyFile { path, kid, created });
    }
    files.sort_by(|a, b| (a.created, &a.kid).cmp(&(b.created, &b.kid)));
    Ok(files)
}

fn read_key(file: KeyFile) -> Result<Key, KeyError> {
    let path = file.path;
    let mut handle = std::fs::File::open(&path).map_err(io_error(&path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = handle.metadata().map_err(io_error(&path))?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "signing key file is readable by others; it should be mode 0600");
        }
    }
    let mut bytes = Vec::new();
    let read = (&mut handle).take(MAX_KEY_FILE_LEN + 1).read_to_end(&mut bytes);
    if let Err(source) = read {
        bytes.zeroize();
        return Err(io_error(&path)(source));
    }
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        bytes.zeroize();
        return Err(bad_key(&path));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => SecretString::from(text),
        Err(e) => {
            e.into_bytes().zeroize();
            return Err(bad_key(&path));
        }
    };
    let signing = SigningKey::from_pkcs8_pem(text.expose_secret()).map_err(|_| bad_key(&path))?;
    Key::from_signing_key(file.kid, file.created, &signing).map_err(|_| bad_key(&path))
}

fn read_keys(dir: &Path) -> Result<KeySet, KeyError> {
    let keys = key_files(dir)?
        .into_iter()
        .map(read_key)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeySet { keys })
}

/// Creates `dir` (0700 on unix) if needed and tightens it if others can read it.
fn ensure_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(io_error(dir))?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(dir))?;
            tracing::warn!(path = %dir.display(), "tightened the signing key directory to mode 0700");
        }
    }
    Ok(())
}

/// Writes `contents` to `dir/name` (0600 on unix) through a temporary file
/// linked into place: readers never see a partial file, and an existing file
/// is never replaced (`AlreadyExists`).
fn write_secret_file(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        rand::rng().next_u32()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::hard_link(&tmp, &path)
    })();
    // Best effort: the link (if any) already holds the contents.
    let _ = std::fs::remove_file(&tmp);
    written?;
    // Make the new name durable; not every filesystem can sync a directory.
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Generates a key created at `now` and stores it in `dir`; returns its kid.
fn create_key(dir: &Path, now: DateTime<Utc>) -> Result<String, KeyError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let signing = SigningKey::from_bytes(&secret);
    secret.zeroize();
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Sign(format!("cannot encode a new key: {e}")))?;
    let mut attempts = 0;
    loop {
        let kid = new_kid(now);
        let name = format!("{kid}.{KEY_FILE_EXTENSION}");
        match write_secret_file(dir, &name, pem.as_bytes()) {
            Ok(()) => {
                tracing::info!(kid = %kid, "created a signing key");
                return Ok(kid);
            }
            // Another process chose the same kid: pick another.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 3 => attempts += 1,
            Err(e) => return Err(io_error(&dir.join(&name))(e)),
        }
    }
}

/// The Ed25519 keys of one directory: signs access tokens with the active key
/// and verifies them with any key. Share it behind an `Arc`; signing and
/// verifying never wait on I/O ([`Keyring::reload`] swaps in a new set).
pub struct Keyring {
    dir: PathBuf,
    keys: RwLock<Arc<KeySet>>,
    /// Tokens whose signature already checked out, by their exact text, with
    /// the kid that signed them: a repeated token costs a map lookup rather
    /// than a signature check. Everything else (the key still being in the
    /// set, issuer, audience, times) is checked on every use.
    verified: Mutex<HashMap<Box<str>, (String, AccessClaims)>>,
}

/// The most verified tokens remembered; past it, expired ones are dropped,
/// then all.
const VERIFIED_MAX: usize = 50_000;

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("dir", &self.dir)
            .field("kids", &self.kids())
            .finish()
    }
}

impl Keyring {
    /// Loads the keys in `dir`, creating the directory and a first key when
    /// it holds none. Processes racing here each end up with a usable
    /// keyring (possibly holding each other's first key after a reload).
    pub fn load_or_create(dir: &Path, now: DateTime<Utc>) -> Result<Keyring, KeyError> {
        ensure_dir(dir)?;
        let mut set = read_keys(dir)?;
        if set.keys.is_empty() {
            create_key(dir, now)?;
            set = read_keys(dir)?;
        }
        if set.keys.is_empty() {
            return Err(no_keys(dir));
        }
        Ok(Keyring {
            dir: dir.to_owned(),
            keys: RwLock::new(Arc::new(set)),
            verified: Mutex::default(),
        })
    }

    /// Re-reads the directory so keys added or retired by another process
    /// take effect. On error the current keys stay in use.
    pub fn reload(&self, now: DateTime<Utc>) -> Result<(), KeyError> {
        let set = read_keys(&self.dir)?;
        if set.keys.is_empty() {
            return Err(no_keys(&self.dir));
        }
        let before = self.signing_kid(now);
        let count = set.keys.len();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
        let after = self.signing_kid(now);
        if before != after {
            tracing::info!(kid = %after, keys = count, "signing key changed");
        }
        Ok(())
    }

    /// Adds a key to `dir` (it signs once [`ACTIVATION_DELAY_SECS`] old) and
    /// deletes the keys that can no longer verify a live token. Never deletes
    /// the signing key or a newer one. Returns the new kid.
    pub fn rotate(dir: &Path, now: DateTime<Utc>) -> Result<String, KeyError> {
        ensure_dir(dir)?;
        // Refuse to touch a directory holding a key that cannot be read.
        read_keys(dir)?;
        // The new key must sort after every existing one, even when it is
        // made within the same second as the newest.
        let newest = key_files(dir)?.iter().map(|f| f.created).max();
        let created = match newest {
            Some(secs) if secs >= now.timestamp() => DateTime::from_timestamp(secs + 1, 0).unwrap_or(now),
            _ => now,
        };
        let kid = create_key(dir, created)?;
        let files = key_files(dir)?;
        let now_secs = now.timestamp();
        let Some(signer) = signing_position(&files, |f| f.created, now_secs) else {
            return Ok(kid);
        };
        for (file, successor) in files.iter().zip(files.iter().skip(1)).take(signer) {
            if !is_retired(successor.created, now_secs) {
                continue;
            }
            match std::fs::remove_file(&file.path) {
                Ok(()) => tracing::info!(kid = %file.kid, "retired a signing key"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&file.path)(e)),
            }
        }
        Ok(kid)
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kids known, oldest first.
    pub fn kids(&self) -> Vec<String> {
        self.snapshot().keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// The kid that signs at `now`.
    pub fn signing_kid(&self, now: DateTime<Utc>) -> String {
        self.snapshot()
            .signing(now.timestamp())
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// Signs `claims` with the key active at `claims.iat`. The lifetime
    /// (`exp - iat`) must be between 1 s and [`MAX_ACCESS_TTL_SECS`].
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        if claims.exp <= claims.iat || claims.exp - claims.iat > MAX_ACCESS_TTL_SECS {
            return Err(KeyError::Sign(format!(
                "the token lifetime must be between 1 and {MAX_ACCESS_TTL_SECS} seconds"
            )));
        }
        let set = self.snapshot();
        let key = set
            .signing(claims.iat)
            .ok_or_else(|| KeyError::Sign("no signing key".to_owned()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Issues a token for a session: a fresh `jti`, `iat = now`, `exp = now +
    /// ttl` (whole seconds, ttl capped at [`MAX_ACCESS_TTL_SECS`]). Returns the
    /// token and its expiry.
    pub fn issue(
        &self,
        settings: &TokenSettings,
        subject: &Subject<'_>,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), KeyError> {
        let ttl = settings.ttl.num_seconds().min(MAX_ACCESS_TTL_SECS);
        if ttl < 1 {
            return Err(KeyError::Sign(
                "the token lifetime must be at least 1 second".to_owned(),
            ));
        }
        let iat = now.timestamp();
        let exp = iat + ttl;
        let expires_at =
            DateTime::from_timestamp(exp, 0).ok_or_else(|| KeyError::Sign("expiry out of range".to_owned()))?;
        let claims = AccessClaims {
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            sub: subject.user,
            tid: subject.tenant,
            role: subject.role.to_owned(),
            sid: subject.session,
            generation: subject.generation,
            iat,
            exp,
            jti: Uuid::new_v4(),
        };
        Ok((self.sign(&claims)?, expires_at))
    }

    /// Checks a presented token at `now`: `alg` exactly `EdDSA`, a known
    /// `kid`, a valid signature, the configured issuer and audience,
    /// `exp > now`, `iat <= now + 60 s` and a lifetime of at most
    /// [`MAX_ACCESS_TTL_SECS`].
    pub fn verify(
        &self,
        token: &str,
        settings: &TokenSettings,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let kid = peek_header(token)?;
        let set = self.snapshot();
        let key = set.get(&kid).ok_or(TokenError::UnknownKey)?;

        let remembered = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .filter(|(signed_by, _)| *signed_by == kid)
            .map(|(_, claims)| claims.clone());
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let mut validation = Validation::new(Algorithm::EdDSA);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                // Time is checked below against the given clock, not the system's.
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.leeway = 0;
                validation.set_issuer(&[&settings.issuer]);
                validation.set_audience(&[&settings.audience]);
                let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
                    .map_err(|e| map_jwt_error(e.kind()))?
                    .claims;
                self.remember(token, kid, &claims, now.timestamp());
                claims
            }
        };

        if claims.iss != settings.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != settings.audience {
            return Err(TokenError::WrongAudience);
        }
        let now = now.timestamp();
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.iat > now.saturating_add(IAT_LEEWAY_SECS) {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_ACCESS_TTL_SECS {
            return Err(TokenError::Malformed);
        }
        Ok(claims)
    }

    /// Remembers a token whose signature checked out (see `verified`).
    fn remember(&self, token: &str, kid: String, claims: &AccessClaims, now: i64) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_MAX {
            verified.retain(|_, (_, c)| c.exp > now);
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
        }
        verified.insert(token.into(), (kid, claims.clone()));
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn no_keys(dir: &Path) -> KeyError {
    KeyError::Io {
        path: dir.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "the directory holds no signing keys"),
    }
}

/// The kid of a token whose header names `alg: EdDSA` and no critical
/// extensions, read before any key is chosen.
fn peek_header(token: &str) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed)?;
    let serde_json::Value::Object(header) =
        serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|_| TokenError::Malformed)?
    else {
        return Err(TokenError::Malformed);
    };
    match header.get("alg") {
        Some(serde_json::Value::String(alg)) if alg == "EdDSA" => {}
        Some(_) => return Err(TokenError::UnsupportedAlgorithm),
        None => return Err(TokenError::Malformed),
    }
    if header.contains_key("crit") {
        return Err(TokenError::Malformed);
    }
    match header.get("typ") {
        None => {}
        Some(serde_json::Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(TokenError::Malformed),
    }
    match header.get("kid") {
        Some(serde_json::Value::String(kid)) => Ok(kid.clone()),
        _ => Err(TokenError::Malformed),
    }
}

fn map_jwt_error(kind: &JwtErrorKind) -> TokenError {
    match kind {
        JwtErrorKind::InvalidSignature => TokenError::BadSignature,
        JwtErrorKind::InvalidAlgorithm | JwtErrorKind::InvalidAlgorithmName | JwtErrorKind::MissingAlgorithm => {
            TokenError::UnsupportedAlgorithm
        }
        JwtErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        JwtErrorKind::InvalidAudience => TokenError::WrongAudience,
        JwtErrorKind::ExpiredSignature => TokenError::Expired,
        JwtErrorKind::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("in range")
    }

    fn settings() -> TokenSettings {
        TokenSettings::default()
    }

    fn subject(user: Uuid, tenant: Uuid, role: &str, session: Uuid) -> Subject<'_> {
        Subject {
            user,
            tenant,
            role,
            session,
            generation: 0,
        }
    }

    fn claims(iat: i64, exp: i64) -> AccessClaims {
        AccessClaims {
            iss: DEFAULT_ISSUER.to_owned(),
            aud: DEFAULT_AUDIENCE.to_owned(),
            sub: Uuid::new_v4(),
            tid: Uuid::new_v4(),
            role: "member".to_owned(),
            sid: Uuid::new_v4(),
            generation: 0,
            iat,
            exp,
            jti: Uuid::new_v4(),
        }
    }

    fn keyring(tmp: &TempDir, now: i64) -> Keyring {
        Keyring::load_or_create(&tmp.path().join("keys"), at(now)).expect("keyring")
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn header_of(token: &str) -> serde_json::Value {
        let header = token.split('.').next().expect("header");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json")
    }

    #[test]
    fn keyring_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Keyring>();
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        assert_eq!(ring.kids().len(), 1);
        let user = Uuid::new_v4();
        let tenant = Uuid::new_v4();
        let session = Uuid::new_v4();
        let (token, exp) = ring
            .issue(&settings(), &subject(user, tenant, "admin", session), at(T0))
            .expect("issue");
        assert_eq!(exp, at(T0 + MAX_ACCESS_TTL_SECS));

        let header = header_of(&token);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], ring.signing_kid(at(T0)).as_str());

        let claims = ring.verify(&token, &settings(), at(T0 + 10)).expect("verify");
        assert_eq!(claims.iss, DEFAULT_ISSUER);
        assert_eq!(claims.aud, DEFAULT_AUDIENCE);
        assert_eq!((claims.sub, claims.tid, claims.sid), (user, tenant, session));
        assert_eq!(claims.role, "admin");
        assert_eq!((claims.iat, claims.exp), (T0, T0 + MAX_ACCESS_TTL_SECS));

        let plain = self::claims(T0, T0 + 300);
        let token = ring.sign(&plain).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Ok(plain));
    }

    #[test]
    fn a_remembered_signature_skips_nothing_else() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let plain = claims(T0, T0 + 300);
        let token = ring.sign(&plain).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Ok(plain.clone()));
        assert_eq!(ring.verified.lock().expect("lock").len(), 1, "remembered");
        assert_eq!(ring.verify(&token, &settings(), at(T0 + 1)), Ok(plain));
        // Times, issuer and audience are checked on every use.
        assert_eq!(ring.verify(&token, &settings(), at(T0 + 300)), Err(TokenError::Expired));
        let elsewhere = TokenSettings {
            audience: "another-api".to_owned(),
            ..settings()
        };
        assert!(ring.verify(&token, &elsewhere, at(T0)).is_err());
        // Other text is checked afresh: a changed signature fails.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).expect("ascii");
        assert!(ring.verify(&forged, &settings(), at(T0)).is_err());
        // A key gone from the directory takes its tokens with it.
        for entry in std::fs::read_dir(tmp.path().join("keys")).expect("dir") {
            std::fs::remove_file(entry.expect("entry").path()).expect("removed");
        }
        create_key(&tmp.path().join("keys"), at(T0)).expect("another key");
        ring.reload(at(T0)).expect("reload");
        assert_eq!(
            ring.verify(&token, &settings(), at(T0 + 1)),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn issue_caps_the_lifetime() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let long = TokenSettings {
            ttl: Duration::hours(24),
            ..settings()
        };
        let (_, exp) = ring
            .issue(
                &long,
                &subject(Uuid::new_v4(), Uuid::new_v4(), "member", Uuid::new_v4()),
                at(T0),
            )
            .expect("issue");
        assert_eq!(exp, at(T0 + MAX_ACCESS_TTL_SECS));
        let zero = TokenSettings {
            ttl: Duration::zero(),
            ..settings()
        };
        assert!(matches!(
            ring.issue(
                &zero,
                &subject(Uuid::new_v4(), Uuid::new_v4(), "member", Uuid::new_v4()),
                at(T0)
            ),
            Err(KeyError::Sign(_))
        ));
        assert!(matches!(ring.sign(&claims(T0, T0 + 901)), Err(KeyError::Sign(_))));
        assert!(matches!(ring.sign(&claims(T0, T0)), Err(KeyError::Sign(_))));
    }

    #[test]
    fn loading_again_reuses_the_key() {
        let tmp = TempDir::new().expect("tempdir");
        let first = keyring(&tmp, T0);
        let second = keyring(&tmp, T0 + 5000);
        assert_eq!(first.kids(), second.kids());
        let kid = &first.kids()[0];
        let (secs, suffix) = kid.split_once('-').expect("kid shape");
        assert_eq!(secs, T0.to_string());
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| BASE32_LOWER.contains(&b)));
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let dir = tmp.path().join("keys");
        let dir_mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let file = dir.join(format!("{}.pem", ring.kids()[0]));
        let file_mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(file_mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_existing_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Keyring::load_or_create(&dir, at(T0)).expect("keyring");
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let kid = ring.kids()[0].clone();
        let pem = std::fs::read_to_string(tmp.path().join("keys").join(format!("{kid}.pem"))).expect("read");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let debug = format!("{ring:?}");
        assert!(debug.contains(&kid));
        assert!(!debug.contains(&body));
        assert!(!debug.contains("PRIVATE"));
    }

    #[test]
    fn reload_sees_a_key_added_by_another_process() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        let server = keyring(&tmp, T0);
        let old = server.signing_kid(at(T0));

        let new = Keyring::rotate(&dir, at(T0 + 100)).expect("rotate");
        // Another instance that already has the new key signs with it once it is active.
        let other = Keyring::load_or_create(&dir, at(T0 + 100)).expect("other");
        assert_eq!(other.kids(), vec![old.clone(), new.clone()]);
        let token = other.sign(&claims(T0 + 161, T0 + 461)).expect("sign");
        assert_eq!(header_of(&token)["kid"], new.as_str());

        assert_eq!(server.kids(), vec![old.clone()]);
        assert_eq!(
            server.verify(&token, &settings(), at(T0 + 161)),
            Err(TokenError::UnknownKey)
        );
        server.reload(at(T0 + 130)).expect("reload");
        assert_eq!(server.kids(), vec![old, new]);
        assert!(server.verify(&token, &settings(), at(T0 + 161)).is_ok());
    }

    #[test]
    fn racing_first_loads_all_succeed_and_agree_after_reload() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        let rings: Vec<Keyring> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| Keyring::load_or_create(&dir, at(T0))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread").expect("keyring"))
                .collect()
        });
        for ring in &rings {
            ring.reload(at(T0)).expect("reload");
        }
        let kids = rings[0].kids();
        assert!(!kids.is_empty());
        for signer in &rings {
            assert_eq!(signer.kids(), kids);
            assert_eq!(signer.signing_kid(at(T0)), rings[0].signing_kid(at(T0)));
            let token = signer.sign(&claims(T0, T0 + 60)).expect("sign");
            for verifier in &rings {
                assert!(verifier.verify(&token, &settings(), at(T0)).is_ok());
            }
        }
    }

    #[test]
    fn rotation_publishes_then_activates_then_retires() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        let ring = keyring(&tmp, T0);
        let old = ring.signing_kid(at(T0));

        let t1 = T0 + 10_000;
        let new = Keyring::rotate(&dir, at(t1)).expect("rotate");
        ring.reload(at(t1)).expect("reload");
        assert_eq!(ring.kids(), vec![old.clone(), new.clone()]);
        // Published, not yet signing.
        assert_eq!(ring.signing_kid(at(t1)), old);
        assert_eq!(ring.signing_kid(at(t1 + 59)), old);
        assert_eq!(ring.signing_kid(at(t1 + 61)), new);

        // The last token the old key signs stays valid for its whole life.
        let last_old = ring
            .sign(&claims(t1 + 59, t1 + 59 + MAX_ACCESS_TTL_SECS))
            .expect("sign");
        assert_eq!(header_of(&last_old)["kid"], old.as_str());
        let first_new = ring.sign(&claims(t1 + 61, t1 + 61 + 600)).expect("sign");
        assert_eq!(header_of(&first_new)["kid"], new.as_str());
        assert!(ring.verify(&last_old, &settings(), at(t1 + 59 + 899)).is_ok());

        // Rotating again inside the window keeps the old key.
        let retire_after = t1 + ACTIVATION_DELAY_SECS + MAX_ACCESS_TTL_SECS + ACTIVATION_DELAY_SECS;
        let third = Keyring::rotate(&dir, at(retire_after)).expect("rotate");
        ring.reload(at(retire_after)).expect("reload");
        assert_eq!(ring.kids(), vec![old.clone(), new.clone(), third.clone()]);

        // One second later the old key goes; the signing key and newer keys stay.
        let fourth = Keyring::rotate(&dir, at(retire_after + 1)).expect("rotate");
        ring.reload(at(retire_after + 1)).expect("reload");
        assert_eq!(ring.kids(), vec![new.clone(), third, fourth]);
        assert_eq!(ring.signing_kid(at(retire_after + 1)), new);
        assert!(!dir.join(format!("{old}.pem")).exists());
        assert_eq!(
            ring.verify(&last_old, &settings(), at(retire_after + 1)),
            Err(TokenError::UnknownKey)
        );
        assert!(ring.verify(&first_new, &settings(), at(t1 + 61 + 599)).is_ok());
    }

    #[test]
    fn rapid_rotations_delete_nothing() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        let ring = keyring(&tmp, T0);
        let first = ring.signing_kid(at(T0));
        let later = T0 + 100_000;
        for _ in 0..3 {
            Keyring::rotate(&dir, at(later)).expect("rotate");
        }
        ring.reload(at(later)).expect("reload");
        assert_eq!(ring.kids().len(), 4);
        // None of the new keys is old enough yet: the first key still signs.
        assert_eq!(ring.signing_kid(at(later)), first);
        // Even far past the window, the signing key is never retired.
        Keyring::rotate(&dir, at(later + 30)).expect("rotate");
        ring.reload(at(later + 30)).expect("reload");
        assert_eq!(ring.kids()[0], first);
    }

    #[test]
    fn rotate_creates_a_missing_directory() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("fresh");
        let kid = Keyring::rotate(&dir, at(T0)).expect("rotate");
        let ring = Keyring::load_or_create(&dir, at(T0)).expect("keyring");
        assert_eq!(ring.kids(), vec![kid]);
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let token = ring.sign(&claims(T0, T0 + 600)).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(T0, T0 + 600);
        forged.role = "owner".to_owned();
        let payload = b64(&serde_json::to_vec(&forged).expect("json"));
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(
            ring.verify(&tampered, &settings(), at(T0)),
            Err(TokenError::BadSignature)
        );
        let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() - 4]);
        assert!(ring.verify(&truncated, &settings(), at(T0)).is_err());
    }

    #[test]
    fn a_key_from_elsewhere_with_the_same_kid_fails_the_signature() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let kid = ring.kids()[0].clone();

        let elsewhere = TempDir::new().expect("tempdir");
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let pem = SigningKey::from_bytes(&secret)
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem");
        write_secret_file(elsewhere.path(), &format!("{kid}.pem"), pem.as_bytes()).expect("write");
        let impostor = Keyring::load_or_create(elsewhere.path(), at(T0)).expect("impostor");
        assert_eq!(impostor.kids(), vec![kid]);

        let token = impostor.sign(&claims(T0, T0 + 600)).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::BadSignature));
    }

    #[test]
    fn an_unknown_kid_is_refused() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let other_dir = TempDir::new().expect("tempdir");
        let other = keyring(&other_dir, T0);
        let token = other.sign(&claims(T0, T0 + 600)).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::UnknownKey));
    }

    #[test]
    fn alg_none_is_refused() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let kid = ring.kids()[0].clone();
        let payload = b64(&serde_json::to_vec(&claims(T0, T0 + 600)).expect("json"));
        for alg in ["none", "None", "NONE", "eddsa", "Ed25519"] {
            let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#).as_bytes());
            let token = format!("{header}.{payload}.");
            assert_eq!(
                ring.verify(&token, &settings(), at(T0)),
                Err(TokenError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let no_alg = b64(format!(r#"{{"typ":"JWT","kid":"{kid}"}}"#).as_bytes());
        let token = format!("{no_alg}.{payload}.");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::Malformed));
    }

    #[test]
    fn hs256_with_the_public_key_as_secret_is_refused() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let set = ring.snapshot();
        let key = &set.keys[0];
        let public = key.decoding.as_bytes().to_vec();
        let spki =
            ed25519_dalek::VerifyingKey::from_bytes(&public.clone().try_into().expect("32 bytes")).expect("public key");
        let spki_pem = ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(&spki, LineEnding::LF).expect("pem");
        for secret in [public, spki_pem.into_bytes()] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid.clone());
            let token = jsonwebtoken::encode(&header, &claims(T0, T0 + 600), &EncodingKey::from_secret(&secret))
                .expect("encode");
            assert_eq!(
                ring.verify(&token, &settings(), at(T0)),
                Err(TokenError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn other_header_shapes_are_refused() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let kid = ring.kids()[0].clone();
        let token = ring.sign(&claims(T0, T0 + 600)).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        for header in [
            r#"{"alg":"EdDSA","typ":"JWT"}"#.to_owned(),
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":["exp"]}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
            "[]".to_owned(),
        ] {
            let forged = format!("{}.{}.{}", b64(header.as_bytes()), parts[1], parts[2]);
            assert_eq!(
                ring.verify(&forged, &settings(), at(T0)),
                Err(TokenError::Malformed),
                "{header}"
            );
        }
        for junk in ["", "a.b", "a.b.c.d", "!!!.b.c", &format!("{token}.")] {
            assert_eq!(
                ring.verify(junk, &settings(), at(T0)),
                Err(TokenError::Malformed),
                "{junk}"
            );
        }
        let long = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(ring.verify(&long, &settings(), at(T0)), Err(TokenError::Malformed));
    }

    #[test]
    fn issuer_and_audience_must_match_exactly() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let mut wrong_iss = claims(T0, T0 + 600);
        wrong_iss.iss = "someone-else".to_owned();
        let token = ring.sign(&wrong_iss).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::WrongIssuer));

        let mut wrong_aud = claims(T0, T0 + 600);
        wrong_aud.aud = "tenantry-admin".to_owned();
        let token = ring.sign(&wrong_aud).expect("sign");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::WrongAudience));

        let token = ring.sign(&claims(T0, T0 + 600)).expect("sign");
        let elsewhere = TokenSettings {
            audience: "other-api".to_owned(),
            ..settings()
        };
        assert_eq!(ring.verify(&token, &elsewhere, at(T0)), Err(TokenError::WrongAudience));
    }

    #[test]
    fn time_comes_from_the_given_clock() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let token = ring.sign(&claims(T0, T0 + 600)).expect("sign");
        assert!(ring.verify(&token, &settings(), at(T0 + 599)).is_ok());
        assert_eq!(ring.verify(&token, &settings(), at(T0 + 600)), Err(TokenError::Expired));
        assert_eq!(
            ring.verify(&token, &settings(), at(T0 + 5000)),
            Err(TokenError::Expired)
        );
        // A fraction of a second before expiry still counts.
        let almost = at(T0 + 599) + Duration::milliseconds(999);
        assert!(ring.verify(&token, &settings(), almost).is_ok());

        // Issued up to 60 s in the future (clock skew) is accepted, further is not.
        assert!(ring.verify(&token, &settings(), at(T0 - 60)).is_ok());
        assert_eq!(
            ring.verify(&token, &settings(), at(T0 - 61)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn an_overlong_lifetime_is_refused() {
        let tmp = TempDir::new().expect("tempdir");
        let ring = keyring(&tmp, T0);
        let set = ring.snapshot();
        let key = &set.keys[0];
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims(T0, T0 + 86_400), &key.encoding).expect("encode");
        assert_eq!(ring.verify(&token, &settings(), at(T0)), Err(TokenError::Malformed));
    }

    #[test]
    fn an_unreadable_key_file_is_named_and_the_old_set_kept() {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("keys");
        let ring = keyring(&tmp, T0);
        let kids = ring.kids();
        let token = ring.sign(&claims(T0, T0 + 600)).expect("sign");

        // Other files are ignored.
        std::fs::write(dir.join("README.txt"), "notes").expect("write");
        std::fs::write(dir.join(".1-abcdefgh.pem.tmp-1-0"), "partial").expect("write");
        ring.reload(at(T0)).expect("reload");
        assert_eq!(ring.kids(), kids);

        let bad = dir.join(format!("{}-abcdefgh.pem", T0 + 1));
        std::fs::write(
            &bad,
            "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        match ring.reload(at(T0)) {
            Err(KeyError::BadKey { path }) => assert_eq!(path, bad.display().to_string()),
            other => panic!("expected BadKey, got {other:?}"),
        }
        let message = ring.reload(at(T0)).expect_err("bad key").to_string();
        assert!(message.contains(&bad.display().to_string()));
        assert!(!message.contains("not a key"));
        assert_eq!(ring.kids(), kids);
        assert!(ring.verify(&token, &settings(), at(T0)).is_ok());
        assert!(matches!(
            Keyring::load_or_create(&dir, at(T0)),
            Err(KeyError::BadKey { .. })
        ));
        assert!(matches!(Keyring::rotate(&dir, at(T0)), Err(KeyError::BadKey { .. })));
        std::fs::remove_file(&bad).expect("remove");

        let misnamed = dir.join("signing.pem");
        std::fs::write(&misnamed, "whatever").expect("write");
        match Keyring::load_or_create(&dir, at(T0)) {
            Err(KeyError::BadKey { path }) => assert_eq!(path, misnamed.display().to_string()),
            other => panic!("expected BadKey, got {other:?}"),
        }
    }

    #[test]
    fn kids_parse_and_order_by_creation() {
        assert_eq!(parse_kid("1767225600-abcdefgh"), Some(1_767_225_600));
        assert_eq!(parse_kid("1767225600-0123abcd"), Some(1_767_225_600));
        for bad in [
            "",
            "-abcdefgh",
            "1767225600",
            "1767225600-ABCDEFGH",
            "17x-abcdefgh",
            "1-abc",
            "1-abcdefghi",
        ] {
            assert_eq!(parse_kid(bad), None, "{bad}");
        }
        let position = |created: &[i64], now| signing_position(created, |&c| c, now);
        assert_eq!(position(&[], 0), None);
        assert_eq!(position(&[100], 0), Some(0));
        assert_eq!(position(&[100, 200], 259), Some(0));
        assert_eq!(position(&[100, 200], 260), Some(1));
        assert_eq!(position(&[100, 200, 300], 1000), Some(2));
        assert!(!is_retired(
            200,
            200 + ACTIVATION_DELAY_SECS + MAX_ACCESS_TTL_SECS + ACTIVATION_DELAY_SECS
        ));
        assert!(is_retired(
            200,
            201 + ACTIVATION_DELAY_SECS + MAX_ACCESS_TTL_SECS + ACTIVATION_DELAY_SECS
        ));
    }
}
