//! goalgraph through Debian's pgBouncer 1.18 in transaction pooling mode (two server
//! connections shared by eight client connections): migrations, queries, concurrent writes,
//! the relay, the change-stream consumer and subscriptions all work, and roll-ups stay exact.
//! A control shows the set-up does break a client that only turns the statement cache off.

use std::path::PathBuf;
use std::time::Duration;

use goalgraph::store::embedded::{process_is_root, unprivileged_user};
use goalgraph::store::pg::{self, Db, PgOptions, Pooling};
use goalgraph::sync::reconcile::reconcile;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{
    ServerUrl, TestSettings, eventually, free_port, fresh_database_named, mongo_uri, serve_app,
    server_url, with_database,
};
use crate::rollup::stored_matches_recomputation;
use crate::subscriptions::Subscriber;

/// Server connections pgBouncer keeps per database: fewer than the API's pool, so client
/// connections take turns on them.
const SERVER_CONNECTIONS: u32 = 2;
const CLIENT_CONNECTIONS: u32 = 8;

/// A pgBouncer in transaction pooling mode in front of the test server, stopped on drop.
struct PgBouncer {
    port: u16,
    process: tokio::process::Child,
    dir: PathBuf,
}

impl PgBouncer {
    async fn start() -> Self {
        let server = ServerUrl::parse(&server_url());
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("gg-pgbouncer-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("pgbouncer dir");
        std::fs::write(
            dir.join("userlist.txt"),
            format!(
                "\"{}\" \"{}\"\n",
                server.user,
                server.password.replace('"', "\"\"")
            ),
        )
        .expect("userlist");
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n\
                 * = host={host} port={server_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {auth}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {SERVER_CONNECTIONS}\n\
                 max_client_conn = 100\n\
                 logfile = {log}\n",
                host = server.host,
                server_port = server.port,
                auth = dir.join("userlist.txt").display(),
                log = dir.join("pgbouncer.log").display(),
            ),
        )
        .expect("config");
        let mut command = tokio::process::Command::new(pgbouncer_binary());
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        // pgBouncer refuses to run as root: run it as the embedded PostgreSQL's account then.
        if process_is_root().expect("proc") {
            let account = unprivileged_user().expect("an account to run pgBouncer as");
            std::os::unix::fs::chown(&dir, Some(account.uid), Some(account.gid)).expect("chown");
            command.uid(account.uid).gid(account.gid);
        }
        let process = command.spawn().expect("start pgbouncer");
        let bouncer = Self { port, process, dir };
        bouncer.wait_until_listening().await;
        bouncer
    }

