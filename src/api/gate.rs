//! The checks a request body passes before the operation sees it, in the
//! order of the status-code rule: 415 (not JSON), then 413 (over the size
//! limit, by `Content-Length` or, for chunked bodies, while it streams),
//! then the operation itself (401 before the body is parsed). Applied to
//! every operation that takes a body with `#[oai(transform = "json_body")]`
//! (routing, and so 404 and 405, has happened by then).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use poem::http::header;
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use crate::app::AppState;
use crate::config::DEFAULT_MAX_BODY_BYTES;
use crate::error::{ApiError, ErrorCode};

pub struct JsonBody<E>(E);

pub fn json_body<E: Endpoint>(ep: E) -> JsonBody<E> {
    JsonBody(ep)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body exceeds the limit of {limit} bytes"),
    )
}

impl<E: Endpoint> Endpoint for JsonBody<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let limit = req
            .data::<AppState>()
            .map_or(DEFAULT_MAX_BODY_BYTES, |s| s.max_body_bytes);
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        let has_body = chunked || length.is_some_and(|n| n > 0);
        if has_body {
            match req.content_type() {
                Some(ct) if is_json(ct) => {}
                Some(ct) => {
                    return Err(ApiError::new(
                        ErrorCode::UnsupportedMediaType,
                        format!("expected `application/json`, got `{ct}`"),
                    )
                    .into());
                }
                None => {
                    return Err(ApiError::new(
                        ErrorCode::UnsupportedMediaType,
                        "the request has a body but no `Content-Type`; send `application/json`",
                    )
                    .into());
                }
            }
        }
        if length.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit).into());
        }
        let overflow = Arc::new(AtomicBool::new(false));
        if chunked && length.is_none() {
            let flag = overflow.clone();
            let mut seen = 0usize;
            let stream = req.take_body().into_bytes_stream().map(move |chunk| {
                let chunk = chunk?;
                seen += chunk.len();
                if seen > limit {
                    flag.store(true, Ordering::Relaxed);
                    return Err(std::io::Error::other("request body over the limit"));
                }
                Ok(chunk)
            });
            req.set_body(Body::from_bytes_stream(stream));
        }
        let result = self.0.call(req).await;
        if overflow.load(Ordering::Relaxed) {
            return Err(too_large(limit).into());
        }
        result.map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("Application/JSON"));
        assert!(!is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("multipart/form-data; boundary=x"));
    }
}
