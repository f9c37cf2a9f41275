//! The one error envelope (RFC 9457 `application/problem+json`) and the one
//! table of error codes. Internal details are logged once, here, and never
//! returned to the caller.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response body as defined by RFC 9457.
#[derive(Object, Debug, Clone, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A URI reference that identifies the problem type; stable across releases.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub type_: String,
    /// A short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human-readable explanation specific to this occurrence.
    pub detail: String,
    /// The machine-readable error code, the last segment of `type`.
    pub code: String,
    /// Every offending field, for validation errors.
    pub errors: Option<Vec<FieldError>>,
}

/// One offending field of a request.
#[derive(Object, Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct FieldError {
    /// The field's name as sent in the request (JSON pointer style for nested fields).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// A machine-readable reason: `required`, `too_short`, `too_long`, `out_of_range`, `invalid`, `not_null`.
    pub code: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            code: code.to_owned(),
        }
    }
}

/// The table of error codes. Each has one status, one title and one `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    RouteNotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    BadRequest,
    InvalidCursor,
    ValidationFailed,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    RateLimited,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PreconditionFailed,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::Unauthenticated,
        Self::BadRequest,
        Self::InvalidCursor,
        Self::ValidationFailed,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::TooManyRequests,
        Self::RateLimited,
        Self::IdempotencyKeyReused,
        Self::IdempotencyInProgress,
        Self::PreconditionFailed,
        Self::Internal,
        Self::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::BadRequest => "bad_request",
            Self::InvalidCursor => "invalid_cursor",
            Self::ValidationFailed => "validation_failed",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::TooManyRequests => "too_many_requests",
            Self::RateLimited => "rate_limited",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::PreconditionFailed => "precondition_failed",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::RouteNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::BadRequest | Self::InvalidCursor => StatusCode::BAD_REQUEST,
            Self::ValidationFailed | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Conflict | Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests | Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::RouteNotFound => "No such route",
            Self::MethodNotAllowed => "Method not allowed",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Request body too large",
            Self::Unauthenticated => "Authentication required",
            Self::BadRequest => "Malformed request",
            Self::InvalidCursor => "Invalid cursor",
            Self::ValidationFailed => "Validation failed",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::Conflict => "Conflict",
            Self::TooManyRequests => "Too many requests",
            Self::RateLimited => "Rate limit reached",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::IdempotencyInProgress => "Request with this idempotency key in progress",
            Self::PreconditionFailed => "Precondition failed",
            Self::Internal => "Internal server error",
            Self::Unavailable => "Service unavailable",
        }
    }

    pub fn type_uri(self) -> String {
        format!("urn:tenantry:problem:{}", self.as_str())
    }
}

/// An error that leaves the API as a problem+json response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds the caller should wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        Self {
            code: ErrorCode::ValidationFailed,
            detail,
            errors,
            retry_after: None,
        }
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }

    /// Logs `err` with its full chain and returns an opaque 500.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %err, error.debug = ?err, "internal error");
        Self::new(
            ErrorCode::Internal,
            "the server failed to handle the request; it has been logged",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: self.code.type_uri(),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            errors: if self.errors.is_empty() {
                None
            } else {
                Some(self.errors.clone())
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem().to_json_string();
        let mut resp = Response::builder()
            .status(self.code.status())
            .content_type(PROBLEM_JSON)
            .body(body);
        if self.code == ErrorCode::Unauthenticated {
            resp.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                poem::http::HeaderValue::from_static("ApiKey header=\"X-API-Key\", Bearer"),
            );
        }
        if let Some(seconds) = self.retry_after {
            resp.headers_mut()
                .insert(poem::http::header::RETRY_AFTER, poem::http::HeaderValue::from(seconds));
        }
        resp
    }
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        poem::Error::from_response(err.into_response())
    }
}

impl From<crate::access::Denied> for ApiError {
    fn from(denied: crate::access::Denied) -> Self {
        ApiError::forbidden(denied.0)
    }
}

impl From<crate::auth::Refused> for ApiError {
    fn from(refused: crate::auth::Refused) -> Self {
        match refused {
            crate::auth::Refused::Credential(detail) => ApiError::unauthenticated(detail),
            crate::auth::Refused::Db(err) => err.into(),
        }
    }
}

