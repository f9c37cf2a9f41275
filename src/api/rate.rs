//! Rate limits on the request path. Every `/v1` operation spends one
//! request of a budget once its caller is known: a credential's tenant
//! (all its keys and people together, `limits.rate`), or, for the
//! operations no credential opens, the client address
//! (`limits.rate_anonymous`). A spent budget answers `429` problem+json,
//! code `rate_limited`, with `Retry-After`.
//!
//! What the limiter said is noted on the request ([`RateNote`]), and the
//! server's response headers (`server::headers`) write it on the way out
//! as `RateLimit-Policy` and `RateLimit`, in the structured-field form of
//! the IETF httpapi RateLimit header fields draft:
//! `RateLimit-Policy: "tenant";q=6000;w=60` (quota and window in seconds)
//! and `RateLimit: "tenant";r=5999;t=1` (requests remaining, seconds until
//! the budget is full again).

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use ipnet::IpNet;
use poem::http::HeaderValue;
use poem::{FromRequest, Request, RequestBody};

use crate::access::{Actor, Principal};
use crate::app::AppState;
use crate::cache::{Budget, Id, Key, Space, Unowned, Verdict};
use crate::error::{ApiError, ErrorCode};

/// The limiter's verdict on a request, for its response's headers.
#[derive(Debug, Clone, Default)]
pub struct RateNote(Arc<OnceLock<Verdict>>);

impl RateNote {
    /// `RateLimit-Policy` and `RateLimit`, if a budget was drawn on.
    /// Written straight into two buffers: they go out with every response.
    pub fn headers(&self) -> Option<(HeaderValue, HeaderValue)> {
        let verdict = self.0.get()?;
        let mut policy = String::with_capacity(32 * verdict.standings.len());
        let mut now = String::with_capacity(32 * verdict.standings.len());
        let mut digits = itoa::Buffer::new();
        for (i, s) in verdict.standings.iter().enumerate() {
            if i > 0 {
                policy.push_str(", ");
                now.push_str(", ");
            }
            for (out, (a, x), (b, y)) in [
                (&mut policy, ("q", u64::from(s.rate.limit)), ("w", s.rate.window_secs())),
                (&mut now, ("r", s.remaining), ("t", s.reset_secs)),
            ] {
                out.push('"');
                out.push_str(s.name);
                out.push_str("\";");
                out.push_str(a);
                out.push('=');
                out.push_str(digits.format(x));
                out.push(';');
                out.push_str(b);
                out.push('=');
                out.push_str(digits.format(y));
            }
        }
        Some((HeaderValue::from_str(&policy).ok()?, HeaderValue::from_str(&now).ok()?))
    }
}

