//! API keys: created with a subset of the creator's scopes, optionally
//! expiring, revoked by id. The secret is returned once and stored only as
//! an HMAC.

use chrono::{DateTime, Duration, Utc};
use entity::api_key;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::cursor::{self, Position};
use super::projects::{format_time, parse_time};
use super::{Error, Page, Result, Violations, check_limit};
use crate::auth::{Scope, Scopes, api_key as key_format};
use crate::db::TenantDb;
use crate::secret::DerivedKey;

pub const NAME_MAX: u64 = 100;
pub const DEFAULT_NAME: &str = "API key";
/// The longest lifetime a key can be given, in days.
pub const MAX_EXPIRY_DAYS: i64 = 730;

pub type ApiKey = api_key::Model;

#[derive(Debug, Default)]
pub struct NewApiKey {
    pub name: Option<String>,
    /// `None`: every scope the creator holds.
    pub scopes: Option<Vec<Scope>>,
    pub expires_in_days: Option<i64>,
}

/// A created key and its secret, which is never available again.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

pub async fn create(
    db: &TenantDb,
    hash_key: &DerivedKey,
    now: DateTime<Utc>,
    creator_scopes: Scopes,
    input: NewApiKey,
) -> Result<CreatedKey> {
    let mut v = Violations::default();
    if let Some(name) = &input.name {
        v.text("name", name, 1, NAME_MAX);
    }
    if let Some(days) = input.expires_in_days {
        v.range("expires_in_days", days, 1, MAX_EXPIRY_DAYS);
    }
    if input.scopes.as_ref().is_some_and(Vec::is_empty) {
        v.push("scopes", "too_short", "must name at least one scope");
    }
    v.finish()?;
    let scopes = match input.scopes {
        Some(list) => list.into_iter().collect::<Scopes>(),
        None => creator_scopes,
    };
    if !scopes.is_subset_of(creator_scopes) {
        let missing: Vec<&str> = scopes
            .iter()
            .filter(|s| !creator_scopes.contains(*s))
            .map(Scope::as_str)
            .collect();
        return Err(Error::Forbidden(format!(
            "a key can only grant scopes its creator holds; missing: {}",
            missing.join(", ")
        )));
    }
    let generated = key_format::generate();
    let tx = db.write().await?;
    let key = tx
        .insert(api_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(input.name.unwrap_or_else(|| DEFAULT_NAME.to_owned())),
            prefix: Set(generated.display_prefix),
            key_hash: Set(key_format::hash(hash_key, &generated.secret)),
            scopes: Set(scopes.to_stored()),
            created_at: Set(now),
            expires_at: Set(input.expires_in_days.map(|d| now + Duration::days(d))),
            revoked_at: Set(None),
            last_used_at: Set(None),
            ..Default::default()
        })
        .await?;
    tx.commit().await?;
    Ok(CreatedKey {
        key,
        secret: generated.secret,
    })
}

pub async fn get(db: &TenantDb, id: Uuid) -> Result<ApiKey> {
    let tx = db.read().await?;
    let key = tx
        .find::<api_key::Entity>()
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .one()
        .await?
        .ok_or(Error::NotFound("API key"))?;
    tx.commit().await?;
    Ok(key)
}

/// Revokes a key; it stops working on the next request.
pub async fn revoke(db: &TenantDb, now: DateTime<Utc>, id: Uuid) -> Result<()> {
    let tx = db.write().await?;
    let changed = tx
        .update_where(
            Condition::all()
                .add(api_key::Column::Id.eq(id))
                .add(api_key::Column::RevokedAt.is_null()),
            api_key::ActiveModel {
                revoked_at: Set(Some(now)),
                ..Default::default()
            },
        )
        .await?;
    if changed == 0 {
        return Err(Error::NotFound("API key"));
    }
    tx.commit().await?;
    Ok(())
}

/// Keys that have not been revoked, in ascending `(created_at, id)`.
pub async fn list(
    db: &TenantDb,
    key: &DerivedKey,
    limit: Option<i64>,
    after: Option<&str>,
) -> Result<Page<ApiKey>> {
    let mut v = Violations::default();
    let limit = check_limit(&mut v, limit);
    v.finish()?;
    let shape = format!("api_keys|{}", db.tenant_id());
    let after = after.map(|c| cursor::decode(key, &shape, c)).transpose()?;
    let tx = db.read().await?;
    let mut query = tx
        .find::<api_key::Entity>()
        .filter(api_key::Column::RevokedAt.is_null());
    if let Some(after) = after {
        let at = parse_time(after.key.as_deref())?;
        query = query.filter(
            Condition::any().add(api_key::Column::CreatedAt.gt(at)).add(
                Condition::all()
                    .add(api_key::Column::CreatedAt.eq(at))
                    .add(api_key::Column::Id.gt(after.id)),
            ),
        );
    }
    let mut items = query
        .order_by(api_key::Column::CreatedAt, Order::Asc)
        .order_by(api_key::Column::Id, Order::Asc)
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
