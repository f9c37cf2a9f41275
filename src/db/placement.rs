//! Where each tenant's data lives, as the request path reaches it.
//!
//! * `shared`: rows in the shared tables; the transaction sets
//!   `app.tenant_id` alone.
//! * `schema` (PostgreSQL): the tenant set in a schema of the tenant's own,
//!   named from its id ([`schema_name`]); the transaction also puts that
//!   schema first on `search_path`, in the same pipelined round trip as the
//!   tenant setting, so the same statements (unqualified) reach its tables,
//!   and `tenants` and the platform's functions still resolve in `public`.
//!   The tables keep `tenant_id`, its foreign keys and row-level security:
//!   the seam's filter and the policies hold there as in the shared tables.
//!
//! * `database`: the tenant set in a database of the tenant's own
//!   (`registry.rs`): its transactions on the tenant set run there, on a
//!   pool from the registry, with the same tenant setting; those on the
//!   platform set (its keys, members, sessions, its registry row) run on
//!   the platform's pool. A transaction never spans both sets, in any
//!   placement, so every placement behaves alike.
//!
//! A tenant's placement is set when it is created, and each instance keeps
//! what it has read ([`Placements`]): the first request for a tenant reads
//! it (one round trip, through the tenant's own row), every later one finds
//! it in memory.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use entity::tenant::{self, Placement};
use migration::{MigratorTrait, TableSet};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::Conn;
use super::pg::{SEARCH_PATH, Setting};
use super::registry::Registry;
use super::shape::Query;
use super::tx::Tx;

/// What every tenant schema's name starts with; the rest is the tenant's id
/// in hex (never anything a person typed).
pub const SCHEMA_PREFIX: &str = "t_";

/// How many tenants' placements an instance keeps before it starts over.
const KEPT: usize = 1 << 20;

/// The schema of a tenant placed in a schema of its own: `t_` and its id in
/// hex, 34 characters, a plain identifier that needs no quoting.
pub fn schema_name(tenant: Uuid) -> String {
    format!("{SCHEMA_PREFIX}{}", tenant.simple())
}

/// A setting's value as `set_config` takes it: the UUID, or for the search
/// path, the tenant's schema followed by `public`.
pub(super) fn setting_text((name, value): &Setting) -> String {
    if *name == SEARCH_PATH {
        format!("{}, public", schema_name(*value))
    } else {
        value.to_string()
    }
}

/// The scope settings of a tenant's transaction in its placement (in a
/// database of its own, on either pool, the tenant setting alone).
pub(super) fn settings(tenant: Uuid, placement: Placement) -> Vec<Setting> {
    match placement {
        Placement::Shared | Placement::Database => vec![(migration::APP_TENANT_SETTING, tenant)],
        Placement::Schema => vec![(migration::APP_TENANT_SETTING, tenant), (SEARCH_PATH, tenant)],
    }
}

/// Where a tenant's data lives, as an instance has read it.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    pub(super) placement: Placement,
    /// The tenant database's location, for a tenant in a database of its own.
    pub(super) database: Option<Arc<str>>,
    /// Its plan (`tenants.plan`), read with the placement: the request
    /// path's budgets are chosen from it without a query of their own.
    pub(super) plan: Option<Arc<str>>,
}

impl Placed {
    const SHARED: Self = Self {
        placement: Placement::Shared,
        database: None,
        plan: None,
    };
}

/// The placements this instance has read, by tenant, and the pools of the
/// tenants' own databases.
#[derive(Debug)]
pub(super) struct Placements {
    known: RwLock<HashMap<Uuid, Placed>>,
    pub(super) registry: Registry,
    /// How far the last poll for moved tenants read ([`super::PlacementPoll::seen`]).
    polled: std::sync::Mutex<Option<i64>>,
    /// The moves the polls have applied, by tenant, with their stamp: a
    /// poll looks back over the overlap again, and forgets a tenant only
    /// for a move it has not applied yet.
    applied: std::sync::Mutex<HashMap<Uuid, i64>>,
    /// This instance's row in `instances`, written by every poll: what a
    /// move waits on before it removes a tenant's old copy.
    pub(super) instance: Uuid,
    started_at: chrono::DateTime<chrono::Utc>,
    /// Whether a poll has written the row (so there is one to remove).
    registered: std::sync::atomic::AtomicBool,
}

