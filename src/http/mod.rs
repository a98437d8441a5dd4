//! HTTP handlers: the GraphQL endpoint, the offline playground, and operations endpoints.

pub mod graphql;
pub mod ops;
pub mod playground;
