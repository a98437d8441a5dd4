//! Request limits: depth, complexity, aliases, batches, page size, body size and time, each
//! refused with its own code and a message saying what to change; a statement that outlives
//! the request is stopped by PostgreSQL itself.

use std::time::Duration;

use goalgraph::app::RequestLimits;
use goalgraph::store::pg::seed::{TreeShape, bench_tree};
use goalgraph::store::pg::{self, PgOptions};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, objective_id, spawn_app, spawn_app_with_limits};

/// POSTs a raw body and returns the status and the JSON answer.
async fn post(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let answer = app.post_raw(&app.address, token, body).await;
    (answer.status, answer.body)
}

fn code(body: &Value) -> &str {
    body.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error: {body}"))
}

#[tokio::test]
async fn depth_node_count_and_aliases_are_refused_with_their_own_codes() {
    let app = spawn_app().await;
    let t = app.tenant("limits").await;
    let token = Some(t.admin.token.as_str());

    // Every depth past the limit gets the same code, including those deep enough to trip
    // the parser's own recursion limit (about 64 levels) before validation runs.
    for levels in [33, 40, 64, 70, 500] {
        let deep = format!(
            "{{ viewer {{ team {{ {}id{} }} }} }}",
            "parent { ".repeat(levels),
            " }".repeat(levels)
        );
        let response = app.gql(token, &deep, json!({})).await;
        assert_eq!(
            response.error_code(),
            "QUERY_TOO_DEEP",
            "{levels} levels: {}",
            response.body
        );
        assert!(response.error_message().contains("32"));
    }

    // Lists nobody can size: 100 objectives, ten children each, ten below those, ten key
    // results each: 1,111,100 objects.
    let wide = "{ objectives(first: 100) { edges { node { children { children { children { keyResults { title } } } } } } } }";
    let response = app.gql(token, wide, json!({})).await;
    assert_eq!(response.error_code(), "NODE_LIMIT_EXCEEDED");
    assert!(response.error_message().contains("up to 1111100 objects"));
    assert!(response.error_message().contains("smaller pages"));
    // The same shape on a small page is fine.
    let small = "{ objectives(first: 2) { edges { node { children { children { keyResults { title } } } } } } }";
    app.gql(token, small, json!({})).await.data("/objectives");
    // A whole subtree through descendants(maxDepth:) is cheap: it is one flat list.
    let flat = "query($id: ID!) { objective(id: $id) { descendants(maxDepth: 10) { depth objective { title keyResults { progress } } } } }";
    let response = app.gql(token, flat, json!({ "id": objective_id(1) })).await;
    assert!(response.body.get("errors").is_none(), "{}", response.body);

    let aliases: String = (0..31).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    let response = app.gql(token, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(response.error_code(), "TOO_MANY_ALIASES");
    assert!(response.error_message().contains("31 aliases"));
    let fine: String = (0..30).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    app.gql(token, &format!("{{ {fine} }}"), json!({}))
        .await
        .data("/a29");
}

#[tokio::test]
async fn batches_run_up_to_the_limit_and_bodies_up_to_their_size() {
    let app = spawn_app().await;
    let t = app.tenant("batch").await;
    let one = json!({ "query": "{ viewer { name } }" });
    let (status, body) = post(&app, &t.admin.token, json!([one, one]).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(body[1]["data"]["viewer"]["name"], "batch admin");

    let eleven: Vec<Value> = (0..11).map(|_| one.clone()).collect();
    let (_, body) = post(&app, &t.admin.token, json!(eleven).to_string()).await;
    assert_eq!(code(&body), "BATCH_TOO_LARGE");

    let huge = json!({ "query": format!("{{ viewer {{ name }} }} #{}", "x".repeat(2 << 20)) });
    let (status, body) = post(&app, &t.admin.token, huge.to_string()).await;
    assert_eq!(status, 413);
    assert_eq!(code(&body), "PAYLOAD_TOO_LARGE");

    let (status, body) = post(&app, &t.admin.token, "not json").await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn a_request_over_its_time_is_cancelled_with_timeout() {
    let app = spawn_app_with_limits(RequestLimits {
        timeout: Duration::from_millis(1),
        ..RequestLimits::default()
    })
    .await;
    let t = app.tenant("slow").await;
    // 11,111 objectives: the subtree's rows alone keep the request waiting on PostgreSQL for
    // tens of milliseconds, so the 1 ms timer fires before it can finish even when a busy
    // runtime serves its timers late (1,111 took ~3 ms and sometimes finished first).
    let root = bench_tree(
        &app.db,
        t.id,
        t.admin.id,
        TreeShape {
            levels: 5,
            branching: 10,
        },
    )
    .await
    .expect("seed");
    let response = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { descendants { objective { title keyResults { progress } } } } }",
            json!({ "id": objective_id(root) }),
        )
        .await;
    assert_eq!(response.error_code(), "TIMEOUT");
    assert!(response.error_message().contains("ask for less"));
}

#[tokio::test]
async fn postgresql_stops_a_statement_that_outlives_the_request() {
    let app = spawn_app().await;
    let shown = app
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW statement_timeout",
        ))
        .await
        .expect("show")
        .expect("row")
        .try_get::<String>("", "statement_timeout")
        .expect("value");
    assert_eq!(shown, "35s");

    let short = pg::connect(
        &app.database_url,
        &PgOptions {
            statement_timeout: Some(Duration::from_millis(100)),
            ..PgOptions::default()
        },
    )
    .await
    .expect("connect");
    let error = short
        .execute_unprepared("SELECT pg_sleep(2)")
        .await
        .expect_err("cancelled");
    assert!(error.to_string().contains("statement timeout"), "{error}");
}

