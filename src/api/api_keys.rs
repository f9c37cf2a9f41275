use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::gate::json_body;
use super::projects::default_limit;
use super::tenant::TenantOut;
use super::types::{Int, Nullable, Text, page};
use super::{ApiTags, NoContent};
use crate::app::AppState;
use crate::auth::{Actor, ApiKeyAuth, Auth, Scope, Scopes};
use crate::domain::api_keys::{self, ApiKey, NewApiKey};
use crate::domain::tenants;
use crate::error::{ApiError, ApiResult, statuses};

/// A permission an API key can hold.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiScope {
    #[oai(rename = "projects:read")]
    ProjectsRead,
    #[oai(rename = "projects:write")]
    ProjectsWrite,
    #[oai(rename = "tasks:read")]
    TasksRead,
    #[oai(rename = "tasks:write")]
    TasksWrite,
    #[oai(rename = "api_keys:manage")]
    ApiKeysManage,
    #[oai(rename = "members:read")]
    MembersRead,
    #[oai(rename = "members:manage")]
    MembersManage,
    #[oai(rename = "tenant:manage")]
    TenantManage,
}

impl From<ApiScope> for Scope {
    fn from(s: ApiScope) -> Self {
        match s {
            ApiScope::ProjectsRead => Scope::ProjectsRead,
            ApiScope::ProjectsWrite => Scope::ProjectsWrite,
            ApiScope::TasksRead => Scope::TasksRead,
            ApiScope::TasksWrite => Scope::TasksWrite,
            ApiScope::ApiKeysManage => Scope::ApiKeysManage,
            ApiScope::MembersRead => Scope::MembersRead,
            ApiScope::MembersManage => Scope::MembersManage,
            ApiScope::TenantManage => Scope::TenantManage,
        }
    }
}

impl From<Scope> for ApiScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::ProjectsRead => ApiScope::ProjectsRead,
            Scope::ProjectsWrite => ApiScope::ProjectsWrite,
            Scope::TasksRead => ApiScope::TasksRead,
            Scope::TasksWrite => ApiScope::TasksWrite,
            Scope::ApiKeysManage => ApiScope::ApiKeysManage,
            Scope::MembersRead => ApiScope::MembersRead,
            Scope::MembersManage => ApiScope::MembersManage,
            Scope::TenantManage => ApiScope::TenantManage,
        }
    }
}

fn scope_list(stored: &str) -> Vec<ApiScope> {
    Scopes::from_stored(stored).iter().map(ApiScope::from).collect()
}

/// An API key (its secret is shown only when it is created).
#[derive(Object, Debug)]
#[oai(rename = "ApiKey")]
pub struct ApiKeyOut {
    /// The key's id.
    pub id: Uuid,
    /// A label for people, 1 to 100 characters.
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
    /// When the key was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the key stops working; `null` when it does not expire.
    #[oai(nullable)]
    pub expires_at: Nullable<DateTime<Utc>>,
    /// When the key was last used, to within a minute; `null` when never.
    #[oai(nullable)]
    pub last_used_at: Nullable<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyOut {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            scopes: scope_list(&k.scopes),
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            expires_at: k.expires_at.into(),
            last_used_at: k.last_used_at.into(),
        }
    }
}

/// A newly created API key, with its secret.
#[derive(Object, Debug)]
#[oai(rename = "CreatedApiKey")]
pub struct CreatedApiKeyOut {
    /// The secret to send in `X-API-Key`. Shown only in this response: store it now.
    pub key: String,
    #[oai(flatten)]
    pub api_key: ApiKeyOut,
}

/// A new API key.
#[derive(Object, Debug)]
#[oai(rename = "ApiKeyIn", deny_unknown_fields, example)]
pub struct ApiKeyIn {
    /// A label for people, 1 to 100 characters; default `API key`.
    pub name: Option<Text<1, 100>>,
    /// The scopes to grant, a subset of the caller's; default: all of the caller's.
    pub scopes: Option<Vec<ApiScope>>,
    /// Days until the key expires, 1 to 730; default: never.
    pub expires_in_days: Option<Int<1, 730>>,
}

