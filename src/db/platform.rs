//! Platform questions, asked before a tenant is known or across tenants.
//! Each is one narrow method; none returns a connection.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::tenant::Placement;
use entity::{api_key, membership, refresh_token, session, tenant, user};
use migration::{MigratorTrait, TableSet};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, IntoActiveModel, QueryFilter, QueryResult, QuerySelect, QueryTrait, Statement, TransactionTrait,
    Value,
};
use uuid::Uuid;

/// What authentication needs to know about a key.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ApiKeyRecord {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub scopes: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session whose generation or revocation changed (for other instances'
/// revocation sets).
#[derive(Debug, Clone, FromQueryResult)]
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

/// A question the serving role asks across tenants, in both forms: on
/// PostgreSQL a call of a `SECURITY DEFINER` function (the one way that role
/// reads outside its tenant or person), on SQLite the same query over the
/// tables (one role, no row-level security). Both forms answer with the same
/// columns; the SQLite form is only built when it runs.
struct Across<S> {
    postgres: &'static str,
    values: Vec<Value>,
    /// Run in order; the last one answers.
    sqlite: S,
}

fn sqlite(query: impl QueryTrait) -> Statement {
    query.build(DatabaseBackend::Sqlite)
}

/// The most key uses one flush transaction writes on PostgreSQL.
const KEY_USES_PER_TRANSACTION: usize = 500;

/// One poll for moved tenants, read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementPoll {
    /// The tenants whose placement changed since the poll's `since`, each
    /// with its `placed_at`.
    pub moved: Vec<(Uuid, i64)>,
    /// The database's time of the poll (ms).
    pub now: i64,
    /// How far the snapshot reaches: every move stamped up to here is in
    /// it. PostgreSQL: the statement's start (stamps are made at commit,
    /// and the snapshot is taken after it). SQLite: the latest stamp it
    /// holds (writers take turns, so stamps follow commits), which holds
    /// even if the snapshot lags the clock.
    pub seen: i64,
}

#[derive(Debug, Clone)]
pub struct PlatformDb {
    conn: DatabaseConnection,
    /// The migrating role's pool, on a server that provisions storage.
    owner: Option<DatabaseConnection>,
    /// Whether `conn` is itself the migrating role's (the CLI).
    is_owner: bool,
    /// Where signups put new tenants.
    default_placement: Placement,
    /// What the seams run on (the request path's pool on PostgreSQL):
    /// signups write through it.
    seam: super::Conn,
    placements: std::sync::Arc<super::placement::Placements>,
}

#[expect(clippy::disallowed_methods, reason = "platform lookups live inside the seam")]
impl PlatformDb {
    pub(super) fn new(db: &super::Db) -> Self {
        Self {
            conn: db.conn.clone(),
            owner: db.owner.clone(),
            is_owner: db.is_owner,
            default_placement: db.default_placement,
            seam: db.seam(),
            placements: db.placements.clone(),
        }
    }

    /// Asks a question across tenants in its backend's form, and decodes
    /// every answer row into `T` (both forms give the same columns).
    async fn ask<T: FromQueryResult>(
        &self,
        question: Across<impl FnOnce() -> Vec<Statement>>,
    ) -> Result<Vec<T>, DbErr> {
        let rows = self.run(question).await?;
        rows.iter().map(|row| T::from_query_result(row, "")).collect()
    }

