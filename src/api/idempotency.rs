//! Idempotency keys, Stripe's semantics: a credentialed tenant operation
//! that writes (`POST`, `PATCH`, `DELETE`; never `/v1/auth/*`) sent with
//! `Idempotency-Key` runs once per key, and a retry with the same key and
//! the same request gets the first success again, marked
//! `Idempotent-Replayed: true`, for 24 hours.
//!
//! * A key is 1 to 255 printable ASCII characters, and belongs to the
//!   tenant and the credential that sent it (an API key, or a person
//!   across their sessions): another credential's request with the same
//!   key is a request of its own.
//! * A request's fingerprint is the SHA-256 of its method, path, query and
//!   raw body: the same key with another fingerprint is `422`
//!   `idempotency_key_reused`.
//! * Only a success (2xx) is stored, in the transaction of its effect
//!   (`db::idempotency`), so it is stored exactly when the effect
//!   committed; a failure stores nothing and may be retried with the key.
//! * The same key while its first request runs: on PostgreSQL `409`
//!   `idempotency_in_progress` with `Retry-After: 1`; on SQLite the second
//!   waits for the first (writes are serialized) and then gets its answer.
//! * Stored answers are sealed (a new API key's answer holds its secret).
//!
//! The server's middleware (`server::idempotency`) reads the body and runs
//! the handler with the claim; [`bind`] ties it to the caller once
//! authentication knows them.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{Actor, Principal};
use crate::app::AppState;
use crate::db::idempotency::{Claim, Settled, Stored};
use crate::error::{ApiError, ErrorCode};

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// The response header on an answer sent again.
pub const REPLAYED: &str = "idempotent-replayed";

/// The longest key.
pub const MAX_LEN: usize = 255;

/// How long a stored answer is kept.
pub const KEPT: chrono::Duration = chrono::Duration::hours(24);

/// The SHA-256 of a request: its method, path, query and body, each
/// prefixed with its length (so no two requests share one).
pub fn fingerprint(method: &str, path: &str, query: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), query.as_bytes(), body] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

/// A claim for a request with `fingerprint`, made at `now`.
pub fn claim(fingerprint: [u8; 32], now: DateTime<Utc>) -> std::sync::Arc<Claim> {
    Claim::new(fingerprint, now, now + KEPT)
}

/// Whether `key` is 1 to 255 printable ASCII characters.
fn valid(key: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&key.len()) && key.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Ties the request's claim, if it has one, to `principal`: the tenant,
/// and the record made from the credential and the key. A malformed key
/// is a `400` (after authentication and the request budget).
pub fn bind(req: &Request, state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let Some(claim) = crate::db::idempotency::current() else {
        return Ok(());
    };
    let Some(key) = req.headers().get(HEADER) else {
        return Ok(());
    };
    if req.headers().get_all(HEADER).iter().nth(1).is_some() {
        return Err(ApiError::bad_request(
            "send the `Idempotency-Key` header once; this request has several",
        ));
    }
    if !valid(key.as_bytes()) {
        return Err(ApiError::bad_request(format!(
            "`Idempotency-Key` must be 1 to {MAX_LEN} printable ASCII characters"
        )));
    }
    let tenant = principal.tenant_id().0;
    if let Some(record) = record_id(&state.keys, tenant, principal.actor(), key.as_bytes()) {
        claim.bind(tenant, record);
    }
    Ok(())
}

/// The id of the record `key` sent by `actor` of `tenant` is kept under: a
/// keyed hash of the three (the operator, who sends no keys, has none).
pub fn record_id(keys: &crate::secret::Keys, tenant: Uuid, actor: Actor, key: &[u8]) -> Option<Uuid> {
    let (kind, credential): (&[u8], Uuid) = match actor {
        Actor::ApiKey { id } => (b"api_key", id),
        Actor::User { id, .. } => (b"user", id.0),
        Actor::Operator => return None,
    };
    let mac = keys
        .idempotency
        .mac(&[tenant.as_bytes(), kind, credential.as_bytes(), key]);
    let mut record = [0u8; 16];
    record.copy_from_slice(&mac[..16]);
    Some(Uuid::from_bytes(record))
}

/// What a sealed answer is bound to: its tenant and record, so it opens
/// for no other.
fn associated(claim: &Claim) -> Vec<u8> {
    claim
        .bound()
        .map(|(tenant, record)| [tenant.as_bytes().as_slice(), record.as_bytes()].concat())
        .unwrap_or_default()
}

/// A success to store: its status, `Location` and body, the body sealed.
pub fn to_store(
    state: &AppState,
    claim: &Claim,
    status: StatusCode,
    location: Option<&HeaderValue>,
    body: &[u8],
) -> Stored {
    Stored {
        status: status.as_u16(),
        location: location.and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: state
            .keys
            .sealer
            .seal(crate::crypto::Purpose::IdempotentAnswer, &associated(claim), body),
    }
}

/// The answer for a claim settled before its request ran.
pub fn answer(state: &AppState, claim: &Claim, settled: Settled) -> poem::Result<poem::Response> {
    match settled {
        Settled::Replay(stored) => {
            let body = state
                .keys
                .sealer
                .open(
                    crate::crypto::Purpose::IdempotentAnswer,
                    &associated(claim),
                    &stored.body,
                )
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Internal,
                        "a stored answer for an idempotency key does not open",
                    )
                })?;
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let mut resp = poem::Response::builder().status(status);
            if !body.is_empty() {
                resp = resp.content_type("application/json; charset=utf-8");
            }
            if let Some(location) = stored.location {
                resp = resp.header(header::LOCATION, location);
            }
            Ok(resp.header(REPLAYED, "true").body(body))
        }
        Settled::Reused => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this `Idempotency-Key` was used for another request (another method, path, query or body); use a new key",
        )
        .into()),
        Settled::InProgress => Err(ApiError::new(
            ErrorCode::IdempotencyInProgress,
            "a request with this `Idempotency-Key` is still running; retry after it ends",
        )
        .with_retry_after(1)
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_of_bounded_length() {
        assert!(valid(b"a"));
        assert!(valid(b"order 42 / retry"));
        assert!(valid(&[b'x'; MAX_LEN]));
        assert!(!valid(b""));
        assert!(!valid(&[b'x'; MAX_LEN + 1]));
        assert!(!valid(b"tab\there"));
        assert!(!valid("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn every_part_of_a_request_is_in_its_fingerprint() {
        let base = fingerprint("POST", "/v1/projects", "", b"{}");
        assert_eq!(base, fingerprint("POST", "/v1/projects", "", b"{}"));
        for other in [
            fingerprint("PATCH", "/v1/projects", "", b"{}"),
            fingerprint("POST", "/v1/projects/", "", b"{}"),
            fingerprint("POST", "/v1/projects", "a=1", b"{}"),
            fingerprint("POST", "/v1/projects", "", b"{ }"),
            // Moving bytes between parts changes it too.
            fingerprint("POST", "/v1/project", "s", b"{}"),
        ] {
            assert_ne!(base, other);
        }
    }
}