#[tokio::test]
async fn every_list_argument_over_its_page_limit_answers_page_too_large() {
    let app = spawn_app().await;
    let t = app.tenant("pages").await;
    let token = Some(t.admin.token.as_str());
    let root = app.objective(&t.admin, "root", None).await;
    let kr = app.key_result(&t.admin, &root, 0.0, 10.0, 1.0).await;
    let ids: Vec<&str> = std::iter::repeat_n(root.as_str(), 101).collect();
    let cases = [
        (
            "objectives(first:)",
            "{ objectives(first: 101) { edges { cursor } } }".to_owned(),
            json!({}),
        ),
        (
            "updates(first:)",
            "query($id: ID!) { objective(id: $id) { updates(first: 101) { id } } }".to_owned(),
            json!({ "id": root }),
        ),
        (
            "branch(first:)",
            "query($id: ID!) { branch(under: $id, first: 501) { id } }".to_owned(),
            json!({ "id": root }),
        ),
        (
            "checkIns(last:)",
            "query($id: ID!) { node(id: $id) { ... on KeyResult { checkIns(last: 501) { value } } } }"
                .to_owned(),
            json!({ "id": kr }),
        ),
        (
            "nodes(ids:)",
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }".to_owned(),
            json!({ "ids": ids }),
        ),
    ];
    for (what, query, variables) in cases {
        let response = app.gql(token, &query, variables).await;
        assert_eq!(
            response.error_code(),
            "PAGE_TOO_LARGE",
            "{what}: {}",
            response.body
        );
        assert!(response.error_message().contains("at most"), "{what}");
    }
    // Negative sizes are bad input, the same everywhere.
    let response = app
        .gql(
            token,
            "query($id: ID!) { objective(id: $id) { updates(first: -1) { id } } }",
            json!({ "id": root }),
        )
        .await;
    assert_eq!(response.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn text_bounds_match_the_databases_checks() {
    use goalgraph::domain::text::{EmailText, Name, Title};
    let app = spawn_app().await;
    let constraints: Vec<String> = app
        .db
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT conrelid::regclass::text || ': ' || pg_get_constraintdef(oid) AS c \
             FROM pg_constraint WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%length(%'",
        ))
        .await
        .expect("constraints")
        .iter()
        .map(|row| row.try_get::<String>("", "c").expect("c"))
        .collect();
    let bounded = |table: &str, column: &str, min: usize, max: usize| {
        let wanted = format!(
            "{table}: CHECK (((length({column}) >= {min}) AND (length({column}) <= {max})))"
        );
        assert!(
            constraints.contains(&wanted),
            "no {wanted:?} among {constraints:#?}"
        );
    };
    bounded("objectives", "title", Title::MIN, Title::MAX);
    bounded("key_results", "title", Title::MIN, Title::MAX);
    for table in ["tenants", "teams", "users", "cycles"] {
        bounded(table, "name", Name::MIN, Name::MAX);
    }
    bounded("users", "email", EmailText::MIN, EmailText::MAX);
}
