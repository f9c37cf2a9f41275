//! The tenant seam. Every read is filtered to the rows the tenant may see
//! (`entity::TenantVisible`: its own, and its members' profiles), every
//! insert is stamped with it, every update and delete is confined to it, and on
//! PostgreSQL every transaction carries it in `app.tenant_id` so row-level
//! security holds the line too. Neither type here hands out a connection or
//! a transaction.
//!
//! On PostgreSQL a transaction starts with one round trip that also sets
//! `app.tenant_id` (and, for a tenant in a schema of its own, `search_path`:
//! `placement.rs`), and a transaction of one statement is one round trip in
//! all (see `tx.rs`).

use std::sync::Arc;

use entity::{TenantScoped, TenantVisible};
use migration::TableSet;
use sea_orm::sea_query::{Condition, IntoCondition};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseBackend, DbErr, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryTrait,
};
use uuid::Uuid;

use super::owned;
use super::pg::Decode;
use super::placement::{self, Placements};
use super::select::ScopedSelect;
use super::shape::{self, Query, Shape};
use super::tx::{OwnDatabase, Tx, set_of};

/// Data access for one tenant. Made only by `Db::scoped`, from a grant.
#[derive(Debug, Clone)]
pub struct TenantDb {
    conn: super::Conn,
    tenant: Uuid,
    placements: Arc<Placements>,
}

impl TenantDb {
    pub(super) fn new(conn: super::Conn, tenant: Uuid, placements: Arc<Placements>) -> Self {
        Self {
            conn,
            tenant,
            placements,
        }
    }

    /// A transaction of this tenant's in its placement: its scope settings,
    /// and for a tenant in a database of its own, that database for its
    /// tenant set.
    async fn open(&self, write: bool, single: bool) -> Result<TenantTx, DbErr> {
        // A request sent with an idempotency key runs its effect in the
        // key's transaction (`idempotency.rs`).
        let claim = super::idempotency::current();
        let guard = match claim.as_ref().map(|c| c.take(self.tenant, write)) {
            Some(super::idempotency::Take::Parked(tx)) => {
                return Ok(TenantTx {
                    tx: *tx,
                    tenant: self.tenant,
                    claim,
                });
            }
            Some(super::idempotency::Take::Guard(claim)) => Some(claim),
            Some(super::idempotency::Take::None) | None => None,
        };
        let placed = self.placements.of(&self.conn, self.tenant).await?;
        let own = placed.database.map(|location| OwnDatabase {
            placements: self.placements.clone(),
            location,
        });
        let settings = placement::settings(self.tenant, placed.placement);
        let tx = Tx::routed(&self.conn, own, settings, write, single);
        Ok(match guard {
            Some(claim) => TenantTx {
                tx: tx.guarded(claim.clone()),
                tenant: self.tenant,
                claim: Some(claim),
            },
            None => TenantTx {
                tx,
                tenant: self.tenant,
                claim: None,
            },
        })
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant
    }

    /// Starts a transaction for reads.
    pub async fn read(&self) -> Result<TenantTx, DbErr> {
        self.begin(false).await
    }

    /// Starts a transaction that will write (on SQLite it takes the write
    /// lock up front, so it never fails to upgrade midway).
    pub async fn write(&self) -> Result<TenantTx, DbErr> {
        self.begin(true).await
    }

    /// A transaction for one statement that reads. On PostgreSQL the tenant
    /// setting, the statement and its commit share one round trip; running a
    /// second statement on it is an error.
    pub async fn single_read(&self) -> Result<TenantTx, DbErr> {
        self.single(false).await
    }

    /// A transaction for one statement that writes (see
    /// [`TenantDb::single_read`]).
    pub async fn single_write(&self) -> Result<TenantTx, DbErr> {
        self.single(true).await
    }

    async fn begin(&self, write: bool) -> Result<TenantTx, DbErr> {
        self.open(write, false).await
    }

