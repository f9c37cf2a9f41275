//! API keys: created with a subset of the creator's scopes, optionally
//! expiring, revoked by id. The secret is returned once and stored only as
//! an HMAC.

use chrono::{DateTime, Duration, Utc};
use entity::{api_key, membership};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, Set};
use uuid::Uuid;

use super::effects::{Committed, Effects};
use super::{Error, ListParams, Page, Result, Valid, Violations, oldest_first};
use crate::access::{Role, Scope, Scopes, UserId};
use crate::auth::api_key as key_format;
use crate::db::{TenantDb, TenantTx};
use crate::secret::DerivedKey;

pub const NAME_MAX: usize = 100;
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
        self.validate_with(Violations::default())
    }

    /// Validates, reporting `v`'s violations (from parsing the request)
    /// with this input's own.
    pub fn validate_with(self, mut v: Violations) -> Result<Valid<NewApiKey>> {
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

/// Who made a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// A person: the key is rooted in them.
    User(UserId),
    /// Another key: the new key is rooted where that one is.
    ApiKey(Uuid),
    /// The operator at the command line: rooted in nobody.
    Operator,
}

impl Creator {
    pub const KINDS: [&'static str; 3] = ["user", "api_key", "operator"];

    pub fn kind(self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::ApiKey(_) => "api_key",
            Self::Operator => "operator",
        }
    }

    pub fn id(self) -> Option<Uuid> {
        match self {
            Self::User(UserId(id)) | Self::ApiKey(id) => Some(id),
            Self::Operator => None,
        }
    }

    /// Reads the stored kind and id; an unknown kind reads as the operator.
    pub fn from_stored(kind: &str, id: Option<Uuid>) -> Self {
        match (kind, id) {
            ("user", Some(id)) => Self::User(UserId(id)),
            ("api_key", Some(id)) => Self::ApiKey(id),
            _ => Self::Operator,
        }
    }
}

fn scope_names(scopes: impl Iterator<Item = Scope>) -> String {
    scopes.map(Scope::as_str).collect::<Vec<_>>().join(", ")
}

/// Creates a key holding `input.scopes` (or all of `creator_scopes`); a
/// scope the creator lacks is a 403. The key records `creator` and is
/// rooted in the creator's person (a key's creator's root for a key).
///
/// The creator's authority is read again inside the transaction, under the
/// lock the changes to it take (the membership row; the parent key's row),
/// not taken from the credential alone: a person removed or demoted a
/// moment ago, whose access token other instances have not refused yet,
/// cannot turn it into a key that outlives the change.
pub async fn create(
    db: &TenantDb,
    hash_key: &DerivedKey,
    now: DateTime<Utc>,
    creator: Creator,
    creator_scopes: Scopes,
    input: Valid<NewApiKey>,
) -> Result<CreatedKey> {
    let input = input.0;
    let requested = input.scopes.map(|list| list.into_iter().collect::<Scopes>());
    let generated = key_format::generate();
    let tx = db.write().await?;
    let (root, held) = match creator {
        Creator::User(UserId(id)) => {
            let role = tx
                .find::<membership::Entity>()
                .filter(membership::Column::UserId.eq(id))
                .for_update()
                .one()
                .await?
                .and_then(|m| Role::parse(&m.role))
                .ok_or_else(|| Error::Unauthenticated("the credential's membership has ended".to_owned()))?;
            (Some(id), creator_scopes.intersection(role.scopes()))
        }
        Creator::ApiKey(id) => {
            let parent = tx
                .find::<api_key::Entity>()
                .filter(api_key::Column::Id.eq(id))
                .for_update()
                .one()
                .await?
                .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|at| at > now))
                .ok_or_else(|| Error::Unauthenticated("the API key has been revoked or has expired".to_owned()))?;
            (
                parent.root_user_id,
                creator_scopes.intersection(Scopes::from_stored(&parent.scopes)),
            )
        }
        Creator::Operator => (None, creator_scopes),
    };
    let scopes = requested.unwrap_or(held);
    if !scopes.is_subset_of(held) {
        return Err(Error::Forbidden(format!(
            "a key can only grant scopes its creator holds; missing: {}",
            scope_names(scopes.iter().filter(|s| !held.contains(*s)))
        )));
    }
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
            created_by_kind: Set(creator.kind().to_owned()),
            created_by_id: Set(creator.id()),
            root_user_id: Set(root),
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

/// Revokes a key; it stops working on the next request. A caller may
/// revoke only keys whose scopes it holds all of (403 otherwise).
pub async fn revoke(db: &TenantDb, now: DateTime<Utc>, id: Uuid, caller_scopes: Scopes) -> Result<Committed<()>> {
    let tx = db.write().await?;
    let key = tx
        .find::<api_key::Entity>()
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .for_update()
        .one()
        .await?
        .ok_or(Error::NotFound("API key"))?;
    let scopes = Scopes::from_stored(&key.scopes);
    if !scopes.is_subset_of(caller_scopes) {
        return Err(Error::Forbidden(format!(
            "a credential can only revoke keys within its own scopes; this key also holds: {}",
            scope_names(scopes.iter().filter(|s| !caller_scopes.contains(*s)))
        )));
    }
    tx.update_by_id::<api_key::Entity, _>(
        id,
        api_key::ActiveModel {
            revoked_at: Set(Some(now)),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Committed::new(
        (),
        Effects {
            keys_revoked: vec![id],
            ..Effects::default()
        },
    ))
}

/// Revokes, within `tx`, the live keys rooted in `user` that hold a scope
/// outside `keep` (every one of them when `keep` is `None`: the person left
/// the tenant); the ids revoked, for the caches to forget after commit.
pub(crate) async fn revoke_rooted(
    tx: &TenantTx,
    user: Uuid,
    keep: Option<Scopes>,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let rooted = tx
        .find::<api_key::Entity>()
        .filter(api_key::Column::RootUserId.eq(user))
        .filter(api_key::Column::RevokedAt.is_null())
        .for_update()
        .all()
        .await?;
    let beyond: Vec<Uuid> = rooted
        .into_iter()
        .filter(|k| keep.is_none_or(|keep| !Scopes::from_stored(&k.scopes).is_subset_of(keep)))
        .map(|k| k.id)
        .collect();
    if !beyond.is_empty() {
        tx.update_where::<api_key::Entity, _>(
            Condition::all()
                .add(api_key::Column::Id.is_in(beyond.iter().copied()))
                .add(api_key::Column::RevokedAt.is_null()),
            api_key::ActiveModel {
                revoked_at: Set(Some(now)),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(beyond)
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
