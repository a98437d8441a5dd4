//! The GraphQL schema: one file per type, inputs turned into domain commands, every nested
//! field resolved through the request's DataLoaders. Imports `loaders`, `store` and `domain`.

mod connection;
mod context;
mod documents;
mod enums;
mod key_result;
mod milestone;
mod mutation;
mod node;
mod objective;
mod org;
mod query;

use async_graphql::{EmptySubscription, Schema};

use crate::loaders::Stores;

pub use context::AuthFailure;
pub use mutation::MutationRoot;
pub use query::QueryRoot;

/// The executable schema.
pub type GoalSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema with the stores every resolver reaches through its context.
pub fn build_schema(stores: Stores) -> GoalSchema {
    Schema::build(QueryRoot, MutationRoot::default(), EmptySubscription)
        .data(stores)
        .limit_depth(32)
        .finish()
}

/// The schema's SDL as committed in `schema.graphql` (types sorted, so diffs are stable).
pub fn sdl() -> String {
    let schema = Schema::build(QueryRoot, MutationRoot::default(), EmptySubscription).finish();
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .sorted_enum_items(),
    )
}
