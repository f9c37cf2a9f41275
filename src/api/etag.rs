//! Entity tags: a strong `ETag` on every successful `/v1` read, and the
//! `If-Match` precondition of the writes that honour it.
//!
//! * A resource with an `id` and an `updated_at` is tagged
//!   `"<updated_at in microseconds, hex>-<check>"`, the check being the
//!   first 8 bytes of the SHA-256 of its id and that time: a tag names one
//!   version of one resource, and a write can turn it back into the
//!   `updated_at = …` condition of its statement ([`expected_version`]).
//! * Anything else (a page of a list, a resource without `updated_at`) is
//!   tagged with the SHA-256 of its body: a page's tag changes with its
//!   rows, their versions and its cursor.
//!
//! `If-None-Match` with the current tag (or `*`) answers `304` with no body.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The fields a tag is made from, borrowed from the body.
#[derive(Deserialize)]
struct Versioned<'a> {
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(borrow)]
    updated_at: Option<&'a str>,
}

fn check(id: Uuid, micros: i64) -> String {
    let mut hash = Sha256::new();
    hash.update(id.as_bytes());
    hash.update(micros.to_be_bytes());
    let digest: [u8; 32] = hash.finalize().into();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The tag of a resource `id` as of `updated_at`.
pub fn of_version(id: Uuid, updated_at: DateTime<Utc>) -> String {
    let micros = updated_at.timestamp_micros();
    format!("\"{micros:x}-{}\"", check(id, micros))
}

/// The tag of a successful read's JSON `body`.
pub fn of_body(body: &[u8]) -> String {
    if let Ok(Versioned {
        id: Some(id),
        updated_at: Some(at),
    }) = serde_json::from_slice::<Versioned<'_>>(body)
        && let (Ok(id), Ok(at)) = (Uuid::parse_str(id), DateTime::parse_from_rfc3339(at))
    {
        return of_version(id, at.with_timezone(&Utc));
    }
    let digest: [u8; 32] = Sha256::digest(body).into();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"h-{hex}\"")
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, as
/// RFC 9110 §13.1.2 asks: a `W/` prefix is ignored).
pub fn none_match_hits(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag)
}

pub use crate::domain::Precondition;

/// What an `If-Match` value asks of a write to resource `id`: the versions
/// of it its tags name (strong comparison: a weak tag matches nothing), or
/// for `*` nothing beyond the resource being there.
pub fn expected_version(header: &str, id: Uuid) -> Precondition {
    let mut versions = Vec::new();
    for candidate in header.split(',').map(str::trim) {
        if candidate == "*" {
            return Precondition::None;
        }
        let Some(inner) = candidate.strip_prefix('"').and_then(|c| c.strip_suffix('"')) else {
            continue;
        };
        let Some((micros, tag)) = inner.split_once('-') else {
            continue;
        };
        let Ok(micros) = i64::from_str_radix(micros, 16) else {
            continue;
        };
        if tag == check(id, micros)
            && let Some(at) = DateTime::from_timestamp_micros(micros)
        {
            versions.push(at);
        }
    }
    Precondition::Versions(versions)
}

/// The precondition of a write to `id` sent with `if_match`, if any.
pub fn precondition(if_match: Option<&str>, id: Uuid) -> Precondition {
    if_match.map_or(Precondition::None, |value| expected_version(value, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_tag_turns_back_into_its_time_for_its_resource_only() {
        let id = Uuid::now_v7();
        let at = DateTime::parse_from_rfc3339("2026-12-04T10:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let tag = of_version(id, at);
        assert_eq!(expected_version(&tag, id), Precondition::Versions(vec![at]));
        assert_eq!(
            expected_version(&format!("\"x\", {tag}"), id),
            Precondition::Versions(vec![at])
        );
        assert_eq!(expected_version(&tag, Uuid::now_v7()), Precondition::Versions(vec![]));
        assert_eq!(
            expected_version(&format!("W/{tag}"), id),
            Precondition::Versions(vec![])
        );
        assert_eq!(expected_version("*", id), Precondition::None);
        let body = format!("{{\"id\":\"{id}\",\"name\":\"x\",\"updated_at\":\"2026-12-04T10:00:00.123456Z\"}}");
        assert_eq!(of_body(body.as_bytes()), tag);
    }

    #[test]
    fn other_bodies_are_tagged_by_their_bytes() {
        let a = of_body(br#"{"items":[],"next_cursor":null}"#);
        assert!(a.starts_with("\"h-"));
        assert_ne!(a, of_body(br#"{"items":[],"next_cursor":"x"}"#));
        assert!(none_match_hits(&format!("\"other\", W/{a}"), &a));
        assert!(none_match_hits("*", &a));
        assert!(!none_match_hits("\"other\"", &a));
    }
}
