//! Platform questions, asked before a tenant is known or across tenants.
//! Each is one narrow method; none returns a connection.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{api_key, membership, refresh_token, session, tenant, user};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryTrait, Statement, TransactionTrait,
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

/// A session whose generation or revocation changed (for other instances'
/// revocation sets).
#[derive(Debug, Clone)]
pub struct SessionChange {
    pub id: Uuid,
    pub generation: i64,
    pub revoked: bool,
    pub changed_at: DateTime<Utc>,
}

/// Everything a signup writes, in one transaction.
#[derive(Debug)]
pub struct NewAccount {
    pub user: user::Model,
    pub tenant: tenant::Model,
    pub membership: membership::Model,
    pub session: session::Model,
    pub refresh_token: refresh_token::Model,
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
        super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, model.id)]).await?;
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

    /// The id and password hash of the person with this (lowercase) email.
    /// On PostgreSQL through a `SECURITY DEFINER` function: the one way the
    /// serving role reads a person it is not acting for.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(Uuid, String)>, DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let row = self
                    .conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT id, password_hash FROM tenantry_user_by_email($1)",
                        [email.into()],
                    ))
                    .await?;
                row.map(|row| Ok((row.try_get("", "id")?, row.try_get("", "password_hash")?)))
                    .transpose()
            }
            _ => Ok(user::Entity::find()
                .filter(user::Column::Email.eq(email))
                .one(&self.conn)
                .await?
                .map(|u| (u.id, u.password_hash))),
        }
    }

    /// The session and person a refresh token (by hash) belongs to.
    pub async fn refresh_token_owner(&self, token_hash: &str) -> Result<Option<(Uuid, Uuid)>, DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let row = self
                    .conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT session_id, user_id FROM tenantry_refresh_token_by_hash($1)",
                        [token_hash.into()],
                    ))
                    .await?;
                row.map(|row| Ok((row.try_get("", "session_id")?, row.try_get("", "user_id")?)))
                    .transpose()
            }
            _ => Ok(refresh_token::Entity::find()
                .filter(refresh_token::Column::TokenHash.eq(token_hash))
                .one(&self.conn)
                .await?
                .map(|r| (r.session_id, r.user_id))),
        }
    }

    /// Sessions whose generation or revocation changed after `since`.
    pub async fn session_changes_since(&self, since: DateTime<Utc>) -> Result<Vec<SessionChange>, DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let rows = self
                    .conn
                    .query_all_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT id, generation, revoked, changed_at FROM tenantry_session_changes_since($1)",
                        [since.into()],
                    ))
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(SessionChange {
                            id: row.try_get("", "id")?,
                            generation: row.try_get("", "generation")?,
                            revoked: row.try_get("", "revoked")?,
                            changed_at: row.try_get("", "changed_at")?,
                        })
                    })
                    .collect()
            }
            _ => Ok(session::Entity::find()
                .filter(session::Column::ChangedAt.gt(since))
                .all(&self.conn)
                .await?
                .into_iter()
                .map(|s| SessionChange {
                    id: s.id,
                    generation: s.generation,
                    revoked: s.revoked_at.is_some(),
                    changed_at: s.changed_at,
                })
                .collect()),
        }
    }

    /// `base`, or `base-2`, `base-3`, … : the first slug no tenant has.
    pub async fn free_slug(&self, base: &str) -> Result<String, DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let row = self
                    .conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT tenantry_free_slug($1) AS slug",
                        [base.into()],
                    ))
                    .await?
                    .ok_or_else(|| DbErr::Custom("tenantry_free_slug returned no row".into()))?;
                row.try_get("", "slug")
            }
            _ => {
                let mut candidate = base.to_owned();
                let mut n = 1;
                while self.tenant_by_slug(&candidate).await?.is_some() {
                    n += 1;
                    candidate = format!("{base}-{n}");
                }
                Ok(candidate)
            }
        }
    }

    /// Clears grace-window successors older than `grace_cutoff` and deletes
    /// sessions that ended more than a day ago.
    pub async fn sweep_sessions(&self, now: DateTime<Utc>, grace_cutoff: DateTime<Utc>) -> Result<(), DbErr> {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                self.conn
                    .execute_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT tenantry_sweep_sessions($1, $2)",
                        [now.into(), grace_cutoff.into()],
                    ))
                    .await?;
            }
            _ => {
                refresh_token::Entity::update_many()
                    .col_expr(
                        refresh_token::Column::SuccessorEnc,
                        sea_orm::sea_query::Expr::value(Option::<String>::None),
                    )
                    .filter(refresh_token::Column::SuccessorEnc.is_not_null())
                    .filter(refresh_token::Column::RotatedAt.lt(grace_cutoff))
                    .exec(&self.conn)
                    .await?;
                let day_ago = now - chrono::Duration::days(1);
                session::Entity::delete_many()
                    .filter(
                        Condition::any()
                            .add(session::Column::ExpiresAt.lt(day_ago))
                            .add(session::Column::RevokedAt.lt(day_ago)),
                    )
                    .exec(&self.conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Writes a signup: the person, their tenant, the owner membership and
    /// the first session, all or nothing.
    pub async fn create_account(&self, account: NewAccount) -> Result<(), DbErr> {
        let tx = super::tx::Tx::begin(
            &self.conn,
            &[
                (migration::APP_TENANT_SETTING, account.tenant.id),
                (migration::APP_USER_SETTING, account.user.id),
            ],
            true,
        )
        .await?;
        let backend = tx.backend();
        let inserts = [
            user::Entity::insert(account.user.into_active_model()).into_query(),
            tenant::Entity::insert(account.tenant.into_active_model()).into_query(),
            membership::Entity::insert(account.membership.into_active_model()).into_query(),
            session::Entity::insert(account.session.into_active_model()).into_query(),
            refresh_token::Entity::insert(account.refresh_token.into_active_model()).into_query(),
        ];
        for insert in inserts {
            tx.execute(backend.build(&insert)).await?;
        }
        tx.commit().await
    }

    /// Stores a person, and their membership in a tenant when given.
    pub async fn create_user(&self, user: user::Model, membership: Option<membership::Model>) -> Result<(), DbErr> {
        let mut settings = vec![(migration::APP_USER_SETTING, user.id)];
        if let Some(m) = &membership {
            settings.push((migration::APP_TENANT_SETTING, m.tenant_id));
        }
        let tx = super::tx::Tx::begin(&self.conn, &settings, true).await?;
        let backend = tx.backend();
        tx.execute(backend.build(&user::Entity::insert(user.into_active_model()).into_query()))
            .await?;
        if let Some(m) = membership {
            tx.execute(backend.build(&membership::Entity::insert(m.into_active_model()).into_query()))
                .await?;
        }
        tx.commit().await
    }
}
