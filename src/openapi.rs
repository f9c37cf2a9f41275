//! The OpenAPI service over every API, and the spec it emits.

use poem_openapi::{LicenseObject, OpenApiService, ServerObject};

use crate::api::{
    api_keys::ApiKeysApi, auth::AuthApi, health::HealthApi, members::MembersApi, projects::ProjectsApi,
    tasks::TasksApi, tenant::TenantApi,
};

pub type Apis = (
    ProjectsApi,
    TasksApi,
    ApiKeysApi,
    MembersApi,
    TenantApi,
    AuthApi,
    HealthApi,
);

/// The API version; `info.version` in the spec.
pub const API_VERSION: &str = "1.1.0";

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            ProjectsApi,
            TasksApi,
            ApiKeysApi,
            MembersApi,
            TenantApi,
            AuthApi,
            HealthApi,
        ),
        "Tenantry API",
        API_VERSION,
    )
    .description(
        "A multi-tenant JSON API. Every `/v1` resource belongs to the tenant of the \
             credential that calls it (an `X-API-Key` or a person's bearer access token from \
             `/v1/auth/login`); another tenant's resources answer 404. Errors are \
             `application/problem+json` (RFC 9457). Lists are cursor-paginated: \
             `?limit=&cursor=` returns `{items, next_cursor}`.",
    )
    .license(LicenseObject::new("Apache-2.0").url("https://www.apache.org/licenses/LICENSE-2.0"))
    .server(ServerObject::new("/").description("The server that serves this document"))
}

/// The spec as pretty JSON with a trailing newline, as committed in `openapi/`.
pub fn spec_json() -> String {
    let mut spec = service().spec();
    spec.push('\n');
    spec
}
