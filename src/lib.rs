//! goalgraph: a GraphQL API for goal alignment (OKRs) over PostgreSQL.
//!
//! Layers, each importing only those after it: `graphql` → `loaders` → `store` → `domain`.

pub mod app;
pub mod application;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod loaders;
pub mod store;
pub mod sync;
pub mod telemetry;
