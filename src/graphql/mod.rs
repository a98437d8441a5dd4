//! The GraphQL schema: one file per type, inputs turned into domain commands, every nested
//! field resolved through the request's DataLoaders. Imports `loaders`, `store` and `domain`.

mod connection;
mod context;
pub mod cost;
mod documents;
mod enums;
mod key_result;
pub mod lean;
pub mod limits;
mod milestone;
mod mutation;
mod node;
mod objective;
mod org;
pub mod prerender;
mod query;
mod reports;
mod scalars;
mod subscription;

use async_graphql::{MergedObject, Schema};

use crate::loaders::Stores;
use crate::store::pg::progress_feed::ProgressFeed;

pub use lean::Resolution;
pub use mutation::MutationRoot;
pub use query::CoreQuery;
pub use reports::ReportQuery;
pub use subscription::SubscriptionRoot;

/// Entry points for reading: the core API and the dashboard reports.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(CoreQuery, ReportQuery);

/// The executable schema.
pub type GoalSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with the stores every resolver reaches through its context, and the
/// replica's progress feed that subscriptions listen to. It has no extensions, on purpose (see
/// [`limits::check_aliases`]); documents reach it through `http::executor`.
pub fn build_schema(stores: Stores, feed: ProgressFeed, resolution: Resolution) -> GoalSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .data(stores)
    .data(feed)
    .data(resolution)
    .limit_depth(limits::MAX_DEPTH)
    .finish()
}

/// The schema's SDL as committed in `schema.graphql` (types sorted, so diffs are stable).
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish();
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .sorted_enum_items(),
    )
}
