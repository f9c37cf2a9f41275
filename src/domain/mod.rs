//! Rules per resource. Every write goes through here; nothing here knows HTTP.

pub mod accounts;
pub mod api_keys;
pub mod cursor;
pub mod effects;
pub mod members;
pub mod people;
pub mod projects;
pub mod sessions;
pub mod tasks;
pub mod tenants;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DbErr, Order, SqlErr};
use uuid::Uuid;

use crate::db::TenantDb;

use crate::secret::DerivedKey;

/// One broken rule on one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error("{0}")]
    Conflict(String),
    /// An `If-Match` precondition that the resource no longer meets.
    #[error("the {0} changed")]
    PreconditionFailed(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidCursor(&'static str),
    /// A credential (a refresh token) that is unknown, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many attempts; try again after `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// A bounded resource (the password workers) is saturated; try again
    /// after `retry_after` seconds.
    #[error("{detail}")]
    Unavailable { detail: String, retry_after: u64 },
    /// A failure of the server's own; logged at the edge, never returned.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<crate::auth::password::PasswordError> for Error {
    fn from(err: crate::auth::password::PasswordError) -> Self {
        use crate::auth::password::PasswordError;
        match err {
            PasswordError::Busy => Error::Unavailable {
                detail: "too many sign-ins are being checked right now; retry in a moment".to_owned(),
                retry_after: 1,
            },
            PasswordError::Internal(e) => Error::Internal(format!("password hashing failed: {e}")),
        }
    }
}

impl From<crate::auth::sign_in::CredentialError> for Error {
    fn from(err: crate::auth::sign_in::CredentialError) -> Self {
        use crate::auth::sign_in::CredentialError;
        match err {
            CredentialError::Wrong => Error::Unauthenticated(CredentialError::Wrong.to_string()),
            e @ CredentialError::Throttled { retry_after } => Error::TooManyRequests {
                detail: e.to_string(),
                retry_after,
            },
            CredentialError::Password(e) => e.into(),
            CredentialError::Db(e) => Error::Db(e),
        }
    }
}

impl Error {
    /// Maps a unique-constraint violation to a conflict with `message`.
    pub fn conflict_on_unique(err: DbErr, message: impl Into<String>) -> Self {
        match crate::db::sql_err(&err) {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message.into()),
            _ => Error::Db(err),
        }
    }

    /// Maps a foreign-key violation to `what` not found: a row written
    /// against a parent the tenant does not have (the keys are composite,
    /// `(tenant_id, id)`, so another tenant's parent is no parent).
    pub fn not_found_on_foreign_key(err: DbErr, what: &'static str) -> Self {
        match crate::db::sql_err(&err) {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Error::NotFound(what),
            _ => Error::Db(err),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Input that passed its resource's rules; made only by the `validate`
/// functions of this module's children, taken by the functions that write.
#[derive(Debug)]
pub struct Valid<T>(T);

/// What a write asks of the version of the row it changes (`If-Match`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing beyond the row being there (no `If-Match`, or `*`).
    #[default]
    None,
    /// Its `updated_at` is one of these; none at all: no version can match.
    Versions(Vec<DateTime<Utc>>),
}

/// Writes `model` to the tenant's row `id` of `E` if it meets `pre` (its
/// `version` column one of the versions named, in the same statement):
/// `404` when there is no such row, `412` when it has another version.
pub(crate) async fn update_checked<E, A>(
    db: &TenantDb,
    id: Uuid,
    model: A,
    pre: &Precondition,
    what: &'static str,
    version: E::Column,
) -> Result<E::Model>
where
    E: entity::TenantScoped,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
    E::Model: crate::db::Decode + sea_orm::FromQueryResult,
{
    let tx = match pre {
        Precondition::None => db.single_write().await?,
        Precondition::Versions(_) => db.write().await?,
    };
    let row = match pre {
        Precondition::None => tx.update_by_id(id, model).await?,
        Precondition::Versions(versions) => {
            let also = sea_orm::sea_query::Condition::all().add(version.is_in(versions.iter().copied()));
            tx.update_by_id_if(id, model, also).await?
        }
    };
    let Some(row) = row else {
        return Err(missing_or_changed::<E>(&tx, id, pre, what).await?);
    };
    tx.commit().await?;
    Ok(row)
}

/// Deletes the tenant's row `id` of `E` if it meets `pre` (see
/// [`update_checked`]).
pub(crate) async fn delete_checked<E>(
    db: &TenantDb,
    id: Uuid,
    pre: &Precondition,
    what: &'static str,
    version: E::Column,
) -> Result<()>
where
    E: entity::TenantScoped,
    E::Model: crate::db::Decode + sea_orm::FromQueryResult,
{
    let tx = match pre {
        Precondition::None => db.single_write().await?,
        Precondition::Versions(_) => db.write().await?,
    };
    let deleted = match pre {
        Precondition::None => tx.delete_by_id::<E>(id).await?,
        Precondition::Versions(versions) => {
            let also = sea_orm::sea_query::Condition::all().add(version.is_in(versions.iter().copied()));
            tx.delete_by_id_if::<E>(id, also).await?
        }
    };
    if !deleted {
        return Err(missing_or_changed::<E>(&tx, id, pre, what).await?);
    }
    tx.commit().await?;
    Ok(())
}

/// Why a write by id changed nothing: no such row (`404`), or, under a
/// precondition, a row of another version (`412`).
async fn missing_or_changed<E>(
    tx: &crate::db::TenantTx,
    id: Uuid,
    pre: &Precondition,
    what: &'static str,
) -> Result<Error>
where
    E: entity::TenantScoped,
    E::Model: crate::db::Decode + sea_orm::FromQueryResult,
{
    if *pre == Precondition::None || tx.find_by_id::<E>(id).await?.is_none() {
        return Ok(Error::NotFound(what));
    }
    Ok(Error::PreconditionFailed(what))
}

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A field of a partial update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not sent: keep the current value.
    #[default]
    Absent,
    /// Sent as `null`.
    Null,
    Value(T),
}

/// Collects every violation of a request before answering.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.0.push(Violation {
            field: field.to_owned(),
            code,
            message: message.into(),
        });
    }

    /// Takes over `other`'s violations with `prefix` before each field name.
    pub fn extend_prefixed(&mut self, other: Violations, prefix: &str) {
        self.0.extend(other.0.into_iter().map(|mut v| {
            v.field = format!("{prefix}{}", v.field);
            v
        }));
    }

    /// Checks a required text field's length in characters.
    pub fn required_text<'v>(
        &mut self,
        field: &str,
        value: Option<&'v str>,
        min: usize,
        max: usize,
    ) -> Option<&'v str> {
        match value {
            None => {
                self.push(field, "required", "is required");
                None
            }
            Some(v) => {
                self.text(field, v, min, max);
                Some(v)
            }
        }
    }

    /// Checks a text field's length in characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        use validator::ValidateLength;
        if value.contains('\0') {
            // PostgreSQL text cannot hold NUL; refuse it on every backend alike.
            self.push(field, "invalid", "must not contain NUL characters");
        } else if !value.validate_length(Some(min as u64), None, None) {
            self.push(field, "too_short", format!("must be at least {min} character(s)"));
        } else if !value.validate_length(None, Some(max as u64), None) {
            self.push(field, "too_long", format!("must be at most {max} characters"));
        }
    }

    /// Checks an integer field's range (inclusive).
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        use validator::ValidateRange;
        if !value.validate_range(Some(min), Some(max), None, None) {
            self.push(field, "out_of_range", format!("must be between {min} and {max}"));
        }
    }

    /// A field that may be omitted but not sent as `null`.
    pub fn not_null<T>(&mut self, field: &str, patch: &Patch<T>) {
        if matches!(patch, Patch::Null) {
            self.push(field, "not_null", "may be omitted but not null");
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// The page size rule shared by every list.
pub const MAX_PAGE_SIZE: i64 = 100;
pub const DEFAULT_PAGE_SIZE: i64 = 20;

/// One page of a list, in order, and the cursor for the next one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A list request checked before any data is touched: the cursor decoded
/// and bound to its query (400), the page size in range (422).
#[derive(Debug)]
pub struct ListParams {
    shape: String,
    limit: u64,
    after: Option<cursor::Position>,
}

impl ListParams {
    /// `shape` identifies the query: tenant, resource, filters and sort.
    pub fn new(key: &DerivedKey, shape: String, limit: Option<i64>, cursor: Option<&str>) -> Result<Self> {
        let after = cursor.map(|c| cursor::decode(key, &shape, c)).transpose()?;
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut v = Violations::default();
        v.range("limit", limit, 1, MAX_PAGE_SIZE);
        v.finish()?;
        Ok(Self {
            shape,
            limit: limit as u64,
            after,
        })
    }

    /// How many rows to fetch: one more than a page, to know whether another follows.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    pub fn after(&self) -> Option<&cursor::Position> {
        self.after.as_ref()
    }

    /// Cuts `rows` (fetched with [`ListParams::fetch`]) to a page and makes
    /// the next cursor from the last row's position.
    pub fn page<T>(&self, key: &DerivedKey, mut rows: Vec<T>, position: impl Fn(&T) -> cursor::Position) -> Page<T> {
        let next_cursor = if rows.len() as u64 > self.limit {
            rows.truncate(self.limit as usize);
            rows.last().map(|last| cursor::encode(key, &self.shape, position(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// One page of this tenant's rows of `E` that match `condition`, oldest
/// first by `(created_at, id)`; `key_of` gives a row's `(created_at, id)`.
pub(crate) async fn oldest_first<E: entity::TenantScoped>(
    db: &TenantDb,
    key: &DerivedKey,
    params: &ListParams,
    created_at: E::Column,
    condition: Condition,
    key_of: impl Fn(&E::Model) -> (DateTime<Utc>, uuid::Uuid),
) -> Result<Page<E::Model>>
where
    E::Model: crate::db::Decode,
{
    let tx = db.single_read().await?;
    let mut query = tx.find::<E>().filter(condition);
    if let Some(after) = params.after() {
        query = query.filter(after_created(created_at, E::id_column(), after, false)?);
    }
    let rows = query
        .order_by(created_at, Order::Asc)
        .order_by(E::id_column(), Order::Asc)
        .limit(params.fetch())
        .all()
        .await?;
    tx.commit().await?;
    Ok(params.page(key, rows, |row| {
        let (at, id) = key_of(row);
        cursor::Position {
            key: Some(format_time(at)),
            id,
        }
    }))
}

/// Rows after `after` in `(created_at, id)` order, ascending or descending.
pub(crate) fn after_created<C: ColumnTrait>(
    created: C,
    id: C,
    after: &cursor::Position,
    descending: bool,
) -> Result<Condition> {
    let at = parse_time(after.key.as_deref())?;
    let (beyond, id_beyond) = if descending {
        (created.lt(at), id.lt(after.id))
    } else {
        (created.gt(at), id.gt(after.id))
    };
    Ok(Condition::any()
        .add(beyond)
        .add(Condition::all().add(created.eq(at)).add(id_beyond)))
}

/// The cursor form of a timestamp: RFC 3339 with microseconds.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(s: Option<&str>) -> Result<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or(Error::InvalidCursor(cursor::MALFORMED))
}
