//! Projects: the first tenant resource, and the model for the others
//! (DTOs with their limits, cursor pages, PATCH with explicit nulls).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::gate::json_body;
use super::security::Auth;
use super::types::{Body, Cursor, Int, Nullable, PageSize, Text, page, patch, rfc3339};
use super::{ApiTags, NoContent};
use crate::access::Scope;
use crate::app::AppState;
use crate::domain::projects::{self, NewProject, Project, ProjectChanges};
use crate::error::{ApiResult, statuses};

/// A project: a named container of tasks.
#[derive(Object, Debug, serde::Serialize)]
#[oai(rename = "Project")]
pub struct ProjectOut {
    /// The project's id.
    pub id: Uuid,
    /// The project's name, 1 to 200 characters.
    pub name: String,
    /// Free text up to 10,000 characters; `null` when not set.
    #[oai(nullable)]
    pub description: Nullable<String>,
    /// When the project was created (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the project was last changed (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<Project> for ProjectOut {
    fn from(p: Project) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description.into(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A new project.
#[derive(Object, Debug)]
#[oai(rename = "ProjectIn", deny_unknown_fields, example)]
pub struct ProjectIn {
    /// The project's name, 1 to 200 characters.
    pub name: Text<1, { projects::NAME_MAX }>,
    /// Free text up to 10,000 characters.
    #[oai(nullable)]
    pub description: Option<Text<0, { projects::DESCRIPTION_MAX }>>,
}

impl Example for ProjectIn {
    fn example() -> Self {
        Self {
            name: "Website relaunch".into(),
            description: Some("Everything for the new site.".into()),
        }
    }
}

/// Changes to a project; absent fields keep their value.
#[derive(Object, Debug)]
#[oai(rename = "ProjectPatch", deny_unknown_fields, example)]
pub struct ProjectPatch {
    /// A new name, 1 to 200 characters; may not be `null`.
    pub name: MaybeUndefined<Text<1, { projects::NAME_MAX }>>,
    /// A new description up to 10,000 characters; `null` clears it.
    #[oai(nullable)]
    pub description: MaybeUndefined<Text<0, { projects::DESCRIPTION_MAX }>>,
}

impl Example for ProjectPatch {
    fn example() -> Self {
        Self {
            name: MaybeUndefined::Value("Website relaunch 2027".into()),
            description: MaybeUndefined::Null,
        }
    }
}

page!(ProjectPage, ProjectOut, "A page of projects.", serialize);

#[derive(ApiResponse, Debug)]
pub enum ProjectCreated {
    /// The project was created.
    #[oai(status = 201)]
    Created(Body<ProjectOut>),
}

pub fn default_limit() -> PageSize {
    Int(Some(crate::domain::DEFAULT_PAGE_SIZE))
}

pub struct ProjectsApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Projects")]
impl ProjectsApi {
    /// List projects
    ///
    /// The tenant's projects, oldest first (by `created_at`, then `id`).
    /// Requires the `projects:read` scope.
    #[oai(path = "/projects", method = "get", operation_id = "list_projects")]
    async fn list_projects(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// Page size, 1 to 100.
        #[oai(default = "default_limit")]
        limit: Query<PageSize>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Body<ProjectPage>, { statuses::LIST }> {
        let params = projects::list_params(
            auth.0.tenant_id().0,
            &state.keys.cursor,
            limit.0.0,
            cursor.0.as_ref().map(|c| c.0.as_str()),
        )?;
        let db = state.tenant_db(&auth.0, Scope::ProjectsRead)?;
        let page = projects::list(&db, &state.keys.cursor, &params).await?;
        Ok(Body(ProjectPage::from_page(page)))
    }

    /// Create a project
    ///
    /// Requires the `projects:write` scope.
    #[oai(
        path = "/projects",
        method = "post",
        operation_id = "create_project",
        transform = "json_body"
    )]
    async fn create_project(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        body: Json<ProjectIn>,
    ) -> ApiResult<ProjectCreated, { statuses::WRITE }> {
        let input = NewProject {
            name: body.0.name.0,
            description: body.0.description.and_then(|d| d.0),
        }
        .validate()?;
        let db = state.tenant_db(&auth.0, Scope::ProjectsWrite)?;
        let project = projects::create(&db, state.clock.now(), input).await?;
        Ok(ProjectCreated::Created(Body(project.into())))
    }

    /// Get a project
    ///
    /// Requires the `projects:read` scope.
    #[oai(path = "/projects/:id", method = "get", operation_id = "get_project")]
    async fn get_project(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The project's id.
        id: Path<Uuid>,
    ) -> ApiResult<Body<ProjectOut>, { statuses::BY_ID }> {
        let db = state.tenant_db(&auth.0, Scope::ProjectsRead)?;
        Ok(Body(projects::get(&db, id.0).await?.into()))
    }

    /// Update a project
    ///
    /// Changes the fields sent; `description: null` clears the description.
    /// Requires the `projects:write` scope.
    #[oai(
        path = "/projects/:id",
        method = "patch",
        operation_id = "update_project",
        transform = "json_body"
    )]
    async fn update_project(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The project's id.
        id: Path<Uuid>,
        /// Only if the project is still at this version: its `ETag`. Another
        /// version is a `412` and nothing is written.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<ProjectPatch>,
    ) -> ApiResult<Body<ProjectOut>, { statuses::WRITE | statuses::NOT_FOUND | statuses::PRECONDITION }> {
        let changes = ProjectChanges {
            name: patch(body.0.name, |t| t.0),
            description: patch(body.0.description, |t| t.0),
        }
        .validate()?;
        let db = state.tenant_db(&auth.0, Scope::ProjectsWrite)?;
        Ok(Body(
            projects::update(
                &db,
                state.clock.now(),
                id.0,
                changes,
                &super::etag::precondition(if_match.0.as_deref(), id.0),
            )
            .await?
            .into(),
        ))
    }

    /// Delete a project
    ///
    /// Deletes the project and all of its tasks. Requires the `projects:write` scope.
    #[oai(path = "/projects/:id", method = "delete", operation_id = "delete_project")]
    async fn delete_project(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The project's id.
        id: Path<Uuid>,
        /// Only if the project is still at this version: its `ETag`. Another
        /// version is a `412` and nothing is deleted.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> ApiResult<NoContent, { statuses::BY_ID | statuses::PRECONDITION }> {
        let db = state.tenant_db(&auth.0, Scope::ProjectsWrite)?;
        projects::delete(&db, id.0, &super::etag::precondition(if_match.0.as_deref(), id.0)).await?;
        Ok(NoContent::NoContent)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    /// `Body` writes serde's form; the spec and the SDKs were made from
    /// `ToJSON`'s. They must be the same document.
    #[test]
    fn the_serde_form_is_the_to_json_form() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T17:23:01.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let project = |description: Option<&str>| ProjectOut {
            id: Uuid::nil(),
            name: "it's \"quoted\" \u{2028} ✓".into(),
            description: description.map(str::to_owned).into(),
            created_at: at,
            updated_at: at + chrono::Duration::seconds(1),
        };
        for p in [project(None), project(Some("")), project(Some("text"))] {
            assert_eq!(serde_json::to_value(&p).ok(), p.to_json());
        }
        for next_cursor in [None, Some("abc".to_owned())] {
            let page = ProjectPage {
                items: vec![project(None), project(Some("x"))],
                next_cursor: next_cursor.into(),
            };
            assert_eq!(serde_json::to_value(&page).ok(), page.to_json());
        }
    }
}
