//! Rules per resource. Every write goes through here; nothing here knows HTTP.

pub mod api_keys;
pub mod cursor;
pub mod projects;
pub mod tasks;
pub mod tenants;

use sea_orm::{DbErr, SqlErr};

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
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidCursor(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl Error {
    /// Maps a unique-constraint violation to a conflict with `message`.
    pub fn conflict_on_unique(err: DbErr, message: impl Into<String>) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message.into()),
            _ => Error::Db(err),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

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

    /// Checks a required text field's length in characters.
    pub fn required_text<'v>(
        &mut self,
        field: &str,
        value: Option<&'v str>,
        min: u64,
        max: u64,
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
    pub fn text(&mut self, field: &str, value: &str, min: u64, max: u64) {
        use validator::ValidateLength;
        if !value.validate_length(Some(min), None, None) {
            self.push(
                field,
                "too_short",
                format!("must be at least {min} character(s)"),
            );
        } else if !value.validate_length(None, Some(max), None) {
            self.push(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
    }

    /// Checks an integer field's range (inclusive).
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        use validator::ValidateRange;
        if !value.validate_range(Some(min), Some(max), None, None) {
            self.push(
                field,
                "out_of_range",
                format!("must be between {min} and {max}"),
            );
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

pub fn check_limit(violations: &mut Violations, limit: Option<i64>) -> u64 {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    violations.range("limit", limit, 1, MAX_PAGE_SIZE);
    limit.clamp(1, MAX_PAGE_SIZE) as u64
}

/// One page of a list, in order, and the cursor for the next one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
