//! Faults: PostgreSQL restarted under a running workload, the API process killed with SIGKILL
//! in the middle of relaying the outbox and of consuming the change stream, and concurrent
//! check-ins racing on one key result. (MongoDB stopping under writes is in `sync.rs`.) After
//! each, no acknowledged write is lost, both stores converge and `reconcile` finds nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use goalgraph::auth::TokenKeys;
use goalgraph::domain::global_id::GlobalId;
use goalgraph::domain::role::Role;
use goalgraph::store::embedded::EmbeddedPostgres;
use goalgraph::store::mongo::MongoStore;
use goalgraph::store::pg::org::{NewUser, OrgRepo};
use goalgraph::store::pg::{self, PgOptions};
use goalgraph::sync::reconcile::reconcile;
use goalgraph::sync::relay::pending;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{
    ServerUrl, TestSettings, eventually, free_port, fresh_database_named, mongo_uri, post_graphql,
    serve_app, spawn_app,
};
use crate::rollup::stored_matches_recomputation;

const CREATE: &str =
    "mutation($i: CreateObjectiveInput!) { createObjective(input: $i) { objective { id } } }";
const NOTE: &str = "mutation($o: ID!, $b: String!) { addProgressNote(input: {objectiveId: $o, body: $b}) { update { id } } }";

fn raw_id(global: &str) -> i64 {
    GlobalId::decode(global).expect("id").id
}

async fn values_checked_in(db: &goalgraph::store::pg::Db, key_result: i64) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("SELECT value FROM check_ins WHERE key_result_id = {key_result} ORDER BY value"),
    ))
    .await
    .expect("check-ins")
    .iter()
    .map(|row| row.try_get::<f64>("", "value").expect("value") as i64)
    .collect()
}

