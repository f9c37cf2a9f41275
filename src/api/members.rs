//! Members: the people of the caller's tenant and their roles.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::auth::RoleOut;
use super::gate::json_body;
use super::projects::default_limit;
use super::security::{Auth, PersonAuth};
use super::types::{Cursor, PageSize, Required, page};
use super::{ApiTags, NoContent};
use crate::access::{Role, Scope, UserId};
use crate::app::AppState;
use crate::domain::members::{self, Member};
use crate::error::{ApiResult, statuses};

/// A member of the tenant.
#[derive(Object, Debug)]
#[oai(rename = "Member")]
pub struct MemberOut {
    /// The person's id.
    pub user_id: Uuid,
    /// Their email address.
    pub email: String,
    /// Their display name.
    pub name: String,
    pub role: RoleOut,
    /// When they joined the tenant (RFC 3339, UTC).
    pub joined_at: DateTime<Utc>,
}

impl From<Member> for MemberOut {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user.id,
            email: m.user.email,
            name: m.user.name,
            role: m.role.into(),
            joined_at: m.joined_at,
        }
    }
}

page!(MemberPage, MemberOut, "A page of members.");

/// A role change.
#[derive(Object, Debug)]
#[oai(rename = "MemberPatch", deny_unknown_fields, example)]
pub struct MemberPatch {
    pub role: Required<RoleOut>,
}

impl Example for MemberPatch {
    fn example() -> Self {
        Self {
            role: RoleOut::Admin.into(),
        }
    }
}

impl From<RoleOut> for Role {
    fn from(r: RoleOut) -> Self {
        match r {
            RoleOut::Owner => Role::Owner,
            RoleOut::Admin => Role::Admin,
            RoleOut::Member => Role::Member,
            RoleOut::Viewer => Role::Viewer,
        }
    }
}

const CHANGE: u16 = statuses::BY_ID | statuses::CONFLICT;

pub struct MembersApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Members")]
impl MembersApi {
    /// List members
    ///
    /// The tenant's members with their roles, oldest membership first.
    /// Requires the `members:read` scope.
    #[oai(path = "/members", method = "get", operation_id = "list_members")]
    async fn list_members(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// Page size, 1 to 100.
        #[oai(default = "default_limit")]
        limit: Query<PageSize>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Json<MemberPage>, { statuses::LIST }> {
        let params = members::list_params(
            auth.0.tenant_id().0,
            &state.keys.cursor,
            limit.0.0,
            cursor.0.as_ref().map(|c| c.0.as_str()),
        )?;
        let db = state.tenant_db(&auth.0, Scope::MembersRead)?;
        let page = members::list(&db, &state.keys.cursor, &params).await?;
        Ok(Json(MemberPage::from_page(page)))
    }

    /// Change a member's role
    ///
    /// Nobody grants a role above their own or changes someone ranked above
    /// them (an API key acts as an admin); the last owner cannot be demoted
    /// (409). The member's access tokens are re-issued with the new role on
    /// their next refresh. Requires the `members:manage` scope.
    #[oai(
        path = "/members/:user_id",
        method = "patch",
        operation_id = "update_member",
        transform = "json_body"
    )]
    async fn update_member(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The member's user id.
        user_id: Path<Uuid>,
        body: Json<MemberPatch>,
    ) -> ApiResult<Json<MemberOut>, { statuses::WRITE | CHANGE }> {
        let role = body.0.role.require("role")?;
        let db = state.tenant_db(&auth.0, Scope::MembersManage)?;
        let changed = members::set_role(
            &db,
            members::Actor::of(&auth.0),
            UserId(user_id.0),
            role.into(),
            state.clock.now(),
        )
        .await?;
        Ok(Json(state.apply(changed).await.into()))
    }

    /// Remove a member
    ///
    /// Their sessions in this tenant end. Nobody removes someone ranked above
    /// them; the last owner cannot be removed (409). Requires the
    /// `members:manage` scope.
    #[oai(path = "/members/:user_id", method = "delete", operation_id = "delete_member")]
    async fn delete_member(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The member's user id.
        user_id: Path<Uuid>,
    ) -> ApiResult<NoContent, CHANGE> {
        let db = state.tenant_db(&auth.0, Scope::MembersManage)?;
        let removed = members::remove(&db, members::Actor::of(&auth.0), UserId(user_id.0), state.clock.now()).await?;
        state.apply(removed).await;
        Ok(NoContent::NoContent)
    }

    /// Leave the tenant
    ///
    /// The signed-in person leaves the tenant of their access token; their
    /// sessions in it end. The last owner cannot leave (409). Open to every
    /// signed-in person.
    #[oai(path = "/members/leave", method = "post", operation_id = "leave_tenant")]
    async fn leave_tenant(
        &self,
        auth: PersonAuth,
        state: Data<&AppState>,
    ) -> ApiResult<NoContent, { statuses::AUTHENTICATED | statuses::FORBIDDEN | statuses::CONFLICT }> {
        let person = auth.0.person()?;
        let db = state.db.scoped(&auth.0.authenticated());
        let left = members::leave(&db, person.user_id(), state.clock.now()).await?;
        state.apply(left).await;
        Ok(NoContent::NoContent)
    }
}
