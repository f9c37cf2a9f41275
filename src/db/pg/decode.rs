//! Rows in binary format, decoded by position straight into the models.
//!
//! The seams select an entity's columns in the order SeaORM lists them (its
//! `Column` enumeration, the model's field order), and their `RETURNING`
//! clauses name the same columns in the same order, so field `i` is column
//! `i`. Debug builds check every column's name as they decode, so a model
//! whose fields and columns part ways fails its tests at once.

use sea_orm::{DbErr, RuntimeErr};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

/// A model a seam's statement returns.
pub trait Decode: Sized {
    fn decode(row: &Row) -> Result<Self, DbErr>;
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, at: &mut usize, name: &str) -> Result<T, DbErr> {
    let i = *at;
    *at += 1;
    debug_assert_eq!(
        row.columns().get(i).map(tokio_postgres::Column::name),
        Some(name),
        "column {i} of the row is not the model's field `{name}`"
    );
    row.try_get(i).map_err(|e| {
        DbErr::Type(format!(
            "column {i} (`{name}`): {}",
            RuntimeErr::Internal(e.to_string())
        ))
    })
}

macro_rules! decode {
    ($($model:path { $($field:ident),+ $(,)? })+) => {$(
        impl Decode for $model {
            fn decode(row: &Row) -> Result<Self, DbErr> {
                let mut at = 0;
                Ok(Self { $($field: get(row, &mut at, stringify!($field))?),+ })
            }
        }
    )+};
}

decode! {
    entity::api_key::Model {
        tenant_id, id, name, prefix, key_hash, scopes, created_at, expires_at, revoked_at, last_used_at,
        created_by_kind, created_by_id, root_user_id,
    }
    entity::membership::Model { tenant_id, user_id, role, created_at, updated_at }
    entity::project::Model { tenant_id, id, name, description, created_at, updated_at }
    entity::refresh_token::Model { token_hash, session_id, user_id, created_at, rotated_at, successor_enc }
    entity::session::Model {
        id, user_id, tenant_id, generation, user_agent, created_at, last_used_at, expires_at, revoked_at,
        revoke_reason, changed_at,
    }
    entity::task::Model {
        tenant_id, id, project_id, title, description, status, priority, due_date, created_at, updated_at,
    }
    entity::tenant::Model {
        id, slug, name, created_at, updated_at, placement, location, storage_version, storage_error, plan,
    }
    entity::user::Model { id, email, name, password_hash, last_tenant_id, created_at, updated_at }
    crate::db::ApiKeyRecord { tenant_id, id, scopes, expires_at, revoked_at }
    crate::db::placement::PlacementRow { placement, location, storage_version, plan }
    crate::db::idempotency::RecordRow { fingerprint, status, location, body, expires_at }
    crate::db::idempotency::LockRow { locked }
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, IdenStatic, Iterable};

    fn columns<E: EntityTrait>() -> Vec<String> {
        E::Column::iter().map(|c| c.as_str().to_owned()).collect()
    }

    /// The field lists above, against the entities' own column order.
    #[test]
    fn every_model_decodes_its_columns_in_order() {
        let fields = |s: &str| s.split(',').map(|f| f.trim().to_owned()).collect::<Vec<_>>();
        assert_eq!(
            columns::<entity::project::Entity>(),
            fields("tenant_id, id, name, description, created_at, updated_at")
        );
        assert_eq!(
            columns::<entity::task::Entity>(),
            fields("tenant_id, id, project_id, title, description, status, priority, due_date, created_at, updated_at")
        );
        assert_eq!(
            columns::<entity::membership::Entity>(),
            fields("tenant_id, user_id, role, created_at, updated_at")
        );
        assert_eq!(
            columns::<entity::tenant::Entity>(),
            fields("id, slug, name, created_at, updated_at, placement, location, storage_version, storage_error, plan")
        );
        assert_eq!(
            columns::<entity::api_key::Entity>(),
            fields(
                "tenant_id, id, name, prefix, key_hash, scopes, created_at, expires_at, revoked_at, last_used_at, created_by_kind, created_by_id, root_user_id"
            )
        );
        assert_eq!(
            columns::<entity::session::Entity>(),
            fields(
                "id, user_id, tenant_id, generation, user_agent, created_at, last_used_at, expires_at, revoked_at, revoke_reason, changed_at"
            )
        );
        assert_eq!(
            columns::<entity::refresh_token::Entity>(),
            fields("token_hash, session_id, user_id, created_at, rotated_at, successor_enc")
        );
        assert_eq!(
            columns::<entity::user::Entity>(),
            fields("id, email, name, password_hash, last_tenant_id, created_at, updated_at")
        );
    }
}
