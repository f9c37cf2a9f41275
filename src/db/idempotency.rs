//! Idempotency keys as the seam keeps them: a request sent with an
//! `Idempotency-Key` runs its effect and the storing of its answer in one
//! transaction, so an answer is stored exactly when its effect committed.
//!
//! The API layer reads the request, makes a [`Claim`] (the request's
//! fingerprint) and runs the handler inside [`scope`]; once the caller is
//! known it binds the claim to the tenant and the record's id (made from the
//! credential and the key). From then on:
//!
//! * the handler's first write transaction for that tenant is the claim's:
//!   before its first statement it takes the key's lock (PostgreSQL: a
//!   transaction-scoped advisory lock on the record's id, refused at once
//!   when held; SQLite: the write lock every write transaction takes, so a
//!   second request waits for the first) and looks for a stored answer in
//!   the table of the set that statement reaches (`idempotency_keys` with
//!   the tenant's data, `platform_idempotency_keys` beside the platform
//!   set). A live answer settles the claim ([`Settled`]) and fails the
//!   statement, and the API layer answers with it instead;
//! * the handler's commit does not commit: it parks the transaction in the
//!   claim (every later transaction of the handler's for the tenant, reads
//!   too, continues it, so they see what it wrote);
//! * the API layer, given a success, stores the answer in the parked
//!   transaction and commits it ([`Claim::store`]); given anything else it
//!   drops it, and the effect rolls back with the answer unstored.
//!
//! Effects that follow a commit (caches, broadcasts) wait for the real one
//! ([`Claim::defer`]).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use migration::TableSet;
use sea_orm::{DatabaseBackend, DbErr, FromQueryResult, Statement, Value};
use uuid::Uuid;

use super::shape::Query;
use super::tx::Tx;

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

/// What a failed statement says when the claim was settled before the
/// effect ran: the API layer answers from the claim, never with this.
pub const SETTLED: &str = "tenantry: the idempotency key was settled before the request ran";

/// Whether `err` is the seam stopping a request whose key was settled.
pub fn is_settled(err: &DbErr) -> bool {
    matches!(err, DbErr::Custom(message) if message == SETTLED)
}

/// How many expired records of the tenant each stored answer sweeps.
const SWEPT: u32 = 100;

/// An answer stored for a key, as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub location: Option<String>,
    /// As the API layer stored it (sealed).
    pub body: String,
}

/// Why a claim's request does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The key's answer, for the same request: sent again.
    Replay(Stored),
    /// The key was used for another request (another fingerprint).
    Reused,
    /// A request with the key is running (PostgreSQL).
    InProgress,
}

/// Who the claim is for, once the caller is known.
#[derive(Debug, Clone, Copy)]
struct Bound {
    tenant: Uuid,
    record: Uuid,
}

enum State {
    /// No write transaction yet.
    Fresh,
    /// Its transaction is out, with the handler.
    InUse,
    /// The handler committed: the transaction waits for the answer.
    Parked(Box<Tx>),
    /// Answered without running.
    Settled(Settled),
}

/// A request sent with an `Idempotency-Key`.
pub struct Claim {
    fingerprint: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    bound: OnceLock<Bound>,
    state: Mutex<State>,
    deferred: Mutex<Vec<BoxFuture<'static, ()>>>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("bound", &self.bound.get())
            .finish_non_exhaustive()
    }
}

/// What [`Claim::take`] hands a tenant's new transaction.
pub(super) enum Take {
    /// The parked transaction, to continue.
    Parked(Box<Tx>),
    /// The claim's first write: a new transaction guarded by the claim.
    Guard(Arc<Claim>),
    /// Nothing of the claim's: an ordinary transaction.
    None,
}

