//! One select for both seams: built already confined to its owner (a
//! tenant by `TenantTx::find`, a person by `UserTx::find`), narrowed and
//! ordered here, run on the owner's transaction. It can only add
//! conditions, never take the owner's away.

use sea_orm::sea_query::{IntoCondition, NullOrdering};
use sea_orm::{DatabaseBackend, DbErr, EntityTrait, Order, QueryTrait, Select};

use super::pg::Decode;
use super::tx::Tx;

/// A select over one owner's rows of `E`; run it with `all` or `one`.
pub struct ScopedSelect<'a, E: EntityTrait> {
    tx: &'a Tx,
    // Boxed and changed in place: a select is large, and the builder
    // methods would otherwise copy it at every step.
    select: Box<Select<E>>,
}

impl<E: EntityTrait> std::fmt::Debug for ScopedSelect<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedSelect").finish_non_exhaustive()
    }
}

impl<'a, E: EntityTrait> ScopedSelect<'a, E> {
    /// `select` must already hold its owner's condition (the seams' `find`).
    pub(super) fn new(tx: &'a Tx, select: Select<E>) -> Self {
        Self {
            tx,
            select: Box::new(select),
        }
    }

    fn statement(&mut self) -> &mut sea_orm::sea_query::SelectStatement {
        QueryTrait::query(&mut *self.select)
    }

    pub fn filter(mut self, condition: impl IntoCondition) -> Self {
        self.statement().cond_where(condition.into_condition());
        self
    }

    pub fn order_by(mut self, column: E::Column, order: Order) -> Self {
        self.statement()
            .order_by_expr(sea_orm::IntoSimpleExpr::into_simple_expr(column), order);
        self
    }

    /// Orders by a nullable column with `NULL`s after every value, in either
    /// direction (the same on SQLite and PostgreSQL).
    pub fn order_by_nulls_last(mut self, column: E::Column, order: Order) -> Self {
        self.statement().order_by_expr_with_nulls(
            sea_orm::IntoSimpleExpr::into_simple_expr(column),
            order,
            NullOrdering::Last,
        );
        self
    }

    pub fn limit(mut self, limit: u64) -> Self {
        self.statement().limit(limit);
        self
    }

    /// Locks the selected rows until the transaction ends (PostgreSQL;
    /// SQLite's write transactions already hold the database lock).
    pub fn for_update(mut self) -> Self {
        if self.tx.backend() == DatabaseBackend::Postgres {
            self.statement().lock_exclusive();
        }
        self
    }

    /// The statement, for its own transaction (`TenantTx::find_by_id_and_all`).
    pub(super) fn into_statement(self) -> (&'a Tx, sea_orm::Statement) {
        let statement = self.select.build(self.tx.backend());
        (self.tx, statement)
    }

    pub async fn all(self) -> Result<Vec<E::Model>, DbErr>
    where
        E::Model: Decode,
    {
        let statement = self.select.build(self.tx.backend());
        self.tx.fetch(super::tx::set_of::<E>()?, statement).await
    }

    pub async fn one(mut self) -> Result<Option<E::Model>, DbErr>
    where
        E::Model: Decode,
    {
        self.statement().limit(1);
        let statement = self.select.build(self.tx.backend());
        Ok(self
            .tx
            .fetch(super::tx::set_of::<E>()?, statement)
            .await?
            .into_iter()
            .next())
    }
}
