//! Logs go to stderr (stdout carries only a command's output). Each request
//! runs in a `request` span carrying its id (also sent back as
//! `X-Request-Id`), method, path, the tenant once authenticated, and the
//! status; one line is logged when it ends. Bodies, keys and query strings
//! are never logged. Colours are used only when stderr is a terminal.
//!
//! The span is at `info`: with a quieter filter it costs nothing, and the
//! line of a failed request names the request itself.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Records the authenticated tenant on the current request span.
pub fn record_tenant(tenant: uuid::Uuid) {
    tracing::Span::current().record("tenant.id", tracing::field::display(tenant));
}

/// The response header that carries the request's id.
pub const REQUEST_ID: &str = "x-request-id";

/// A request's id: unique in this process (a counter) and, with a random
/// first half drawn once, across instances. Not a secret: it is only a name
/// to find the request's log lines by.
fn request_id() -> uuid::Uuid {
    static SEED: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    uuid::Uuid::from_u64_pair(*SEED, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The `request` span around every request, and its `X-Request-Id`.
pub struct RequestSpan;

impl<E: Endpoint> Middleware<E> for RequestSpan {
    type Output = RequestSpanEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestSpanEndpoint(ep)
    }
}

pub struct RequestSpanEndpoint<E>(E);

impl<E: Endpoint> Endpoint for RequestSpanEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = request_id();
        let span = tracing::info_span!(
            "request",
            request.id = %id,
            http.method = %req.method(),
            http.path = %req.uri().path(),
            tenant.id = tracing::field::Empty,
            http.status = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self.0.call(req).instrument(span.clone()).await;
        let mut resp = match result {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let mut header = [0u8; uuid::fmt::Hyphenated::LENGTH];
        if let Ok(value) = poem::http::HeaderValue::from_str(id.hyphenated().encode_lower(&mut header)) {
            resp.headers_mut().insert(REQUEST_ID, value);
        }
        let status = resp.status().as_u16();
        span.record("http.status", status);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 && span.is_disabled() {
            // The filter leaves the span out: the line names the request.
            tracing::warn!(request.id = %id, elapsed_ms, status, "request failed");
        } else if status >= 500 {
            tracing::warn!(parent: &span, elapsed_ms, "request failed");
        } else {
            tracing::info!(parent: &span, elapsed_ms, "request");
        }
        Ok(resp)
    }
}
