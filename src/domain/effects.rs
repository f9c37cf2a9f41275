//! What must happen once a change has committed, said by the operation that
//! made it. A domain operation that changes what the caches know returns
//! [`Committed`]: its result and its [`Effects`], reachable together only
//! through `AppState::apply` (the layering test allows
//! [`Committed::into_parts`] there alone), which applies them on this
//! instance and, through the broadcast, on the others. So no caller can
//! take the result and forget the effects.
//!
//! Later features add their kinds here (events to publish, audit entries,
//! cache entries to drop); `apply` is the one place that learns them.

use uuid::Uuid;

/// The after-commit work of one change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Sessions ended: their access tokens are refused from now on.
    pub sessions_ended: Vec<Uuid>,
    /// Sessions moved to a new generation `(session, generation)`: tokens
    /// of older generations are refused.
    pub sessions_bumped: Vec<(Uuid, i64)>,
    /// API keys revoked: every instance forgets them.
    pub keys_revoked: Vec<Uuid>,
    /// A tenant deleted: every instance forgets its keys.
    pub tenant_deleted: Option<Uuid>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sessions ended, nothing else.
    pub fn sessions_ended(sessions: Vec<Uuid>) -> Self {
        Self {
            sessions_ended: sessions,
            ..Self::default()
        }
    }
}

/// A committed change's result and its effects. The result is reached only
/// by applying the effects (`AppState::apply`).
#[derive(Debug)]
#[must_use = "a committed change's effects must be applied with AppState::apply"]
pub struct Committed<T> {
    value: T,
    effects: Effects,
}

impl<T> Committed<T> {
    /// For domain operations, once their transaction has committed.
    pub(crate) fn new(value: T, effects: Effects) -> Self {
        Self { value, effects }
    }

    /// The result and the effects apart: for `AppState::apply` only.
    pub(crate) fn into_parts(self) -> (T, Effects) {
        (self.value, self.effects)
    }
}
