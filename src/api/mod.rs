//! HTTP only: one module per resource, DTOs in and out, no SQL. Handlers turn
//! a credential into a tenant handle with `AppState::tenant_db` and call the
//! domain.

pub mod api_keys;
pub mod auth;
pub mod etag;
pub mod gate;
pub mod health;
pub mod idempotency;
pub mod members;
pub mod projects;
pub mod rate;
pub mod security;
pub mod tasks;
pub mod tenant;
pub mod types;

use poem_openapi::{ApiResponse, Tags};

use crate::domain;
use crate::error::{ApiError, ErrorCode, FieldError};

#[derive(Tags)]
pub enum ApiTags {
    /// Projects: the containers of tasks.
    Projects,
    /// Tasks within projects.
    Tasks,
    /// API keys: tenant-bound, scoped credentials for integrations.
    ApiKeys,
    /// The caller's tenant.
    Tenant,
    /// People: sign-up, sign-in, sessions and the signed-in person.
    Auth,
    /// The people of the caller's tenant and their roles.
    Members,
    /// Liveness and readiness probes.
    Health,
}

/// The operation succeeded and has nothing to return.
#[derive(ApiResponse, Debug)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        match err {
            domain::Error::NotFound(what) => ApiError::not_found(what),
            domain::Error::Invalid(violations) => ApiError::validation(
                violations
                    .into_iter()
                    .map(|v| FieldError::new(v.field, v.code, v.message))
                    .collect(),
            ),
            domain::Error::Conflict(detail) => ApiError::new(ErrorCode::Conflict, detail),
            domain::Error::PreconditionFailed(what) => ApiError::new(
                ErrorCode::PreconditionFailed,
                format!("the {what} changed since the version `If-Match` names; read it again"),
            ),
            domain::Error::Forbidden(detail) => ApiError::new(ErrorCode::Forbidden, detail),
            domain::Error::InvalidCursor(detail) => ApiError::new(ErrorCode::InvalidCursor, detail),
            domain::Error::Unauthenticated(detail) => ApiError::unauthenticated(detail),
            domain::Error::TooManyRequests { detail, retry_after } => {
                ApiError::new(ErrorCode::TooManyRequests, detail).with_retry_after(retry_after)
            }
            domain::Error::Unavailable { detail, retry_after } => {
                ApiError::new(ErrorCode::Unavailable, detail).with_retry_after(retry_after)
            }
            domain::Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ApiError::new(
                    ErrorCode::Internal,
                    "the server failed to handle the request; it has been logged",
                )
            }
            domain::Error::Db(err) => ApiError::from(err),
        }
    }
}
