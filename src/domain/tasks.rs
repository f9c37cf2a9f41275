//! Tasks belong to a project of the same tenant (a composite foreign key).

use chrono::{DateTime, NaiveDate, Utc};
use entity::{project, task};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::cursor::{MALFORMED, Position};
use super::{Error, ListParams, Page, Patch, Result, Valid, Violations, after_created, format_time};
use crate::db::TenantDb;
use crate::secret::DerivedKey;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const PRIORITY_MIN: i64 = 0;
pub const PRIORITY_MAX: i64 = 4;
pub const DEFAULT_PRIORITY: i16 = 0;

pub type Task = task::Model;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Todo,
    InProgress,
    Done,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Todo => "todo",
            Self::InProgress => "in_progress",
            Self::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Todo, Self::InProgress, Self::Done]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Default)]
pub struct NewTask {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<i64>,
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Patch<String>,
    pub description: Patch<String>,
    pub status: Patch<Status>,
    pub priority: Patch<i64>,
    pub due_date: Patch<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    CreatedAt,
    DueDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// Filters and sort of a task list.
#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub project_id: Option<Uuid>,
    pub status: Option<Status>,
    pub due_before: Option<NaiveDate>,
    pub sort: SortBy,
    pub direction: Direction,
}

impl NewTask {
    pub fn validate(self) -> Result<Valid<NewTask>> {
        self.validate_with(Violations::default())
    }

    /// Validates, reporting `v`'s violations (from parsing the request)
    /// with this input's own.
    pub fn validate_with(self, mut v: Violations) -> Result<Valid<NewTask>> {
        v.required_text("title", self.title.as_deref(), 1, TITLE_MAX);
        if let Some(d) = &self.description {
            v.text("description", d, 0, DESCRIPTION_MAX);
        }
        if let Some(p) = self.priority {
            v.range("priority", p, PRIORITY_MIN, PRIORITY_MAX);
        }
        v.finish()?;
        Ok(Valid(self))
    }
}

impl TaskChanges {
    pub fn validate(self) -> Result<Valid<TaskChanges>> {
        let mut v = Violations::default();
        v.not_null("title", &self.title);
        v.not_null("status", &self.status);
        v.not_null("priority", &self.priority);
        if let Patch::Value(t) = &self.title {
            v.text("title", t, 1, TITLE_MAX);
        }
        if let Patch::Value(d) = &self.description {
            v.text("description", d, 0, DESCRIPTION_MAX);
        }
        if let Patch::Value(p) = self.priority {
            v.range("priority", p, PRIORITY_MIN, PRIORITY_MAX);
        }
        v.finish()?;
        Ok(Valid(self))
    }
}