#[tokio::test]
async fn the_api_recovers_by_itself_when_postgresql_restarts_under_load() {
    let dir = std::env::temp_dir().join(format!("gg-pg-restart-{}", std::process::id()));
    let server = EmbeddedPostgres::start(&dir, 0).await.expect("postgres");
    server.ensure_database("faults").await.expect("database");
    let url = server.url("faults");
    let port = ServerUrl::parse(&url).port;
    let name = format!("faults{}", std::process::id());
    let mut settings = TestSettings::new(url.clone(), &mongo_uri(), &name);
    settings.acquire_timeout = Duration::from_secs(2);
    let app = Arc::new(serve_app(settings).await);
    let t = app.tenant("restart").await;
    let root = app.objective(&t.admin, "root", None).await;
    let kr = app.key_result(&t.admin, &root, 0.0, 1_000_000.0, 1.0).await;

    // A writer checks in 1, 2, 3, ... and remembers what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, stop, token, kr) = (app.clone(), stop.clone(), t.admin.token.clone(), kr.clone());
        tokio::spawn(async move {
            let (mut acknowledged, mut refused, mut value) = (Vec::new(), 0, 0);
            while !stop.load(Ordering::Relaxed) {
                value += 1;
                let response = app
                    .client
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(&token)
                    .json(&json!({
                        "query": "mutation($i: CheckInInput!) { checkIn(input: $i) { keyResult { id } } }",
                        "variables": { "i": { "keyResultId": kr, "value": value } }
                    }))
                    .send()
                    .await;
                let body: Option<Value> = match response {
                    Ok(response) => response.json().await.ok(),
                    Err(_) => None,
                };
                match body {
                    Some(body) if body.get("errors").is_none() => acknowledged.push(value),
                    _ => refused += 1,
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (acknowledged, refused)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop().await.expect("stop postgres");
    // Without its source of truth a replica cannot serve: it leaves the load balancer.
    let (status, ready) = app.readiness().await;
    assert_eq!(status, 503);
    assert_eq!(ready["status"], "unready", "{ready}");
    assert_eq!(ready["postgres"], "failing");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = EmbeddedPostgres::start(&dir, port)
        .await
        .expect("restart postgres");
    // The API needs no help: the pool replaces its broken connections.
    let acknowledged_before = values_checked_in(&app.db, raw_id(&kr)).await.len();
    eventually(30, "writes to succeed again after the restart", || async {
        values_checked_in(&app.db, raw_id(&kr)).await.len() > acknowledged_before + 5
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (acknowledged, refused) = writer.await.expect("writer");
    let stored = values_checked_in(&app.db, raw_id(&kr)).await;
    for value in &acknowledged {
        assert!(stored.contains(value), "acknowledged check-in {value} lost");
    }
    stored_matches_recomputation(&app.db, t.id)
        .await
        .expect("roll-ups exact after the restart");
    eprintln!(
        "postgres restart: {} check-ins acknowledged, {refused} refused while it was down, none lost",
        acknowledged.len()
    );
    app.stop().await;
    server.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(dir);
}

/// The `goalgraph serve` binary on `database_url` and MongoDB database `mongo_database`.
pub(crate) struct ApiProcess {
    child: tokio::process::Child,
    pub(crate) address: String,
}

const SECRET: &str = "faults-secret-faults-secret-faults-secret";

impl ApiProcess {
    async fn start(database_url: &str, mongo_database: &str, data_dir: &std::path::Path) -> Self {
        Self::start_logging(database_url, mongo_database, data_dir, "warn", None).await
    }

    /// Like [`ApiProcess::start`], logging at `filter` as JSON into `log` when given.
    async fn start_logging(
        database_url: &str,
        mongo_database: &str,
        data_dir: &std::path::Path,
        filter: &str,
        log: Option<std::fs::File>,
    ) -> Self {
        Self::start_with(database_url, mongo_database, data_dir, filter, log, &[]).await
    }

    /// Like [`ApiProcess::start_logging`], with `environment` added.
    pub(crate) async fn start_with(
        database_url: &str,
        mongo_database: &str,
        data_dir: &std::path::Path,
        filter: &str,
        log: Option<std::fs::File>,
        environment: &[(&str, &str)],
    ) -> Self {
        let mut command = goalgraph_command("serve", data_dir);
        command
            .envs(environment.iter().copied())
            .env("DATABASE_URL", database_url)
            .env("MONGODB_URI", mongo_uri())
            .env("MONGODB_DATABASE", mongo_database)
            .env("RUST_LOG", filter)
            .env(
                "GOALGRAPH_LOG_FORMAT",
                if log.is_some() { "json" } else { "text" },
            )
            .stderr(log.map_or_else(std::process::Stdio::inherit, std::process::Stdio::from));
        Self::spawn(command, Duration::from_secs(30)).await
    }

    /// `goalgraph serve` on the embedded defaults under `data_dir`: its own PostgreSQL and
    /// MongoDB-compatible server, as the README's first command runs it. `limit` is how long
    /// it may take to answer: a first start initialises a cluster (slow on a loaded machine),
    /// a restart must be quick.
    async fn start_embedded(data_dir: &std::path::Path, limit: Duration) -> Self {
        Self::spawn(goalgraph_command("serve", data_dir), limit).await
    }

    /// Spawns `command` (a `goalgraph serve`) on a free port and waits up to `limit` for it
    /// to answer.
    async fn spawn(mut command: tokio::process::Command, limit: Duration) -> Self {
        let port = free_port();
        let child = command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("goalgraph serve");
        let address = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if client
                .get(format!("{address}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { child, address };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("goalgraph serve did not start within {limit:?}");
    }

    /// SIGTERM: stop accepting, finish open requests, drain the relay; the exit status.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid");
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits in time")
            .expect("exit status")
    }

    /// SIGKILL: no graceful shutdown, no draining.
    async fn kill(mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }
}

/// `goalgraph <subcommand>` with the suite's token secret, no rate limit, and `data_dir`
/// (whose embedded MongoDB-compatible server uses the suite's venv).
pub(crate) fn goalgraph_command(
    subcommand: &str,
    data_dir: &std::path::Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_goalgraph"));
    command
        .arg(subcommand)
        .env_remove("DATABASE_URL")
        .env_remove("MONGODB_URI")
        .env("GOALGRAPH_JWT_SECRET", SECRET)
        .env("GOALGRAPH_DATA_DIR", data_dir)
        .env("GOALGRAPH_RATE_LIMIT", "0")
        .env(
            "GOALGRAPH_MONGODB_VENV",
            std::env::var("GOALGRAPH_TEST_MONGO_VENV").expect("GOALGRAPH_TEST_MONGO_VENV"),
        );
    command
}

/// A migrated database of its own with one tenant, an admin token for it, and a data
/// directory name for `goalgraph serve` processes.
pub(crate) struct ProcessFixture {
    pub(crate) database_url: String,
    pub(crate) name: String,
    db: goalgraph::store::pg::Db,
    tenant: goalgraph::store::pg::entity::tenant::Model,
    pub(crate) token: String,
    pub(crate) data_dir: std::path::PathBuf,
}

impl ProcessFixture {
    pub(crate) async fn new(tenant_name: &str) -> Self {
        let (database_url, name) = fresh_database_named().await;
        let db = pg::connect(&database_url, &PgOptions::default())
            .await
            .expect("connect");
        pg::migrate(&db).await.expect("migrate");
        let (tenant, admin) = OrgRepo::new(db.clone())
            .create_tenant(
                tenant_name,
                NewUser {
                    name: "admin".into(),
                    email: format!("admin@{tenant_name}.test"),
                    role: Role::Admin,
                    team_id: None,
                },
            )
            .await
            .expect("tenant");
        let token = TokenKeys::new(SECRET.as_bytes())
            .expect("token keys")
            .issue(tenant.id, admin.id, Role::Admin, 3600);
        let data_dir = std::env::temp_dir().join(format!("gg-{tenant_name}-{name}"));
        Self {
            database_url,
            name,
            db,
            tenant,
            token,
            data_dir,
        }
    }
}

/// The fixture's MongoDB database.
async fn fixture_mongo(name: &str) -> MongoStore {
    MongoStore::connect(&mongo_uri(), name)
        .await
        .expect("mongo")
}

/// Creates a top-level objective "root" through the API at `address`; its global ID.
async fn create_root(client: &reqwest::Client, address: &str, token: &str) -> String {
    let root = post_graphql(
        client,
        address,
        token,
        CREATE,
        json!({ "i": { "title": "root" } }),
    )
    .await;
    root["data"]["createObjective"]["objective"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("root: {root}"))
        .to_owned()
}

async fn note_count(db: &goalgraph::store::pg::Db, tenant: i64) -> i64 {
    db.query_one_raw(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("SELECT COALESCE(sum(update_count), 0)::bigint AS n FROM objective_activity WHERE tenant_id = {tenant}"),
    ))
    .await
    .expect("count")
    .expect("row")
    .try_get::<i64>("", "n")
    .expect("n")
}

#[tokio::test]
async fn sigkill_while_relaying_and_consuming_leaves_nothing_for_reconcile() {
    let ProcessFixture {
        database_url,
        name,
        db,
        tenant,
        token,
        data_dir,
    } = ProcessFixture::new("killed").await;
    let mongo = fixture_mongo(&name).await;
    let client = reqwest::Client::new();

    let first = ApiProcess::start(&database_url, &name, &data_dir).await;
    let create = CREATE;
    let root = create_root(&client, &first.address, &token).await;
    let note = NOTE;
    post_graphql(
        &client,
        &first.address,
        &token,
        note,
        json!({ "o": root, "b": "first" }),
    )
    .await;
    // The consumer has stored a resume token once it counted the first note.
    eventually(20, "the first note to be counted", || async {
        note_count(&db, tenant.id).await == 1
    })
    .await;

    // A burst of writes for both directions, then SIGKILL while the relay and the consumer
    // are still working through it.
    let creates = (0..120).map(|i| {
        post_graphql(
            &client,
            &first.address,
            &token,
            create,
            json!({ "i": { "title": format!("o{i}"), "parentId": root } }),
        )
    });
    let notes = (0..40).map(|i| {
        post_graphql(
            &client,
            &first.address,
            &token,
            note,
            json!({ "o": root, "b": format!("note {i}") }),
        )
    });
    let (created, noted) = tokio::join!(
        futures::future::join_all(creates),
        futures::future::join_all(notes)
    );
    assert!(
        created.iter().all(|r| r.get("errors").is_none()),
        "every create acknowledged"
    );
    assert!(
        noted.iter().all(|r| r.get("errors").is_none()),
        "every note acknowledged"
    );
    let backlog = pending(&db).await.expect("pending");
    let counted = note_count(&db, tenant.id).await;
    first.kill().await;
    eprintln!(
        "killed with {backlog} outbox events unrelayed and {} notes uncounted",
        41 - counted
    );

    let second = ApiProcess::start(&database_url, &name, &data_dir).await;
    eventually(60, "both stores to converge after the restart", || async {
        pending(&db).await.unwrap_or(1) == 0
            && note_count(&db, tenant.id).await == 41
            && reconcile(&db, &mongo, tenant.id, false)
                .await
                .is_ok_and(|report| report.differences.is_empty())
    })
    .await;
    // Nothing is applied twice: the count stays exact (absence is only visible over a
    // window, so this one waits).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(note_count(&db, tenant.id).await, 41);
    second.kill().await;
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test]
async fn racing_check_ins_on_one_key_result_leave_exact_roll_ups() {
    let app = spawn_app().await;
    let t = app.tenant("race").await;
    let root = app.objective(&t.admin, "root", None).await;
    let left = app.objective(&t.admin, "left", Some(&root)).await;
    let right = app.objective(&t.admin, "right", Some(&root)).await;
    let shared_kr = app.key_result(&t.admin, &left, 0.0, 100.0, 2.0).await;
    let other_kr = app.key_result(&t.admin, &right, 0.0, 100.0, 1.0).await;
    let racing = (1..=40).map(|i| {
        let kr = if i % 4 == 0 { &other_kr } else { &shared_kr };
        app.check_in(&t.admin, kr, f64::from(i * 7 % 101))
    });
    for response in futures::future::join_all(racing).await {
        response.data("/checkIn");
    }
    // Every acknowledged check-in is a row: 30 on the shared key result, 10 on the other.
    assert_eq!(
        values_checked_in(&app.db, raw_id(&shared_kr)).await.len(),
        30
    );
    assert_eq!(
        values_checked_in(&app.db, raw_id(&other_kr)).await.len(),
        10
    );
    stored_matches_recomputation(&app.db, t.id)
        .await
        .expect("stored roll-ups equal a recomputation");
}

#[tokio::test]
async fn sigterm_finishes_open_requests_and_drains_the_relay() {
    let ProcessFixture {
        database_url,
        name,
        db,
        tenant,
        token,
        data_dir,
    } = ProcessFixture::new("stopping").await;
    let api = ApiProcess::start(&database_url, &name, &data_dir).await;
    let client = reqwest::Client::new();
    let create = CREATE;
    let in_flight: Vec<_> = (0..40)
        .map(|i| {
            let (client, address, token) = (client.clone(), api.address.clone(), token.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{address}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({ "query": create, "variables": { "i": { "title": format!("o{i}") } } }))
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let status = api.terminate().await;
    assert!(status.success(), "exit status {status}");
    let (mut answered, mut refused) = (0, 0);
    for request in in_flight {
        match request.await.expect("task") {
            Ok(response) => {
                // A request the server accepted is answered in full, never cut off.
                let body: Value = response.json().await.expect("a complete answer");
                assert!(body.get("errors").is_none(), "{body}");
                answered += 1;
            }
            // Not accepted before the listener closed (refused, or reset before the server
            // read it): never executed, which the count below checks.
            Err(error) => {
                assert!(!error.is_body() && !error.is_decode(), "cut off: {error}");
                refused += 1;
            }
        }
    }
    let created = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(*) AS n FROM objectives WHERE tenant_id = {}",
                tenant.id
            ),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(
        created, answered,
        "every answered create is stored, nothing else"
    );
    assert_eq!(
        pending(&db).await.expect("pending"),
        0,
        "the relay drained the outbox"
    );
    eprintln!("SIGTERM: {answered} requests finished, {refused} not accepted, outbox drained");
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test]
async fn logs_are_json_lines_with_request_ids_and_never_show_tokens_or_secrets() {
    let ProcessFixture {
        database_url,
        name,
        token,
        data_dir,
        ..
    } = ProcessFixture::new("logged").await;
    std::fs::create_dir_all(&data_dir).expect("dir");
    let log_path = data_dir.join("stderr.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let api = ApiProcess::start_logging(&database_url, &name, &data_dir, "debug", Some(log)).await;
    let client = reqwest::Client::new();
    let query = "{ viewer { name } nope }";
    for bearer in [token.as_str(), "not-a-token", &format!("{token}x")] {
        client
            .post(format!("{}/graphql", api.address))
            .bearer_auth(bearer)
            .header("x-request-id", "logged-request-1")
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("request");
    }
    assert!(api.terminate().await.success());
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    assert!(!logs.is_empty(), "debug logging produced nothing");
    assert!(!logs.contains(&token), "a token was logged");
    assert!(!logs.contains(SECRET), "the secret was logged");
    let mut with_request_id = 0;
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if entry.to_string().contains("logged-request-1") {
            with_request_id += 1;
        }
    }
    assert!(
        with_request_id > 0,
        "no log line carries the request id:\n{logs}"
    );
    let _ = std::fs::remove_dir_all(data_dir);
}

/// How long a first embedded start may take (initdb, SecantusDB, migrations, while the rest of
/// the suite runs on the same two cores).
const FIRST_START: Duration = Duration::from_secs(180);
/// How long a restart after SIGKILL may take (the issue's bound).
const RESTART: Duration = Duration::from_secs(30);

/// A data directory for embedded servers that PostgreSQL (run as another user when the suite
/// is root) may enter.
fn embedded_data_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gg-embedded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The first tenant's admin token on a fresh embedded instance (tenant 1, user 1).
fn first_admin_token() -> String {
    TokenKeys::new(SECRET.as_bytes())
        .expect("token keys")
        .issue(1, 1, Role::Admin, 3600)
}

async fn create_objective(client: &reqwest::Client, address: &str, title: &str) -> Value {
    post_graphql(
        client,
        address,
        &first_admin_token(),
        CREATE,
        json!({ "i": { "title": title } }),
    )
    .await
}

async fn objective_titles(client: &reqwest::Client, address: &str) -> Vec<String> {
    let body = post_graphql(
        client,
        address,
        &first_admin_token(),
        "{ objectives(first: 100) { edges { node { title } } } }",
        json!({}),
    )
    .await;
    body["data"]["objectives"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("objectives: {body}"))
        .iter()
        .map(|edge| edge["node"]["title"].as_str().expect("title").to_owned())
        .collect()
}

#[tokio::test]
async fn embedded_serve_restarts_after_sigkill_twice_in_a_row_with_its_data() {
    let data_dir = embedded_data_dir("sigkill");
    let client = reqwest::Client::new();
    let first = ApiProcess::start_embedded(&data_dir, FIRST_START).await;
    let created = create_objective(&client, &first.address, "before the crash").await;
    assert!(created.get("errors").is_none(), "{created}");
    first.kill().await;
    // The orphaned PostgreSQL and MongoDB-compatible server are reclaimed: the restart
    // comes up within 30 s (RESTART), twice in a row.
    let second = ApiProcess::start_embedded(&data_dir, RESTART).await;
    assert_eq!(
        objective_titles(&client, &second.address).await,
        vec!["before the crash"]
    );
    let created = create_objective(&client, &second.address, "between the crashes").await;
    assert!(created.get("errors").is_none(), "{created}");
    second.kill().await;
    let third = ApiProcess::start_embedded(&data_dir, RESTART).await;
    let mut titles = objective_titles(&client, &third.address).await;
    titles.sort();
    assert_eq!(titles, vec!["before the crash", "between the crashes"]);
    assert!(third.terminate().await.success());
    // A clean stop leaves nothing running: the next start needs no reclaiming either.
    let fourth = ApiProcess::start_embedded(&data_dir, RESTART).await;
    assert!(fourth.terminate().await.success());
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test]
async fn subcommands_and_a_second_serve_leave_a_running_embedded_instance_serving() {
    let data_dir = embedded_data_dir("shared");
    let client = reqwest::Client::new();
    let serving = ApiProcess::start_embedded(&data_dir, FIRST_START).await;
    let created = create_objective(&client, &serving.address, "live").await;
    assert!(created.get("errors").is_none(), "{created}");

    // Requests flow while `reconcile` runs against the same data directory.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (client, address, stop) = (client.clone(), serving.address.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut answered, mut failed) = (0, 0);
            while !stop.load(Ordering::Relaxed) || answered == 0 {
                let body = create_objective(&client, &address, "during reconcile").await;
                if body.get("errors").is_none() {
                    answered += 1;
                } else {
                    failed += 1;
                }
            }
            (answered, failed)
        })
    };
    let reconciled = goalgraph_command("reconcile", &data_dir)
        .args(["--tenant", "1"])
        .output()
        .await
        .expect("reconcile");
    stop.store(true, Ordering::Relaxed);
    let (answered, failed) = traffic.await.expect("traffic");
    let output = String::from_utf8_lossy(&reconciled.stdout);
    assert!(
        reconciled
            .status
            .code()
            .is_some_and(|code| code == 0 || code == 2),
        "reconcile failed: {output}{}",
        String::from_utf8_lossy(&reconciled.stderr)
    );
    assert!(output.contains("tenant 1:"), "{output}");
    assert_eq!(failed, 0, "{failed} requests failed while reconcile ran");
    assert!(answered > 0);
    let ready = client
        .get(format!("{}/readyz", serving.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(
        ready.status().as_u16(),
        200,
        "the instance's stores still run"
    );

    // A second `serve` on the same directory refuses, and the first keeps serving.
    let second = goalgraph_command("serve", &data_dir)
        .args(["--bind", &format!("127.0.0.1:{}", free_port())])
        .output()
        .await
        .expect("second serve");
    assert!(!second.status.success());
    let refusal = String::from_utf8_lossy(&second.stderr);
    assert!(refusal.contains("in use"), "{refusal}");
    let created = create_objective(&client, &serving.address, "after the refusal").await;
    assert!(created.get("errors").is_none(), "{created}");
    assert!(serving.terminate().await.success());
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test]
async fn a_replica_killed_mid_burst_leaves_nothing_for_reconcile_on_three_processes() {
    let fixture = ProcessFixture::new("replicas").await;
    let (db, token, tenant) = (&fixture.db, fixture.token.clone(), &fixture.tenant);
    let mongo = fixture_mongo(&fixture.name).await;
    let client = reqwest::Client::new();
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(
            ApiProcess::start(
                &fixture.database_url,
                &fixture.name,
                &fixture.data_dir.join(i.to_string()),
            )
            .await,
        );
    }
    let addresses: Vec<String> = replicas.iter().map(|r| r.address.clone()).collect();
    let create = CREATE;
    let root = create_root(&client, &addresses[0], &token).await;
    let note = NOTE;
    // A burst spread over the three processes; the first (whose consumer took the lease when
    // it started) is killed with SIGKILL when half of it has been sent.
    let wave = |range: std::ops::Range<usize>, targets: Vec<String>| {
        let (client, token, root) = (client.clone(), token.clone(), root.clone());
        async move {
            let requests = range.map(|i| {
                let (client, token, root) = (client.clone(), token.clone(), root.clone());
                let address = targets[i % targets.len()].clone();
                async move {
                    let (query, variables) = if i % 3 == 0 {
                        (note, json!({ "o": root, "b": format!("note {i}") }))
                    } else {
                        (
                            create,
                            json!({ "i": { "title": format!("o{i}"), "parentId": root } }),
                        )
                    };
                    let response = client
                        .post(format!("{address}/graphql"))
                        .bearer_auth(&token)
                        .json(&json!({ "query": query, "variables": variables }))
                        .send()
                        .await;
                    match response {
                        Ok(response) => response
                            .json::<Value>()
                            .await
                            .is_ok_and(|body| body.get("errors").is_none()),
                        Err(_) => false,
                    }
                }
            });
            futures::future::join_all(requests).await
        }
    };
    let first_half = tokio::spawn(wave(0..90, addresses.clone()));
    let killed = replicas.remove(0);
    eventually(20, "part of the burst to land", || async {
        pending(db).await.unwrap_or(0) > 0 || note_count(db, tenant.id).await > 0
    })
    .await;
    killed.kill().await;
    let acknowledged_before = first_half.await.expect("first half");
    let acknowledged_after = wave(90..180, addresses[1..].to_vec()).await;
    assert!(
        acknowledged_after.iter().all(|ok| *ok),
        "the survivors answer every request"
    );
    let acknowledged = acknowledged_before
        .iter()
        .chain(&acknowledged_after)
        .filter(|ok| **ok)
        .count();
    eventually(60, "both stores to converge after the kill", || async {
        pending(db).await.unwrap_or(1) == 0
            && reconcile(db, &mongo, tenant.id, false)
                .await
                .is_ok_and(|report| report.differences.is_empty())
    })
    .await;
    let counted = note_count(db, tenant.id).await;
    let acknowledged_notes = acknowledged_before
        .iter()
        .chain(&acknowledged_after)
        .enumerate()
        .filter(|(i, ok)| i % 3 == 0 && **ok)
        .count() as i64;
    assert!(
        counted >= acknowledged_notes,
        "an acknowledged note was lost"
    );
    eprintln!(
        "3 processes, one SIGKILLed mid-burst: {acknowledged} of 180 writes acknowledged, \
         {counted} notes counted ({acknowledged_notes} acknowledged), 0 differences"
    );
    for replica in replicas {
        replica.kill().await;
    }
    let _ = std::fs::remove_dir_all(&fixture.data_dir);
}
