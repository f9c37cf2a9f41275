//! Opaque, signed pagination cursors.
//!
//! A cursor carries the position after the last row of a page (its sort key
//! and id) and a fingerprint of the query it belongs to (tenant, resource,
//! filters, sort; not the page size, which may change between pages). It is
//! MACed under a key derived from the server secret, so a tampered cursor, or
//! one replayed against another query, is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Error, Result};
use crate::secret::DerivedKey;

const TAG_LEN: usize = 16;
pub(crate) const MALFORMED: &str = "the cursor is malformed or was altered";
/// The longest cursor taken (the spec's `maxLength`); longer ones are refused unread.
pub const MAX_CURSOR_LEN: usize = 512;

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    /// The query fingerprint.
    q: String,
    /// The sort key of the last row (`None` for a NULL sort key).
    k: Option<String>,
    id: Uuid,
}

/// The position a cursor points after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: Option<String>,
    pub id: Uuid,
}

fn fingerprint(key: &DerivedKey, shape: &str) -> String {
    URL_SAFE_NO_PAD.encode(&key.mac(&[b"shape", shape.as_bytes()])[..12])
}

pub fn encode(key: &DerivedKey, shape: &str, position: Position) -> String {
    let payload = Payload {
        v: 1,
        q: fingerprint(key, shape),
        k: position.key,
        id: position.id,
    };
    let mut bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let tag = key.mac(&[b"cursor", &bytes]);
    bytes.extend_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(key: &DerivedKey, shape: &str, cursor: &str) -> Result<Position> {
    const INVALID: Error = Error::InvalidCursor(MALFORMED);
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(INVALID);
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| INVALID)?;
    if bytes.len() <= TAG_LEN {
        return Err(INVALID);
    }
    let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    if !key.verify_truncated(&[b"cursor", body], tag) {
        return Err(INVALID);
    }
    let payload: Payload = serde_json::from_slice(body).map_err(|_| INVALID)?;
    if payload.v != 1 {
        return Err(INVALID);
    }
    if payload.q != fingerprint(key, shape) {
        return Err(Error::InvalidCursor(
            "the cursor belongs to a different query; send the same filters and sort as for the first page",
        ));
    }
    Ok(Position {
        key: payload.k,
        id: payload.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Keys;

    fn key() -> DerivedKey {
        Keys::from_secret(&"x".repeat(40).into()).cursor
    }

    #[test]
    fn round_trips_and_refuses_tampering_and_other_queries() {
        let key = key();
        let pos = Position {
            key: Some("2026-01-01".into()),
            id: Uuid::nil(),
        };
        let c = encode(&key, "tasks|sort=due", pos.clone());
        assert_eq!(decode(&key, "tasks|sort=due", &c).ok(), Some(pos));
        assert!(matches!(
            decode(&key, "tasks|sort=created", &c),
            Err(Error::InvalidCursor(_))
        ));
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).expect("valid");
        bytes[5] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert!(matches!(
            decode(&key, "tasks|sort=due", &tampered),
            Err(Error::InvalidCursor(_))
        ));
        assert!(matches!(
            decode(&key, "tasks|sort=due", "!!!"),
            Err(Error::InvalidCursor(_))
        ));
        assert!(matches!(
            decode(&key, "tasks|sort=due", ""),
            Err(Error::InvalidCursor(_))
        ));
    }
}
