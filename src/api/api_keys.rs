//! API keys: create (a subset of the caller's scopes), list, revoke,
//! and `/v1/api-keys/current` for the calling key itself.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{Example, MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::gate::json_body;
use super::projects::default_limit;
use super::security::{ApiKeyAuth, Auth};
use super::tenant::TenantOut;
use super::types::{Cursor, Int, Nullable, PageSize, Text, omittable, page};
use super::{ApiTags, NoContent};
use crate::access::{Actor, Scope, Scopes};
use crate::app::AppState;
use crate::domain::api_keys::{self, ApiKey, Creator, NewApiKey};
use crate::domain::{Violations, tenants};
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
    pub created_by: ApiKeyCreatorOut,
}

/// What made an API key: `user` (a person signed in to the tenant),
/// `api_key` (another key) or `operator` (the command line; also every key
/// made before keys recorded their maker).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "ApiKeyCreatorKind", rename_all = "snake_case")]
pub enum CreatorKind {
    User,
    ApiKey,
    Operator,
}

/// Who made an API key. A key made by a person keeps only what that person
/// keeps: it is revoked when they leave the tenant or are removed from it,
/// and when they are demoted below its scopes; a key made by a key follows
/// the person that key follows.
#[derive(Object, Debug)]
#[oai(rename = "ApiKeyCreator")]
pub struct ApiKeyCreatorOut {
    pub kind: CreatorKind,
    /// The person's user id or the key's id; `null` for the operator.
    #[oai(nullable)]
    pub id: Nullable<Uuid>,
}

impl From<Creator> for ApiKeyCreatorOut {
    fn from(c: Creator) -> Self {
        Self {
            kind: match c {
                Creator::User(_) => CreatorKind::User,
                Creator::ApiKey(_) => CreatorKind::ApiKey,
                Creator::Operator => CreatorKind::Operator,
            },
            id: c.id().into(),
        }
    }
}

/// The maker of a key created by `actor`.
fn creator(actor: Actor) -> Creator {
    match actor {
        Actor::User { id, .. } => Creator::User(id),
        Actor::ApiKey { id } => Creator::ApiKey(id),
        Actor::Operator => Creator::Operator,
    }
}

impl From<ApiKey> for ApiKeyOut {
    fn from(k: ApiKey) -> Self {
        Self {
            created_by: Creator::from_stored(&k.created_by_kind, k.created_by_id).into(),
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
    /// A label for people, 1 to 100 characters; default `API key`. May be
    /// omitted, not `null`.
    pub name: MaybeUndefined<Text<1, { api_keys::NAME_MAX }>>,
    /// The scopes to grant (at least one), a subset of the caller's;
    /// default: all of the caller's. May be omitted, not `null`.
    pub scopes: MaybeUndefined<ScopeList>,
    /// Days until the key expires, 1 to 730; default: never. May be omitted,
    /// not `null`.
    pub expires_in_days: MaybeUndefined<Int<1, { api_keys::MAX_EXPIRY_DAYS }>>,
}

impl Example for ApiKeyIn {
    fn example() -> Self {
        Self {
            name: MaybeUndefined::Value("CI pipeline".into()),
            scopes: MaybeUndefined::Value(ScopeList(vec![ApiScope::ProjectsRead, ApiScope::TasksRead])),
            expires_in_days: MaybeUndefined::Value(Int(Some(90))),
        }
    }
}

/// A list of scopes: at least one (`minItems: 1`; an empty list is a 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeList(pub Vec<ApiScope>);

impl Type for ScopeList {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = ApiScope;

    fn name() -> Cow<'static, str> {
        <Vec<ApiScope> as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        match <Vec<ApiScope> as Type>::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                min_items: Some(1),
                ..*schema
            })),
            other => other,
        }
    }

    fn register(registry: &mut Registry) {
        <Vec<ApiScope> as Type>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a ApiScope> + 'a> {
        Box::new(self.0.iter())
    }
}

impl ParseFromJSON for ScopeList {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        <Vec<ApiScope>>::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for ScopeList {
    fn to_json(&self) -> Option<serde_json::Value> {
        self.0.to_json()
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
        limit: Query<PageSize>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Json<ApiKeyPage>, { statuses::LIST }> {
        let params = api_keys::list_params(
            auth.0.tenant_id().0,
            &state.keys.cursor,
            limit.0.0,
            cursor.0.as_ref().map(|c| c.0.as_str()),
        )?;
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
        let mut v = Violations::default();
        let name = omittable(&mut v, "name", body.name).and_then(|n| n.0);
        let scopes = omittable(&mut v, "scopes", body.scopes).map(|list| list.0.into_iter().map(Scope::from).collect());
        let expires_in_days = omittable(&mut v, "expires_in_days", body.expires_in_days).and_then(|d| d.0);
        let input = NewApiKey {
            name,
            scopes,
            expires_in_days,
        }
        .validate_with(v)?;
        let db = state.tenant_db(&auth.0, Scope::ApiKeysManage)?;
        let created = api_keys::create(
            &db,
            &state.keys.api_key,
            state.clock.now(),
            creator(auth.0.actor()),
            auth.0.scopes(),
            input,
        )
        .await?;
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
    /// The key stops working on the next request. A credential can revoke
    /// only keys whose scopes it holds too (403 otherwise). Requires the
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
        let revoked = api_keys::revoke(&db, state.clock.now(), id.0, auth.0.scopes()).await?;
        state.apply(revoked).await;
        Ok(NoContent::NoContent)
    }
}
