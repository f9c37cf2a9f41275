//! SQL text of the seams' fixed statement shapes, built once.
//!
//! A get by id, a delete by id, an insert or an update of a given set of
//! columns has SQL text that depends only on the entity, the backend and
//! which columns are written, never on the values. SeaORM builds it the
//! first time a shape runs; after that the seam binds fresh values to the
//! kept text, and the builder (a third of a get's own work on the request
//! path) is skipped.
//!
//! The values are listed here in the order SeaORM's builder emits them. The
//! first build of each shape checks that claim against the builder's own
//! values, and a shape whose values ever disagree is never kept: it is then
//! built every time, as before. Debug builds (every test) compare every
//! statement with a fresh build, on both backends.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use sea_orm::sea_query::Value;
use sea_orm::{DatabaseBackend, Statement};

/// Which statement of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Shape {
    /// `SELECT` every column `WHERE tenant_id = $1 AND id = $2 LIMIT $3`.
    FindById,
    /// `DELETE … WHERE tenant_id = $1 AND id = $2`.
    DeleteById,
    /// `INSERT` of the columns in the mask (bit i: the entity's i-th
    /// column), `RETURNING` every column.
    Insert(u64),
    /// `UPDATE … SET` the columns in the mask `WHERE tenant_id = … AND id =
    /// …`, `RETURNING` every column.
    UpdateById(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    entity: TypeId,
    postgres: bool,
    shape: Shape,
}

/// A shape's text, or `None` for a shape found not to bind its values in
/// the order given here.
type Texts = HashMap<Key, Option<Arc<str>>>;

static TEXTS: LazyLock<RwLock<Texts>> = LazyLock::new(Default::default);

/// A statement to run: its text (shared when it came from a kept shape)
/// and its values.
#[derive(Debug)]
pub(super) struct Query {
    pub sql: Sql,
    pub values: Vec<Value>,
}

#[derive(Debug)]
pub(super) enum Sql {
    Kept(Arc<str>),
    Built(String),
}

impl std::ops::Deref for Sql {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Kept(s) => s,
            Self::Built(s) => s,
        }
    }
}

impl From<Statement> for Query {
    fn from(statement: Statement) -> Self {
        Self {
            sql: Sql::Built(statement.sql),
            values: statement.values.map(|v| v.0).unwrap_or_default(),
        }
    }
}

impl Query {
    /// SeaORM's form, for its own connections (SQLite).
    pub(super) fn into_statement(self, backend: DatabaseBackend) -> Statement {
        let sql = match self.sql {
            Sql::Kept(s) => s.to_string(),
            Sql::Built(s) => s,
        };
        Statement::from_sql_and_values(backend, sql, self.values)
    }
}

/// The statement of `shape` for entity `E` with `values` (in the builder's
/// order); `build` makes it with SeaORM when the text is not kept yet.
pub(super) fn query<E: 'static>(
    backend: DatabaseBackend,
    shape: Shape,
    values: Vec<Value>,
    build: impl FnOnce() -> Statement,
) -> Query {
    let key = Key {
        entity: TypeId::of::<E>(),
        postgres: backend == DatabaseBackend::Postgres,
        shape,
    };
    let kept = TEXTS.read().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
    match kept {
        Some(Some(sql)) => {
            #[cfg(debug_assertions)]
            {
                let built = Query::from(build());
                assert_eq!(&*built.sql, &*sql, "kept text of {shape:?}");
                assert_eq!(built.values, values, "values of {shape:?}");
            }
            Query {
                sql: Sql::Kept(sql),
                values,
            }
        }
        Some(None) => Query::from(build()),
        None => {
            let built = Query::from(build());
            let agrees = built.values == values;
            debug_assert!(
                agrees,
                "values of {shape:?}: {values:?}, the builder's {:?}",
                built.values
            );
            let sql: Arc<str> = Arc::from(&*built.sql);
            TEXTS
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, agrees.then_some(sql));
            built
        }
    }
}

#[cfg(test)]
mod tests {
    use entity::project;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
    use uuid::Uuid;

    use super::*;

    /// The second statement of a shape comes from the kept text, and (in
    /// this debug build) `query` has compared it with a fresh build; a
    /// different id or tenant changes the values, never the text.
    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the seam's own statement, built as the seam builds it"
    )]
    fn a_shape_is_built_once_and_then_bound_with_new_values() {
        for backend in [DatabaseBackend::Postgres, DatabaseBackend::Sqlite] {
            let run = |tenant: Uuid, id: Uuid| {
                let build = || {
                    let mut select = project::Entity::find()
                        .filter(project::Column::TenantId.eq(tenant))
                        .filter(project::Column::Id.eq(id));
                    QueryTrait::query(&mut select).limit(1);
                    select.build(backend)
                };
                let values = vec![tenant.into(), id.into(), 1u64.into()];
                query::<project::Entity>(backend, Shape::FindById, values, build)
            };
            let (first, second) = (run(Uuid::now_v7(), Uuid::now_v7()), run(Uuid::now_v7(), Uuid::now_v7()));
            assert!(matches!(second.sql, Sql::Kept(_)), "{backend:?}: kept after the first");
            assert_eq!(&*first.sql, &*second.sql);
            assert_ne!(first.values, second.values);
        }
    }
}
