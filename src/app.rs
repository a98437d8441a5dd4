//! The HTTP application: state, router and server, shared by `goalgraph serve` and the tests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_http::timeout::TimeoutLayer;

use crate::auth::TokenKeys;
use crate::graphql::{GoalSchema, build_schema};
use crate::http;
use crate::loaders::Stores;
use crate::store::mongo::MongoStore;
use crate::store::pg::progress_feed::ProgressFeed;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before it is answered with 408 and dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub schema: GoalSchema,
    pub stores: Stores,
    pub keys: Arc<TokenKeys>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, mongo: &MongoStore, keys: TokenKeys) -> Self {
        let feed = ProgressFeed::start(&db);
        let stores = Stores::new(db, mongo);
        Self {
            schema: build_schema(stores.clone(), feed),
            stores,
            keys: Arc::new(keys),
        }
    }
}

/// The routes: the dashboard, GraphQL (POST), the offline playground (GET), subscriptions
/// (graphql-ws), metrics and health.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(http::dashboard::page))
        .route("/dashboard/{asset}", get(http::dashboard::asset))
        .route(
            "/graphql",
            get(http::playground::page).post(http::graphql::handle),
        )
        .route("/graphql/ws", get(http::subscriptions::upgrade))
        .route("/graphiql/{asset}", get(http::playground::asset))
        .route("/metrics", get(http::ops::metrics))
        .route("/healthz", get(http::ops::healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