    async fn single(&self, write: bool) -> Result<TenantTx, DbErr> {
        self.open(write, true).await
    }
}

/// `UPDATE` of `model`'s set fields on the tenant's row `id` that also
/// meets `also`, `RETURNING` every column.
#[expect(
    clippy::disallowed_methods,
    reason = "the seam: the statement is confined to the tenant's row"
)]
fn update_by_id_statement<E, A>(
    backend: DatabaseBackend,
    tenant: Uuid,
    id: Uuid,
    model: A,
    also: Condition,
) -> sea_orm::Statement
where
    E: TenantScoped,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let mut update = E::update_many()
        .set(model)
        .filter(E::tenant_column().eq(tenant))
        .filter(E::id_column().eq(id))
        .filter(also)
        .into_query();
    update.returning(owned::returning::<E>());
    backend.build(&update)
}

/// A transaction confined to one tenant. Dropped without [`TenantTx::commit`]
/// it rolls back.
pub struct TenantTx {
    tx: Tx,
    tenant: Uuid,
    /// The idempotency claim whose transaction this is: its commit parks it
    /// there, for the answer to be stored with the effect.
    claim: Option<Arc<super::idempotency::Claim>>,
}

impl std::fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "this is the seam: every unscoped call here is scoped before it runs"
)]
impl TenantTx {
    pub fn tenant_id(&self) -> Uuid {
        self.tenant
    }

    async fn fetch<M: FromQueryResult + Decode>(&self, set: TableSet, query: Query) -> Result<Vec<M>, DbErr> {
        self.tx.fetch(set, query).await
    }

    fn backend(&self) -> DatabaseBackend {
        self.tx.backend()
    }

