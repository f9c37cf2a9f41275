//! Logs go to stderr (stdout carries only a command's output). Each request
//! runs in a `request` span (inside `RequestId`'s span with its id) carrying its method, path, the tenant once
//! authenticated, and the status; one line is logged when it ends. Bodies,
//! keys and query strings are never logged.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

/// The `request` span around every request.
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
        // The request id is on the enclosing span that `RequestId` opens.
        let span = tracing::info_span!(
            "request",
            http.method = %req.method(),
            http.path = %req.uri().path(),
            tenant.id = tracing::field::Empty,
            http.status = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self.0.call(req).instrument(span.clone()).await;
        let resp = match result {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status().as_u16();
        span.record("http.status", status);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(parent: &span, elapsed_ms, "request failed");
        } else {
            tracing::info!(parent: &span, elapsed_ms, "request");
        }
        Ok(resp)
    }
}
