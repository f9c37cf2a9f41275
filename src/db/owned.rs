//! Writes confined to one owner, shared by both seams: an insert stamped
//! with the owner, updates and deletes filtered by it. The seams choose the
//! owner column (`tenant_id` for `TenantTx`, the person's for `UserTx`).

use sea_orm::sea_query::{Condition, IntoCondition, Value};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseBackend, DbErr, EntityTrait,
    IntoActiveModel, Iterable, QueryFilter, QueryTrait, Statement,
};
use uuid::Uuid;

use super::pg::Decode;
use super::shape::{self, Shape};
use super::tx::Tx;

/// `RETURNING` every column of `E` in the model's field order (what
/// `Decode` reads), not the table's.
pub(super) fn returning<E: EntityTrait>() -> sea_orm::sea_query::ReturningClause {
    sea_orm::sea_query::Query::returning().columns(<E::Column as sea_orm::Iterable>::iter())
}

/// Inserts `model` with `owner` written into `column`; the inserted row.
#[expect(clippy::disallowed_methods, reason = "the seam: the owner is stamped before it runs")]
pub(super) async fn insert<E, A>(tx: &Tx, column: E::Column, owner: Uuid, mut model: A) -> Result<E::Model, DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    E::Model: IntoActiveModel<A> + Decode,
{
    model.set(column, owner.into());
    let backend = tx.backend();
    let (mask, values) = written(&model, |v| match v {
        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some(v),
        ActiveValue::NotSet => None,
    });
    let build = move || {
        let mut insert = E::insert(model).into_query();
        insert.returning(returning::<E>());
        backend.build(&insert)
    };
    let query = match mask {
        Some(mask) => shape::query::<E>(backend, Shape::Insert(mask), values, build),
        None => build().into(),
    };
    tx.fetch::<E::Model>(super::tx::set_of::<E>()?, query)
        .await?
        .into_iter()
        .next()
        .ok_or(DbErr::RecordNotInserted)
}

/// Writes the set fields of `model`, except `frozen` columns, to the rows of
/// `owner` that match `condition`; how many changed.
#[expect(
    clippy::disallowed_methods,
    reason = "the seam: filtered by the owner before it runs"
)]
pub(super) async fn update<E, A>(
    tx: &Tx,
    column: E::Column,
    owner: Uuid,
    frozen: &[E::Column],
    condition: impl IntoCondition,
    mut model: A,
) -> Result<u64, DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    model.not_set(column);
    for c in frozen {
        model.not_set(*c);
    }
    let update = E::update_many()
        .set(model)
        .filter(Condition::all().add(column.eq(owner)).add(condition.into_condition()));
    tx.execute(super::tx::set_of::<E>()?, update.build(tx.backend())).await
}

/// Which of `model`'s columns a statement writes (bit i: the entity's i-th
/// column), with their values in column order, as SeaORM's insert and
/// update emit them; `pick` says which of a column's states is written.
/// No mask for an entity of more than 64 columns.
pub(super) fn written<A: ActiveModelTrait>(
    model: &A,
    pick: impl Fn(ActiveValue<Value>) -> Option<Value>,
) -> (Option<u64>, Vec<Value>) {
    let mut mask = Some(0u64);
    let mut values = Vec::new();
    for (i, column) in <<A::Entity as EntityTrait>::Column as Iterable>::iter().enumerate() {
        if let Some(value) = pick(model.get(column)) {
            mask = mask.and_then(|m| Some(m | 1u64.checked_shl(u32::try_from(i).ok()?)?));
            values.push(value);
        }
    }
    (mask, values)
}

/// The delete of `owner`'s rows that match `condition`.
#[expect(
    clippy::disallowed_methods,
    reason = "the seam: filtered by the owner before it runs"
)]
pub(super) fn delete_statement<E: EntityTrait>(
    backend: DatabaseBackend,
    column: E::Column,
    owner: Uuid,
    condition: impl IntoCondition,
) -> Statement {
    E::delete_many()
        .filter(Condition::all().add(column.eq(owner)).add(condition.into_condition()))
        .build(backend)
}

/// Deletes the rows of `owner` that match `condition`; how many.
pub(super) async fn delete<E: EntityTrait>(
    tx: &Tx,
    column: E::Column,
    owner: Uuid,
    condition: impl IntoCondition,
) -> Result<u64, DbErr> {
    tx.execute(
        super::tx::set_of::<E>()?,
        delete_statement::<E>(tx.backend(), column, owner, condition),
    )
    .await
}
