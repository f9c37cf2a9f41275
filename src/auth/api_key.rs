//! The API key format: `tnt_` + 24 base62 characters of randomness (≈142
//! bits) + 6 base62 characters of CRC32 over the random part. The checksum
//! lets clients, secret scanners and the server reject a mistyped or
//! truncated key without a database lookup.

use rand::Rng;

use crate::secret::DerivedKey;

pub const PREFIX: &str = "tnt_";
const RANDOM_LEN: usize = 24;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// How many leading characters are kept to tell keys apart in listings.
pub const DISPLAY_PREFIX_LEN: usize = PREFIX.len() + 8;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn checksum(random: &str) -> String {
    let mut n = crc32fast::hash(random.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A freshly generated key; `secret` is shown to the caller once.
pub struct NewKey {
    pub secret: String,
    pub display_prefix: String,
}

pub fn generate() -> NewKey {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.random_range(0..62)] as char)
        .collect();
    let secret = format!("{PREFIX}{random}{}", checksum(&random));
    NewKey {
        display_prefix: secret[..DISPLAY_PREFIX_LEN].to_owned(),
        secret,
    }
}

/// Why a presented key was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    Malformed,
    BadChecksum,
}

/// Checks the shape and checksum of a presented key.
pub fn check_format(key: &str) -> Result<(), FormatError> {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return Err(FormatError::Malformed);
    };
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Malformed);
    }
    let (random, sum) = rest.split_at(RANDOM_LEN);
    if checksum(random) != sum {
        return Err(FormatError::BadChecksum);
    }
    Ok(())
}

/// The stored form of a key: hex HMAC-SHA256 under the key-hashing key.
pub fn hash(key: &DerivedKey, secret: &str) -> String {
    crate::secret::hex(&digest(key, secret))
}

/// The keyed hash of a key as bytes (what the key cache is keyed by).
pub fn digest(key: &DerivedKey, secret: &str) -> [u8; 32] {
    key.mac(&[secret.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_pass_their_own_check() {
        for _ in 0..100 {
            let key = generate();
            assert_eq!(key.secret.len(), KEY_LEN);
            assert!(key.secret.starts_with(&key.display_prefix));
            assert_eq!(check_format(&key.secret), Ok(()));
        }
    }

    #[test]
    fn the_stored_form_is_the_lowercase_hex_hmac() {
        let keys = crate::secret::Keys::from_secret(&secrecy::SecretString::from("s".repeat(32)));
        let key = generate().secret;
        let expected: String = keys
            .api_key
            .mac(&[key.as_bytes()])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash(&keys.api_key, &key), expected);
        assert_eq!(hash(&keys.api_key, &key), hash(&keys.api_key, &key), "repeatable");
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = generate().secret;
        let mut bytes = key.into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(bytes).expect("ascii");
        assert_eq!(check_format(&changed), Err(FormatError::BadChecksum));
    }

    #[test]
    fn malformed_keys_are_told_apart_from_bad_checksums() {
        assert_eq!(check_format(""), Err(FormatError::Malformed));
        assert_eq!(check_format("tnt_short"), Err(FormatError::Malformed));
        assert_eq!(
            check_format(&format!("xyz_{}", "a".repeat(30))),
            Err(FormatError::Malformed)
        );
        assert_eq!(
            check_format(&format!("tnt_{}!", "a".repeat(29))),
            Err(FormatError::Malformed)
        );
    }
}