/// How far back each poll looks again: a move stamped up to this long
/// before one the last poll saw, and committed after that poll, is still
/// seen (a clock stepping back as much, too).
const POLL_OVERLAP_MS: i64 = 5_000;

#[derive(Debug, FromQueryResult)]
pub(crate) struct PlacementRow {
    pub(crate) placement: String,
    pub(crate) location: Option<String>,
    pub(crate) storage_version: Option<String>,
    pub(crate) plan: Option<String>,
}

/// What a request for a tenant whose own storage is behind the code's
/// tenant set gets, until `tenantry migrate` brings it up to date: the
/// server never runs new statements on an old schema.
pub const STORAGE_BEHIND: &str = "the tenant's storage is being migrated";

/// Whether `err` is a refusal to serve a tenant whose storage is behind.
pub fn is_storage_behind(err: &DbErr) -> bool {
    matches!(err, DbErr::Custom(message) if message.starts_with(STORAGE_BEHIND))
}

impl Placements {
    pub(super) fn new(registry: Registry) -> Self {
        Self {
            known: RwLock::default(),
            registry,
            polled: std::sync::Mutex::new(None),
            applied: std::sync::Mutex::default(),
            instance: Uuid::new_v4(),
            started_at: chrono::Utc::now(),
            registered: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Forgets the placements of the tenants that moved since the last poll
    /// (`tenants.placed_at`, stamped by a trigger whoever moves them), so
    /// their next request reads where they are now; how many it forgot.
    /// The first poll looks back to the beginning; each later one from how
    /// far the last one read, less an overlap. A pool of a tenant database
    /// no longer used is closed by the idle job. Then it records, in the
    /// instance's row, how far it read: every move up to there is routed
    /// to its new place from now on.
    pub(super) async fn poll(&self, platform: &super::PlatformDb) -> Result<usize, DbErr> {
        let since = self
            .polled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(0, |at| at - POLL_OVERLAP_MS);
        let poll = platform.placements_changed_since(since).await?;
        let fresh: Vec<Uuid> = {
            let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
            applied.retain(|_, at| *at > since);
            poll.moved
                .iter()
                .filter(|(tenant, at)| applied.insert(*tenant, *at) != Some(*at))
                .map(|(tenant, _)| *tenant)
                .collect()
        };
        // Their old database's pool goes too: a SQLite file removed by the
        // move and made again would otherwise still be reached through it.
        let forgotten = fresh.iter().filter(|tenant| self.forget_placement(**tenant)).count();
        // Never back: a deleted tenant's stamp leaves what was read read.
        let seen = {
            let mut polled = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
            let seen = polled.map_or(poll.seen, |at| at.max(poll.seen));
            *polled = Some(seen);
            seen
        };
        platform
            .instance_seen(self.instance, self.started_at, poll.now, seen)
            .await?;
        self.registered.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(forgotten)
    }

    /// Removes this instance's row, if a poll wrote one (it stops polling).
    pub(super) async fn leave(&self, platform: &super::PlatformDb) -> Result<(), DbErr> {
        if self.registered.swap(false, std::sync::atomic::Ordering::Relaxed) {
            platform.instance_left(self.instance).await?;
        }
        Ok(())
    }

    /// The placement of `tenant`: from memory, or read through the tenant's
    /// own row (`shared` for a tenant that no longer exists: its requests
    /// then find nothing, as they would in any placement).
    pub(super) async fn of(&self, conn: &Conn, tenant: Uuid) -> Result<Placed, DbErr> {
        if let Some(known) = self.known.read().unwrap_or_else(PoisonError::into_inner).get(&tenant) {
            return Ok(known.clone());
        }
        let Some(placement) = read(conn, tenant).await? else {
            return Ok(Placed::SHARED);
        };
        // A tenant refused for its storage is read again on its next
        // request, so it is served as soon as its migration commits.
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= KEPT {
            known.clear();
        }
        known.insert(tenant, placement.clone());
        Ok(placement)
    }

    /// Forgets where `tenant` is (it moved), and the pool of the database
    /// it was in: its next request reads where it is now. Whether this
    /// instance knew it.
    pub(super) fn forget_placement(&self, tenant: Uuid) -> bool {
        let placed = self
            .known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tenant);
        let known = placed.is_some();
        if let Some(location) = placed.and_then(|p| p.database) {
            self.registry.forget(&location);
        }
        known
    }

    /// Forgets `tenant` (deleted), so its entry does not outlive it, nor
    /// the pool of its own database.
    pub(super) fn forget(&self, tenant: Uuid) {
        self.forget_placement(tenant);
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the tenant's own row, read in its own scope inside the seam"
)]
async fn read(conn: &Conn, tenant: Uuid) -> Result<Option<Placed>, DbErr> {
    let tx = Tx::single(conn, &[(migration::APP_TENANT_SETTING, tenant)], false).await?;
    let backend = tx.backend();
    let mut select = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Placement)
        .column(tenant::Column::Location)
        .column(tenant::Column::StorageVersion)
        .column(tenant::Column::Plan)
        .filter(tenant::Column::Id.eq(tenant));
    QueryTrait::query(&mut select).limit(1);
    let query: Query = select.build(backend).into();
    let rows = tx.fetch::<PlacementRow>(TableSet::Platform, query).await?;
    tx.commit().await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let placement = Placement::parse(&row.placement)
        .ok_or_else(|| DbErr::Custom(format!("tenant {tenant} has an unknown placement `{}`", row.placement)))?;
    if placement != Placement::Shared && is_behind(row.storage_version.as_deref()) {
        return Err(DbErr::Custom(format!(
            "{STORAGE_BEHIND}: tenant {tenant} has {}",
            row.storage_version.as_deref().unwrap_or("no tenant-set migration")
        )));
    }
    let database = match placement {
        Placement::Database => {
            let location = row
                .location
                .ok_or_else(|| DbErr::Custom(format!("tenant {tenant} is placed in a database but has no location")))?;
            // A location names the tenant's own database, made from its id:
            // never another's (a row edited by hand is refused).
            let own = location.rsplit('/').next().is_some_and(|name| {
                name == super::registry::database_name(tenant) || name == format!("{}.db", tenant.simple())
            });
            if !own {
                return Err(DbErr::Custom(format!(
                    "tenant {tenant}: its location `{location}` is not its own database"
                )));
            }
            Some(Arc::from(location))
        }
        Placement::Shared | Placement::Schema => None,
    };
    Ok(Some(Placed {
        placement,
        database,
        plan: row.plan.map(Arc::from),
    }))
}