    async fn wait_until_listening(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "pgbouncer did not start: {}",
            std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
        );
    }

    /// The URL of `database` through this pgBouncer.
    fn url(&self, database: &str) -> String {
        let server = ServerUrl::parse(&server_url());
        with_database(&server_url(), database).replacen(
            &format!("@{}:{}/", server.host, server.port),
            &format!("@127.0.0.1:{}/", self.port),
            1,
        )
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pgbouncer_binary() -> PathBuf {
    [
        "/usr/sbin/pgbouncer",
        "/usr/bin/pgbouncer",
        "/usr/local/bin/pgbouncer",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
    .expect("pgbouncer is not installed: scripts/test installs Debian's package")
}

fn pooled_options(statement_timeout: Duration) -> PgOptions {
    PgOptions {
        max_connections: CLIENT_CONNECTIONS,
        statement_timeout: Some(statement_timeout),
        pooling: Pooling::Transaction,
        ..PgOptions::default()
    }
}

#[tokio::test]
async fn the_api_works_through_pgbouncer_in_transaction_pooling_mode() {
    let bouncer = PgBouncer::start().await;
    let (direct_url, name) = fresh_database_named().await;
    let mut settings = TestSettings::new(bouncer.url(&name), &mongo_uri(), &name);
    settings.store.pg_pooling = Pooling::Transaction;
    settings.store.pg_pool = CLIENT_CONNECTIONS;
    // LISTEN needs a session: the feed reaches PostgreSQL directly.
    settings.store.pg_listen_url = Some(direct_url.clone().into());
    settings.direct_url = direct_url;
    let app = serve_app(settings).await;

    let tenant = app.tenant("pooled").await;
    let admin = &tenant.admin;
    let cycle = app
        .gql(
            Some(&admin.token),
            "mutation { createCycle(input: {name: \"FY2026\", startsOn: \"2026-01-01\", endsOn: \"2026-12-31\"}) { cycle { id } } }",
            json!({}),
        )
        .await
        .data("/createCycle/cycle/id")
        .as_str()
        .expect("cycle")
        .to_owned();
    let team = app
        .gql(
            Some(&admin.token),
            "mutation { createTeam(input: {name: \"Sales\", kind: TEAM}) { team { id } } }",
            json!({}),
        )
        .await
        .data("/createTeam/team/id")
        .as_str()
        .expect("team")
        .to_owned();
    let root = app
        .create_objective(
            admin,
            json!({ "title": "Company", "cycleId": cycle, "teamId": team }),
        )
        .await;
    let mut leaves = Vec::new();
    let mut key_results = Vec::new();
    for branch in 0..3 {
        let middle = app
            .create_objective(
                admin,
                json!({ "title": format!("Branch {branch}"), "parentId": root, "cycleId": cycle, "teamId": team }),
            )
            .await;
        let leaf = app
            .objective(admin, &format!("Leaf {branch}"), Some(&middle))
            .await;
        for _ in 0..2 {
            key_results.push(app.key_result(admin, &leaf, 0.0, 100.0, 1.0).await);
        }
        leaves.push(leaf);
    }
    let mut subscriber = Subscriber::start(&app.address, &admin.token, &root).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Concurrent writes: more requests at once than pgBouncer has server connections.
    let check_ins = key_results.iter().cycle().take(36).enumerate().map(|(i, kr)| {
        let app = &app;
        let token = &admin.token;
        async move {
            app.gql(
                Some(token),
                "mutation($kr: ID!, $v: Float!) { checkIn(input: {keyResultId: $kr, value: $v}) { checkIn { id } } }",
                json!({ "kr": kr, "v": (i * 3 % 100) as f64 }),
            )
            .await
        }
    });
    for answer in futures::future::join_all(check_ins).await {
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
    }
    let event = subscriber.event().await;
    assert!(event["objectiveId"].is_string(), "{event}");

    // A move, a status change, a note and a refused write (rolled back through the pooler).
    let moved = app
        .gql(
            Some(&admin.token),
            "mutation($id: ID!, $p: ID!) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }",
            json!({ "id": leaves[2], "p": leaves[0] }),
        )
        .await;
    assert!(moved.body["errors"].is_null(), "{}", moved.body);
    let cycle_refused = app
        .gql(
            Some(&admin.token),
            "mutation($id: ID!, $p: ID!) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }",
            json!({ "id": root, "p": leaves[2] }),
        )
        .await;
    assert_eq!(cycle_refused.error_code(), "BAD_USER_INPUT");
    let note = app
        .gql(
            Some(&admin.token),
            "mutation($o: ID!) { addProgressNote(input: {objectiveId: $o, body: \"through the pooler\"}) { update { id } } }",
            json!({ "o": leaves[0] }),
        )
        .await;
    assert!(note.body["errors"].is_null(), "{}", note.body);

    // Reads of every kind, several at once.
    let reads = [
        (
            "query($id: ID!) { objective(id: $id) { title progress children { title } descendants { depth objective { title progress keyResults { progress } } } } }",
            json!({ "id": root }),
        ),
        (
            "query($id: ID!) { objective(id: $id) { ancestors { title } } }",
            json!({ "id": leaves[2] }),
        ),
        (
            "query { objectives(filter: {text: \"Leaf\"}, first: 10) { edges { node { title owner { name } } } } }",
            json!({}),
        ),
        (
            "query($t: ID!, $c: ID!) { teamRollup(teamId: $t, cycleId: $c) { objectives averageProgress } }",
            json!({ "t": team, "c": cycle }),
        ),
        (
            "query($c: ID!) { cycleSummary(cycleId: $c) { objectives averageProgress } }",
            json!({ "c": cycle }),
        ),
        (
            "query($id: ID!) { progressHistory(id: $id, from: \"2026-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\", bucket: WEEK) { progress } }",
            json!({ "id": root }),
        ),
        (
            "query($id: ID!) { keyResultsByStatus(under: $id) { status keyResults } }",
            json!({ "id": root }),
        ),
    ];
    let answers = futures::future::join_all(
        reads
            .iter()
            .map(|(query, variables)| app.gql(Some(&admin.token), query, variables.clone())),
    )
    .await;
    for answer in &answers {
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
    }
    let descendants = answers[0]
        .data("/objective/descendants")
        .as_array()
        .expect("list");
    assert_eq!(descendants.len(), 6, "{descendants:?}");
    assert_eq!(
        answers[1]
            .data("/objective/ancestors")
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        answers[2]
            .data("/objectives/edges")
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // Roll-ups exact, the relay and the change-stream consumer caught up through the pooler.
    stored_matches_recomputation(&app.db, tenant.id)
        .await
        .expect("stored roll-ups equal a recomputation");
    eventually(20, "both stores to converge", || async {
        goalgraph::sync::relay::pending(&app.db).await.ok() == Some(0)
            && reconcile(&app.db, &app.mongo, tenant.id, false)
                .await
                .is_ok_and(|report| report.differences.is_empty() && report.documents == 7)
    })
    .await;
}

#[tokio::test]
async fn pooled_transactions_get_the_statement_timeout_and_no_jit() {
    let bouncer = PgBouncer::start().await;
    let (_, name) = fresh_database_named().await;
    let db = pg::connect(
        &bouncer.url(&name),
        &pooled_options(Duration::from_millis(300)),
    )
    .await
    .expect("connect through pgbouncer");
    let jit = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_setting('jit') AS jit",
        ))
        .await
        .expect("jit")
        .expect("row");
    assert_eq!(jit.try_get::<String>("", "jit").expect("jit"), "off");
    let slow = db
        .execute_unprepared("SELECT pg_sleep(2)")
        .await
        .expect_err("cancelled by statement_timeout");
    assert!(slow.to_string().contains("statement timeout"), "{slow}");
}

/// The control: the same pgBouncer breaks a pool that merely turns SQLx's statement cache off,
/// which is why [`Pooling::Transaction`] also runs every statement in a transaction that clears
/// its server's prepared statements first.
#[tokio::test]
async fn turning_the_statement_cache_off_alone_is_not_enough() {
    let bouncer = PgBouncer::start().await;
    let (_, name) = fresh_database_named().await;
    let mut options = sea_orm::ConnectOptions::new(bouncer.url(&name));
    options
        .max_connections(CLIENT_CONNECTIONS)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(|opts| opts.statement_cache_capacity(0).extra_float_digits(None));
    let naive = sea_orm::Database::connect(options).await.expect("connect");
    let failures = futures::future::join_all((0..64).map(|i| {
        let naive = &naive;
        async move {
            naive
                .query_one_raw(Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT $1::bigint AS n",
                    [i64::from(i).into()],
                ))
                .await
                .err()
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    assert!(
        failures
            .iter()
            .any(|error| error.to_string().contains("prepared statement")),
        "expected prepared-statement failures, got {failures:?}"
    );
    // The same statements through goalgraph's transaction-pooling mode all succeed.
    let db: Db = pg::connect(&bouncer.url(&name), &pooled_options(Duration::from_secs(5)))
        .await
        .expect("connect");
    let answers = futures::future::join_all((0..64).map(|i| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT $1::bigint AS n",
                [i64::from(i).into()],
            ))
            .await
            .expect("pooled statement")
            .expect("row")
            .try_get::<i64>("", "n")
            .expect("n")
        }
    }))
    .await;
    assert_eq!(answers, (0..64).collect::<Vec<i64>>());
}