/// Spends one request of `principal`'s tenant's budget, and of its own
/// where the tenant's plan gives each credential one (an API key, or a
/// person across their sessions): both or neither. The plan is kept with
/// the tenant's placement, so this reads nothing once the tenant was seen.
pub async fn limit_tenant(req: &Request, state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let rates = &state.rates;
    let plan = if rates.plans.is_empty() {
        rates.of_plan(None)
    } else {
        let name = state.db.plan_of(&principal.authenticated()).await?;
        rates.of_plan(name.as_deref())
    };
    let tenant = principal.tenant_id();
    let credential = match principal.actor() {
        Actor::ApiKey { id } => Some(id),
        Actor::User { id, .. } => Some(id.0),
        Actor::Operator => None,
    };
    let budgets: Vec<Budget> = [
        plan.rate.map(|rate| Budget {
            name: "tenant",
            key: Key::tenant(tenant, Space::RateTenant, Id::Uuid(tenant.0)),
            rate,
        }),
        plan.credential_rate.zip(credential).map(|(rate, id)| Budget {
            name: "credential",
            key: Key::tenant(tenant, Space::RateCredential, Id::Uuid(id)),
            rate,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if budgets.is_empty() {
        return Ok(());
    }
    decide(req, state, &budgets).await
}

/// Spends one request of the client address's budget for the operations no
/// credential opens (IPv6 addresses by their /64).
pub async fn limit_anonymous(req: &Request, state: &AppState) -> Result<(), ApiError> {
    let Some(rate) = state.rates.anonymous else {
        return Ok(());
    };
    let Some(addr) = client_ip(req, &state.rates.trusted_proxies) else {
        return Ok(());
    };
    let budget = Budget {
        name: "address",
        key: Key::unowned(
            Unowned::AcrossTenants,
            Space::RateAddress,
            Id::Address(crate::auth::throttle::address_key(addr)),
        ),
        rate,
    };
    decide(req, state, &[budget]).await
}

async fn decide(req: &Request, state: &AppState, budgets: &[Budget]) -> Result<(), ApiError> {
    let verdict = state.rates.limiter.check(budgets, state.clock.now()).await;
    let (allowed, retry_after) = (verdict.allowed, verdict.retry_after_secs);
    // The spent budget is the one nearest full debt: a whole period to wait.
    let which = verdict
        .standings
        .iter()
        .max_by_key(|s| s.reset_secs.saturating_mul(1000) / s.rate.window_secs().max(1))
        .map_or("request", |s| s.name);
    if let Some(note) = req.extensions().get::<RateNote>() {
        let _ = note.0.set(verdict);
    }
    if allowed {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::RateLimited,
        format!("the {which} budget of requests is spent; `Retry-After` says when one is free again"),
    )
    .with_retry_after(retry_after))
}

/// The operations no credential opens: the first argument of each, so the
/// client address's budget is spent before the body is read.
#[derive(Debug)]
pub struct Anonymous;

impl<'a> FromRequest<'a> for Anonymous {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "application state missing"))?;
        limit_anonymous(req, state).await?;
        Ok(Self)
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy;
/// then the rightmost `X-Forwarded-For` entry that is not one (each
/// trusted proxy appends the address it heard from, so the entries to the
/// left of the last untrusted one are whatever the client chose to send).
pub fn client_ip(req: &Request, trusted: &[IpNet]) -> Option<IpAddr> {
    Some(forwarded_client(
        req.remote_addr().as_socket_addr()?.ip(),
        req.headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok()),
        trusted,
    ))
}

fn forwarded_client<'a>(peer: IpAddr, forwarded: impl Iterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(addr) = parse_entry(entry) else {
            // Not an address: nothing further left can be believed.
            return client;
        };
        if !is_trusted(&addr) {
            return addr;
        }
        client = addr;
    }
    client
}

/// An `X-Forwarded-For` entry: an address, maybe with a port (`[v6]:port`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|addr| addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = crate::config::rates::parse_proxies("10.0.0.0/8, ::1").expect("valid");
        let client = |peer: &str, xff: &[&str]| forwarded_client(addr(peer), xff.iter().copied(), &trusted);
        // From outside: the header is whatever the client wrote.
        assert_eq!(client("203.0.113.9", &["198.51.100.1"]), addr("203.0.113.9"));
        // Through a trusted proxy: what it heard from.
        assert_eq!(client("10.0.0.2", &["198.51.100.1"]), addr("198.51.100.1"));
        // A forged entry to the left of the real one changes nothing.
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4, 198.51.100.1, 10.0.0.3"]),
            addr("198.51.100.1")
        );
        assert_eq!(client("10.0.0.2", &["1.2.3.4", "198.51.100.1"]), addr("198.51.100.1"));
        // Ports and brackets, and an IPv4 peer seen as IPv6.
        assert_eq!(client("::1", &["[2001:db8::1]:443"]), addr("2001:db8::1"));
        assert_eq!(client("::ffff:10.0.0.2", &["198.51.100.1:80"]), addr("198.51.100.1"));
        // Only proxies, or nothing believable: the last trusted hop.
        assert_eq!(client("10.0.0.2", &[]), addr("10.0.0.2"));
        assert_eq!(client("10.0.0.2", &["10.0.0.5"]), addr("10.0.0.5"));
        assert_eq!(client("10.0.0.2", &["1.2.3.4, garbage"]), addr("10.0.0.2"));
    }
}
