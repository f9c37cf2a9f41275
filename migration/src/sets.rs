//! Which table lives where: every table is in exactly one of two sets
//! (the catalog test fails on a table in neither, or in both).
//!
//! * The **tenant set** holds everything written in the same transaction
//!   as a tenant's data. It lives with the tenant in every placement: rows
//!   in the shared tables, a PostgreSQL schema of the tenant's own, or a
//!   database of its own. A tenant-set table references only other
//!   tenant-set tables and `tenants` (a one-row stub where the tenant has
//!   a database of its own), so a tenant's rows can be moved whole.
//! * The **platform set** holds everything that must be found before the
//!   tenant is known, or across tenants: the tenant registry, people and
//!   their memberships, sessions, refresh tokens, API keys, the
//!   deployment's own id, the moves under way, the serving instances, the
//!   stored results of the idempotent requests that write this set, and
//!   the migration ledger. It is shared by every tenant of a deployment.
//!
//! Each table a later migration adds is listed here with it.

/// The tenant set, in creation order.
/// `tenant_migrations` is the tenant set's ledger: it lives in every
/// tenant storage beside the tables it describes, with no `tenant_id` (it
/// describes the storage, not a tenant) and no grant to the application.
/// `tenant_changes` is the log a tenant move reads: it is in every storage
/// too, and is never itself moved.
pub const TENANT_SET: &[&str] = &[
    "tenant_migrations",
    "projects",
    "tasks",
    "tenant_changes",
    "idempotency_keys",
];

/// The platform set, in creation order. `seaql_migrations` is its ledger.
pub const PLATFORM_SET: &[&str] = &[
    "seaql_migrations",
    "tenants",
    "api_keys",
    "users",
    "memberships",
    "sessions",
    "refresh_tokens",
    "deployment",
    "tenant_moves",
    "instances",
    "platform_idempotency_keys",
];

/// The set `table` belongs to, if it is in exactly one.
pub fn set_of(table: &str) -> Option<TableSet> {
    match (TENANT_SET.contains(&table), PLATFORM_SET.contains(&table)) {
        (true, false) => Some(TableSet::Tenant),
        (false, true) => Some(TableSet::Platform),
        _ => None,
    }
}

/// One of the two sets of tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableSet {
    Tenant,
    Platform,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_do_not_overlap() {
        for table in TENANT_SET.iter().chain(PLATFORM_SET) {
            assert!(set_of(table).is_some(), "{table} is in exactly one set");
        }
        assert_eq!(set_of("no_such_table"), None);
    }

    #[test]
    fn every_tenant_set_table_is_a_tenant_table() {
        for table in TENANT_SET.iter().filter(|t| **t != crate::TENANT_LEDGER) {
            assert!(
                crate::TENANT_TABLES.contains(table),
                "{table} carries tenant_id and the tenant policy"
            );
        }
    }
}
