//! Response headers the spec promises, added on the way out for every route:
//! `Cache-Control: no-store` and `Pragma: no-cache` on the responses of the
//! operations that carry a token or a secret (RFC 6749 §5.1), and `Allow`
//! on every `405` (RFC 9110 §15.5.6), both read off the emitted spec at
//! start, so an operation added later is covered without a line here; and
//! `RateLimit-Policy` and `RateLimit` wherever a request budget was drawn
//! on (`api::rate` notes it on the request).

use std::collections::BTreeSet;
use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;

use crate::api::rate::RateNote;
use crate::openapi::{self, Json};

/// A path template split into segments: `None` for a `{parameter}`.
type Template = Vec<Option<String>>;

/// What the spec says about responses, for [`ResponseHeaders`].
#[derive(Debug)]
pub struct Contract {
    secret_operations: BTreeSet<String>,
    /// Every route with its `Allow` value, most specific first within equal lengths.
    routes: Vec<(Template, HeaderValue)>,
    /// The operations that take an `Idempotency-Key`: route and method.
    idempotent: BTreeSet<(Template, String)>,
}

/// Routes outside the spec: the document and its viewer.
const OTHER_ROUTES: [&str; 3] = ["/openapi.json", "/docs", "/docs/"];

fn template(path: &str) -> Template {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            let param = segment.starts_with('{') && segment.ends_with('}');
            (!param).then(|| segment.to_owned())
        })
        .collect()
}

impl Contract {
    pub fn from_spec(spec: &Json) -> Self {
        let mut routes: Vec<(Template, HeaderValue)> = openapi::routes(spec)
            .into_iter()
            .chain(
                OTHER_ROUTES
                    .iter()
                    .map(|p| ((*p).to_owned(), vec!["GET".to_owned(), "HEAD".to_owned()])),
            )
            .filter_map(|(path, methods)| Some((template(&path), HeaderValue::from_str(&methods.join(", ")).ok()?)))
            .collect();
        // The router prefers a fixed segment to a parameter at the first
        // place they differ: so does the search, by trying them first.
        routes.sort_by(|(a, _), (b, _)| {
            let rank = |t: &Template| t.iter().map(Option::is_none).collect::<Vec<_>>();
            rank(a).cmp(&rank(b))
        });
        Self {
            secret_operations: openapi::secret_operations(spec),
            routes,
            idempotent: openapi::idempotent_operations(spec)
                .into_iter()
                .map(|(path, method)| (template(&path), method))
                .collect(),
        }
    }

    /// The route `path` reaches, with the methods it accepts.
    fn route(&self, path: &str) -> Option<&(Template, HeaderValue)> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes.iter().find(|(t, _)| {
            t.len() == segments.len()
                && t.iter().zip(&segments).all(|(fixed, segment)| match fixed {
                    Some(fixed) => fixed == segment,
                    None => !segment.is_empty(),
                })
        })
    }

    /// The methods the route of `path` accepts.
    fn allow(&self, path: &str) -> Option<&HeaderValue> {
        self.route(path).map(|(_, allow)| allow)
    }

    /// Whether `method` on `path` is an operation that takes an
    /// `Idempotency-Key`.
    pub fn is_idempotent(&self, method: &str, path: &str) -> bool {
        self.route(path)
            .is_some_and(|(t, _)| self.idempotent.contains(&(t.clone(), method.to_owned())))
    }
}

pub struct ResponseHeaders(pub Arc<Contract>);

impl<E: Endpoint> Middleware<E> for ResponseHeaders {
    type Output = ResponseHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ResponseHeadersEndpoint {
            inner: ep,
            contract: self.0.clone(),
        }
    }
}

pub struct ResponseHeadersEndpoint<E> {
    inner: E,
    contract: Arc<Contract>,
}

impl<E: Endpoint> Endpoint for ResponseHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // A clone shares the URI's bytes: nothing is copied per request.
        let uri = req.uri().clone();
        let note = RateNote::default();
        req.extensions_mut().insert(note.clone());
        let mut resp = self.inner.call(req).await?.into_response();
        if let Some((policy, now)) = note.headers() {
            let headers = resp.headers_mut();
            headers.insert("ratelimit-policy", policy);
            headers.insert("ratelimit", now);
        }
        let secret = resp
            .data::<OperationId>()
            .is_some_and(|id| self.contract.secret_operations.contains(id.0));
        if secret {
            let headers = resp.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.contract.allow(uri.path())
        {
            resp.headers_mut().insert(header::ALLOW, allow.clone());
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_segment_wins_over_a_parameter() {
        let contract = Contract::from_spec(&openapi::spec());
        let allow = |p: &str| contract.allow(p).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(allow("/v1/members/leave").as_deref(), Some("POST"));
        assert_eq!(allow("/v1/members/0196").as_deref(), Some("PATCH, DELETE"));
        assert_eq!(allow("/v1/api-keys/current").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/openapi.json").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/v1/nothing"), None);
        assert!(contract.secret_operations.contains("login"));
        assert!(contract.secret_operations.contains("create_api_key"));
        assert!(!contract.secret_operations.contains("list_api_keys"));
    }
}
