//! The HTTP application: request state, router and server (built and run by `application`).

use std::sync::Arc;
use std::time::Duration;

use crate::store::pg::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::auth::TokenKeys;
use crate::graphql::{Resolution, build_schema};
use crate::http;
use crate::http::executor::CheckedSchema;
use crate::loaders::Stores;
use crate::store::mongo::MongoStore;
use crate::store::pg::progress_feed::ProgressFeed;
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
    /// Each tenant's budget of query-cost points (RATE_LIMITED beyond); none when `None`.
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
    /// Browser origins allowed to call the API (CORS); none unless configured.
    pub cors_origins: Vec<HeaderValue>,
    /// Becomes true when the server starts shutting down: open WebSockets close with 1001
    /// (the HTTP server's graceful shutdown does not wait for upgraded connections).
    pub going_away: tokio::sync::watch::Receiver<bool>,
    /// Recently read subtree sizes, for pricing requests.
    pub sizes: Arc<crate::http::cost::SizeCache>,
    going_away_sender: Arc<tokio::sync::watch::Sender<bool>>,
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
        let stores = Stores::new(db, mongo).with_user_cache(feed.users().clone());
        let (going_away_sender, going_away) = tokio::sync::watch::channel(false);
        Self {
            schema: CheckedSchema::new(build_schema(stores.clone(), feed, resolution)),
            stores,
            keys: Arc::new(keys),
            limits: RequestLimits::default(),
            mongo: mongo.clone(),
            shared: SharedState::local(),
            cors_origins: Vec::new(),
            going_away,
            sizes: Arc::default(),
            going_away_sender: Arc::new(going_away_sender),
        }
    }

    /// Tells open WebSockets the server is going away.
    pub fn announce_shutdown(&self) {
        self.going_away_sender.send_replace(true);
    }

    /// The same state allowing browser calls from `origins` (CORS).
    pub fn with_cors_origins(mut self, origins: Vec<HeaderValue>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// The same state keeping rate limits, persisted queries and report answers in `shared`.
    pub fn with_shared(mut self, shared: SharedState) -> Self {
        if let Some(link) = shared.redis_link() {
            self.stores.reports.share_through(link);
        }
        self.shared = shared;
        self
    }

    /// The same state computing every report instead of caching answers.
    pub fn without_report_cache(self) -> Self {
        self.stores.reports.turn_off();
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
    let cors = cors(&state.cors_origins);
    let request_id = HeaderName::from_static(crate::telemetry::REQUEST_ID_HEADER);
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
        .layer(compression())
        .layer(cors)
        // Every request gets an id (the client's `x-request-id`, else a new UUID) returned
        // in the same header, runs in a span carrying it (`telemetry::request_span`, which
        // also continues an incoming `traceparent`), and is logged once answered: an access
        // log line with status and latency, at info level. (The last layer runs first.)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(
            crate::telemetry::drop_unsafe_request_id,
        ))
        .with_state(state)
}

/// The smallest answer worth compressing: below it, the header and the CPU cost more than the
/// bytes saved.
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// gzip or brotli (the client's `Accept-Encoding` chooses) for answers above
/// [`COMPRESS_ABOVE_BYTES`]: GraphQL answers, the playground and the dashboard alike.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().gzip(true).br(true).compress_when(
        SizeAbove::new(COMPRESS_ABOVE_BYTES)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE),
    )
}

/// Cross-origin calls from the configured browser origins only (none by default): GraphQL
/// over GET and POST with a bearer token; clients may read the request id, the statement and
/// command counts, the pre-rendered lists' count, `Retry-After` and the rate-limit headers.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static(crate::telemetry::REQUEST_ID_HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(crate::telemetry::REQUEST_ID_HEADER),
            HeaderName::from_static(http::graphql::SQL_STATEMENTS_HEADER),
            HeaderName::from_static(http::graphql::MONGO_COMMANDS_HEADER),
            HeaderName::from_static(http::graphql::PRE_RENDERED_LISTS_HEADER),
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let announcer = state.clone();
    // Answers leave in several writes (a large pre-rendered list is a piece of its own): with
    // Nagle's algorithm on, a write after a small one waited for the client's delayed ACK
    // (40 ms per answer of a nested tree).
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::warn!(%error, "TCP_NODELAY could not be set on a connection");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            announcer.announce_shutdown();
        })
        .await
}
