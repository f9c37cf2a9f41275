//! Sealed secrets: every secret the server stores to read back later goes
//! through [`Sealer::seal`] and [`Sealer::open`] — today a rotated refresh
//! token's successor during its grace window; next webhook signing secrets,
//! SSO client secrets and TOTP seeds. XChaCha20-Poly1305 with a random
//! nonce, under a key derived from the server secret for each [`Purpose`],
//! bound to associated data (what the value belongs to), in a versioned
//! text form: `v1.` and base64url of nonce and ciphertext.
//!
//! Key management (per-tenant keys, rotation, an external key provider) can
//! change behind this interface without its callers changing: a new
//! version prefix names the new keys, and `open` keeps reading the old.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

const NONCE_LEN: usize = 24;
const VERSION: &str = "v1.";

/// What a sealed value is for; each purpose has a key of its own, so a
/// value sealed for one can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The successor of a rotated refresh token, kept for its grace window.
    RefreshSuccessor,
    /// The answer kept for an idempotency key (it may hold a new key's
    /// secret).
    IdempotentAnswer,
}

impl Purpose {
    const ALL: [Purpose; 2] = [Purpose::RefreshSuccessor, Purpose::IdempotentAnswer];

    /// The label its key is derived under (unchanged since the first
    /// release, so values sealed then still open).
    fn label(self) -> &'static str {
        match self {
            Purpose::RefreshSuccessor => "tenantry/refresh-grace/v1",
            Purpose::IdempotentAnswer => "tenantry/idempotent-answer/v1",
        }
    }
}

/// Seals and opens values, one key a purpose.
pub struct Sealer {
    keys: Vec<(Purpose, SecretBox<[u8; 32]>)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The keys derived from the server secret (HMAC-SHA256 of each
    /// purpose's label).
    pub fn from_secret(secret: &SecretString) -> Self {
        let keys = Purpose::ALL
            .into_iter()
            .map(|purpose| {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
                    .expect("HMAC accepts any key length");
                mac.update(purpose.label().as_bytes());
                let key: [u8; 32] = mac.finalize().into_bytes().into();
                (purpose, SecretBox::new(Box::new(key)))
            })
            .collect();
        Self { keys }
    }

    fn cipher(&self, purpose: Purpose) -> XChaCha20Poly1305 {
        let key = self
            .keys
            .iter()
            .find(|(p, _)| *p == purpose)
            .map(|(_, key)| key.expose_secret())
            .expect("every purpose has a key");
        XChaCha20Poly1305::new(key.into())
    }

    /// `bytes` sealed for `purpose`, bound to `associated_data`.
    pub fn seal(&self, purpose: Purpose, associated_data: &[u8], bytes: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher(purpose)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: bytes,
                    aad: associated_data,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// What [`Sealer::seal`] sealed for the same purpose and associated
    /// data; `None` for anything else (tampered, another purpose, another
    /// owner). Reads the unversioned form of the first release too.
    pub fn open(&self, purpose: Purpose, associated_data: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let encoded = sealed.strip_prefix(VERSION).unwrap_or(sealed);
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher(purpose)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &str) -> Sealer {
        Sealer::from_secret(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_purpose_owner_and_secret() {
        let s = sealer("a-server-secret-of-at-least-32-bytes!");
        let sealed = s.seal(Purpose::RefreshSuccessor, b"token-hash-1", b"tnr_successor");
        assert!(sealed.starts_with("v1."));
        assert_eq!(
            s.open(Purpose::RefreshSuccessor, b"token-hash-1", &sealed).as_deref(),
            Some(&b"tnr_successor"[..])
        );
        assert_eq!(
            s.open(Purpose::RefreshSuccessor, b"token-hash-2", &sealed),
            None,
            "another owner"
        );
        let other = sealer("another-server-secret-of-32-bytes-or-more");
        assert_eq!(
            other.open(Purpose::RefreshSuccessor, b"token-hash-1", &sealed),
            None,
            "another secret"
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(s.open(Purpose::RefreshSuccessor, b"token-hash-1", &tampered), None);
        assert_ne!(
            s.seal(Purpose::RefreshSuccessor, b"token-hash-1", b"tnr_successor"),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn the_first_releases_unversioned_form_still_opens() {
        let secret = "a-server-secret-of-at-least-32-bytes!";
        let s = sealer(secret);
        let sealed = s.seal(Purpose::RefreshSuccessor, b"h", b"value");
        let unversioned = sealed.trim_start_matches("v1.");
        assert_eq!(
            s.open(Purpose::RefreshSuccessor, b"h", unversioned).as_deref(),
            Some(&b"value"[..])
        );
    }
}
