//! Test harness: a fresh database and API server per test, tenants and users with tokens, and
//! a GraphQL client that also reports the request's SQL statement count.

use std::sync::atomic::{AtomicU64, Ordering};

use goalgraph::app::RequestLimits;
use goalgraph::application::{Application, ServeSettings, serve_pg_options};
use goalgraph::auth::TokenKeys;
use goalgraph::config::StoreArgs;
use goalgraph::domain::role::Role;
use goalgraph::graphql::Resolution;
use goalgraph::http::graphql::{MONGO_COMMANDS_HEADER, SQL_STATEMENTS_HEADER};
use goalgraph::store::mongo::MongoStore;
use goalgraph::store::pg::entity::user;
use goalgraph::store::pg::org::{NewUser, OrgRepo};
use goalgraph::store::pg::{self, Db};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Database};
use serde_json::{Value, json};

pub const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256";

/// The PostgreSQL server the suite runs against (started by `scripts/test`).
pub fn server_url() -> String {
    std::env::var("GOALGRAPH_TEST_PG_URL").expect(
        "GOALGRAPH_TEST_PG_URL is not set: run the suite with ./scripts/test, which starts \
         an embedded PostgreSQL for it",
    )
}

/// The MongoDB-compatible server the suite runs against (started by `scripts/test`).
pub fn mongo_uri() -> String {
    std::env::var("GOALGRAPH_TEST_MONGO_URI").expect(
        "GOALGRAPH_TEST_MONGO_URI is not set: run the suite with ./scripts/test, which starts \
         a local SecantusDB for it",
    )
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (server, _) = base.rsplit_once('/').expect("URL has a database");
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Creates an empty database with a unique name and returns its URL.
pub async fn fresh_database() -> String {
    fresh_database_named().await.0
}

/// Like [`fresh_database`], also returning the name (reused for the MongoDB database).
pub async fn fresh_database_named() -> (String, String) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "gg_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    );
    let admin = Database::connect(server_url())
        .await
        .expect("connect to the test server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.expect("close");
    (with_database(&server_url(), &name), name)
}

/// A running API on its own database, started like `goalgraph serve` (workers included).
pub struct TestApp {
    pub address: String,
    /// The database's URL, for a second API replica on it.
    pub database_url: String,
    /// The settings it and its replicas are started with.
    settings: TestSettings,
    pub client: reqwest::Client,
    pub db: Db,
    pub mongo: MongoStore,
    pub keys: TokenKeys,
    /// Its servers (itself, then its replicas), each stopped by [`TestApp::stop`].
    servers: std::sync::Mutex<Vec<RunningServer>>,
}

/// One running [`Application`] and what stops it.
struct RunningServer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// A tenant with its admin.
pub struct Tenant {
    pub id: i64,
    pub admin: Actor,
}

/// A user and a token for them.
#[derive(Clone)]
pub struct Actor {
    pub id: i64,
    pub token: String,
}

/// An HTTP answer read without assumptions about its status.
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// A GraphQL response with the number of SQL statements the request ran.
#[derive(Debug)]
pub struct Gql {
    pub body: Value,
    pub statements: u64,
    pub mongo_commands: u64,
}

impl Gql {
    /// `data` at a `/`-separated pointer, failing the test when the response has errors.
    pub fn data(&self, pointer: &str) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        self.body
            .pointer(&format!("/data{pointer}"))
            .unwrap_or_else(|| panic!("no data at {pointer}: {}", self.body))
    }

    /// The `extensions.code` of the first error.
    pub fn error_code(&self) -> &str {
        self.body
            .pointer("/errors/0/extensions/code")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("expected an error: {}", self.body))
    }

    pub fn error_message(&self) -> &str {
        self.body
            .pointer("/errors/0/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_mongo(&mongo_uri()).await
}

/// A running API whose MongoDB is the server at `mongo_uri`.
pub async fn spawn_app_with_mongo(mongo_uri: &str) -> TestApp {
    let (database_url, name) = fresh_database_named().await;
    serve_app(TestSettings::new(database_url, mongo_uri, &name)).await
}

/// A running API with other request limits.
pub async fn spawn_app_with_limits(limits: RequestLimits) -> TestApp {
    spawn_app_sharing(limits, None).await
}

/// A running API with `limits` whose rate limits and persisted queries live in the Redis at
/// `redis_url` when given (replicas of it share them too), else in the process.
pub async fn spawn_app_sharing(limits: RequestLimits, redis_url: Option<String>) -> TestApp {
    let (database_url, name) = fresh_database_named().await;
    let mut settings = TestSettings::new(database_url, &mongo_uri(), &name);
    settings.limits = limits;
    settings.redis_url = redis_url;
    serve_app(settings).await
}

/// The Redis server the suite runs against (started by `scripts/test`).
pub fn redis_url() -> String {
    std::env::var("GOALGRAPH_TEST_REDIS_URL")
        .expect("GOALGRAPH_TEST_REDIS_URL is not set: run the suite with ./scripts/test")
}

/// How a test's API is configured: `goalgraph serve`'s settings on the test's databases.
#[derive(Clone)]
pub struct TestSettings {
    /// Where to listen (a free loopback port unless a test needs a given one).
    pub bind: std::net::SocketAddr,
    /// Where the data lives (both stores configured, nothing embedded).
    pub store: StoreArgs,
    pub limits: RequestLimits,
    pub redis_url: Option<String>,
    pub acquire_timeout: std::time::Duration,
    /// The database reached directly (the test's URL for replicas and its own checks).
    pub direct_url: String,
    /// How row-backed objects are resolved.
    pub resolution: Resolution,
    /// Browser origins allowed to call the API.
    pub cors_origins: Vec<reqwest::header::HeaderValue>,
    /// The keys tokens are verified with (goalgraph's test secret unless a test adds an
    /// identity provider).
    pub keys: TokenKeys,
}

impl TestSettings {
    /// `goalgraph serve`'s settings for these.
    pub fn serve_settings(&self) -> ServeSettings {
        ServeSettings {
            bind: self.bind,
            store: self.store.clone(),
            redis_url: self.redis_url.clone(),
            keys: self.keys.clone(),
            limits: self.limits,
            pg_acquire_timeout: self.acquire_timeout,
            resolution: self.resolution,
            cors_origins: self.cors_origins.clone(),
            embedded_stores_on_network: false,
            report_cache: true,
        }
    }

    /// Defaults on PostgreSQL database `database_url` and MongoDB database `name`.
    pub fn new(database_url: String, mongo_uri: &str, name: &str) -> Self {
        Self {
            bind: "127.0.0.1:0".parse().expect("address"),
            store: StoreArgs {
                database_url: Some(database_url.clone().into()),
                data_dir: std::env::temp_dir().join(format!("gg-unused-{name}")),
                pg_port: 0,
                pg_pool: 16,
                pg_pooling: goalgraph::store::pg::Pooling::Session,
                pg_listen_url: None,
                mongodb_uri: Some(mongo_uri.to_owned().into()),
                mongodb_database: name.to_owned(),
                mongodb_venv: None,
            },
            limits: RequestLimits::default(),
            redis_url: None,
            acquire_timeout: std::time::Duration::from_secs(10),
            direct_url: database_url,
            resolution: Resolution::Lean,
            cors_origins: Vec::new(),
            keys: TokenKeys::new(SECRET).expect("token keys"),
        }
    }
}

/// An API built and run by the same code as `goalgraph serve`: migrations, progress feed,
/// shared state, the outbox relay and the change-stream consumer.
pub async fn serve_app(settings: TestSettings) -> TestApp {
    // Logs (internal errors included) go to the test's captured output; RUST_LOG narrows them.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "goalgraph=warn".into()),
        )
        .with_test_writer()
        .try_init();
    let (address, server) = run_server(&settings).await;
    // The test's own handles on the stores (they outlive the servers they check), with the
    // connection settings the servers use.
    let mut direct = settings.store.clone();
    direct.pg_pooling = goalgraph::store::pg::Pooling::Session;
    let db = pg::connect(
        &settings.direct_url,
        &serve_pg_options(&direct, settings.acquire_timeout),
    )
    .await
    .expect("connect");
    let mongo = MongoStore::connect(
        settings
            .store
            .mongodb_uri
            .as_ref()
            .expect("MongoDB URI")
            .expose(),
        &settings.store.mongodb_database,
    )
    .await
    .expect("mongo");
    // The indexes exist before the test starts (serve makes them in the background).
    mongo.ensure_indexes().await.expect("indexes");
    TestApp {
        address,
        keys: settings.keys.clone(),
        database_url: settings.direct_url.clone(),
        settings,
        client: reqwest::Client::new(),
        db,
        mongo,
        servers: std::sync::Mutex::new(vec![server]),
    }
}