/// Makes a schema tenant's storage inside `txn` (the migrating role's, with
/// the tenant's row already written): the schema, the tenant set's tables
/// with their policies and ledger (`migration::TenantMigrator`, run with the
/// schema first on `search_path`), the grants the shared tables have, and
/// the row's mirror of where its storage stands.
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn provision_schema(txn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    // From the tenant's id alone: a plain identifier (see `schema_name`).
    txn.execute_unprepared(&format!("CREATE SCHEMA {}", schema_name(tenant)))
        .await?;
    enter_schema(txn, tenant).await?;
    migration::TenantMigrator::up(txn, None).await?;
    grant_as_shared(txn, tenant).await?;
    super::fleet::mark_current::<migration::TenantMigrator>(txn, tenant).await
}

/// Makes the tenant's schema inside `txn` if it does not exist.
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn create_schema(txn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    // From the tenant's id alone: a plain identifier (see `schema_name`).
    txn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {}", schema_name(tenant)))
        .await?;
    Ok(())
}

/// Takes, first in a provisioning transaction, the lock that the tenant
/// set's foreign keys to `tenants` take anyway: two provisionings at once
/// would otherwise each hold their new row's lock and wait for the other's
/// (a deadlock). They run one after the other; other writes to `tenants`
/// wait for the few tens of milliseconds one takes.
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn serialize_provisioning(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    txn.execute_unprepared("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE")
        .await?;
    Ok(())
}