    /// Runs a question's statements in its backend's form; the last one's rows.
    async fn run(&self, question: Across<impl FnOnce() -> Vec<Statement>>) -> Result<Vec<QueryResult>, DbErr> {
        let statements = match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => vec![Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                question.postgres,
                question.values,
            )],
            _ => (question.sqlite)(),
        };
        let Some((answer, before)) = statements.split_last() else {
            return Ok(Vec::new());
        };
        for statement in before {
            self.conn.execute_raw(statement.clone()).await?;
        }
        self.conn.query_all_raw(answer.clone()).await
    }

    /// The key whose stored hash is `key_hash`, in whichever tenant.
    ///
    /// On PostgreSQL this runs on the request path's pool (prepared, one
    /// round trip on a shared connection): it is what a key-cache miss
    /// costs.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, DbErr> {
        const POSTGRES: &str = "SELECT tenant_id, id, scopes, expires_at, revoked_at FROM tenantry_api_key_by_hash($1)";
        if let super::Conn::Pg(pool) = &self.seam {
            let rows = pool.query_unscoped(POSTGRES, &[key_hash.into()]).await?;
            return rows.first().map(super::pg::Decode::decode).transpose();
        }
        let answer = self
            .ask(Across {
                postgres: POSTGRES,
                values: vec![key_hash.into()],
                sqlite: || {
                    vec![sqlite(
                        api_key::Entity::find()
                            .select_only()
                            .columns([
                                api_key::Column::TenantId,
                                api_key::Column::Id,
                                api_key::Column::Scopes,
                                api_key::Column::ExpiresAt,
                                api_key::Column::RevokedAt,
                            ])
                            .filter(api_key::Column::KeyHash.eq(key_hash)),
                    )]
                },
            })
            .await?;
        Ok(answer.into_iter().next())
    }

    /// The tenant with this slug. Only the owner connection (the CLI) can
    /// answer this on PostgreSQL; the serving role sees no tenant but its own.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<tenant::Model>, DbErr> {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.conn)
            .await
    }

    /// Whether this deployment can place a tenant so.
    pub fn supports(&self, placement: Placement) -> bool {
        match placement {
            Placement::Shared | Placement::Database => true,
            Placement::Schema => self.conn.get_database_backend() == DatabaseBackend::Postgres,
        }
    }

    /// Whether `server` names a database server tenants' own databases may
    /// be put on (`[databases.<name>]`, PostgreSQL).
    pub fn has_database_server(&self, server: &str) -> bool {
        self.placements.registry.servers.has_server(server)
    }

    /// Creates a tenant (its own row is its tenant scope) in its placement,
    /// with its storage made and migrated before it returns.
    ///
    /// * In a schema of its own: the schema, the tenant set's tables with
    ///   their policies, its ledger and the grants the shared tables have,
    ///   in the same transaction as its row (only the migrating role, the
    ///   operator's, may do this): all of it exists afterwards or none.
    /// * In a database of its own (on `server`, a named one, or the
    ///   platform's): its row first (so the database is never taken for an
    ///   orphan), then the database, made and migrated like any fleet
    ///   tenant's; if that fails the row and the database are removed and
    ///   the error returned. A crash between the two leaves a tenant whose
    ///   storage is behind: `tenantry migrate` finishes it.
    pub async fn create_tenant(&self, mut model: tenant::Model, server: Option<&str>) -> Result<tenant::Model, DbErr> {
        let placement = model
            .placement()
            .filter(|p| self.supports(*p))
            .ok_or_else(|| DbErr::Custom(format!("placement `{}` is not available here", model.placement)))?;
        let servers = &self.placements.registry.servers;
        model.location = match placement {
            Placement::Schema => Some(super::placement::schema_name(model.id)),
            Placement::Database => Some(servers.location(model.id, server)?),
            Placement::Shared => None,
        };
        let txn = self.conn.begin().await?;
        if placement == Placement::Schema {
            super::placement::serialize_provisioning(&txn).await?;
        }
        super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, model.id)]).await?;
        let mut created = model.into_active_model().reset_all().insert(&txn).await?;
        if placement == Placement::Schema {
            super::placement::provision_schema(&txn, created.id).await?;
        }
        txn.commit().await?;
        if let (Placement::Database, Some(location)) = (placement, created.location.clone()) {
            if let Err(e) =
                super::fleet::migrate_one::<migration::TenantMigrator>(&self.conn, servers, created.id).await
            {
                tracing::warn!(tenant = %created.slug, error = %e, "making the tenant's database failed; removing the tenant");
                if let Err(drop) = servers.drop_database(&location).await {
                    tracing::warn!(database = %location, error = %drop, "could not drop the database; the next migration run will");
                }
                self.remove_tenant_row(created.id).await?;
                return Err(e);
            }
            created.storage_version = super::fleet::latest::<migration::TenantMigrator>();
        }
        Ok(created)
    }

    /// Drops the schema or database of a tenant that no longer exists, at
    /// once (the migrating role's; `tenantry tenant delete`): its location,
    /// or `None` when it had none (a shared tenant) or it was gone already.
    /// Refused for a tenant that still exists.
    pub async fn drop_storage(&self, tenant: Uuid) -> Result<Option<String>, DbErr> {
        super::fleet::drop_storage_of(self.owner()?, &self.placements.registry.servers, tenant).await
    }

    /// Removes a tenant's row whose storage could not be made.
    async fn remove_tenant_row(&self, tenant: Uuid) -> Result<(), DbErr> {
        let txn = self.conn.begin().await?;
        super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
        tenant::Entity::delete_by_id(tenant).exec(&txn).await?;
        txn.commit().await
    }

    /// Writes batched `last_used_at` values, never moving a value backwards.
    ///
    /// On PostgreSQL one transaction per [`KEY_USES_PER_TRANSACTION`] keys,
    /// each update under its tenant's setting, all pipelined: one commit
    /// (one WAL flush) where a transaction per tenant would cost one per
    /// tenant. On SQLite one transaction per tenant, through the seam.
    pub async fn record_key_uses(&self, uses: &[(Uuid, Uuid, DateTime<Utc>)]) -> Result<(), DbErr> {
        const POSTGRES: &str = "UPDATE api_keys SET last_used_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3)";
        if let super::Conn::Pg(pool) = &self.seam {
            let values: Vec<(Uuid, [Value; 3])> = uses
                .iter()
                .map(|(tenant, key, at)| (*tenant, [(*tenant).into(), (*key).into(), (*at).into()]))
                .collect();
            for chunk in values.chunks(KEY_USES_PER_TRANSACTION) {
                let statements: Vec<_> = chunk
                    .iter()
                    .map(|(tenant, values)| (*tenant, (POSTGRES, &values[..])))
                    .collect();
                pool.each_scoped(migration::APP_TENANT_SETTING, &statements).await?;
            }
            return Ok(());
        }
        let mut by_tenant: HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>> = HashMap::new();
        for (tenant, key, at) in uses {
            by_tenant.entry(*tenant).or_default().push((*key, *at));
        }
        for (tenant, keys) in by_tenant {
            let tx = super::TenantDb::new(self.seam.clone(), tenant, self.placements.clone())
                .write()
                .await?;
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
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(Uuid, String)>, DbErr> {
        #[derive(FromQueryResult)]
        struct Row {
            id: Uuid,
            password_hash: String,
        }
        let answer: Vec<Row> = self
            .ask(Across {
                postgres: "SELECT id, password_hash FROM tenantry_user_by_email($1)",
                values: vec![email.into()],
                sqlite: || {
                    vec![sqlite(
                        user::Entity::find()
                            .select_only()
                            .columns([user::Column::Id, user::Column::PasswordHash])
                            .filter(user::Column::Email.eq(email)),
                    )]
                },
            })
            .await?;
        Ok(answer.into_iter().next().map(|row| (row.id, row.password_hash)))
    }

    /// The session and person a refresh token (by hash) belongs to.
    pub async fn refresh_token_owner(&self, token_hash: &str) -> Result<Option<(Uuid, Uuid)>, DbErr> {
        #[derive(FromQueryResult)]
        struct Row {
            session_id: Uuid,
            user_id: Uuid,
        }
        let answer: Vec<Row> = self
            .ask(Across {
                postgres: "SELECT session_id, user_id FROM tenantry_refresh_token_by_hash($1)",
                values: vec![token_hash.into()],
                sqlite: || {
                    vec![sqlite(
                        refresh_token::Entity::find()
                            .select_only()
                            .columns([refresh_token::Column::SessionId, refresh_token::Column::UserId])
                            .filter(refresh_token::Column::TokenHash.eq(token_hash)),
                    )]
                },
            })
            .await?;
        Ok(answer.into_iter().next().map(|row| (row.session_id, row.user_id)))
    }

    /// Sessions whose generation or revocation changed after `since`.
    pub async fn session_changes_since(&self, since: DateTime<Utc>) -> Result<Vec<SessionChange>, DbErr> {
        self.ask(Across {
            postgres: "SELECT id, generation, revoked, changed_at FROM tenantry_session_changes_since($1)",
            values: vec![since.into()],
            sqlite: || {
                vec![sqlite(
                    session::Entity::find()
                        .select_only()
                        .columns([session::Column::Id, session::Column::Generation])
                        .column_as(session::Column::RevokedAt.is_not_null(), "revoked")
                        .column(session::Column::ChangedAt)
                        .filter(session::Column::ChangedAt.gt(since)),
                )]
            },
        })
        .await
    }

    /// The tenants whose placement changed after `since` (each with its
    /// `placed_at`), and, read in the same snapshot, the database's time
    /// and how far the snapshot reaches ([`PlacementPoll`]).
    pub async fn placements_changed_since(&self, since: i64) -> Result<PlacementPoll, DbErr> {
        #[derive(FromQueryResult)]
        struct Row {
            id: Option<Uuid>,
            placed_at: Option<i64>,
            now_ms: i64,
            seen_ms: Option<i64>,
        }
        let rows: Vec<Row> = self
            .ask(Across {
                postgres: "SELECT c.id, c.placed_at, now.ms AS now_ms, now.ms AS seen_ms
                             FROM (SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint AS ms) now
                             LEFT JOIN tenantry_placements_changed_since($1) c ON true",
                values: vec![since.into()],
                sqlite: || {
                    vec![Statement::from_sql_and_values(
                        DatabaseBackend::Sqlite,
                        "SELECT t.id, t.placed_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS now_ms,
                                (SELECT max(placed_at) FROM tenants) AS seen_ms
                           FROM (SELECT 1) one LEFT JOIN tenants t ON t.placed_at > ?1",
                        [since.into()],
                    )]
                },
            })
            .await?;
        let now = rows.first().map_or(since, |r| r.now_ms);
        let seen = rows.first().and_then(|r| r.seen_ms).unwrap_or(0);
        let moved = rows.into_iter().filter_map(|r| Some((r.id?, r.placed_at?))).collect();
        Ok(PlacementPoll { moved, now, seen })
    }

    /// Records instance `id`'s poll: its beat (the database's clock) and
    /// how far it has read ([`PlacementPoll::seen`]).
    pub async fn instance_seen(
        &self,
        id: Uuid,
        started_at: DateTime<Utc>,
        beat_ms: i64,
        seen_ms: i64,
    ) -> Result<(), DbErr> {
        const UPSERT: &str = "INSERT INTO instances (id, started_at, beat_ms, seen_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET beat_ms = excluded.beat_ms, seen_ms = excluded.seen_ms";
        self.run(Across {
            postgres: UPSERT,
            values: vec![id.into(), started_at.into(), beat_ms.into(), seen_ms.into()],
            sqlite: || {
                vec![Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    UPSERT.replace('$', "?"),
                    [id.into(), started_at.into(), beat_ms.into(), seen_ms.into()],
                )]
            },
        })
        .await?;
        Ok(())
    }

    /// Removes instance `id`'s row (it stopped).
    pub async fn instance_left(&self, id: Uuid) -> Result<(), DbErr> {
        self.run(Across {
            postgres: "DELETE FROM instances WHERE id = $1",
            values: vec![id.into()],
            sqlite: || {
                vec![Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    "DELETE FROM instances WHERE id = ?1",
                    [id.into()],
                )]
            },
        })
        .await?;
        Ok(())
    }

    /// `base`, or `base-2`, `base-3`, … : the first slug no tenant has.
    pub async fn free_slug(&self, base: &str) -> Result<String, DbErr> {
        #[derive(FromQueryResult)]
        struct Row {
            slug: String,
        }
        let answer: Vec<Row> = self
            .ask(Across {
                postgres: "SELECT tenantry_free_slug($1) AS slug",
                values: vec![base.into()],
                sqlite: || {
                    vec![Statement::from_sql_and_values(
                        DatabaseBackend::Sqlite,
                        // Among `base` and `base-2` … `base-(k+1)`, where k
                        // slugs start with `base`, one is free.
                        "WITH RECURSIVE n(i) AS (
                           SELECT 1 UNION ALL SELECT i + 1 FROM n
                            WHERE i <= (SELECT COUNT(*) FROM tenants WHERE slug = ?1 OR slug LIKE ?1 || '-%')),
                         candidate(slug, i) AS (
                           SELECT CASE i WHEN 1 THEN ?1 ELSE ?1 || '-' || i END, i FROM n)
                         SELECT slug FROM candidate c
                          WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.slug = c.slug)
                          ORDER BY i LIMIT 1",
                        [base.into()],
                    )]
                },
            })
            .await?;
        answer
            .into_iter()
            .next()
            .map(|row| row.slug)
            .ok_or_else(|| DbErr::Custom("no free slug was found".into()))
    }

    /// Clears grace-window successors older than `grace_cutoff` and deletes
    /// sessions that ended more than a day ago.
    pub async fn sweep_sessions(&self, now: DateTime<Utc>, grace_cutoff: DateTime<Utc>) -> Result<(), DbErr> {
        let day_ago = now - chrono::Duration::days(1);
        self.run(Across {
            postgres: "SELECT tenantry_sweep_sessions($1, $2)",
            values: vec![now.into(), grace_cutoff.into()],
            sqlite: || {
                vec![
                    sqlite(
                        refresh_token::Entity::update_many()
                            .col_expr(refresh_token::Column::SuccessorEnc, Expr::value(Option::<String>::None))
                            .filter(refresh_token::Column::SuccessorEnc.is_not_null())
                            .filter(refresh_token::Column::RotatedAt.lt(grace_cutoff)),
                    ),
                    sqlite(
                        session::Entity::delete_many().filter(
                            Condition::any()
                                .add(session::Column::ExpiresAt.lt(day_ago))
                                .add(session::Column::RevokedAt.lt(day_ago)),
                        ),
                    ),
                ]
            },
        })
        .await?;
        Ok(())
    }

    /// Writes a signup: the person, their tenant, the owner membership and
    /// the first session, all or nothing, the tenant in the deployment's
    /// default placement (`database.default_placement`). Storage of the
    /// tenant's own is made first, as the migrating role (schema) or in the
    /// tenant's database; if the signup then fails (an email or slug taken
    /// meanwhile) it is removed again.
    pub async fn create_account(&self, mut account: NewAccount) -> Result<(), DbErr> {
        if self.default_placement == Placement::Shared {
            return self.write_account(account).await;
        }
        let tenant = account.tenant.id;
        // The tenant's storage lock, held from before its storage is made
        // until its row is committed: a fleet run meanwhile never takes the
        // new storage for an orphan.
        let guard = match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let txn = self.owner()?.begin().await?;
                super::fleet::lock_tenant(&txn, tenant).await?;
                Some(txn)
            }
            _ => None,
        };
        let servers = &self.placements.registry.servers;
        let _making = match self.default_placement {
            Placement::Database => servers.making(&servers.location(tenant, None)?)?,
            _ => None,
        };
        let (location, version) = self.prepare_storage(tenant, self.default_placement).await?;
        account.tenant.placement = self.default_placement.as_str().to_owned();
        account.tenant.location = Some(location.clone());
        account.tenant.storage_version = version;
        let written = self.write_account(account).await;
        if let Err(e) = &written {
            // A commit whose answer was lost may have written the row:
            // the storage then stays, and a fleet run judges it.
            let uncertain = matches!(e, DbErr::Conn(_) | DbErr::ConnectionAcquire(_));
            if !uncertain && let Err(e) = self.discard_storage(tenant, &location).await {
                tracing::warn!(location = %location, error = %e, "could not remove a failed signup's storage; the next migration run will");
            }
        }
        if let Some(guard) = guard {
            guard.commit().await?;
        }
        written
    }

    /// Makes and migrates storage of its own for a tenant that is about to
    /// be written in `placement` (not `shared`): its location and the
    /// tenant-set version it has.
    #[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
    async fn prepare_storage(&self, tenant: Uuid, placement: Placement) -> Result<(String, Option<String>), DbErr> {
        let version = super::fleet::latest::<migration::TenantMigrator>();
        let servers = &self.placements.registry.servers;
        match placement {
            Placement::Shared => Err(DbErr::Custom("the shared tables need no storage made".to_owned())),
            Placement::Schema => {
                let owner = self.owner()?;
                let txn = owner.begin().await?;
                txn.execute_unprepared(&format!("CREATE SCHEMA {}", super::placement::schema_name(tenant)))
                    .await?;
                super::placement::enter_schema(&txn, tenant).await?;
                migration::TenantMigrator::up(&txn, None).await?;
                super::placement::grant_as_shared(&txn, tenant).await?;
                txn.commit().await?;
                Ok((super::placement::schema_name(tenant), version))
            }
            Placement::Database => {
                let location = servers.location(tenant, None)?;
                let platform = super::fleet::platform_identity(self.owner()?).await?;
                if let Err(e) = servers
                    .migrate::<migration::TenantMigrator>(tenant, &location, &platform)
                    .await
                {
                    let _ = servers.drop_database(&location).await;
                    return Err(e);
                }
                Ok((location, version))
            }
        }
    }

    /// Removes storage made for a tenant that was never written.
    #[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
    async fn discard_storage(&self, tenant: Uuid, location: &str) -> Result<(), DbErr> {
        if *location == super::placement::schema_name(tenant) {
            // From the tenant's id alone: a plain identifier.
            self.owner()?
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {location} CASCADE"))
                .await?;
            return Ok(());
        }
        self.placements.registry.servers.drop_database(location).await
    }

    /// The migrating role's connection: the CLI's own, or the small pool a
    /// server keeps when it provisions tenants' storage (PostgreSQL with a
    /// default placement other than `shared`).
    fn owner(&self) -> Result<&DatabaseConnection, DbErr> {
        match (&self.owner, self.conn.get_database_backend()) {
            (Some(owner), _) => Ok(owner),
            (None, DatabaseBackend::Postgres) if self.is_owner => Ok(&self.conn),
            (None, DatabaseBackend::Postgres) => Err(DbErr::Custom(
                "this connection cannot make a tenant's storage (it is not the migrating role's)".to_owned(),
            )),
            (None, _) => Ok(&self.conn),
        }
    }

    async fn write_account(&self, account: NewAccount) -> Result<(), DbErr> {
        let tx = super::tx::Tx::begin(
            &self.seam,
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
            tx.execute(TableSet::Platform, backend.build(&insert)).await?;
        }
        tx.commit().await
    }

    /// Stores a person, and their membership in a tenant when given.
    pub async fn create_user(&self, user: user::Model, membership: Option<membership::Model>) -> Result<(), DbErr> {
        let mut settings = vec![(migration::APP_USER_SETTING, user.id)];
        if let Some(m) = &membership {
            settings.push((migration::APP_TENANT_SETTING, m.tenant_id));
        }
        let tx = super::tx::Tx::begin(&self.seam, &settings, true).await?;
        let backend = tx.backend();
        tx.execute(
            TableSet::Platform,
            backend.build(&user::Entity::insert(user.into_active_model()).into_query()),
        )
        .await?;
        if let Some(m) = membership {
            tx.execute(
                TableSet::Platform,
                backend.build(&membership::Entity::insert(m.into_active_model()).into_query()),
            )
            .await?;
        }
        tx.commit().await
    }
}
