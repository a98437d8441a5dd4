//! The report cache: answers shared by replicas (in Redis) or kept per replica (without it),
//! never stale — a report read on one replica right after a write's commit on another shows
//! the write, every time, with no sleeps — and never shared between viewers who see different
//! objectives.

use goalgraph::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, redis_url, spawn_app_sharing};

const ROLLUP: &str = "query($team: ID!, $kr: ID!) {
  teamRollup(teamId: $team) { objectives averageProgress }
  departmentRanking { department { id } averageProgress median }
  progressHistory(id: $kr, from: \"2026-01-01T00:00:00Z\", to: \"2028-01-01T00:00:00Z\", bucket: WEEK) {
    checkIns
  }
}";

/// A report read: its answer and the SQL statements it took.
struct Read {
    data: Value,
    statements: u64,
}

async fn read(app: &TestApp, address: &str, token: &str, variables: &Value) -> Read {
    let body = json!({ "query": ROLLUP, "variables": variables });
    let answer = app.post_raw(address, token, body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    Read {
        data: answer.body["data"].clone(),
        statements: answer
            .headers
            .get(goalgraph::http::graphql::SQL_STATEMENTS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("statement count"),
    }
}

async fn create(app: &TestApp, admin: &Actor, query: &str, input: Value, at: &str) -> String {
    app.gql(Some(&admin.token), query, json!({ "input": input }))
        .await
        .data(at)
        .as_str()
        .expect("id")
        .to_owned()
}

/// A department with one objective whose one key result runs 0..100: (team, key result).
async fn department_with_a_key_result(app: &TestApp, admin: &Actor) -> (String, String) {
    let team = create(
        app,
        admin,
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
        json!({ "name": "Apps", "kind": "DEPARTMENT" }),
        "/createTeam/team/id",
    )
    .await;
    let objective = app
        .create_objective(admin, json!({ "title": "Ship", "teamId": team }))
        .await;
    let kr = app.key_result(admin, &objective, 0.0, 100.0, 1.0).await;
    (team, kr)
}

/// Check-ins on the first server, each read back at once from the second: the roll-up, the
/// ranking and the history always show the check-in just acknowledged; a second read of the
/// same state is answered from the cache (one statement for the data version, one for the
/// team's existence, none for the reports).
async fn reads_on_one_replica_follow_writes_on_another(redis: Option<String>) {
    let app = spawn_app_sharing(Default::default(), redis).await;
    let replica = app.replica().await;
    let t = app.tenant("cached").await;
    let (team, kr) = department_with_a_key_result(&app, &t.admin).await;
    let variables = json!({ "team": team, "kr": kr });
    for round in 1..=25 {
        let value = f64::from(round * 3 + 1);
        app.check_in(&t.admin, &kr, value).await.data("/checkIn");
        let fresh = read(&app, &replica, &t.admin.token, &variables).await;
        let progress = value / 100.0;
        assert_eq!(
            fresh.data["teamRollup"]["averageProgress"].as_f64(),
            Some(progress),
            "round {round}: {}",
            fresh.data
        );
        assert_eq!(
            fresh.data["departmentRanking"][0]["median"].as_f64(),
            Some(progress)
        );
        let check_ins: i64 = fresh.data["progressHistory"]
            .as_array()
            .expect("history")
            .iter()
            .filter_map(|p| p["checkIns"].as_i64())
            .sum();
        assert_eq!(check_ins, i64::from(round), "round {round}");
        let again = read(&app, &replica, &t.admin.token, &variables).await;
        assert_eq!(again.data, fresh.data);
        assert!(
            again.statements < fresh.statements,
            "round {round}: the second read ({} statements) was not served from the cache \
             (first: {})",
            again.statements,
            fresh.statements
        );
        // The first server reads the same state: a hit in Redis, computed again in process.
        let there = read(&app, &app.address, &t.admin.token, &variables).await;
        assert_eq!(there.data, fresh.data);
    }
    let metrics = app.get_text("/metrics").await;
    for outcome in ["hit", "miss"] {
        let series =
            format!("goalgraph_report_cache_total{{report=\"teamRollup\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "{series} missing from /metrics");
    }
}

#[tokio::test]
async fn a_report_read_after_a_write_on_another_replica_shows_it_with_redis() {
    reads_on_one_replica_follow_writes_on_another(Some(redis_url())).await;
}

#[tokio::test]
async fn a_report_read_after_a_write_on_another_replica_shows_it_without_redis() {
    reads_on_one_replica_follow_writes_on_another(None).await;
}

#[tokio::test]
async fn changes_made_in_mongodb_alone_reach_cached_reports() {
    let app = spawn_app_sharing(Default::default(), Some(redis_url())).await;
    let replica = app.replica().await;
    let t = app.tenant("fields").await;
    let admin = &t.admin;
    app.gql(
        Some(&admin.token),
        "mutation($fields: [FieldDefinitionInput!]!) { setGoalTemplate(input: {fields: $fields}) { version } }",
        json!({ "fields": [{ "key": "theme", "type": "enum", "allowedValues": ["growth", "quality"] }] }),
    )
    .await
    .data("/setGoalTemplate/version");
    let root = app.objective(admin, "Company", None).await;
    let child = app.objective(admin, "Grow", Some(&root)).await;
    app.key_result(admin, &child, 0.0, 100.0, 1.0).await;
    let query = "query($id: ID!) { keyResultsByStatus(under: $id, where: [{key: \"theme\", equals: \"growth\"}]) { objectives keyResults } }";
    let growth = |address: String| {
        let app = &app;
        let token = admin.token.clone();
        let root = root.clone();
        async move {
            app.gql_at(&address, &token, query, json!({ "id": root }))
                .await
                .pointer("/data/keyResultsByStatus")
                .cloned()
                .expect("report")
        }
    };
    crate::helpers::eventually(10, "the objectives to reach goal_trees", || async {
        growth(replica.clone()).await == json!([])
    })
    .await;
    // Cached on both replicas now; the custom field is written through the first.
    growth(app.address.clone()).await;
    app.gql(
        Some(&admin.token),
        "mutation($input: SetCustomFieldsInput!) { setCustomFields(input: $input) { objective { id } } }",
        json!({ "input": { "objectiveId": child, "fields": { "theme": "growth" } } }),
    )
    .await
    .data("/setCustomFields");
    assert_eq!(
        growth(replica.clone()).await,
        json!([{ "objectives": 1, "keyResults": 1 }])
    );
}

#[tokio::test]
async fn a_cached_answer_is_never_served_to_a_viewer_who_sees_less() {
    let app = spawn_app_sharing(Default::default(), Some(redis_url())).await;
    let replica = app.replica().await;
    let t = app.tenant("private").await;
    let (team, kr) = department_with_a_key_result(&app, &t.admin).await;
    app.create_objective(
        &t.admin,
        json!({ "title": "Secret", "teamId": team, "visibility": "PRIVATE" }),
    )
    .await;
    let member = app.user(&t, Role::Member, None).await;
    let variables = json!({ "team": team, "kr": kr });
    let admin_view = read(&app, &app.address, &t.admin.token, &variables).await;
    assert_eq!(admin_view.data["teamRollup"]["objectives"], 2);
    let member_view = read(&app, &replica, &member.token, &variables).await;
    assert_eq!(member_view.data["teamRollup"]["objectives"], 1);
    // And the other way round, once the member's answer is cached.
    let admin_again = read(&app, &replica, &t.admin.token, &variables).await;
    assert_eq!(admin_again.data["teamRollup"]["objectives"], 2);
}

/// A Redis server of this test's own, on a free port.
async fn private_redis() -> (tokio::process::Child, String) {
    let port = crate::helpers::free_port();
    let child = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server (scripts/test installs it)");
    let address = format!("127.0.0.1:{port}");
    crate::helpers::eventually(10, "the private Redis to listen", || async {
        tokio::net::TcpStream::connect(&address).await.is_ok()
    })
    .await;
    (child, format!("redis://{address}/"))
}

#[tokio::test]
async fn reports_are_computed_when_redis_goes_away() {
    let (mut redis, url) = private_redis().await;
    let app = spawn_app_sharing(Default::default(), Some(url)).await;
    let t = app.tenant("outage").await;
    let (team, kr) = department_with_a_key_result(&app, &t.admin).await;
    let variables = json!({ "team": team, "kr": kr });
    app.check_in(&t.admin, &kr, 30.0).await.data("/checkIn");
    read(&app, &app.address, &t.admin.token, &variables).await;
    redis.kill().await.expect("stop Redis");
    redis.wait().await.expect("Redis stopped");
    app.check_in(&t.admin, &kr, 60.0).await.data("/checkIn");
    // Not a speed check: the driver's default back-off made each Redis command of a request
    // wait several seconds (28 s for this read); now the first failure pauses Redis use.
    let started = std::time::Instant::now();
    let after = read(&app, &app.address, &t.admin.token, &variables).await;
    assert_eq!(
        after.data["teamRollup"]["averageProgress"].as_f64(),
        Some(0.6)
    );
    let again = read(&app, &app.address, &t.admin.token, &variables).await;
    assert_eq!(again.data, after.data);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "reads waited {:?} for the missing Redis",
        started.elapsed()
    );
}
