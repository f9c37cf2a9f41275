//! One integration-test binary. Every test runs against a server of its own
//! on port 0, on SQLite and on PostgreSQL (`backends!`), or on PostgreSQL
//! only where the feature exists only there (`postgres_only!`).

mod support;

mod api_keys;
mod auth;
mod cli;
mod clients;
mod conditional;
mod contract;
mod databases;
mod effects;
mod errors;
mod fleet;
mod hostile_strings;
mod idempotency;
mod key_authority;
mod key_cache;
mod layers;
mod members;
mod migrations;
mod moves;
mod openapi_spec;
mod pagination;
mod placements;
mod projects;
mod rate_limits;
mod roles;
mod schema_invariants;
mod shared_throttle;
mod sign_in_rules;
mod tasks;
mod tenant_isolation;
mod user_isolation;