#[derive(Debug, FromQueryResult)]
pub(crate) struct RecordRow {
    pub(crate) fingerprint: String,
    pub(crate) status: i16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The statements that guard a claim's transaction ([`Claim::guard`]).
pub(super) struct Guard {
    pub(super) lock: Option<Query>,
    pub(super) lookup: Query,
}

#[derive(Debug, FromQueryResult)]
pub(crate) struct LockRow {
    pub(crate) locked: bool,
}

/// Runs `fut` (a request's handler) with `claim` as its claim.
pub async fn scope<F: std::future::Future>(claim: Arc<Claim>, fut: F) -> F::Output {
    CLAIM.scope(claim, fut).await
}

/// The claim of the request being handled, if it has one.
pub fn current() -> Option<Arc<Claim>> {
    CLAIM.try_with(Arc::clone).ok()
}

fn table(set: TableSet) -> &'static str {
    match set {
        TableSet::Tenant => migration::IDEMPOTENCY_KEYS,
        TableSet::Platform => migration::PLATFORM_IDEMPOTENCY_KEYS,
    }
}

/// `$n` on PostgreSQL, `?n` on SQLite.
fn param(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

fn query(backend: DatabaseBackend, sql: String, values: Vec<Value>) -> Query {
    Statement::from_sql_and_values(backend, sql, values).into()
}

impl Claim {
    /// A claim on a request whose fingerprint (the SHA-256 of its method,
    /// path, query and body) is `fingerprint`, made at `now`; its answer is
    /// kept until `expires_at`.
    pub fn new(fingerprint: [u8; 32], now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            fingerprint: crate::secret::hex(&fingerprint),
            now,
            expires_at,
            bound: OnceLock::new(),
            state: Mutex::new(State::Fresh),
            deferred: Mutex::default(),
        })
    }

    /// Binds the claim to the caller's tenant and the key's record (made
    /// from the credential and the key); only its transactions for that
    /// tenant are the claim's.
    pub fn bind(&self, tenant: Uuid, record: Uuid) {
        let _ = self.bound.set(Bound { tenant, record });
    }

    /// The tenant and the record the claim was bound to.
    pub fn bound(&self) -> Option<(Uuid, Uuid)> {
        self.bound.get().map(|b| (b.tenant, b.record))
    }

    /// The answer the claim was settled with, if it was.
    pub fn settled(&self) -> Option<Settled> {
        match &*self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            State::Settled(settled) => Some(settled.clone()),
            _ => None,
        }
    }

    /// Whether the handler committed a transaction of the claim's.
    pub fn is_parked(&self) -> bool {
        matches!(
            &*self.state.lock().unwrap_or_else(PoisonError::into_inner),
            State::Parked(_)
        )
    }

    /// Keeps an effect of the handler's commit until the real one.
    pub fn defer(&self, effect: BoxFuture<'static, ()>) {
        self.deferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(effect);
    }

    /// Runs the deferred effects (the transaction committed).
    pub async fn apply_deferred(&self) {
        let effects = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(PoisonError::into_inner));
        for effect in effects {
            effect.await;
        }
    }

    /// What a new transaction of `tenant`'s (`write` or not) takes from the
    /// claim.
    pub(super) fn take(self: &Arc<Self>, tenant: Uuid, write: bool) -> Take {
        if self.bound.get().is_none_or(|b| b.tenant != tenant) {
            return Take::None;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, State::InUse) {
            State::Parked(tx) => Take::Parked(tx),
            State::Fresh if write => Take::Guard(self.clone()),
            other => {
                *state = other;
                Take::None
            }
        }
    }

    /// The handler committed the claim's transaction: it waits here.
    pub(super) fn park(&self, tx: Tx) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::Parked(Box::new(tx));
    }

    fn settle(&self, settled: Settled) -> DbErr {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::Settled(settled);
        DbErr::Custom(SETTLED.to_owned())
    }

    /// What guards the claim's transaction before its first statement, on
    /// `set`: the key's lock (PostgreSQL), then its stored answer.
    pub(super) fn guard(&self, backend: DatabaseBackend, set: TableSet) -> Guard {
        let bound = self.bound.get().copied().unwrap_or(Bound {
            tenant: Uuid::nil(),
            record: Uuid::nil(),
        });
        let lock = (backend == DatabaseBackend::Postgres).then(|| {
            let lock = i64::from_be_bytes(bound.record.as_bytes()[..8].try_into().unwrap_or_default());
            query(
                backend,
                "SELECT pg_try_advisory_xact_lock($1) AS locked".to_owned(),
                vec![lock.into()],
            )
        });
        let sql = format!(
            "SELECT fingerprint, status, location, body, expires_at FROM {} WHERE tenant_id = {} AND id = {}",
            table(set),
            param(backend, 1),
            param(backend, 2)
        );
        Guard {
            lock,
            lookup: query(backend, sql, vec![bound.tenant.into(), bound.record.into()]),
        }
    }

    /// What the guard found: whether the key's lock was taken, and the
    /// record stored for the key, if any. A live record, or a lock another
    /// request holds, settles the claim, and the error stops the request.
    pub(super) fn judge(&self, locked: bool, record: Option<RecordRow>) -> Result<(), DbErr> {
        if !locked {
            return Err(self.settle(Settled::InProgress));
        }
        match record {
            Some(record) if record.expires_at > self.now => {
                if record.fingerprint == self.fingerprint {
                    Err(self.settle(Settled::Replay(Stored {
                        status: u16::try_from(record.status).unwrap_or(200),
                        location: record.location,
                        body: record.body,
                    })))
                } else {
                    Err(self.settle(Settled::Reused))
                }
            }
            _ => Ok(()),
        }
    }

    /// Stores `answer` in the parked transaction and commits it, with the
    /// effect: `true` once committed, `false` when the handler parked no
    /// transaction (it wrote nothing, and nothing is stored). A tenant
    /// deleted by its own request keeps no record (there is nothing left to
    /// replay to).
    pub async fn store(&self, answer: Stored) -> Result<bool, DbErr> {
        let parked = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match std::mem::replace(&mut *state, State::InUse) {
                State::Parked(tx) => tx,
                other => {
                    *state = other;
                    return Ok(false);
                }
            }
        };
        let Some(bound) = self.bound.get().copied() else {
            return Ok(false);
        };
        let Some(set) = parked.opened_set() else {
            // Its handler ran no statement: nothing to keep it with.
            return Ok(false);
        };
        let backend = parked.backend();
        let p = |n| param(backend, n);
        let name = table(set);
        let sweep = format!(
            "DELETE FROM {name} WHERE tenant_id = {t} AND id IN
               (SELECT id FROM {name} WHERE tenant_id = {t} AND expires_at <= {now} LIMIT {SWEPT})",
            t = p(1),
            now = p(2),
        );
        let sweep = query(backend, sweep, vec![bound.tenant.into(), self.now.into()]);
        let insert = format!(
            "INSERT INTO {name} (tenant_id, id, fingerprint, status, location, body, created_at, expires_at)
             SELECT {}, {}, {}, {}, {}, {}, {}, {} WHERE EXISTS (SELECT 1 FROM tenants WHERE id = {})
             ON CONFLICT (tenant_id, id) DO UPDATE SET fingerprint = excluded.fingerprint,
               status = excluded.status, location = excluded.location, body = excluded.body,
               created_at = excluded.created_at, expires_at = excluded.expires_at",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(1),
        );
        let values = vec![
            bound.tenant.into(),
            bound.record.into(),
            self.fingerprint.clone().into(),
            i16::try_from(answer.status).unwrap_or(200).into(),
            answer.location.into(),
            answer.body.into(),
            self.now.into(),
            self.expires_at.into(),
        ];
        // One round trip on PostgreSQL: the sweep, the record and the commit.
        parked
            .commit_after(set, vec![sweep, query(backend, insert, values)])
            .await?;
        Ok(true)
    }
}
