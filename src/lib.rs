//! Tenantry: a multi-tenant SaaS backend. See README.md for the architecture.

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
