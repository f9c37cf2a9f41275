//! Writes confined to one owner, shared by both seams: an insert stamped
//! with the owner, updates and deletes filtered by it. The seams choose the
//! owner column (`tenant_id` for `TenantTx`, the person's for `UserTx`).

use sea_orm::sea_query::{Condition, IntoCondition};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryTrait,
};
use uuid::Uuid;

use super::pg::Decode;
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
    let mut insert = E::insert(model).into_query();
    insert.returning(returning::<E>());
    let statement = tx.backend().build(&insert);
    tx.fetch::<E::Model>(statement)
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
    tx.execute(update.build(tx.backend())).await
}

/// Deletes the rows of `owner` that match `condition`; how many.
#[expect(
    clippy::disallowed_methods,
    reason = "the seam: filtered by the owner before it runs"
)]
pub(super) async fn delete<E: EntityTrait>(
    tx: &Tx,
    column: E::Column,
    owner: Uuid,
    condition: impl IntoCondition,
) -> Result<u64, DbErr> {
    let delete = E::delete_many().filter(Condition::all().add(column.eq(owner)).add(condition.into_condition()));
    tx.execute(delete.build(tx.backend())).await
}
