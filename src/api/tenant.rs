//! The caller's own tenant: read it, rename it, delete it with everything
//! it owns.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::gate::json_body;
use super::security::Auth;
use super::types::{Nullable, Required, Text};
use super::{ApiTags, NoContent};
use crate::access::{Scope, UserId};
use crate::app::AppState;
use crate::domain::tenants::{self, Tenant};
use crate::error::{ApiResult, statuses};

/// Changes to the tenant.
#[derive(Object, Debug)]
#[oai(rename = "TenantPatch", deny_unknown_fields, example)]
pub struct TenantPatch {
    /// The tenant's display name, 1 to 200 characters.
    pub name: Text<1, { tenants::NAME_MAX }>,
}

impl Example for TenantPatch {
    fn example() -> Self {
        Self {
            name: "Acme Holdings".into(),
        }
    }
}

/// The member who becomes the owner.
#[derive(Object, Debug)]
#[oai(rename = "OwnershipTransferIn", deny_unknown_fields, example)]
pub struct OwnershipTransferIn {
    /// The user id of a member of the tenant.
    pub user_id: Required<Uuid>,
}

impl Example for OwnershipTransferIn {
    fn example() -> Self {
        Self {
            user_id: Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0001).into(),
        }
    }
}

const OWNER_ONLY: u16 = statuses::AUTHENTICATED | statuses::FORBIDDEN | statuses::NOT_FOUND;

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
    /// The tenant's plan, set by the operator: its request budgets are
    /// those the `RateLimit-Policy` header shows. `null` on the default one.
    #[oai(nullable)]
    pub plan: Nullable<String>,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            slug: t.slug,
            name: t.name,
            created_at: t.created_at,
            updated_at: t.updated_at,
            plan: t.plan.into(),
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

    /// Rename the tenant
    ///
    /// Requires the `tenant:manage` scope.
    #[oai(
        path = "/tenant",
        method = "patch",
        operation_id = "update_tenant",
        transform = "json_body"
    )]
    async fn update_tenant(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// Only if the tenant is still at this version: its `ETag`. Another
        /// version is a `412` and nothing is written.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<TenantPatch>,
    ) -> ApiResult<Json<TenantOut>, { statuses::WRITE | statuses::NOT_FOUND | statuses::PRECONDITION }> {
        let name = body.0.name.0;
        let mut v = crate::domain::Violations::default();
        v.required_text("name", name.as_deref(), 1, tenants::NAME_MAX);
        v.finish()?;
        let db = state.tenant_db(&auth.0, Scope::TenantManage)?;
        let pre = super::etag::precondition(if_match.0.as_deref(), db.tenant_id());
        Ok(Json(
            tenants::rename(&db, name.as_deref(), state.clock.now(), &pre)
                .await?
                .into(),
        ))
    }

    /// Delete the tenant
    ///
    /// Removes the tenant and everything it owns: projects, tasks, API keys,
    /// memberships; every session in it ends. Only the tenant's owner, signed
    /// in; never an API key.
    #[oai(path = "/tenant", method = "delete", operation_id = "delete_tenant")]
    async fn delete_tenant(&self, auth: Auth, state: Data<&AppState>) -> ApiResult<NoContent, OWNER_ONLY> {
        let db = state.db.scoped(&auth.0.require_owner()?);
        let deleted = tenants::delete(&db, state.clock.now()).await?;
        state.apply(deleted).await;
        tracing::warn!(tenant.id = %auth.0.tenant_id(), "tenant deleted");
        Ok(NoContent::NoContent)
    }

    /// Transfer ownership
    ///
    /// Makes another member the owner; the caller becomes an admin. Only the
    /// tenant's owner, signed in; never an API key.
    #[oai(
        path = "/tenant/transfer-ownership",
        method = "post",
        operation_id = "transfer_tenant_ownership",
        transform = "json_body"
    )]
    async fn transfer_tenant_ownership(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        body: Json<OwnershipTransferIn>,
    ) -> ApiResult<NoContent, { statuses::WRITE | OWNER_ONLY | statuses::CONFLICT }> {
        let to = body.0.user_id.require("user_id")?;
        let db = state.db.scoped(&auth.0.require_owner()?);
        let me = auth.0.person()?;
        let moved =
            crate::domain::members::transfer_ownership(&db, me.user_id(), UserId(to), state.clock.now()).await?;
        state.apply(moved).await;
        Ok(NoContent::NoContent)
    }
}
