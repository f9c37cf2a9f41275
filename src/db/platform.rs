//! Platform questions, asked before a tenant is known or across tenants.
//! Each is one narrow method; none returns a connection.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{api_key, tenant};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, Statement, TransactionTrait,
};
use uuid::Uuid;

/// What authentication needs to know about a key.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub scopes: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct PlatformDb {
    conn: DatabaseConnection,
}

#[expect(clippy::disallowed_methods, reason = "platform lookups live inside the seam")]
impl PlatformDb {
    pub(super) fn new(conn: DatabaseConnection) -> Self {
        Self { conn }
    }

    /// The key whose stored hash is `key_hash`, in whichever tenant. On
    /// PostgreSQL this goes through a `SECURITY DEFINER` function, the one
    /// path by which the application role reads a key outside its tenant.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let row = self
                    .conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT tenant_id, id, scopes, expires_at, revoked_at FROM tenantry_api_key_by_hash($1)",
                        [key_hash.into()],
                    ))
                    .await?;
                row.map(|row| {
                    Ok(ApiKeyRecord {
                        tenant_id: row.try_get("", "tenant_id")?,
                        id: row.try_get("", "id")?,
                        scopes: row.try_get("", "scopes")?,
                        expires_at: row.try_get("", "expires_at")?,
                        revoked_at: row.try_get("", "revoked_at")?,
                    })
                })
                .transpose()
            }
            _ => Ok(api_key::Entity::find()
                .filter(api_key::Column::KeyHash.eq(key_hash))
                .one(&self.conn)
                .await?
                .map(|key| ApiKeyRecord {
                    tenant_id: key.tenant_id,
                    id: key.id,
                    scopes: key.scopes,
                    expires_at: key.expires_at,
                    revoked_at: key.revoked_at,
                })),
        }
    }

    /// The tenant with this slug. Only the owner connection (the CLI) can
    /// answer this on PostgreSQL; the serving role sees no tenant but its own.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<tenant::Model>, DbErr> {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.conn)
            .await
    }

    /// Creates a tenant (its own row is its tenant scope).
    pub async fn create_tenant(&self, model: tenant::Model) -> Result<tenant::Model, DbErr> {
        let txn = self.conn.begin().await?;
        if self.conn.get_database_backend() == DatabaseBackend::Postgres {
            super::tenant::set_tenant(&txn, model.id).await?;
        }
        let created = model.into_active_model().reset_all().insert(&txn).await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Writes batched `last_used_at` values: one transaction per tenant, and
    /// never moves a value backwards.
    pub async fn record_key_uses(&self, uses: &[(Uuid, Uuid, DateTime<Utc>)]) -> Result<(), DbErr> {
        let mut by_tenant: HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>> = HashMap::new();
        for (tenant, key, at) in uses {
            by_tenant.entry(*tenant).or_default().push((*key, *at));
        }
        for (tenant, keys) in by_tenant {
            let tx = super::TenantDb::new(self.conn.clone(), tenant).write().await?;
            for (key, at) in keys {
                tx.update_where(
                    Condition::all().add(api_key::Column::Id.eq(key)).add(
                        Condition::any()
                            .add(api_key::Column::LastUsedAt.is_null())
                            .add(api_key::Column::LastUsedAt.lt(at)),
                    ),
                    api_key::ActiveModel {
                        last_used_at: sea_orm::Set(Some(at)),
                        ..Default::default()
                    },
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