/// One statement: a project the tenant does not have fails the insert's
/// composite foreign key, which is its `404`.
pub async fn create(db: &TenantDb, now: DateTime<Utc>, project_id: Uuid, input: Valid<NewTask>) -> Result<Task> {
    let input = input.0;
    let tx = db.single_write().await?;
    let task = tx
        .insert(task::ActiveModel {
            id: Set(Uuid::now_v7()),
            project_id: Set(project_id),
            title: Set(input.title.unwrap_or_default()),
            description: Set(input.description),
            status: Set(input.status.unwrap_or(Status::Todo).as_str().to_owned()),
            priority: Set(input.priority.map_or(DEFAULT_PRIORITY, |p| p as i16)),
            due_date: Set(input.due_date),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .await
        .map_err(|e| Error::not_found_on_foreign_key(e, "project"))?;
    tx.commit().await?;
    Ok(task)
}

pub async fn get(db: &TenantDb, id: Uuid) -> Result<Task> {
    let tx = db.single_read().await?;
    let task = tx
        .find_by_id::<task::Entity>(id)
        .await?
        .ok_or(Error::NotFound("task"))?;
    tx.commit().await?;
    Ok(task)
}

pub async fn update(
    db: &TenantDb,
    now: DateTime<Utc>,
    id: Uuid,
    changes: Valid<TaskChanges>,
    pre: &super::Precondition,
) -> Result<Task> {
    let changes = changes.0;
    let mut model = task::ActiveModel {
        updated_at: Set(now),
        ..Default::default()
    };
    if let Patch::Value(t) = changes.title {
        model.title = Set(t);
    }
    match changes.description {
        Patch::Absent => {}
        Patch::Null => model.description = Set(None),
        Patch::Value(d) => model.description = Set(Some(d)),
    }
    if let Patch::Value(s) = changes.status {
        model.status = Set(s.as_str().to_owned());
    }
    if let Patch::Value(p) = changes.priority {
        model.priority = Set(p as i16);
    }
    match changes.due_date {
        Patch::Absent => {}
        Patch::Null => model.due_date = Set(None),
        Patch::Value(d) => model.due_date = Set(Some(d)),
    }
    super::update_checked::<task::Entity, _>(db, id, model, pre, "task", task::Column::UpdatedAt).await
}

pub async fn delete(db: &TenantDb, id: Uuid, pre: &super::Precondition) -> Result<()> {
    super::delete_checked::<task::Entity>(db, id, pre, "task", task::Column::UpdatedAt).await
}

/// The parameters of a task list for `tenant` under `filter`.
pub fn list_params(
    tenant: Uuid,
    key: &DerivedKey,
    filter: &TaskFilter,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<ListParams> {
    let shape = format!(
        "tasks|{tenant}|project={:?}|status={:?}|due_before={:?}|sort={:?}|dir={:?}",
        filter.project_id,
        filter.status.map(Status::as_str),
        filter.due_before,
        filter.sort,
        filter.direction
    );
    ListParams::new(key, shape, limit, cursor)
}

/// Tasks matching `filter`. With `project_must_exist`, a `project_id` that
/// is not the tenant's is a 404 rather than an empty list; the project is
/// looked up together with the tasks (one round trip on PostgreSQL).
pub async fn list(
    db: &TenantDb,
    key: &DerivedKey,
    filter: &TaskFilter,
    params: &ListParams,
    project_must_exist: bool,
) -> Result<Page<Task>> {
    let tx = db.single_read().await?;
    let mut select = tx.find::<task::Entity>();
    if let Some(p) = filter.project_id {
        select = select.filter(task::Column::ProjectId.eq(p));
    }
    if let Some(s) = filter.status {
        select = select.filter(task::Column::Status.eq(s.as_str()));
    }
    if let Some(d) = filter.due_before {
        select = select.filter(task::Column::DueDate.lt(d));
    }
    let descending = filter.direction == Direction::Desc;
    if let Some(after) = params.after() {
        select = select.filter(match filter.sort {
            SortBy::CreatedAt => after_created(task::Column::CreatedAt, task::Column::Id, after, descending)?,
            SortBy::DueDate => after_due(after, descending)?,
        });
    }
    let order = if descending { Order::Desc } else { Order::Asc };
    select = match filter.sort {
        SortBy::CreatedAt => select.order_by(task::Column::CreatedAt, order.clone()),
        SortBy::DueDate => select.order_by_nulls_last(task::Column::DueDate, order.clone()),
    };
    let select = select.order_by(task::Column::Id, order).limit(params.fetch());
    let rows = match filter.project_id {
        Some(project_id) if project_must_exist => {
            let (project, rows) = tx.find_by_id_and_all::<project::Entity, _>(project_id, select).await?;
            if project.is_none() {
                return Err(Error::NotFound("project"));
            }
            rows
        }
        _ => select.all().await?,
    };
    tx.commit().await?;
    Ok(params.page(key, rows, |t| Position {
        key: match filter.sort {
            SortBy::CreatedAt => Some(format_time(t.created_at)),
            SortBy::DueDate => t.due_date.map(|d| d.to_string()),
        },
        id: t.id,
    }))
}

/// Rows after `after` in `(due_date, id)` order with NULL due dates after
/// every date, in either direction.
fn after_due(after: &Position, descending: bool) -> Result<Condition> {
    let (col, id) = (task::Column::DueDate, task::Column::Id);
    let id_beyond = if descending { id.lt(after.id) } else { id.gt(after.id) };
    match &after.key {
        None => Ok(Condition::all().add(col.is_null()).add(id_beyond)),
        Some(key) => {
            let date: NaiveDate = key.parse().map_err(|_| Error::InvalidCursor(MALFORMED))?;
            let beyond = if descending { col.lt(date) } else { col.gt(date) };
            Ok(Condition::any()
                .add(beyond)
                .add(Condition::all().add(col.eq(date)).add(id_beyond))
                .add(col.is_null()))
        }
    }
}
