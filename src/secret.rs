//! The server secret: `TENANTRY_SECRET`, or generated once into the data
//! directory (mode 0600) so the CLI, the server and restarts agree.
//! Purpose-specific keys are derived from it; the secret itself is never used
//! directly as a MAC key.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::config::{MIN_SECRET_LEN, Settings};

pub const SECRET_FILE: &str = "secret";

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte MAC key used for one purpose only, kept as the HMAC state
/// keyed with it, so a MAC costs two hash compressions rather than four.
/// (Keys that encrypt are `crypto::Sealer`'s.)
#[derive(Clone)]
pub struct DerivedKey(HmacSha256);

impl DerivedKey {
    fn new(key: [u8; 32]) -> Self {
        DerivedKey(<HmacSha256 as Mac>::new_from_slice(&key).expect("HMAC accepts any key length"))
    }

    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// [`DerivedKey::mac`] as 64 lowercase hex digits (the stored form of
    /// hashed secrets).
    pub fn mac_hex(&self, parts: &[&[u8]]) -> String {
        hex(&self.mac(parts))
    }

    /// A key of its own, for what must agree only within this process.
    pub fn random() -> Self {
        let mut key = [0_u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::new(key)
    }

    /// Constant-time check that `tag` is a prefix (at least 16 bytes) of the MAC of `parts`.
    pub fn verify_truncated(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        tag.len() >= 16 && mac.verify_truncated_left(tag).is_ok()
    }
}

/// A digest as lowercase hex digits.
pub fn hex(digest: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKey(..)")
    }
}

/// The keys derived from the server secret.
#[derive(Debug)]
pub struct Keys {
    /// Hashes API keys at rest.
    pub api_key: DerivedKey,
    /// Signs pagination cursors.
    pub cursor: DerivedKey,
    /// Hashes refresh tokens at rest.
    pub refresh_token: DerivedKey,
    /// Hashes emails for the sign-in throttle's counts (the same on every
    /// instance, so counts shared through Redis agree).
    pub login_throttle: DerivedKey,
    /// Makes an idempotency key's record id from the credential and the
    /// key (the key as sent is never stored).
    pub idempotency: DerivedKey,
    /// Seals what the server stores to read back (a rotated refresh
    /// token's successor, for its grace window; the answers kept for
    /// idempotency keys).
    pub sealer: crate::crypto::Sealer,
}

impl Keys {
    pub fn from_secret(secret: &SecretString) -> Self {
        let derive = |purpose: &str| {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.expose_secret().as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(purpose.as_bytes());
            DerivedKey::new(mac.finalize().into_bytes().into())
        };
        Self {
            api_key: derive("tenantry/api-key/v1"),
            cursor: derive("tenantry/cursor/v1"),
            refresh_token: derive("tenantry/refresh-token/v1"),
            login_throttle: derive("tenantry/login-throttle/v1"),
            idempotency: derive("tenantry/idempotency-key/v1"),
            sealer: crate::crypto::Sealer::from_secret(secret),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot use the secret file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the secret file {path} holds fewer than {MIN_SECRET_LEN} bytes")]
    TooShort { path: String },
}

/// The configured secret, or the one kept in the data directory (created on first use).
pub fn load_or_create(settings: &Settings) -> Result<SecretString, SecretError> {
    if let Some(secret) = &settings.secret {
        return Ok(secret.clone());
    }
    let path = settings.data_dir.join(SECRET_FILE);
    let io = |source| SecretError::Io {
        path: path.display().to_string(),
        source,
    };
    create_private_dir(&settings.data_dir).map_err(io)?;
    match create_new(&path) {
        Ok(secret) => return Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let text = text.trim();
    if text.len() < MIN_SECRET_LEN {
        return Err(SecretError::TooShort {
            path: path.display().to_string(),
        });
    }
    Ok(SecretString::from(text.to_owned()))
}

/// Creates `dir` (and its parents) if missing; a directory made here is
/// readable by its owner only (it holds the database file, the secret and
/// the signing keys). An existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn create_new(path: &Path) -> std::io::Result<SecretString> {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let encoded = URL_SAFE_NO_PAD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Written to a temporary name and linked into place, so a concurrent
    // reader never sees a half-written file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = options.open(&tmp)?;
    file.write_all(encoded.as_bytes())?;
    file.sync_all()?;
    drop(file);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked?;
    Ok(SecretString::from(encoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_hmac_state_gives_the_standard_hmac() {
        let key = [7u8; 32];
        let derived = DerivedKey::new(key);
        for _ in 0..2 {
            let mut fresh = <HmacSha256 as Mac>::new_from_slice(&key).expect("any key length");
            fresh.update(b"a");
            fresh.update(b"bc");
            let expected: [u8; 32] = fresh.finalize().into_bytes().into();
            assert_eq!(derived.mac(&[b"a", b"bc"]), expected);
            assert!(derived.verify_truncated(&[b"abc"], &expected[..16]));
        }
    }
}
