//! Projects: a name, an optional description; deleting one deletes its tasks.

use chrono::{DateTime, Utc};
use entity::project;
use sea_orm::Set;
use sea_orm::sea_query::Condition;
use uuid::Uuid;

use super::{
    Error, ListParams, Page, Patch, Precondition, Result, Valid, Violations, delete_checked, oldest_first,
    update_checked,
};
use crate::db::TenantDb;
use crate::secret::DerivedKey;

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;

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

impl NewProject {
    pub fn validate(self) -> Result<Valid<NewProject>> {
        let mut v = Violations::default();
        v.required_text("name", self.name.as_deref(), 1, NAME_MAX);
        if let Some(d) = &self.description {
            v.text("description", d, 0, DESCRIPTION_MAX);
        }
        v.finish()?;
        Ok(Valid(self))
    }
}

impl ProjectChanges {
    pub fn validate(self) -> Result<Valid<ProjectChanges>> {
        let mut v = Violations::default();
        v.not_null("name", &self.name);
        if let Patch::Value(name) = &self.name {
            v.text("name", name, 1, NAME_MAX);
        }
        if let Patch::Value(d) = &self.description {
            v.text("description", d, 0, DESCRIPTION_MAX);
        }
        v.finish()?;
        Ok(Valid(self))
    }
}

pub async fn create(db: &TenantDb, now: DateTime<Utc>, input: Valid<NewProject>) -> Result<Project> {
    let input = input.0;
    let tx = db.single_write().await?;
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
    let tx = db.single_read().await?;
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
    changes: Valid<ProjectChanges>,
    pre: &Precondition,
) -> Result<Project> {
    let changes = changes.0;
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
    update_checked::<project::Entity, _>(db, id, model, pre, "project", project::Column::UpdatedAt).await
}

pub async fn delete(db: &TenantDb, id: Uuid, pre: &Precondition) -> Result<()> {
    delete_checked::<project::Entity>(db, id, pre, "project", project::Column::UpdatedAt).await
}

/// The parameters of a project list for `tenant`.
pub fn list_params(tenant: Uuid, key: &DerivedKey, limit: Option<i64>, cursor: Option<&str>) -> Result<ListParams> {
    ListParams::new(key, format!("projects|{tenant}"), limit, cursor)
}

/// Projects in ascending `(created_at, id)`.
pub async fn list(db: &TenantDb, key: &DerivedKey, params: &ListParams) -> Result<Page<Project>> {
    oldest_first::<project::Entity>(db, key, params, project::Column::CreatedAt, Condition::all(), |p| {
        (p.created_at, p.id)
    })
    .await
}
