use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use crate::app::AppState;
use crate::auth::Auth;
use crate::domain::tenants::{self, Tenant};
use crate::error::{ApiResult, statuses};

/// A tenant: the organisation every resource belongs to.
#[derive(Object, Debug)]
#[oai(rename = "Tenant")]
pub struct TenantOut {
    /// The tenant's id.
    pub id: Uuid,
    /// A unique, lowercase handle: letters, digits and hyphens, 3 to 63 characters.
    pub slug: String,
    /// The tenant's display name.
    pub name: String,
    /// When the tenant was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the tenant was last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            slug: t.slug,
            name: t.name,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

pub struct TenantApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Tenant")]
impl TenantApi {
    /// Get the caller's tenant
    ///
    /// The tenant the credential belongs to. Open to every credential.
    #[oai(path = "/tenant", method = "get", operation_id = "get_tenant")]
    async fn get_tenant(
        &self,
        auth: Auth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<TenantOut>, { statuses::AUTHENTICATED }> {
        let db = state.db.scoped(&auth.0.authenticated());
        Ok(Json(tenants::current(&db).await?.into()))
    }
}
