//! The HTTP application: request state, router and server (built and run by `application`).

use std::sync::Arc;
use std::time::Duration;

use crate::store::pg::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::auth::TokenKeys;
use crate::graphql::{Resolution, build_schema};
use crate::http;
use crate::http::executor::CheckedSchema;
use crate::loaders::Stores;
use crate::store::mongo::MongoStore;
use crate::store::pg::progress_feed::ProgressFeed;
use crate::store::pg::user_cache::UserCache;
use crate::store::shared::{RateLimit, SharedState};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before it is answered with 408 and dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-request limits enforced by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestLimits {
    /// How long a request may run before it is cancelled with TIMEOUT.
    pub timeout: Duration,
    /// The largest body accepted (PAYLOAD_TOO_LARGE beyond).
    pub max_body_bytes: usize,
    /// Each tenant's request budget (RATE_LIMITED beyond); none when `None`.
    pub rate_limit: Option<RateLimit>,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            timeout: REQUEST_TIMEOUT,
            max_body_bytes: MAX_BODY_BYTES,
            rate_limit: None,
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The schema behind the parsed-document cache and the alias limit.
    pub schema: CheckedSchema,
    pub stores: Stores,
    pub keys: Arc<TokenKeys>,
    pub limits: RequestLimits,
    /// For readiness checks.
    pub mongo: MongoStore,
    /// Rate-limit buckets and persisted queries, shared by replicas when in Redis.
    pub shared: SharedState,
    /// The users tokens name, kept fresh by the progress feed's listener.
    pub users: UserCache,
}

impl AppState {
    /// State over `db` and `mongo`, verifying tokens with `keys`, with subscriptions fed by
    /// `feed`; local shared state and default limits until told otherwise.
    pub fn new(
        db: Db,
        mongo: &MongoStore,
        keys: TokenKeys,
        feed: ProgressFeed,
        resolution: Resolution,
    ) -> Self {
        let stores = Stores::new(db, mongo);
        let users = feed.users().clone();
        Self {
            schema: CheckedSchema::new(build_schema(stores.clone(), feed, resolution)),
            stores,
            keys: Arc::new(keys),
            limits: RequestLimits::default(),
            mongo: mongo.clone(),
            shared: SharedState::local(),
            users,
        }
    }

    /// The same state keeping rate limits and persisted queries in `shared`.
    pub fn with_shared(mut self, shared: SharedState) -> Self {
        self.shared = shared;
        self
    }

    /// The same state with other request limits.
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// The routes: the dashboard, GraphQL (POST, and GET for queries; the offline playground on a
/// GET without a query), subscriptions
/// (graphql-ws), metrics, liveness and readiness; every response carries its request id.
pub fn router(state: AppState) -> Router {
    // Requests end with a coded GraphQL error at `limits.timeout` (in the handler); this outer
    // layer only guards the other routes and a stuck connection, a little later.
    let outer_timeout = state.limits.timeout + Duration::from_secs(5);
    Router::new()
        .route("/", get(http::dashboard::page))
        .route("/dashboard/{asset}", get(http::dashboard::asset))
        .route(
            "/graphql",
            get(http::graphql::get).post(http::graphql::post),
        )
        .route("/graphql/ws", get(http::subscriptions::upgrade))
        .route("/graphiql/{asset}", get(http::playground::asset))
        .route("/metrics", get(http::ops::metrics))
        .route("/healthz", get(http::ops::healthz))
        .route("/readyz", get(http::ops::readyz))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            outer_timeout,
        ))
        .layer(axum::middleware::from_fn(http::ops::request_id))
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