/// How long a request for a tenant whose storage is being migrated is told
/// to wait.
const STORAGE_RETRY_SECONDS: u64 = 5;

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match err {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::new(ErrorCode::Unavailable, "the database is not reachable; retry later")
                    .with_retry_after(UNREACHABLE_RETRY_SECONDS)
            }
            // This tenant only: its own storage is behind the code's tenant
            // set until `tenantry migrate` brings it up to date.
            err if crate::db::is_storage_behind(&err) => {
                tracing::warn!(error = %err, "tenant storage behind the code");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "this tenant's data is being migrated to the server's version; retry shortly",
                )
                .with_retry_after(STORAGE_RETRY_SECONDS)
            }
            // The request's idempotency key answered before it ran: the
            // answer is the key's (`server::idempotency`), never this.
            err if crate::db::idempotency::is_settled(&err) => ApiError::new(
                ErrorCode::IdempotencyInProgress,
                "the request's idempotency key was answered before it ran",
            ),
            // This tenant only, for the moment its data moves (about a
            // second): its writes are refused where it was, never lost.
            err if crate::db::is_moving(&err) => {
                tracing::info!("a write refused while its tenant moves");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "this tenant's data is being moved; retry in a moment",
                )
                .with_retry_after(MOVE_RETRY_SECONDS)
            }
            err => ApiError::internal(&err),
        }
    }
}

/// How long a request is told to wait when the database cannot be reached
/// or every connection is busy.
const UNREACHABLE_RETRY_SECONDS: u64 = 2;

/// How long a write refused during a tenant's move is told to wait.
const MOVE_RETRY_SECONDS: u64 = 1;

/// What a `429` means wherever it is documented.
pub const TOO_MANY_DESCRIPTION: &str = "A rate limit is reached (code `rate_limited`: the tenant's budget, or the client address's for the operations no credential opens), or too many sign-in attempts failed (`too_many_requests`); `Retry-After` says how many seconds to wait.";

/// Every error status an operation can document, with its description.
const DOCUMENTED: [(u16, &str); 12] = [
    (
        400,
        "The request cannot be parsed: malformed JSON, wrong JSON types, unknown fields, a bad id or cursor, or a credential header sent twice (or both credentials at once).",
    ),
    (
        401,
        "No credential, or a credential that is malformed, unknown, expired or revoked.",
    ),
    (403, "The credential lacks the scope or role this operation needs."),
    (404, "No such resource in the caller's tenant."),
    (409, "The request conflicts with the current state."),
    (413, "The request body is larger than the limit."),
    (415, "The request body is not `application/json`."),
    (
        422,
        "The request parsed but breaks the rules; `errors` lists every offending field.",
    ),
    (429, TOO_MANY_DESCRIPTION),
    (500, "The server failed; the cause is logged, never returned."),
    (
        503,
        "The database is unreachable, the server is saturated, the tenant's storage is being migrated, or the tenant's data is being moved (its writes, for about a second); `Retry-After` says how many seconds to wait.",
    ),
    (
        412,
        "`If-Match` names no current version of the resource: it changed since it was read (`precondition_failed`); nothing was written.",
    ),
];

/// Sets of documented error statuses, one bit per entry of `DOCUMENTED`.
pub mod statuses {
    pub const BAD_REQUEST: u16 = 1 << 0;
    pub const UNAUTHORIZED: u16 = 1 << 1;
    pub const FORBIDDEN: u16 = 1 << 2;
    pub const NOT_FOUND: u16 = 1 << 3;
    pub const CONFLICT: u16 = 1 << 4;
    pub const TOO_LARGE: u16 = 1 << 5;
    pub const MEDIA_TYPE: u16 = 1 << 6;
    pub const UNPROCESSABLE: u16 = 1 << 7;
    pub const TOO_MANY: u16 = 1 << 8;
    pub const INTERNAL: u16 = 1 << 9;
    pub const UNAVAILABLE: u16 = 1 << 10;
    pub const PRECONDITION: u16 = 1 << 11;

    /// What any database-backed operation can answer.
    pub const BASE: u16 = INTERNAL | UNAVAILABLE;
    /// An authenticated operation open to every credential (400: a
    /// credential header sent twice, or both credentials at once).
    pub const AUTHENTICATED: u16 = BASE | UNAUTHORIZED | BAD_REQUEST;
    /// A list: bad cursor or parameter, bad limit, missing scope.
    pub const LIST: u16 = AUTHENTICATED | BAD_REQUEST | UNPROCESSABLE | FORBIDDEN;
    /// Reading or deleting one resource by id.
    pub const BY_ID: u16 = AUTHENTICATED | BAD_REQUEST | FORBIDDEN | NOT_FOUND;
    /// An operation with a JSON body.
    pub const WRITE: u16 = AUTHENTICATED | BAD_REQUEST | FORBIDDEN | TOO_LARGE | MEDIA_TYPE | UNPROCESSABLE;
}