impl Example for ApiKeyIn {
    fn example() -> Self {
        Self {
            name: Some("CI pipeline".into()),
            scopes: Some(vec![ApiScope::ProjectsRead, ApiScope::TasksRead]),
            expires_in_days: Some(Int(Some(90))),
        }
    }
}

/// The calling key and its tenant.
#[derive(Object, Debug)]
#[oai(rename = "ApiKeyIntrospection")]
pub struct IntrospectionOut {
    pub api_key: ApiKeyOut,
    pub tenant: TenantOut,
}

page!(ApiKeyPage, ApiKeyOut, "A page of API keys.");

#[derive(ApiResponse, Debug)]
pub enum ApiKeyCreated {
    /// The key was created; `key` holds its secret.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyOut>),
}

pub struct ApiKeysApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// List API keys
    ///
    /// The tenant's keys that have not been revoked, oldest first. Requires
    /// the `api_keys:manage` scope.
    #[oai(path = "/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list_api_keys(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// Page size, 1 to 100.
        #[oai(default = "default_limit")]
        limit: Query<Int<1, 100>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ApiKeyPage>, { statuses::LIST }> {
        let params = api_keys::list_params(auth.0.tenant_id(), &state.keys.cursor, limit.0.0, cursor.0.as_deref())?;
        let db = state.tenant_db(&auth.0, Scope::ApiKeysManage)?;
        let page = api_keys::list(&db, &state.keys.cursor, &params).await?;
        Ok(Json(ApiKeyPage::from_page(page)))
    }

    /// Create an API key
    ///
    /// The new key holds at most the caller's scopes. Its secret is in the
    /// response and never shown again. Requires the `api_keys:manage` scope.
    #[oai(
        path = "/api-keys",
        method = "post",
        operation_id = "create_api_key",
        transform = "json_body"
    )]
    async fn create_api_key(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        body: Json<ApiKeyIn>,
    ) -> ApiResult<ApiKeyCreated, { statuses::WRITE }> {
        let body = body.0;
        let input = NewApiKey {
            name: body.name.and_then(|n| n.0),
            scopes: body.scopes.map(|list| list.into_iter().map(Scope::from).collect()),
            expires_in_days: body.expires_in_days.and_then(|d| d.0),
        }
        .validate()?;
        let db = state.tenant_db(&auth.0, Scope::ApiKeysManage)?;
        let created = api_keys::create(&db, &state.keys.api_key, state.clock.now(), auth.0.scopes(), input).await?;
        Ok(ApiKeyCreated::Created(Json(CreatedApiKeyOut {
            key: created.secret,
            api_key: created.key.into(),
        })))
    }

    /// Introspect the calling key
    ///
    /// The key in `X-API-Key` and its tenant: scopes, expiry. Open to every key.
    #[oai(path = "/api-keys/current", method = "get", operation_id = "get_current_api_key")]
    async fn get_current_api_key(
        &self,
        auth: ApiKeyAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<IntrospectionOut>, { statuses::AUTHENTICATED }> {
        let Actor::ApiKey { id } = auth.0.actor() else {
            return Err(ApiError::not_found("API key").into());
        };
        let db = state.db.scoped(&auth.0.authenticated());
        let key = api_keys::get(&db, id).await?;
        let tenant = tenants::current(&db).await?;
        Ok(Json(IntrospectionOut {
            api_key: key.into(),
            tenant: tenant.into(),
        }))
    }

    /// Revoke an API key
    ///
    /// The key stops working on the next request. Requires the
    /// `api_keys:manage` scope.
    #[oai(path = "/api-keys/:id", method = "delete", operation_id = "delete_api_key")]
    async fn delete_api_key(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The key's id.
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { statuses::BY_ID }> {
        let db = state.tenant_db(&auth.0, Scope::ApiKeysManage)?;
        api_keys::revoke(&db, state.clock.now(), id.0).await?;
        state.key_revoked(id.0).await;
        Ok(NoContent::NoContent)
    }
}
