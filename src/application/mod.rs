//! The composition root: builds everything `goalgraph serve` runs — the stores and their
//! migrations, the progress feed, shared state, limits, the HTTP listener — and runs it with
//! its background workers (the outbox relay and the change-stream consumer) until a shutdown
//! future resolves. `main.rs` and the test harness both start servers through
//! [`Application::build`] and [`Application::run_until`], replicas included.

#[cfg(feature = "embedded-stores")]
mod embedded;
pub mod stores;
#[cfg(not(feature = "embedded-stores"))]
mod without_embedded;

use std::net::SocketAddr;
use std::time::Duration;

use crate::app::{AppState, REQUEST_TIMEOUT, RequestLimits, serve};
use crate::auth::TokenKeys;
use crate::config::StoreArgs;
use crate::graphql::Resolution;
use crate::store::pg::progress_feed::ProgressFeed;
use crate::store::pg::user_cache::UserCache;
use crate::store::pg::{Db, PgOptions, Pooling};
use crate::store::shared::SharedState;
use crate::sync::activity::ActivityConsumer;
use crate::sync::relay::OutboxRelay;
use axum::http::HeaderValue;
#[cfg(feature = "embedded-stores")]
use embedded::EmbeddedServers;
use stores::{OpenStores, Opener, bootstrap_first_tenant};
#[cfg(not(feature = "embedded-stores"))]
use without_embedded::EmbeddedServers;

/// Any start-up or shutdown failure, shown to the operator as its message.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// How long start-up waits for the replica's LISTEN connection.
const LISTENER_WAIT: Duration = Duration::from_secs(5);

/// What a server is built from: `goalgraph serve`'s arguments, or a test's.
pub struct ServeSettings {
    /// The address to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Where the data lives.
    pub store: StoreArgs,
    /// Redis for state shared by replicas; kept in this process without it.
    pub redis_url: Option<String>,
    /// How bearer tokens are verified (and the first tenant's token issued).
    pub keys: TokenKeys,
    /// Per-request limits.
    pub limits: RequestLimits,
    /// How long a request waits for a pooled PostgreSQL connection.
    pub pg_acquire_timeout: Duration,
    /// How row-backed objects are resolved (lean unless told otherwise).
    pub resolution: Resolution,
    /// Browser origins allowed to call the API (CORS); none when empty.
    pub cors_origins: Vec<HeaderValue>,
    /// Start the embedded development stores even when bound to a non-loopback address.
    pub embedded_stores_on_network: bool,
    /// Cache report answers (by tenant data version); off computes every report.
    pub report_cache: bool,
}

/// The PostgreSQL connection settings `serve` uses for `store`.
pub fn serve_pg_options(store: &StoreArgs, acquire_timeout: Duration) -> PgOptions {
    PgOptions {
        max_connections: store.pg_pool,
        acquire_timeout,
        // PostgreSQL itself stops a statement a request no longer waits for.
        statement_timeout: Some(REQUEST_TIMEOUT + Duration::from_secs(5)),
        pooling: store.pg_pooling,
    }
}

/// A built server, not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
    stores: OpenStores,
    first_start: Option<String>,
}

impl Application {
    /// Opens the stores (starting embedded ones when none is configured), migrates, creates
    /// the first tenant on a fresh embedded database, connects shared state, starts listening
    /// for progress notices and binds the listener.
    pub async fn build(settings: ServeSettings) -> Result<Self, AnyError> {
        crate::store::metrics::install();
        let store = &settings.store;
        if store.pg_pooling == Pooling::Transaction && store.pg_listen_url.is_none() {
            return Err("--pg-pooling transaction needs --pg-listen-url (or \
                        GOALGRAPH_PG_LISTEN_URL): subscriptions LISTEN on a session of their \
                        own, which a transaction pooler cannot give"
                .into());
        }
        refuse_embedded_stores_on_network(&settings)?;
        let options = serve_pg_options(store, settings.pg_acquire_timeout);
        let stores = OpenStores::open(store, options, Opener::Serve).await?;
        stores.ensure_indexes_in_background();
        let first_start = if stores.started_postgres() {
            bootstrap_first_tenant(&stores.db, &settings.keys).await?
        } else {
            None
        };
        let shared = match &settings.redis_url {
            Some(url) => SharedState::redis(url)
                .await
                .map_err(|err| format!("cannot connect to Redis: {err}"))?,
            None => SharedState::local(),
        };
        let users = UserCache::default();
        let feed = match &store.pg_listen_url {
            Some(url) => {
                ProgressFeed::start_at(url.expose(), users).map_err(|err| format!("{err}"))?
            }
            None => ProgressFeed::start(&stores.db, users),
        };
        // Serving before the listener listens would work, but without subscriptions' events
        // and the user cache for a moment: give it a little time.
        if !feed.wait_listening(LISTENER_WAIT).await {
            tracing::warn!("the progress feed is not listening yet; serving anyway");
        }
        let state = AppState::new(
            stores.db.clone(),
            &stores.mongo,
            settings.keys,
            feed,
            settings.resolution,
        )
        .with_shared(shared)
        .with_limits(settings.limits)
        .with_cors_origins(settings.cors_origins);
        let state = if settings.report_cache {
            state
        } else {
            state.without_report_cache()
        };
        let listener = tokio::net::TcpListener::bind(settings.bind).await?;
        Ok(Self {
            listener,
            state,
            stores,
            first_start,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The message with the first tenant's token, when this start created it.
    pub fn first_start(&self) -> Option<&str> {
        self.first_start.as_deref()
    }

    /// Its PostgreSQL handle.
    pub fn db(&self) -> &Db {
        &self.stores.db
    }

    /// Serves with the outbox relay and the change-stream consumer running until `shutdown`
    /// resolves; then answers the requests already accepted, lets the relay drain the outbox,
    /// and closes the stores (stopping the embedded servers it started).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), AnyError> {
        let Self {
            listener,
            state,
            stores,
            ..
        } = self;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let workers = [
            tokio::spawn(
                OutboxRelay::new(
                    stores.db.clone(),
                    &stores.mongo,
                    state.stores.outbox_written.clone(),
                )
                .run(until_stopped(stopped.clone())),
            ),
            tokio::spawn(
                ActivityConsumer::new(stores.db.clone(), stores.mongo.clone())
                    .run(until_stopped(stopped)),
            ),
        ];
        let served = serve(listener, state, shutdown).await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        stores.close().await?;
        Ok(served?)
    }
}

/// The embedded stores are for development: a server reachable from other machines must name
/// real ones, unless told otherwise.
fn refuse_embedded_stores_on_network(settings: &ServeSettings) -> Result<(), AnyError> {
    let store = &settings.store;
    let missing: Vec<&str> = [
        (store.database_url.is_none(), "DATABASE_URL"),
        (store.mongodb_uri.is_none(), "MONGODB_URI"),
    ]
    .into_iter()
    .filter_map(|(missing, name)| missing.then_some(name))
    .collect();
    if missing.is_empty() || settings.bind.ip().is_loopback() || settings.embedded_stores_on_network
    {
        return Ok(());
    }
    Err(format!(
        "refusing to serve on {} with embedded development stores: set {} (or bind to          127.0.0.1, or set GOALGRAPH_EMBEDDED_STORES_ON_NETWORK=true to accept them)",
        settings.bind,
        missing.join(" and ")
    )
    .into())
}