/// The error side of an operation's result: an [`ApiError`] whose spec
/// documents exactly the statuses in `D` (see [`statuses`]).
#[derive(Debug)]
pub struct Failure<const D: u16>(pub ApiError);

impl<const D: u16> ApiResponse for Failure<D> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .enumerate()
                .filter(|(i, _)| D & (1 << i) != 0)
                .map(|(_, (status, description))| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: MetaSchemaRef::Reference(Problem::name().into_owned()),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl<const D: u16> From<Failure<D>> for poem::Error {
    fn from(f: Failure<D>) -> Self {
        f.0.into()
    }
}

impl<const D: u16> From<ApiError> for Failure<D> {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl<const D: u16> From<sea_orm::DbErr> for Failure<D> {
    fn from(e: sea_orm::DbErr) -> Self {
        Self(e.into())
    }
}

impl<const D: u16> From<crate::access::Denied> for Failure<D> {
    fn from(e: crate::access::Denied) -> Self {
        Self(e.into())
    }
}

impl<const D: u16> From<crate::domain::Error> for Failure<D> {
    fn from(e: crate::domain::Error) -> Self {
        Self(e.into())
    }
}

/// The result of an operation that documents the error statuses `D`.
pub type ApiResult<T, const D: u16> = Result<T, Failure<D>>;

/// Maps every error that did not come from a handler (routing, parsing,
/// authentication, content type) to problem+json with the status the API's
/// status-code rule gives it.
pub async fn to_problem(err: poem::Error) -> Response {
    use poem::error::{MethodNotAllowedError, NotFoundError};
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
    };

    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<NotFoundError>() {
        ApiError::new(ErrorCode::RouteNotFound, "no route matches this path")
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::new(ErrorCode::MethodNotAllowed, "this path does not accept this method")
    } else if err.is::<AuthorizationError>() {
        ApiError::unauthenticated("an API key is required in the X-API-Key header")
    } else if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        match e {
            ContentTypeError::ExpectContentType => ApiError::bad_request("a JSON request body is required"),
            ContentTypeError::NotSupported { content_type } => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("expected `application/json`, got `{content_type}`"),
            ),
        }
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::bad_request(format!("the request body cannot be parsed: {}", e.reason))
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        let detail = if e.name.starts_with("param") {
            format!("a path parameter is invalid: {}", e.reason)
        } else {
            format!("the query parameter `{}` is invalid: {}", e.name, e.reason)
        };
        ApiError::bad_request(detail)
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        ApiError::bad_request(format!("a path parameter is invalid: {}", e.reason))
    } else {
        let status = err.status();
        match status.as_u16() {
            413 => ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
            400..=499 => ApiError::bad_request(err.to_string()),
            _ => {
                tracing::error!(error = %err, %status, "unhandled error");
                ApiError::new(
                    ErrorCode::Internal,
                    "the server failed to handle the request; it has been logged",
                )
            }
        }
    };
    api_error.into_response()
}

/// The response for a panic in a handler.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "the server failed to handle the request; it has been logged",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use poem::middleware::CatchPanic;
    use poem::test::TestClient;
    use poem::{EndpointExt, Route, handler};

    use super::*;

    #[handler]
    fn boom() -> &'static str {
        panic!("a handler bug")
    }

    #[tokio::test]
    async fn a_panic_is_a_problem_json_500() {
        let app = Route::new()
            .at("/boom", boom)
            .catch_all_error(to_problem)
            .with(CatchPanic::new().with_handler(panic_response));
        let resp = TestClient::new(app).get("/boom").send().await;
        resp.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
        resp.assert_content_type(PROBLEM_JSON);
        let body = resp.json().await;
        body.value().object().get("code").assert_string("internal");
    }

    #[test]
    fn an_unreachable_database_is_a_503_that_says_when_to_retry() {
        for err in [
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal("refused".into())),
            sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout),
        ] {
            let api = ApiError::from(err);
            assert_eq!(api.code, ErrorCode::Unavailable);
            assert_eq!(api.retry_after, Some(UNREACHABLE_RETRY_SECONDS));
        }
    }

    #[test]
    fn every_code_has_its_own_type_and_a_documented_status() {
        let mut types = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(types.insert(code.type_uri()));
            let status = code.status().as_u16();
            assert!(
                DOCUMENTED.iter().any(|(s, _)| *s == status) || matches!(status, 405 | 404),
                "{code:?}"
            );
        }
    }
}
