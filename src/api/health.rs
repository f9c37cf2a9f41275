//! Probes: `/healthz` (the process answers) and `/readyz` (it can reach its
//! database), for load balancers and orchestrators.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode, statuses};

/// A probe's answer.
#[derive(Object, Debug)]
pub struct HealthStatus {
    /// `ok`.
    pub status: String,
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    ///
    /// 200 while the process serves requests; touches nothing else.
    #[oai(path = "/healthz", method = "get", operation_id = "get_health")]
    async fn get_health(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".to_owned(),
        })
    }

    /// Readiness
    ///
    /// 200 when the database answers; 503 otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "get_readiness")]
    async fn get_readiness(&self, state: Data<&AppState>) -> ApiResult<Json<HealthStatus>, { statuses::BASE }> {
        match state.db.ping().await {
            Ok(()) => Ok(Json(HealthStatus {
                status: "ok".to_owned(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                Err(ApiError::new(ErrorCode::Unavailable, "the database is not reachable").into())
            }
        }
    }
}
