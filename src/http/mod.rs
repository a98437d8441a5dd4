//! HTTP handlers: the GraphQL endpoint, subscriptions, the offline playground, and operations
//! endpoints.

pub mod graphql;
pub mod ops;
pub mod playground;
pub mod subscriptions;