/// Builds and runs one server; its address.
async fn run_server(settings: &TestSettings) -> (String, RunningServer) {
    let application = Application::build(settings.serve_settings())
        .await
        .expect("the API starts");
    let address = format!("http://{}", application.address().expect("address"));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        application
            .run_until(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
            .expect("the API stops cleanly");
    });
    (address, RunningServer { stop, task })
}

/// Polls `check` every 100 ms until it returns true, failing after `seconds`.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

impl TestApp {
    /// A replica: another API server on the same databases, built and run like the first
    /// (its own pool, progress listener, relay and change-stream consumer), as a replica
    /// behind a load balancer would be; returns its address.
    pub async fn replica(&self) -> String {
        let (address, server) = run_server(&self.settings).await;
        self.servers.lock().expect("servers").push(server);
        address
    }

    /// A replica started with `adjust`ed settings (on the same databases); returns its address.
    pub async fn replica_with(&self, adjust: impl FnOnce(&mut TestSettings)) -> String {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        let (address, server) = run_server(&settings).await;
        self.servers.lock().expect("servers").push(server);
        address
    }

    /// Stops the first `n` servers started (the app itself first, then its replicas in the
    /// order they started), as on SIGTERM; the others keep running.
    pub async fn stop_first(&self, n: usize) {
        let stopped: Vec<RunningServer> = {
            let mut servers = self.servers.lock().expect("servers");
            let n = n.min(servers.len());
            servers.drain(..n).collect()
        };
        for server in &stopped {
            let _ = server.stop.send(true);
        }
        for server in stopped {
            server.task.await.expect("server task");
        }
    }

