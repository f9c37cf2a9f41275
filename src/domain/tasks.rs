//! Tasks belong to a project of the same tenant (a composite foreign key).

use chrono::{DateTime, NaiveDate, Utc};
use entity::{project, task};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::cursor::{self, Position};
use super::projects::{format_time, parse_time};
use super::{Error, Page, Patch, Result, Violations, check_limit};
use crate::db::TenantDb;
use crate::secret::DerivedKey;

pub const TITLE_MAX: u64 = 200;
pub const DESCRIPTION_MAX: u64 = 10_000;
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

#[derive(Debug, Default)]
pub struct TaskQuery {
    pub project_id: Option<Uuid>,
    pub status: Option<Status>,
    pub due_before: Option<NaiveDate>,
    pub sort: SortBy,
    pub direction: Direction,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn create(
    db: &TenantDb,
    now: DateTime<Utc>,
    project_id: Uuid,
    input: NewTask,
) -> Result<Task> {
    let mut v = Violations::default();
    v.required_text("title", input.title.as_deref(), 1, TITLE_MAX);
    if let Some(d) = &input.description {
        v.text("description", d, 0, DESCRIPTION_MAX);
    }
    if let Some(p) = input.priority {
        v.range("priority", p, PRIORITY_MIN, PRIORITY_MAX);
    }
    v.finish()?;
    let tx = db.write().await?;
    if tx
        .find_by_id::<project::Entity>(project_id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound("project"));
    }
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
        .await?;
    tx.commit().await?;
    Ok(task)
}

pub async fn get(db: &TenantDb, id: Uuid) -> Result<Task> {
    let tx = db.read().await?;
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
    changes: TaskChanges,
) -> Result<Task> {
    let mut v = Violations::default();
    v.not_null("title", &changes.title);
    v.not_null("status", &changes.status);
    v.not_null("priority", &changes.priority);
    if let Patch::Value(t) = &changes.title {
        v.text("title", t, 1, TITLE_MAX);
    }
    if let Patch::Value(d) = &changes.description {
        v.text("description", d, 0, DESCRIPTION_MAX);
    }
    if let Patch::Value(p) = changes.priority {
        v.range("priority", p, PRIORITY_MIN, PRIORITY_MAX);
    }
    v.finish()?;
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
    let tx = db.write().await?;
    let task = tx
        .update_by_id(id, model)
        .await?
        .ok_or(Error::NotFound("task"))?;
    tx.commit().await?;
    Ok(task)
}

pub async fn delete(db: &TenantDb, id: Uuid) -> Result<()> {
    let tx = db.write().await?;
    if !tx.delete_by_id::<task::Entity>(id).await? {
        return Err(Error::NotFound("task"));
    }
    tx.commit().await?;
    Ok(())
}

/// Tasks of one project; 404 when the project is not the tenant's.
pub async fn list_in_project(
    db: &TenantDb,
    key: &DerivedKey,
    project_id: Uuid,
    query: TaskQuery,
) -> Result<Page<Task>> {
    let query = TaskQuery {
        project_id: Some(project_id),
        ..query
    };
    list_checked(db, key, query, true).await
}

pub async fn list(db: &TenantDb, key: &DerivedKey, query: TaskQuery) -> Result<Page<Task>> {
    list_checked(db, key, query, false).await
}

async fn list_checked(
    db: &TenantDb,
    key: &DerivedKey,
    query: TaskQuery,
    project_must_exist: bool,
) -> Result<Page<Task>> {
    let mut v = Violations::default();
    let limit = check_limit(&mut v, query.limit);
    v.finish()?;
    let shape = format!(
        "tasks|{}|project={:?}|status={:?}|due_before={:?}|sort={:?}|dir={:?}",
        db.tenant_id(),
        query.project_id,
        query.status.map(Status::as_str),
        query.due_before,
        query.sort,
        query.direction
    );
    let after = query
        .cursor
        .as_deref()
        .map(|c| cursor::decode(key, &shape, c))
        .transpose()?;

    let tx = db.read().await?;
    if project_must_exist
        && let Some(project_id) = query.project_id
        && tx
            .find_by_id::<project::Entity>(project_id)
            .await?
            .is_none()
    {
        return Err(Error::NotFound("project"));
    }
    let mut select = tx.find::<task::Entity>();
    if let Some(p) = query.project_id {
        select = select.filter(task::Column::ProjectId.eq(p));
    }
    if let Some(s) = query.status {
        select = select.filter(task::Column::Status.eq(s.as_str()));
    }
    if let Some(d) = query.due_before {
        select = select.filter(task::Column::DueDate.lt(d));
    }
    let order = match query.direction {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    };
    if let Some(after) = &after {
        select = select.filter(after_condition(query.sort, query.direction, after)?);
    }
    select = match query.sort {
        SortBy::CreatedAt => select.order_by(task::Column::CreatedAt, order.clone()),
        SortBy::DueDate => select.order_by_nulls_last(task::Column::DueDate, order.clone()),
    };
    let mut items = select
        .order_by(task::Column::Id, order)
        .limit(limit + 1)
        .all()
        .await?;
    tx.commit().await?;

    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| {
            let key_value = match query.sort {
                SortBy::CreatedAt => Some(format_time(last.created_at)),
                SortBy::DueDate => last.due_date.map(|d| d.to_string()),
            };
            cursor::encode(
                key,
                &shape,
                Position {
                    key: key_value,
                    id: last.id,
                },
            )
        })
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// The keyset condition for "rows after `after`" under a sort whose ties are
/// broken by id in the same direction, with NULL due dates after all others.
fn after_condition(sort: SortBy, direction: Direction, after: &Position) -> Result<Condition> {
    let id = task::Column::Id;
    let id_after = match direction {
        Direction::Asc => id.gt(after.id),
        Direction::Desc => id.lt(after.id),
    };
    match sort {
        SortBy::CreatedAt => {
            let at = parse_time(after.key.as_deref())?;
            let col = task::Column::CreatedAt;
            let beyond = match direction {
                Direction::Asc => col.gt(at),
                Direction::Desc => col.lt(at),
            };
            Ok(Condition::any()
                .add(beyond)
                .add(Condition::all().add(col.eq(at)).add(id_after)))
        }
        SortBy::DueDate => {
            let col = task::Column::DueDate;
            match &after.key {
                None => Ok(Condition::all().add(col.is_null()).add(id_after)),
                Some(key) => {
                    let date: NaiveDate = key.parse().map_err(|_| {
                        Error::InvalidCursor("the cursor is malformed or was altered")
                    })?;
                    let beyond = match direction {
                        Direction::Asc => col.gt(date),
                        Direction::Desc => col.lt(date),
                    };
                    Ok(Condition::any()
                        .add(beyond)
                        .add(Condition::all().add(col.eq(date)).add(id_after))
                        .add(col.is_null()))
                }
            }
        }
    }
}
