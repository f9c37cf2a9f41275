//! The edge of idempotency keys (`api::idempotency` has the rules): for an
//! operation that takes one, sent with one, it reads the body (within the
//! body limit), fingerprints the request and runs the handler with a claim
//! (`db::idempotency`). Then:
//!
//! * a claim settled before the effect ran is answered from the claim: the
//!   stored success again, `422` for a reused key, `409` for one in use;
//! * a success whose effect is parked is stored with it and committed, and
//!   the effects that follow a commit run; if that commit fails, the answer
//!   is the failure (the effect did not happen);
//! * anything else is the handler's own answer, and a parked effect rolls
//!   back with the claim.

use std::sync::Arc;

use poem::http::{Method, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

use super::headers::Contract;
use crate::api::idempotency as keys;
use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

pub struct Idempotency(pub Arc<Contract>);

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        IdempotencyEndpoint {
            inner: ep,
            contract: self.0.clone(),
        }
    }
}

pub struct IdempotencyEndpoint<E> {
    inner: E,
    contract: Arc<Contract>,
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body exceeds the limit of {limit} bytes"),
    )
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let applies = matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE)
            && req.headers().contains_key(keys::HEADER)
            && self.contract.is_idempotent(req.method().as_str(), req.uri().path());
        let state = req.data::<AppState>().cloned();
        let (true, Some(state)) = (applies, state) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let limit = state.max_body_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            // The body gate answers it, in its place among the statuses.
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let body = req
            .take_body()
            .into_bytes_limit(limit)
            .await
            .map_err(|_| too_large(limit))?;
        let fingerprint = keys::fingerprint(
            req.method().as_str(),
            req.uri().path(),
            req.uri().query().unwrap_or_default(),
            &body,
        );
        req.set_body(Body::from_bytes(body));
        let claim = keys::claim(fingerprint, state.clock.now());
        let result = crate::db::idempotency::scope(claim.clone(), self.inner.call(req)).await;
        if let Some(settled) = claim.settled() {
            return keys::answer(&state, &claim, settled);
        }
        let mut resp = result?.into_response();
        if !resp.status().is_success() || !claim.is_parked() {
            return Ok(resp);
        }
        let bytes = resp.take_body().into_bytes().await?;
        let stored = keys::to_store(
            &state,
            &claim,
            resp.status(),
            resp.headers().get(header::LOCATION),
            &bytes,
        );
        claim.store(stored).await.map_err(ApiError::from)?;
        claim.apply_deferred().await;
        resp.set_body(Body::from_bytes(bytes));
        Ok(resp)
    }
}
