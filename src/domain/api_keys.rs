//! API keys: created with a subset of the creator's scopes, optionally
//! expiring, revoked by id. The secret is returned once and stored only as
//! an HMAC.

use chrono::{DateTime, Duration, Utc};
use entity::api_key;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Set};
use uuid::Uuid;

use super::{Error, ListParams, Page, Result, Valid, Violations, oldest_first};
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

impl NewApiKey {
    pub fn validate(self) -> Result<Valid<NewApiKey>> {
        let mut v = Violations::default();
        if let Some(name) = &self.name {
            v.text("name", name, 1, NAME_MAX);
        }
        if let Some(days) = self.expires_in_days {
            v.range("expires_in_days", days, 1, MAX_EXPIRY_DAYS);
        }
        if self.scopes.as_ref().is_some_and(Vec::is_empty) {
            v.push("scopes", "too_short", "must name at least one scope");
        }
        v.finish()?;
        Ok(Valid(self))
    }
}

/// Creates a key holding `input.scopes` (or all of `creator_scopes`); a
/// scope the creator lacks is a 403.
pub async fn create(
    db: &TenantDb,
    hash_key: &DerivedKey,
    now: DateTime<Utc>,
    creator_scopes: Scopes,
    input: Valid<NewApiKey>,
) -> Result<CreatedKey> {
    let input = input.0;
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
    let tx = db.single_read().await?;
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

/// The parameters of a key list for `tenant`.
pub fn list_params(tenant: Uuid, key: &DerivedKey, limit: Option<i64>, cursor: Option<&str>) -> Result<ListParams> {
    ListParams::new(key, format!("api_keys|{tenant}"), limit, cursor)
}

/// Keys that have not been revoked, in ascending `(created_at, id)`.
pub async fn list(db: &TenantDb, key: &DerivedKey, params: &ListParams) -> Result<Page<ApiKey>> {
    let active = Condition::all().add(api_key::Column::RevokedAt.is_null());
    oldest_first::<api_key::Entity>(db, key, params, api_key::Column::CreatedAt, active, |k| {
        (k.created_at, k.id)
    })
    .await
}
