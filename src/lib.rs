//! Tenantry: a multi-tenant SaaS backend. The rooms, what each may import
//! and a request's way through them: `docs/architecture.md`.

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod openapi;
pub mod secret;
pub mod server;
pub mod telemetry;
