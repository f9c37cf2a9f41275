//! Bulk seeding for the benchmark harness (`--features bench` only): on
//! PostgreSQL as a superuser owner, so one transaction can write every
//! tenant's rows; on SQLite (the embedded default) through the entities.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, TransactionTrait};
use uuid::Uuid;

use super::Db;

impl Db {
    /// Creates one tenant per `(secret, display_prefix, hash)` key with
    /// `projects` projects each, and the table `bench_keys(n, key_hash,
    /// tenant_id, project_id)` for pgbench. Returns `(secret, tenant, first project)`.
    #[expect(
        clippy::disallowed_methods,
        reason = "bulk seeding for the benchmark, inside the seam"
    )]
    pub async fn bench_seed(
        &self,
        prefix: &str,
        projects: u32,
        keys: &[(String, String, String)],
    ) -> Result<Vec<(String, Uuid, Uuid)>, DbErr> {
        if !prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(DbErr::Custom("the prefix must be lowercase letters and digits".into()));
        }
        if self.backend != DatabaseBackend::Postgres {
            return self.bench_seed_embedded(prefix, projects, keys).await;
        }
        let now = crate::clock::truncate_micros(Utc::now()).to_rfc3339();
        let txn = self.conn.begin().await?;
        let mut tenants = Vec::with_capacity(keys.len());
        for (batch, chunk) in keys.chunks(1000).enumerate() {
            let mut tenant_rows = String::new();
            let mut key_rows = String::new();
            for (i, (secret, display, hash)) in chunk.iter().enumerate() {
                let n = batch * 1000 + i;
                let tenant = Uuid::now_v7();
                let key = Uuid::now_v7();
                let sep = if i == 0 { "" } else { "," };
                // Every value here is generated (uuids, hex, base62, digits): nothing to escape.
                let _ = write!(
                    tenant_rows,
                    "{sep}('{tenant}', '{prefix}-{n}', 'Bench {n}', '{now}', '{now}')"
                );
                let _ = write!(
                    key_rows,
                    "{sep}('{tenant}', '{key}', 'bench', '{display}', '{hash}', \
                     'projects:read projects:write tasks:read tasks:write api_keys:manage', '{now}')"
                );
                tenants.push((secret.clone(), tenant, hash.clone()));
            }
            txn.execute_unprepared(&format!(
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES {tenant_rows}"
            ))
            .await?;
            txn.execute_unprepared(&format!(
                "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, scopes, created_at) VALUES {key_rows}"
            ))
            .await?;
        }
        txn.execute_unprepared(&format!(
            "INSERT INTO projects (tenant_id, id, name, description, created_at, updated_at)
             SELECT t.id, gen_random_uuid(), 'Project ' || g, NULL,
                    timestamptz '{now}' + g * interval '1 microsecond',
                    timestamptz '{now}' + g * interval '1 microsecond'
               FROM tenants t CROSS JOIN generate_series(1, {projects}) g
              WHERE t.slug LIKE '{prefix}-%'"
        ))
        .await?;
        let rows = txn
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT DISTINCT ON (p.tenant_id) p.tenant_id, p.id FROM projects p
                       JOIN tenants t ON t.id = p.tenant_id
                      WHERE t.slug LIKE '{prefix}-%' ORDER BY p.tenant_id, p.created_at, p.id"
                ),
            ))
            .await?;
        let mut first: HashMap<Uuid, Uuid> = HashMap::with_capacity(rows.len());
        for row in rows {
            first.insert(row.try_get("", "tenant_id")?, row.try_get("", "id")?);
        }
        txn.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bench_keys (n int PRIMARY KEY, key_hash text NOT NULL,
                                                   tenant_id uuid NOT NULL, project_id uuid NOT NULL)",
        )
        .await?;
        let start = txn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT COALESCE(max(n), 0)::int AS n FROM bench_keys",
            ))
            .await?
            .map(|r| r.try_get::<i32>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let mut out = Vec::with_capacity(tenants.len());
        for (batch, chunk) in tenants.chunks(1000).enumerate() {
            let mut values = String::new();
            for (i, (secret, tenant, hash)) in chunk.iter().enumerate() {
                let project = first.get(tenant).copied().unwrap_or_default();
                let n = start as usize + batch * 1000 + i + 1;
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(values, "{sep}({n}, '{hash}', '{tenant}', '{project}')");
                out.push((secret.clone(), *tenant, project));
            }
            txn.execute_unprepared(&format!("INSERT INTO bench_keys VALUES {values}"))
                .await?;
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Moves a seeded tenant's rows into a schema of its own, made as
    /// `tenant create --placement schema` makes one (schema, tenant set,
    /// grants, mirror), in one transaction.
    #[expect(
        clippy::disallowed_methods,
        reason = "bulk seeding for the benchmark, inside the seam"
    )]
    pub async fn bench_move_to_schema(&self, tenant: Uuid) -> Result<(), DbErr> {
        let schema = super::placement::schema_name(tenant);
        let txn = self.conn.begin().await?;
        super::placement::serialize_provisioning(&txn).await?;
        super::tx::apply_settings(&txn, &[(migration::APP_TENANT_SETTING, tenant)]).await?;
        super::placement::provision_schema(&txn, tenant).await?;
        // Generated ids only: nothing to escape.
        txn.execute_unprepared(&format!(
            "INSERT INTO {schema}.projects SELECT * FROM public.projects WHERE tenant_id = '{tenant}';
             INSERT INTO {schema}.tasks SELECT * FROM public.tasks WHERE tenant_id = '{tenant}';
             DELETE FROM public.tasks WHERE tenant_id = '{tenant}';
             DELETE FROM public.projects WHERE tenant_id = '{tenant}';
             UPDATE tenants SET placement = 'schema', location = '{schema}' WHERE id = '{tenant}';
             ANALYZE {schema}.projects;"
        ))
        .await?;
        txn.commit().await
    }

    /// Moves a seeded tenant's rows into a database of its own, made as
    /// `tenant create --placement database` makes one (the database, its
    /// stub, the tenant set, grants), then the rows copied over and the
    /// tenant's row pointed at it.
    #[expect(
        clippy::disallowed_methods,
        reason = "bulk seeding for the benchmark, inside the seam"
    )]
    pub async fn bench_move_to_database(&self, tenant: Uuid) -> Result<(), DbErr> {
        use entity::{project, task};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let servers = &self.placements.registry.servers;
        let location = servers.location(tenant, None)?;
        let platform = super::fleet::platform_identity(&self.conn).await?;
        servers
            .migrate::<migration::TenantMigrator>(tenant, &location, &platform)
            .await?;
        let own = servers.owner_connection(&location).await?;
        let projects = project::Entity::find()
            .filter(project::Column::TenantId.eq(tenant))
            .all(&self.conn)
            .await?;
        let tasks = task::Entity::find()
            .filter(task::Column::TenantId.eq(tenant))
            .all(&self.conn)
            .await?;
        for chunk in projects.chunks(500) {
            project::Entity::insert_many(chunk.iter().cloned().map(sea_orm::IntoActiveModel::into_active_model))
                .exec(&own)
                .await?;
        }
        for chunk in tasks.chunks(500) {
            task::Entity::insert_many(chunk.iter().cloned().map(sea_orm::IntoActiveModel::into_active_model))
                .exec(&own)
                .await?;
        }
        own.execute_unprepared("ANALYZE projects; ANALYZE tasks").await?;
        let _ = own.close().await;
        let latest = super::fleet::latest::<migration::TenantMigrator>().unwrap_or_default();
        // Generated ids and constant names only: nothing to escape.
        self.conn
            .execute_unprepared(&format!(
                "DELETE FROM public.tasks WHERE tenant_id = '{tenant}';
                 DELETE FROM public.projects WHERE tenant_id = '{tenant}';
                 UPDATE tenants SET placement = 'database', location = '{location}', storage_version = '{latest}'
                  WHERE id = '{tenant}';"
            ))
            .await?;
        Ok(())
    }

    /// The same data set on SQLite (no `bench_keys`: pgbench does not reach
    /// it), written through the entities in batches, in one transaction.
    #[expect(
        clippy::disallowed_methods,
        reason = "bulk seeding for the benchmark, inside the seam"
    )]
    async fn bench_seed_embedded(
        &self,
        prefix: &str,
        projects: u32,
        keys: &[(String, String, String)],
    ) -> Result<Vec<(String, Uuid, Uuid)>, DbErr> {
        use entity::{api_key, project, tenant};
        use sea_orm::{ActiveValue::Set, EntityTrait};

        let now = crate::clock::truncate_micros(Utc::now());
        let txn = self.conn.begin().await?;
        let mut out = Vec::with_capacity(keys.len());
        for (n, (secret, display, hash)) in keys.iter().enumerate() {
            let tenant = Uuid::now_v7();
            tenant::Entity::insert(tenant::ActiveModel {
                id: Set(tenant),
                slug: Set(format!("{prefix}-{n}")),
                name: Set(format!("Bench {n}")),
                created_at: Set(now),
                updated_at: Set(now),
                placement: Set(tenant::Placement::Shared.as_str().to_owned()),
                location: Set(None),
                storage_version: Set(None),
                storage_error: Set(None),
                plan: Set(None),
            })
            .exec_without_returning(&txn)
            .await?;
            api_key::Entity::insert(api_key::ActiveModel {
                tenant_id: Set(tenant),
                id: Set(Uuid::now_v7()),
                name: Set("bench".into()),
                prefix: Set(display.clone()),
                key_hash: Set(hash.clone()),
                scopes: Set("projects:read projects:write tasks:read tasks:write api_keys:manage".into()),
                created_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(&txn)
            .await?;
            let ids: Vec<Uuid> = (0..projects).map(|_| Uuid::now_v7()).collect();
            let rows: Vec<project::ActiveModel> = ids
                .iter()
                .zip(1_i64..)
                .map(|(id, g)| {
                    let at = now + chrono::Duration::microseconds(g);
                    project::ActiveModel {
                        tenant_id: Set(tenant),
                        id: Set(*id),
                        name: Set(format!("Project {g}")),
                        description: Set(None),
                        created_at: Set(at),
                        updated_at: Set(at),
                    }
                })
                .collect();
            let first = ids.first().copied().unwrap_or_default();
            for chunk in rows.chunks(500) {
                project::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(&txn)
                    .await?;
            }
            out.push((secret.clone(), tenant, first));
        }
        txn.commit().await?;
        Ok(out)
    }
}

/// The tenant set with one more migration, as a release that adds a
/// column has it (`Db::bench_fleet`).
struct NextRelease;

const BENCH_COLUMN: &str = "t29991231_000001_bench_note";

#[migration::async_trait::async_trait]
impl migration::MigratorTrait for NextRelease {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        let mut all = migration::TenantMigrator::migrations();
        all.push(Box::new(AddNote));
        all
    }

    fn migration_table_name() -> migration::DynIden {
        migration::TenantMigrator::migration_table_name()
    }
}

