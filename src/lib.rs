//! goalgraph: a GraphQL API for goal alignment (OKRs) over PostgreSQL.
//!
//! Layers, each importing only those after it: `graphql` → `loaders` → `store` → `domain`.

pub mod domain;
pub mod store;