    /// A query over the rows of `E` this tenant may see (its own, or those
    /// the entity makes visible to it), and only those.
    pub fn find<E: TenantVisible>(&self) -> ScopedSelect<'_, E> {
        ScopedSelect::new(&self.tx, E::find().filter(E::visible_to_tenant(self.tenant)))
    }

    pub async fn find_by_id<E: TenantScoped>(&self, id: Uuid) -> Result<Option<E::Model>, DbErr>
    where
        E::Model: Decode,
    {
        let query = self.find_by_id_query::<E>(id);
        Ok(self
            .tx
            .fetch::<E::Model>(set_of::<E>()?, query)
            .await?
            .into_iter()
            .next())
    }

    /// This tenant's row `id` of `E` and the rows `select` finds, asked
    /// together: on PostgreSQL in one round trip, on a transaction of one
    /// statement too (the pair is its one use).
    pub async fn find_by_id_and_all<E, F>(
        &self,
        id: Uuid,
        select: ScopedSelect<'_, F>,
    ) -> Result<(Option<E::Model>, Vec<F::Model>), DbErr>
    where
        E: TenantScoped,
        F: sea_orm::EntityTrait,
        E::Model: Decode,
        F::Model: Decode,
    {
        let (tx, statement) = select.into_statement();
        if !std::ptr::eq(tx, &self.tx) {
            return Err(DbErr::Custom("a select was run on another transaction".to_owned()));
        }
        let set = set_of::<E>()?;
        if set_of::<F>()? != set {
            return Err(DbErr::Custom(
                "a pair of statements reaches both table sets (a transaction never spans both)".to_owned(),
            ));
        }
        let first = self.find_by_id_query::<E>(id);
        let (row, rows) = self
            .tx
            .fetch_pair::<E::Model, F::Model>(set, first, statement.into())
            .await?;
        Ok((row.into_iter().next(), rows))
    }

    fn find_by_id_query<E: TenantScoped>(&self, id: Uuid) -> Query {
        let (backend, tenant) = (self.backend(), self.tenant);
        let values = vec![tenant.into(), id.into(), 1u64.into()];
        shape::query::<E>(backend, Shape::FindById, values, || {
            let mut select = E::find()
                .filter(E::visible_to_tenant(tenant))
                .filter(E::id_column().eq(id));
            QueryTrait::query(&mut select).limit(1);
            select.build(backend)
        })
    }

    /// Inserts `model` with its `tenant_id` overwritten by this tenant's.
    pub async fn insert<E, A>(&self, model: A) -> Result<E::Model, DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A> + Decode,
    {
        owned::insert(&self.tx, E::tenant_column(), self.tenant, model).await
    }

    /// Writes the set fields of `model` to this tenant's row `id`; `None` when
    /// there is no such row. The tenant and id columns are never changed.
    pub async fn update_by_id<E, A>(&self, id: Uuid, mut model: A) -> Result<Option<E::Model>, DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: Decode,
    {
        model.not_set(E::tenant_column());
        model.not_set(E::id_column());
        let (backend, tenant) = (self.backend(), self.tenant);
        let (mask, mut values) = owned::written(&model, |v| match v {
            ActiveValue::Set(v) => Some(v),
            ActiveValue::Unchanged(_) | ActiveValue::NotSet => None,
        });
        values.extend([tenant.into(), id.into()]);
        let build = move || update_by_id_statement::<E, A>(backend, tenant, id, model, Condition::all());
        let query = match mask {
            Some(mask) => shape::query::<E>(backend, Shape::UpdateById(mask), values, build),
            None => build().into(),
        };
        Ok(self.fetch::<E::Model>(set_of::<E>()?, query).await?.into_iter().next())
    }

    /// [`TenantTx::update_by_id`], if the row also meets `also` (the version
    /// a precondition names): `None` when no row of this tenant has `id` and
    /// meets it. One statement; its text is built each time.
    pub async fn update_by_id_if<E, A>(
        &self,
        id: Uuid,
        mut model: A,
        also: Condition,
    ) -> Result<Option<E::Model>, DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
        E::Model: Decode,
    {
        model.not_set(E::tenant_column());
        model.not_set(E::id_column());
        let query: Query = update_by_id_statement::<E, A>(self.backend(), self.tenant, id, model, also).into();
        Ok(self.fetch::<E::Model>(set_of::<E>()?, query).await?.into_iter().next())
    }

    /// Writes the set fields of `model` to every row of this tenant that
    /// matches `condition`; returns how many rows changed.
    pub async fn update_where<E, A>(&self, condition: impl IntoCondition, model: A) -> Result<u64, DbErr>
    where
        E: TenantScoped,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        owned::update(
            &self.tx,
            E::tenant_column(),
            self.tenant,
            &[E::id_column()],
            condition,
            model,
        )
        .await
    }

    /// Deletes this tenant's row `id`; `false` when there was none.
    pub async fn delete_by_id<E: TenantScoped>(&self, id: Uuid) -> Result<bool, DbErr> {
        let (backend, tenant) = (self.backend(), self.tenant);
        let values = vec![tenant.into(), id.into()];
        let query = shape::query::<E>(backend, Shape::DeleteById, values, || {
            owned::delete_statement::<E>(backend, E::tenant_column(), tenant, E::id_column().eq(id))
        });
        Ok(self.tx.execute(set_of::<E>()?, query).await? > 0)
    }

    /// [`TenantTx::delete_by_id`], if the row also meets `also`.
    pub async fn delete_by_id_if<E: TenantScoped>(&self, id: Uuid, also: Condition) -> Result<bool, DbErr> {
        let (backend, tenant) = (self.backend(), self.tenant);
        let condition = Condition::all().add(E::id_column().eq(id)).add(also);
        let statement = owned::delete_statement::<E>(backend, E::tenant_column(), tenant, condition);
        Ok(self.tx.execute(set_of::<E>()?, statement).await? > 0)
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        match self.claim {
            Some(claim) => {
                claim.park(self.tx);
                Ok(())
            }
            None => self.tx.commit().await,
        }
    }
}