/// Puts the tenant's schema first on `search_path` for the rest of `txn`,
/// so `current_schema()` is the tenant's storage and unqualified names
/// resolve there first (then in `public`).
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn enter_schema(txn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    let schema = schema_name(tenant);
    txn.execute_unprepared(&format!("SET LOCAL search_path TO {schema}, public"))
        .await?;
    // PostgreSQL passes over a schema that does not exist: never migrate
    // the shared tables in a missing schema's place.
    let current = txn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT current_schema()::text AS current",
        ))
        .await?
        .map(|row| row.try_get::<String>("", "current"))
        .transpose()?;
    if current.as_deref() != Some(schema.as_str()) {
        return Err(DbErr::Custom(format!(
            "tenant {tenant}: its schema {schema} does not exist"
        )));
    }
    Ok(())
}

/// Gives every table of the tenant's schema the grants the shared table of
/// the same name has (the ledger has none), so the application role
/// reaches them exactly as it reaches the shared ones; then leaves the
/// schema (`search_path` back to its default for the rest of `txn`).
#[expect(clippy::disallowed_methods, reason = "the operator's DDL, inside the seam")]
pub(super) async fn grant_as_shared(txn: &DatabaseTransaction, tenant: Uuid) -> Result<(), DbErr> {
    let schema = schema_name(tenant);
    txn.execute_unprepared(&format!(
        "DO $$ DECLARE g record; BEGIN
           FOR g IN SELECT grantee, table_name, string_agg(privilege_type, ', ') AS privileges
                      FROM information_schema.role_table_grants
                     WHERE table_schema = 'public' AND table_name::text = ANY ('{{{tables}}}')
                       AND grantee <> current_user
                     GROUP BY grantee, table_name
           LOOP
             EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', '{schema}', g.grantee);
             EXECUTE format('GRANT %s ON %I.%I TO %I', g.privileges, '{schema}', g.table_name, g.grantee);
           END LOOP;
         END $$; SET LOCAL search_path TO DEFAULT",
        tables = tenant_data_tables().join(","),
    ))
    .await?;
    Ok(())
}

/// The tenant set's tables that hold a tenant's data (all but its ledger):
/// what the serving role is granted in every tenant storage.
pub(super) fn tenant_data_tables() -> Vec<&'static str> {
    migration::TENANT_SET
        .iter()
        .filter(|t| **t != migration::TENANT_LEDGER)
        .copied()
        .collect()
}

/// Whether a storage that has `version` lacks some of this code's tenant-set
/// migrations. A newer one (a later release has migrated it) is served:
/// migrations only add, so this code's statements still hold there.
/// Migration names begin with their date, so they sort in order.
fn is_behind(version: Option<&str>) -> bool {
    let latest = super::fleet::latest::<migration::TenantMigrator>();
    match (version, latest.as_deref()) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(version), Some(latest)) => version < latest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_name_is_a_plain_identifier_from_the_id_alone() {
        let tenant = Uuid::now_v7();
        let name = schema_name(tenant);
        assert_eq!(name.len(), 34);
        assert!(name.len() <= 63, "within PostgreSQL's identifier limit");
        assert!(name.starts_with(SCHEMA_PREFIX));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert_eq!(setting_text(&(SEARCH_PATH, tenant)), format!("{name}, public"));
        assert_eq!(
            setting_text(&(migration::APP_TENANT_SETTING, tenant)),
            tenant.to_string()
        );
    }

    #[test]
    fn only_an_older_storage_is_behind() {
        let latest = crate::db::fleet::latest::<migration::TenantMigrator>().unwrap_or_default();
        assert!(is_behind(None));
        assert!(is_behind(Some("t20200101_000001_older")));
        assert!(!is_behind(Some(&latest)));
        assert!(!is_behind(Some("t29991231_000001_later_release")));
    }

    #[test]
    fn a_schema_tenant_also_sets_its_search_path() {
        let tenant = Uuid::now_v7();
        assert_eq!(settings(tenant, Placement::Shared).len(), 1);
        assert_eq!(
            settings(tenant, Placement::Schema),
            vec![(migration::APP_TENANT_SETTING, tenant), (SEARCH_PATH, tenant)]
        );
        assert_eq!(
            settings(tenant, Placement::Database),
            settings(tenant, Placement::Shared)
        );
    }
}
