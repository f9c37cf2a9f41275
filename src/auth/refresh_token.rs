//! Refresh tokens as credentials: their format (`tnr_` and 256 random
//! bits, base64url), the cheap check that a string could be one, and the
//! keyed hash they are stored and looked up by.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::secret::Keys;

pub const REFRESH_TOKEN_PREFIX: &str = "tnr_";

/// The longest string taken where a refresh token is expected (tokens are
/// 47 characters; longer input is refused unread).
pub const MAX_LEN: usize = 256;

/// A new opaque refresh token: the prefix and 32 random bytes, base64url.
pub fn new() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{REFRESH_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a refresh token: its HMAC under the server secret.
pub fn hash(keys: &Keys, token: &str) -> String {
    keys.refresh_token.mac_hex(&[token.as_bytes()])
}

/// Whether `token` could be a refresh token at all (no lookup otherwise).
pub fn looks_like(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_PREFIX.len() + 43
        && token.starts_with(REFRESH_TOKEN_PREFIX)
        && token[REFRESH_TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
