//! HTTP handlers: the GraphQL endpoint, subscriptions, the dashboard, the offline playground,
//! and operations endpoints.

pub mod assets;
pub mod cost;
pub mod dashboard;
pub mod executor;
pub mod graphql;
pub mod negotiation;
pub mod ops;
pub mod parsed_queries;
pub mod persisted;
pub mod playground;
pub mod subscriptions;
