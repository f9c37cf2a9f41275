//! Tasks: the resources under a project of the same tenant.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::gate::json_body;
use super::projects::default_limit;
use super::security::Auth;
use super::types::{Body, Cursor, Date, Int, Nullable, PageSize, Text, omittable, page, patch, rfc3339, via_to_json};
use super::{ApiTags, NoContent};
use crate::access::Scope;
use crate::app::AppState;
use crate::domain::Violations;
use crate::domain::tasks::{self, Direction, NewTask, SortBy, Status, Task, TaskChanges, TaskFilter};
use crate::error::{ApiError, ApiResult, statuses};

/// Where a task stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}

impl From<TaskStatus> for Status {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Todo => Status::Todo,
            TaskStatus::InProgress => Status::InProgress,
            TaskStatus::Done => Status::Done,
        }
    }
}

impl From<Status> for TaskStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Todo => TaskStatus::Todo,
            Status::InProgress => TaskStatus::InProgress,
            Status::Done => TaskStatus::Done,
        }
    }
}

/// The order of a task list.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TaskSort {
    CreatedAt,
    DueDate,
}

/// Ascending or descending.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A task within a project.
#[derive(Object, Debug, serde::Serialize)]
#[oai(rename = "Task")]
pub struct TaskOut {
    /// The task's id.
    pub id: Uuid,
    /// The project the task belongs to.
    pub project_id: Uuid,
    /// The task's title, 1 to 200 characters.
    pub title: String,
    /// Free text up to 10,000 characters; `null` when not set.
    #[oai(nullable)]
    pub description: Nullable<String>,
    #[serde(serialize_with = "via_to_json")]
    pub status: TaskStatus,
    /// 0 (none) to 4 (urgent).
    pub priority: i64,
    /// The day the task is due; `null` when it has no due date.
    #[oai(nullable)]
    #[serde(serialize_with = "via_to_json")]
    pub due_date: Nullable<Date>,
    /// When the task was created (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the task was last changed (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskOut {
    fn from(t: Task) -> Self {
        Self {
            id: t.id,
            project_id: t.project_id,
            title: t.title,
            description: t.description.into(),
            status: Status::parse(&t.status).unwrap_or(Status::Todo).into(),
            priority: i64::from(t.priority),
            due_date: t.due_date.map(Date).into(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A new task.
#[derive(Object, Debug)]
#[oai(rename = "TaskIn", deny_unknown_fields, example)]
pub struct TaskIn {
    /// The task's title, 1 to 200 characters.
    pub title: Text<1, { tasks::TITLE_MAX }>,
    /// Free text up to 10,000 characters.
    #[oai(nullable)]
    pub description: Option<Text<0, { tasks::DESCRIPTION_MAX }>>,
    pub status: MaybeUndefined<TaskStatus>,
    /// 0 (none, the default) to 4 (urgent). May be omitted, not `null`.
    pub priority: MaybeUndefined<Int<{ tasks::PRIORITY_MIN }, { tasks::PRIORITY_MAX }>>,
    /// The day the task is due.
    #[oai(nullable)]
    pub due_date: Option<Date>,
}

impl Example for TaskIn {
    fn example() -> Self {
        Self {
            title: "Draft the landing page".into(),
            description: Some("Hero, pricing, sign-up.".into()),
            status: MaybeUndefined::Value(TaskStatus::Todo),
            priority: MaybeUndefined::Value(Int(Some(2))),
            due_date: NaiveDate::from_ymd_opt(2027, 3, 1).map(Date),
        }
    }
}

/// Changes to a task; absent fields keep their value.
#[derive(Object, Debug)]
#[oai(rename = "TaskPatch", deny_unknown_fields, example)]
pub struct TaskPatch {
    /// A new title, 1 to 200 characters; may not be `null`.
    pub title: MaybeUndefined<Text<1, { tasks::TITLE_MAX }>>,
    /// A new description up to 10,000 characters; `null` clears it.
    #[oai(nullable)]
    pub description: MaybeUndefined<Text<0, { tasks::DESCRIPTION_MAX }>>,
    pub status: MaybeUndefined<TaskStatus>,
    /// 0 (none) to 4 (urgent); may not be `null`.
    pub priority: MaybeUndefined<Int<{ tasks::PRIORITY_MIN }, { tasks::PRIORITY_MAX }>>,
    /// A new due date; `null` clears it.
    #[oai(nullable)]
    pub due_date: MaybeUndefined<Date>,
}

impl Example for TaskPatch {
    fn example() -> Self {
        Self {
            title: MaybeUndefined::Undefined,
            description: MaybeUndefined::Undefined,
            status: MaybeUndefined::Value(TaskStatus::Done),
            priority: MaybeUndefined::Value(Int(Some(3))),
            due_date: MaybeUndefined::Null,
        }
    }
}

page!(TaskPage, TaskOut, "A page of tasks.", serialize);

#[derive(ApiResponse, Debug)]
pub enum TaskCreated {
    /// The task was created.
    #[oai(status = 201)]
    Created(Body<TaskOut>),
}

fn task_changes(body: TaskPatch) -> TaskChanges {
    TaskChanges {
        title: patch(body.title, |t| t.0),
        description: patch(body.description, |t| t.0),
        status: patch(body.status, |s| Some(s.into())),
        priority: patch(body.priority, |p| p.0),
        due_date: patch(body.due_date, |d| Some(d.0)),
    }
}

fn task_filter(
    project_id: Option<Uuid>,
    status: Option<TaskStatus>,
    due_before: Option<Date>,
    sort: Option<TaskSort>,
    direction: Option<SortDirection>,
) -> TaskFilter {
    TaskFilter {
        project_id,
        status: status.map(Into::into),
        due_before: due_before.map(|d| d.0),
        sort: match sort {
            Some(TaskSort::DueDate) => SortBy::DueDate,
            Some(TaskSort::CreatedAt) | None => SortBy::CreatedAt,
        },
        direction: match direction {
            Some(SortDirection::Desc) => Direction::Desc,
            Some(SortDirection::Asc) | None => Direction::Asc,
        },
    }
}

/// Both task lists: cursor (400), then limit (422), then scope (403).
async fn list(
    state: &AppState,
    auth: &Auth,
    filter: TaskFilter,
    limit: PageSize,
    cursor: Option<String>,
    project_must_exist: bool,
) -> Result<Body<TaskPage>, ApiError> {
    let params = tasks::list_params(
        auth.0.tenant_id().0,
        &state.keys.cursor,
        &filter,
        limit.0,
        cursor.as_deref(),
    )?;
    let db = state.tenant_db(&auth.0, Scope::TasksRead)?;
    let page = tasks::list(&db, &state.keys.cursor, &filter, &params, project_must_exist).await?;
    Ok(Body(TaskPage::from_page(page)))
}

pub struct TasksApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List tasks
    ///
    /// The tenant's tasks across projects, filtered and sorted. With
    /// `sort=due_date`, tasks without a due date come last in either
    /// direction. Ties are broken by `id`. Requires the `tasks:read` scope.
    #[expect(clippy::too_many_arguments, reason = "one argument per query parameter")]
    #[oai(path = "/tasks", method = "get", operation_id = "list_tasks")]
    async fn list_tasks(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// Only tasks of this project.
        project_id: Query<Option<Uuid>>,
        /// Only tasks with this status.
        status: Query<Option<TaskStatus>>,
        /// Only tasks due before this day (tasks without a due date are excluded).
        due_before: Query<Option<Date>>,
        /// Sort key; default `created_at`.
        sort: Query<Option<TaskSort>>,
        /// Sort direction; default `asc`.
        direction: Query<Option<SortDirection>>,
        /// Page size, 1 to 100.
        #[oai(default = "default_limit")]
        limit: Query<PageSize>,
        /// The `next_cursor` of the previous page, with the same filters and sort.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Body<TaskPage>, { statuses::LIST }> {
        let filter = task_filter(project_id.0, status.0, due_before.0, sort.0, direction.0);
        Ok(list(&state, &auth, filter, limit.0, cursor.0.map(|c| c.0), false).await?)
    }

    /// List a project's tasks
    ///
    /// Like `list_tasks`, within one project; 404 when the project does not
    /// exist. Requires the `tasks:read` scope.
    #[expect(clippy::too_many_arguments, reason = "one argument per query parameter")]
    #[oai(
        path = "/projects/:project_id/tasks",
        method = "get",
        operation_id = "list_project_tasks"
    )]
    async fn list_project_tasks(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The project's id.
        project_id: Path<Uuid>,
        /// Only tasks with this status.
        status: Query<Option<TaskStatus>>,
        /// Only tasks due before this day (tasks without a due date are excluded).
        due_before: Query<Option<Date>>,
        /// Sort key; default `created_at`.
        sort: Query<Option<TaskSort>>,
        /// Sort direction; default `asc`.
        direction: Query<Option<SortDirection>>,
        /// Page size, 1 to 100.
        #[oai(default = "default_limit")]
        limit: Query<PageSize>,
        /// The `next_cursor` of the previous page, with the same filters and sort.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Body<TaskPage>, { statuses::LIST | statuses::NOT_FOUND }> {
        let filter = task_filter(Some(project_id.0), status.0, due_before.0, sort.0, direction.0);
        Ok(list(&state, &auth, filter, limit.0, cursor.0.map(|c| c.0), true).await?)
    }

    /// Create a task
    ///
    /// Creates a task in the project. Requires the `tasks:write` scope.
    #[oai(
        path = "/projects/:project_id/tasks",
        method = "post",
        operation_id = "create_task",
        transform = "json_body"
    )]
    async fn create_task(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The project's id.
        project_id: Path<Uuid>,
        body: Json<TaskIn>,
    ) -> ApiResult<TaskCreated, { statuses::WRITE | statuses::NOT_FOUND }> {
        let body = body.0;
        let mut v = Violations::default();
        let status = omittable(&mut v, "status", body.status).map(Into::into);
        let priority = omittable(&mut v, "priority", body.priority).and_then(|p| p.0);
        let input = NewTask {
            title: body.title.0,
            description: body.description.and_then(|d| d.0),
            status,
            priority,
            due_date: body.due_date.map(|d| d.0),
        }
        .validate_with(v)?;
        let db = state.tenant_db(&auth.0, Scope::TasksWrite)?;
        let task = tasks::create(&db, state.clock.now(), project_id.0, input).await?;
        Ok(TaskCreated::Created(Body(task.into())))
    }

    /// Get a task
    ///
    /// Requires the `tasks:read` scope.
    #[oai(path = "/tasks/:id", method = "get", operation_id = "get_task")]
    async fn get_task(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The task's id.
        id: Path<Uuid>,
    ) -> ApiResult<Body<TaskOut>, { statuses::BY_ID }> {
        let db = state.tenant_db(&auth.0, Scope::TasksRead)?;
        Ok(Body(tasks::get(&db, id.0).await?.into()))
    }

    /// Update a task
    ///
    /// Changes the fields sent; `description: null` and `due_date: null`
    /// clear them. Requires the `tasks:write` scope.
    #[oai(
        path = "/tasks/:id",
        method = "patch",
        operation_id = "update_task",
        transform = "json_body"
    )]
    async fn update_task(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The task's id.
        id: Path<Uuid>,
        /// Only if the task is still at this version: its `ETag`. Another
        /// version is a `412` and nothing is written.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<TaskPatch>,
    ) -> ApiResult<Body<TaskOut>, { statuses::WRITE | statuses::NOT_FOUND | statuses::PRECONDITION }> {
        let changes = task_changes(body.0).validate()?;
        let db = state.tenant_db(&auth.0, Scope::TasksWrite)?;
        let pre = super::etag::precondition(if_match.0.as_deref(), id.0);
        Ok(Body(
            tasks::update(&db, state.clock.now(), id.0, changes, &pre).await?.into(),
        ))
    }

    /// Delete a task
    ///
    /// Requires the `tasks:write` scope.
    #[oai(path = "/tasks/:id", method = "delete", operation_id = "delete_task")]
    async fn delete_task(
        &self,
        auth: Auth,
        state: Data<&AppState>,
        /// The task's id.
        id: Path<Uuid>,
        /// Only if the task is still at this version: its `ETag`. Another
        /// version is a `412` and nothing is deleted.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> ApiResult<NoContent, { statuses::BY_ID | statuses::PRECONDITION }> {
        let db = state.tenant_db(&auth.0, Scope::TasksWrite)?;
        tasks::delete(&db, id.0, &super::etag::precondition(if_match.0.as_deref(), id.0)).await?;
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
        let at = DateTime::parse_from_rfc3339("2026-11-26T17:23:01Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let task = |due: Option<NaiveDate>, status: TaskStatus| TaskOut {
            id: Uuid::nil(),
            project_id: Uuid::max(),
            title: "a \\ title".into(),
            description: None.into(),
            status,
            priority: 3,
            due_date: due.map(Date).into(),
            created_at: at,
            updated_at: at,
        };
        let page = TaskPage {
            items: vec![
                task(None, TaskStatus::Todo),
                task(NaiveDate::from_ymd_opt(2027, 3, 1), TaskStatus::InProgress),
                task(None, TaskStatus::Done),
            ],
            next_cursor: Some("c".to_owned()).into(),
        };
        for item in &page.items {
            assert_eq!(serde_json::to_value(item).ok(), item.to_json());
        }
        assert_eq!(serde_json::to_value(&page).ok(), page.to_json());
    }
}
