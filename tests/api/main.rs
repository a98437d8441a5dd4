//! The integration suite: one binary, every test against a real PostgreSQL with a database of
//! its own (so tests run in parallel), driving the API over HTTP as clients do.

mod helpers;

mod auth_and_tenancy;
mod container;
mod cost;
mod dashboard;
mod documents;
mod errors;
mod faults;
mod hostile;
mod http_conventions;
mod identity_provider;
mod lean;
mod limits;
mod migrations;
mod mutations;
mod n_plus_one;
mod observability;
mod paging;
mod pgbouncer;
mod playground;
mod queries;
mod replicas;
mod report_cache;
mod reports;
mod rollup;
mod schema;
mod seed;
mod sharding;
mod shared_state;
mod subscriptions;
mod sync;
mod tenant_scoping;
mod tree;
