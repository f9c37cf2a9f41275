//! Tenants: created by the operator; each request reads only its own.

use chrono::{DateTime, Utc};
use entity::tenant;
pub use entity::tenant::Placement;
use sea_orm::Set;
use uuid::Uuid;

use super::effects::{Committed, Effects};
use super::{Error, Result, Violations};
use crate::db::{PlatformDb, TenantDb};

pub const SLUG_MIN: usize = 3;
pub const SLUG_MAX: usize = 63;
pub const NAME_MAX: usize = 200;

pub type Tenant = tenant::Model;

/// Slugs are lowercase letters, digits and inner hyphens, 3–63 characters.
/// Input is lowercased first, so uniqueness is case-insensitive.
pub fn normalize_slug(v: &mut Violations, slug: &str) -> String {
    let slug = slug.trim().to_lowercase();
    let ok_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(SLUG_MIN..=SLUG_MAX).contains(&slug.chars().count()) {
        v.push(
            "slug",
            "out_of_range",
            format!("must be {SLUG_MIN} to {SLUG_MAX} characters"),
        );
    } else if !ok_chars || slug.starts_with('-') || slug.ends_with('-') {
        v.push(
            "slug",
            "invalid",
            "may hold only lowercase letters, digits and inner hyphens",
        );
    }
    slug
}

/// Creates a tenant with its data in `placement`, its storage made and
/// migrated before this returns.
pub async fn create(
    platform: &PlatformDb,
    now: DateTime<Utc>,
    slug: &str,
    name: Option<&str>,
    placement: Placement,
) -> Result<Tenant> {
    create_on(platform, now, slug, name, placement, None).await
}

/// [`create`], with a tenant in a database of its own put on the named
/// database server `database` (`[databases.<name>]`) rather than the
/// platform's.
pub async fn create_on(
    platform: &PlatformDb,
    now: DateTime<Utc>,
    slug: &str,
    name: Option<&str>,
    placement: Placement,
    database: Option<&str>,
) -> Result<Tenant> {
    let mut v = Violations::default();
    let slug = normalize_slug(&mut v, slug);
    if let Some(name) = name {
        v.text("name", name, 1, NAME_MAX);
    }
    if !platform.supports(placement) {
        v.push(
            "placement",
            "unsupported",
            match placement {
                Placement::Schema => "a schema of the tenant's own needs PostgreSQL".to_owned(),
                _ => format!("placement `{placement}` is not available here"),
            },
        );
    }
    if let Some(server) = database {
        if placement != Placement::Database {
            v.push(
                "database",
                "not_applicable",
                "a database server is chosen only for the `database` placement".to_owned(),
            );
        } else if !platform.has_database_server(server) {
            v.push(
                "database",
                "unknown",
                format!("no database server `{server}` is configured ([databases.{server}])"),
            );
        }
    }
    v.finish()?;
    let model = Tenant {
        id: Uuid::now_v7(),
        name: name.map_or_else(|| slug.clone(), str::to_owned),
        slug: slug.clone(),
        created_at: now,
        updated_at: now,
        placement: placement.as_str().to_owned(),
        location: None,
        storage_version: None,
        storage_error: None,
        plan: None,
    };
    platform
        .create_tenant(model, database)
        .await
        .map_err(|e| Error::conflict_on_unique(e, format!("a tenant with slug `{slug}` already exists")))
}

pub async fn by_slug(platform: &PlatformDb, slug: &str) -> Result<Tenant> {
    platform
        .tenant_by_slug(&slug.trim().to_lowercase())
        .await?
        .ok_or(Error::NotFound("tenant"))
}

pub async fn current(db: &TenantDb) -> Result<Tenant> {
    let tx = db.single_read().await?;
    let tenant = tx
        .find::<tenant::Entity>()
        .one()
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    tx.commit().await?;
    Ok(tenant)
}

/// Renames the tenant, if it meets `pre` (`If-Match`).
pub async fn rename(
    db: &TenantDb,
    name: Option<&str>,
    now: DateTime<Utc>,
    pre: &super::Precondition,
) -> Result<Tenant> {
    let mut v = Violations::default();
    let name = v.required_text("name", name.map(str::trim), 1, NAME_MAX);
    v.finish()?;
    let renamed = tenant::ActiveModel {
        name: Set(name.unwrap_or_default().to_owned()),
        updated_at: Set(now),
        ..Default::default()
    };
    super::update_checked::<tenant::Entity, _>(db, db.tenant_id(), renamed, pre, "tenant", tenant::Column::UpdatedAt)
        .await
}

/// The operator's change to a tenant: its name, and its plan (`Some(None)`
/// to take it off any).
#[derive(Debug, Default)]
pub struct OperatorChange<'a> {
    pub name: Option<&'a str>,
    pub plan: Option<Option<&'a str>>,
}

/// Applies the operator's change, all of it or (for a bad value) none: a
/// plan is a name of the configuration's (`[plans.<name>]`); none means
/// the default budgets. Every instance reads a new plan again within its
/// next poll (`tenants.placed_at` is stamped).
pub async fn change(
    db: &TenantDb,
    change: OperatorChange<'_>,
    plans: &std::collections::BTreeMap<String, crate::config::Plan>,
    now: DateTime<Utc>,
) -> Result<Tenant> {
    let mut v = Violations::default();
    let name = change.name.map(str::trim);
    if let Some(name) = name {
        v.text("name", name, 1, NAME_MAX);
    }
    if let Some(Some(plan)) = change.plan
        && !plans.contains_key(plan)
    {
        let named = if plans.is_empty() {
            "no plans are configured".to_owned()
        } else {
            let names: Vec<String> = plans.keys().map(|k| format!("`{k}`")).collect();
            format!("the configured plans: {}", names.join(", "))
        };
        v.push(
            "plan",
            "unknown",
            format!("no plan `{plan}` is configured ([plans.{plan}]); {named}"),
        );
    }
    v.finish()?;
    let tx = db.write().await?;
    let mut changed = tenant::ActiveModel {
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(name) = name {
        changed.name = Set(name.to_owned());
    }
    if let Some(plan) = change.plan {
        changed.plan = Set(plan.map(str::to_owned));
    }
    let tenant = tx
        .update_by_id(tx.tenant_id(), changed)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    tx.commit().await?;
    Ok(tenant)
}

/// Deletes the tenant and everything it owns; its sessions end first (and
/// stay, ended, so every instance learns of it). Returns the ended sessions.
pub async fn delete(db: &TenantDb, now: DateTime<Utc>) -> Result<Committed<()>> {
    use super::sessions::{EndReason, end_in_tenant};
    let tx = db.write().await?;
    let ended = end_in_tenant(&tx, None, EndReason::TenantDeleted, now).await?;
    // Every row the tenant owns goes with it, through the foreign keys.
    if !tx.delete_by_id::<tenant::Entity>(tx.tenant_id()).await? {
        return Err(Error::NotFound("tenant"));
    }
    tx.commit().await?;
    Ok(Committed::new(
        (),
        Effects {
            sessions_ended: ended,
            tenant_deleted: Some(db.tenant_id()),
            ..Effects::default()
        },
    ))
}
