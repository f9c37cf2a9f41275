//! `ETag` on every successful `/v1` read, and `304 Not Modified` for an
//! `If-None-Match` that names it (`api::etag` makes the tags).

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

use crate::api::etag;

pub struct Etags;

impl<E: Endpoint> Middleware<E> for Etags {
    type Output = EtagsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        EtagsEndpoint { inner: ep }
    }
}

pub struct EtagsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for EtagsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let read = matches!(*req.method(), Method::GET | Method::HEAD) && req.uri().path().starts_with("/v1/");
        let if_none_match = read
            .then(|| req.headers().get(header::IF_NONE_MATCH).cloned())
            .flatten();
        let mut resp = self.inner.call(req).await?.into_response();
        let json = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        if !read || resp.status() != StatusCode::OK || !json {
            return Ok(resp);
        }
        let bytes = resp.take_body().into_bytes().await?;
        let tag = etag::of_body(&bytes);
        if let Ok(value) = HeaderValue::from_str(&tag) {
            resp.headers_mut().insert(header::ETAG, value);
        }
        let hit = if_none_match
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| etag::none_match_hits(v, &tag));
        if hit {
            resp.set_status(StatusCode::NOT_MODIFIED);
            resp.headers_mut().remove(header::CONTENT_TYPE);
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            return Ok(resp);
        }
        resp.set_body(Body::from_bytes(bytes));
        Ok(resp)
    }
}
