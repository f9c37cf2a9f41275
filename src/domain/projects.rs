//! Projects: a name, an optional description; deleting one deletes its tasks.

use chrono::{DateTime, Utc};
use entity::project;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::cursor::{self, Position};
use super::{Error, Page, Patch, Result, Violations, check_limit};
use crate::db::TenantDb;
use crate::secret::DerivedKey;

pub const NAME_MAX: u64 = 200;
pub const DESCRIPTION_MAX: u64 = 10_000;

pub type Project = project::Model;

#[derive(Debug, Default)]
pub struct NewProject {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default)]
pub struct ProjectChanges {
    pub name: Patch<String>,
    pub description: Patch<String>,
}

fn check_description(v: &mut Violations, description: Option<&str>) {
    if let Some(d) = description {
        v.text("description", d, 0, DESCRIPTION_MAX);
    }
}

pub async fn create(db: &TenantDb, now: DateTime<Utc>, input: NewProject) -> Result<Project> {
    let mut v = Violations::default();
    v.required_text("name", input.name.as_deref(), 1, NAME_MAX);
    check_description(&mut v, input.description.as_deref());
    v.finish()?;
    let tx = db.write().await?;
    let project = tx
        .insert(project::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(input.name.unwrap_or_default()),
            description: Set(input.description),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .await?;
    tx.commit().await?;
    Ok(project)
}

pub async fn get(db: &TenantDb, id: Uuid) -> Result<Project> {
    let tx = db.read().await?;
    let project = tx
        .find_by_id::<project::Entity>(id)
        .await?
        .ok_or(Error::NotFound("project"))?;
    tx.commit().await?;
    Ok(project)
}

pub async fn update(
    db: &TenantDb,
    now: DateTime<Utc>,
    id: Uuid,
    changes: ProjectChanges,
) -> Result<Project> {
    let mut v = Violations::default();
    v.not_null("name", &changes.name);
    if let Patch::Value(name) = &changes.name {
        v.text("name", name, 1, NAME_MAX);
    }
    if let Patch::Value(d) = &changes.description {
        check_description(&mut v, Some(d));
    }
    v.finish()?;
    let mut model = project::ActiveModel {
        updated_at: Set(now),
        ..Default::default()
    };
    if let Patch::Value(name) = changes.name {
        model.name = Set(name);
    }
    match changes.description {
        Patch::Absent => {}
        Patch::Null => model.description = Set(None),
        Patch::Value(d) => model.description = Set(Some(d)),
    }
    let tx = db.write().await?;
    let project = tx
        .update_by_id(id, model)
        .await?
        .ok_or(Error::NotFound("project"))?;
    tx.commit().await?;
    Ok(project)
}

pub async fn delete(db: &TenantDb, id: Uuid) -> Result<()> {
    let tx = db.write().await?;
    if !tx.delete_by_id::<project::Entity>(id).await? {
        return Err(Error::NotFound("project"));
    }
    tx.commit().await?;
    Ok(())
}

/// Projects in ascending `(created_at, id)`.
pub async fn list(
    db: &TenantDb,
    key: &DerivedKey,
    limit: Option<i64>,
    after: Option<&str>,
) -> Result<Page<Project>> {
    let mut v = Violations::default();
    let limit = check_limit(&mut v, limit);
    v.finish()?;
    let shape = format!("projects|{}", db.tenant_id());
    let after = after.map(|c| cursor::decode(key, &shape, c)).transpose()?;
    let tx = db.read().await?;
    let mut query = tx.find::<project::Entity>();
    if let Some(after) = after {
        let at = parse_time(after.key.as_deref())?;
        query = query.filter(
            Condition::any().add(project::Column::CreatedAt.gt(at)).add(
                Condition::all()
                    .add(project::Column::CreatedAt.eq(at))
                    .add(project::Column::Id.gt(after.id)),
            ),
        );
    }
    let mut items = query
        .order_by(project::Column::CreatedAt, Order::Asc)
        .order_by(project::Column::Id, Order::Asc)
        .limit(limit + 1)
        .all()
        .await?;
    tx.commit().await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| {
            cursor::encode(
                key,
                &shape,
                Position {
                    key: Some(format_time(last.created_at)),
                    id: last.id,
                },
            )
        })
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(s: Option<&str>) -> Result<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or(Error::InvalidCursor(
            "the cursor is malformed or was altered",
        ))
}