    /// Stops the server started last (as on SIGTERM); the others keep running.
    pub async fn stop_last(&self) {
        let last = self.servers.lock().expect("servers").pop();
        if let Some(server) = last {
            let _ = server.stop.send(true);
            server.task.await.expect("server task");
        }
    }

    /// Stops every server of this app (shutdown as on SIGTERM: open requests answered, the
    /// relay drained, stores closed) and waits until they have stopped.
    pub async fn stop(&self) {
        let servers: Vec<RunningServer> =
            std::mem::take(&mut *self.servers.lock().expect("servers"));
        for server in &servers {
            let _ = server.stop.send(true);
        }
        for server in servers {
            server.task.await.expect("server task");
        }
    }

    /// A new tenant with an admin user.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let (tenant, admin) = OrgRepo::new(self.db.clone())
            .create_tenant(
                name,
                NewUser {
                    name: format!("{name} admin"),
                    email: format!("admin@{name}.test"),
                    role: Role::Admin,
                    team_id: None,
                },
            )
            .await
            .expect("create tenant");
        Tenant {
            id: tenant.id,
            admin: Actor {
                id: admin.id,
                token: self.keys.issue(tenant.id, admin.id, Role::Admin, 3600),
            },
        }
    }

    /// A tree of `levels` levels of `branching` children each (SPEC §7's shape, with its key
    /// results and stored roll-ups) owned by `tenant`'s admin, loaded directly; its root's row
    /// id (objective `root + n` is the SPEC's objective n + 1).
    pub async fn bench_tree(&self, tenant: &Tenant, levels: u32, branching: i64) -> i64 {
        goalgraph::store::pg::seed::bench_tree(
            &self.db,
            tenant.id,
            tenant.admin.id,
            goalgraph::store::pg::seed::TreeShape { levels, branching },
        )
        .await
        .expect("seed the tree")
    }

    /// A new user of `tenant` with `role`, in `team_id` if given.
    pub async fn user(&self, tenant: &Tenant, role: Role, team_id: Option<i64>) -> Actor {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let created = user::ActiveModel {
            tenant_id: Set(tenant.id),
            team_id: Set(team_id),
            name: Set(format!("user {n}")),
            email: Set(format!("user{n}@example.test")),
            role: Set(role),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("create user");
        Actor {
            id: created.id,
            token: self.keys.issue(tenant.id, created.id, role, 3600),
        }
    }

    /// POSTs a GraphQL request, with a bearer token when one is given.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        let statements = response
            .headers()
            .get(SQL_STATEMENTS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("statement header");
        let mongo_commands = response
            .headers()
            .get(MONGO_COMMANDS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("command header");
        Gql {
            body: response.json().await.expect("json"),
            statements,
            mongo_commands,
        }
    }

    /// Creates an objective through the API and returns its global ID.
    pub async fn objective(&self, actor: &Actor, title: &str, parent: Option<&str>) -> String {
        self.create_objective(actor, json!({ "title": title, "parentId": parent }))
            .await
    }

    /// Creates an objective from a whole `CreateObjectiveInput` and returns its global ID.
    pub async fn create_objective(&self, actor: &Actor, input: Value) -> String {
        self.gql(
            Some(&actor.token),
            "mutation($input: CreateObjectiveInput!) { createObjective(input: $input) { objective { id } } }",
            json!({ "input": input }),
        )
        .await
        .data("/createObjective/objective/id")
        .as_str()
        .expect("id")
        .to_owned()
    }

    /// Creates a numeric key result through the API and returns its global ID.
    pub async fn key_result(
        &self,
        actor: &Actor,
        objective: &str,
        start: f64,
        target: f64,
        weight: f64,
    ) -> String {
        self.titled_key_result(actor, objective, "kr", start, target, weight)
            .await
    }

    /// Creates a numeric key result called `title` and returns its global ID.
    pub async fn titled_key_result(
        &self,
        actor: &Actor,
        objective: &str,
        title: &str,
        start: f64,
        target: f64,
        weight: f64,
    ) -> String {
        self.gql(
            Some(&actor.token),
            "mutation($input: CreateKeyResultInput!) { createKeyResult(input: $input) { keyResult { id } } }",
            json!({ "input": {
                "objectiveId": objective, "title": title, "kind": "NUMERIC",
                "startValue": start, "targetValue": target, "weight": weight
            } }),
        )
        .await
        .data("/createKeyResult/keyResult/id")
        .as_str()
        .expect("id")
        .to_owned()
    }

    /// POSTs a GraphQL request to the server at `address` (this app or one of its replicas)
    /// with `token`; the JSON answer, whatever it holds.
    pub async fn gql_at(&self, address: &str, token: &str, query: &str, variables: Value) -> Value {
        post_graphql(&self.client, address, token, query, variables).await
    }

    /// POSTs `body` as JSON to this API, with a bearer token when one is given; the JSON
    /// answer, whatever its status.
    pub async fn post_json(&self, token: Option<&str>, body: &Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON")
    }

    /// POSTs a raw body (sent as JSON) to the API at `address` with a bearer token; the answer
    /// must be JSON whatever its status.
    pub async fn post_raw(
        &self,
        address: &str,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> RawResponse {
        let response = self
            .client
            .post(format!("{address}/graphql"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        RawResponse {
            status,
            headers,
            body,
        }
    }

    /// `GET /readyz`: its status and JSON body.
    pub async fn readiness(&self) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/readyz", self.address))
            .send()
            .await
            .expect("readyz");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    /// The text of `GET path` on this API.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text")
    }

    /// Checks in `value` on a key result.
    pub async fn check_in(&self, actor: &Actor, key_result: &str, value: f64) -> Gql {
        self.gql(
            Some(&actor.token),
            "mutation($input: CheckInInput!) { checkIn(input: $input) { keyResult { progress } objective { progress } } }",
            json!({ "input": { "keyResultId": key_result, "value": value } }),
        )
        .await
    }

    /// The stored progress of an objective, read through the API.
    pub async fn progress(&self, actor: &Actor, objective: &str) -> f64 {
        self.gql(
            Some(&actor.token),
            "query($id: ID!) { objective(id: $id) { progress } }",
            json!({ "id": objective }),
        )
        .await
        .data("/objective/progress")
        .as_f64()
        .expect("progress")
    }
}

/// POSTs a GraphQL request to the API at `address` with `token`; the JSON answer, whatever
/// it holds.
pub async fn post_graphql(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    client
        .post(format!("{address}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// The global ID of objective row `id`.
pub fn objective_id(id: i64) -> String {
    goalgraph::domain::global_id::GlobalId::new(
        goalgraph::domain::global_id::NodeKind::Objective,
        id,
    )
    .encode()
}

/// The parts of a `postgresql://user:password@host:port/database` URL (the suite's URLs need
/// no percent-decoding).
pub struct ServerUrl {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
}

impl ServerUrl {
    pub fn parse(url: &str) -> Self {
        let rest = url.split_once("://").expect("scheme").1;
        let (credentials, location) = rest.rsplit_once('@').expect("credentials");
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        let address = location.split('/').next().expect("address");
        let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port: port.parse().expect("port"),
        }
    }
}

/// A TCP port free on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}