struct AddNote;

impl migration::MigrationName for AddNote {
    fn name(&self) -> &str {
        BENCH_COLUMN
    }
}

#[migration::async_trait::async_trait]
impl migration::MigrationTrait for AddNote {
    async fn up(&self, manager: &migration::SchemaManager) -> Result<(), DbErr> {
        use migration::{Alias, ColumnDef, Table};
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("projects"))
                    .add_column(ColumnDef::new(Alias::new("bench_note")).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &migration::SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// What `tenantry bench-fleet` measured.
#[derive(Debug, serde::Serialize)]
pub struct FleetFigures {
    /// Tenants with storage of their own.
    pub tenants: usize,
    /// A fleet run with nothing to do.
    pub noop_ms: f64,
    /// A fleet run adding one column to every such tenant.
    pub column_ms: f64,
    pub migrated: usize,
    pub failed: usize,
    /// Taking the column away again (not part of the figure).
    pub undo_ms: f64,
}

impl Db {
    /// Times a no-op fleet run, then one that adds a column to every
    /// schema tenant's projects, then takes the column (and its ledger
    /// entries and mirrors) away again so the data set stays as seeded.
    #[expect(clippy::disallowed_methods, reason = "the benchmark's own undo, inside the seam")]
    pub async fn bench_fleet(&self, parallel: usize) -> Result<FleetFigures, DbErr> {
        let options = super::FleetOptions {
            parallel,
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let noop = self
            .migrate_fleet(options, &|_| {})
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let noop_ms = started.elapsed().as_secs_f64() * 1000.0;
        if noop.behind > 0 {
            return Err(DbErr::Custom(format!(
                "{} tenants were behind before the run",
                noop.behind
            )));
        }
        let started = std::time::Instant::now();
        let report = self
            .migrate_fleet_to::<NextRelease>(options, &|_| {})
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let column_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = std::time::Instant::now();
        let latest = super::fleet::latest::<migration::TenantMigrator>().unwrap_or_default();
        // Schema names from the registry's own locations, a constant
        // column and migration name: nothing to escape.
        self.conn
            .execute_unprepared(&format!(
                "DO $$ DECLARE t record; BEGIN
                   FOR t IN SELECT location FROM tenants WHERE placement = 'schema' LOOP
                     EXECUTE format('ALTER TABLE %I.projects DROP COLUMN IF EXISTS bench_note', t.location);
                     EXECUTE format('DELETE FROM %I.{ledger} WHERE version = %L', t.location, '{BENCH_COLUMN}');
                   END LOOP;
                 END $$;
                 UPDATE tenants SET storage_version = '{latest}' WHERE placement = 'schema';",
                ledger = migration::TENANT_LEDGER,
            ))
            .await?;
        Ok(FleetFigures {
            tenants: report.behind,
            noop_ms,
            column_ms,
            migrated: report.migrated,
            failed: report.failed.len(),
            undo_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
