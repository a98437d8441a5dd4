//! Hostile input: random and huge strings, non-finite and out-of-range numbers, invalid and
//! foreign IDs, SQL fragments in text filters, MongoDB operators in custom fields and branch
//! filters, invalid UTF-8, cyclic fragments — every request gets a coded error or a correct
//! result: never a 5xx, an INTERNAL error, leaked internals, or a partial write in either store.

use goalgraph::domain::global_id::{GlobalId, NodeKind};
use goalgraph::sync::relay::pending;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, objective_id, spawn_app};
use crate::rollup::stored_matches_recomputation;

/// Codes a hostile request may get (besides a correct answer).
const EXPECTED_CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "BAD_REQUEST",
    "NOT_FOUND",
    "FORBIDDEN",
    "CONFLICT",
    "PAGE_TOO_LARGE",
    "PAYLOAD_TOO_LARGE",
    "NODE_LIMIT_EXCEEDED",
];

/// Text that must never reach a client.
const LEAKS: &[&str] = &[
    "sqlx",
    "SQL",
    "syntax error",
    "relation \"",
    "column \"",
    "DbErr",
    "panicked",
    "backtrace",
    "mongodb",
    "src/",
    ".rs:",
];

/// A JSON literal, possibly not one JSON allows (NaN, Infinity, 1e999).
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (-1_000_000i64..1_000_000).prop_map(|i| i.to_string()),
        Just("0".to_owned()),
        Just("-0.0".to_owned()),
        Just("1e308".to_owned()),
        Just("-1.7976931348623157e308".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("NaN".to_owned()),
        Just("Infinity".to_owned()),
        Just("1e999".to_owned()),
        Just("\"12\"".to_owned()),
        Just("null".to_owned()),
    ]
}

/// Text as an attacker might send it.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,80}",
        Just(String::new()),
        Just("x".repeat(300_000)),
        Just("'; DROP TABLE objectives; --".to_owned()),
        Just("%_\\%' OR '1'='1".to_owned()),
        Just("{\"$gt\": \"\"}".to_owned()),
        Just("$where".to_owned()),
        Just("\u{0}nul\u{0}".to_owned()),
        Just("\u{202e}rtl\u{1F600}".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
    ]
}

/// A JSON string literal of [`text`].
fn string() -> impl Strategy<Value = String> {
    text().prop_map(|t| Value::String(t).to_string())
}

/// An ID: a real one of this tenant, one of another tenant, one of the wrong kind, or junk.
fn id(fixture: &Fixture) -> impl Strategy<Value = String> {
    let own = fixture.own.clone();
    prop_oneof![
        proptest::sample::select(own),
        Just(fixture.foreign.clone()),
        Just(GlobalId::new(NodeKind::KeyResult, 1).encode()),
        Just(GlobalId::new(NodeKind::Objective, -1).encode()),
        Just(GlobalId::new(NodeKind::Objective, i64::MAX).encode()),
        Just(objective_id(999_999)),
        Just("T2JqZWN0aXZlOjFlMw".to_owned()),
        Just(String::new()),
        text(),
    ]
    .prop_map(|id| Value::String(id).to_string())
}

/// A custom-field map with hostile keys and values.
fn fields() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("region".to_owned()),
        Just("budget".to_owned()),
        Just("$where".to_owned()),
        Just("a.b".to_owned()),
        Just(String::new()),
        "[a-z$.]{1,12}",
    ];
    let value = prop_oneof![
        string(),
        number(),
        Just("{\"$ne\": null}".to_owned()),
        Just("[1, {\"$gt\": 0}]".to_owned()),
        Just("\"EMEA\"".to_owned()),
        Just("true".to_owned()),
    ];
    proptest::collection::vec((key, value), 0..4).prop_map(|pairs| {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
            .collect();
        format!("{{{}}}", body.join(", "))
    })
}

/// One hostile request: a GraphQL document and its variables as raw JSON text.
#[derive(Debug, Clone)]
struct Hostile {
    query: &'static str,
    variables: String,
    mutation: bool,
}

fn request(fixture: &Fixture) -> impl Strategy<Value = Hostile> {
    let f = fixture;
    prop_oneof![
        (string(), string(), number(), id(f)).prop_map(|(title, description, weight, parent)| Hostile {
            query: "mutation($i: CreateObjectiveInput!) { createObjective(input: $i) { objective { id title weight } } }",
            variables: format!("{{\"i\": {{\"title\": {title}, \"description\": {description}, \"weight\": {weight}, \"parentId\": {parent}}}}}"),
            mutation: true,
        }),
        (id(f), string(), number()).prop_map(|(id, title, weight)| Hostile {
            query: "mutation($i: UpdateObjectiveInput!) { updateObjective(input: $i) { objective { id title } } }",
            variables: format!("{{\"i\": {{\"id\": {id}, \"title\": {title}, \"weight\": {weight}}}}}"),
            mutation: true,
        }),
        (id(f), id(f)).prop_map(|(id, parent)| Hostile {
            query: "mutation($i: MoveObjectiveInput!) { moveObjective(input: $i) { objective { id } } }",
            variables: format!("{{\"i\": {{\"id\": {id}, \"newParentId\": {parent}}}}}"),
            mutation: true,
        }),
        (id(f), string(), number(), number(), number()).prop_map(|(objective, title, start, target, weight)| Hostile {
            query: "mutation($i: CreateKeyResultInput!) { createKeyResult(input: $i) { keyResult { id progress } } }",
            variables: format!("{{\"i\": {{\"objectiveId\": {objective}, \"title\": {title}, \"kind\": \"NUMERIC\", \"startValue\": {start}, \"targetValue\": {target}, \"weight\": {weight}}}}}"),
            mutation: true,
        }),
        (id(f), number(), number(), string()).prop_map(|(kr, value, confidence, note)| Hostile {
            query: "mutation($i: CheckInInput!) { checkIn(input: $i) { keyResult { progress } } }",
            variables: format!("{{\"i\": {{\"keyResultId\": {kr}, \"value\": {value}, \"confidence\": {confidence}, \"note\": {note}}}}}"),
            mutation: true,
        }),
        (id(f), fields()).prop_map(|(objective, fields)| Hostile {
            query: "mutation($i: SetCustomFieldsInput!) { setCustomFields(input: $i) { objective { customFields } } }",
            variables: format!("{{\"i\": {{\"objectiveId\": {objective}, \"fields\": {fields}}}}}"),
            mutation: true,
        }),
        (string(), number()).prop_map(|(text, first)| Hostile {
            query: "query($t: String, $n: Int) { objectives(filter: {text: $t}, first: $n) { edges { node { title } } } }",
            variables: format!("{{\"t\": {text}, \"n\": {first}}}"),
            mutation: false,
        }),
        (id(f), string(), fields()).prop_map(|(under, key, _)| Hostile {
            query: "query($u: ID!, $k: String!) { branch(under: $u, where: [{key: $k, equals: {\"$ne\": null}}]) { title } keyResultsByStatus(under: $u, where: [{key: $k, equals: \"x\"}]) { status } }",
            variables: format!("{{\"u\": {under}, \"k\": {key}}}"),
            mutation: false,
        }),
        proptest::collection::vec(id(f), 0..5).prop_map(|ids| Hostile {
            query: "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            variables: format!("{{\"ids\": [{}]}}", ids.join(", ")),
            mutation: false,
        }),
        (id(f), string(), string()).prop_map(|(id, from, to)| Hostile {
            query: "query($id: ID!, $f: DateTime!, $t: DateTime!) { progressHistory(id: $id, from: $f, to: $t) { progress } }",
            variables: format!("{{\"id\": {id}, \"f\": {from}, \"t\": {to}}}"),
            mutation: false,
        }),
    ]
}

/// Real IDs of the tenant under attack and one of another tenant.
#[derive(Debug, Clone)]
struct Fixture {
    own: Vec<String>,
    foreign: String,
}

/// Rows and documents that a refused write must leave as they were.
async fn footprint(app: &TestApp, tenants: &[i64]) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "objectives",
        "key_results",
        "check_ins",
        "outbox",
        "milestones",
    ] {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("row");
        counts.push(row.try_get::<i64>("", "n").expect("n"));
    }
    let version_sum = app
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COALESCE(sum(version), 0)::bigint AS n FROM objectives".to_owned(),
        ))
        .await
        .expect("versions")
        .expect("row");
    counts.push(version_sum.try_get::<i64>("", "n").expect("n"));
    for collection in ["goal_trees", "goal_updates"] {
        let n = app
            .mongo
            .database()
            .collection::<mongodb::bson::Document>(collection)
            .count_documents(mongodb::bson::doc! { "tenant_id": { "$in": tenants } })
            .await
            .expect("mongo count");
        counts.push(i64::try_from(n).unwrap_or(i64::MAX));
    }
    counts
}

/// Checks one answer: a known status, coded errors only, nothing internal.
fn check_answer(status: u16, body: &Value) -> Result<bool, String> {
    if !matches!(status, 200 | 400 | 413) {
        return Err(format!("status {status}: {body}"));
    }
    let text = body.to_string();
    for leak in LEAKS {
        if text.contains(leak) {
            return Err(format!("leaks {leak:?}: {text}"));
        }
    }
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Ok(true);
    };
    for error in errors {
        let code = error
            .pointer("/extensions/code")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("uncoded error: {error}"))?;
        if !EXPECTED_CODES.contains(&code) {
            return Err(format!("unexpected code {code}: {error}"));
        }
    }
    Ok(false)
}

#[test]
fn hostile_requests_get_coded_errors_or_correct_results_and_never_a_partial_write() {
    // The strategies and the request futures are large in debug builds: give them room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run_hostile_requests)
        .expect("thread")
        .join()
        .expect("hostile requests");
}

fn run_hostile_requests() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (app, token, fixture, tenants) = runtime.block_on(async {
        let app = spawn_app().await;
        let t = app.tenant("target").await;
        let stranger = app.tenant("stranger").await;
        app.gql(
            Some(&t.admin.token),
            "mutation { setGoalTemplate(input: {fields: [{key: \"region\", type: \"enum\", allowedValues: [\"EMEA\", \"APAC\"]}, {key: \"budget\", type: \"number\"}]}) { version } }",
            json!({}),
        )
        .await
        .data("/setGoalTemplate");
        let root = app.objective(&t.admin, "root", None).await;
        let child = app.objective(&t.admin, "child", Some(&root)).await;
        let kr = app.key_result(&t.admin, &child, 0.0, 100.0, 1.0).await;
        let foreign = app.objective(&stranger.admin, "theirs", None).await;
        (
            app,
            t.admin.token.clone(),
            Fixture {
                own: vec![root, child, kr],
                foreign,
            },
            [t.id, stranger.id],
        )
    });
    let mut runner = TestRunner::new(Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    });
    let outcomes = [
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    ];
    runner
        .run(&request(&fixture), |hostile| {
            let body = format!(
                "{{\"query\": {}, \"variables\": {}}}",
                Value::String(hostile.query.to_owned()),
                hostile.variables
            );
            let result: Result<bool, String> = runtime.block_on(async {
                // Earlier accepted writes must have reached MongoDB first, or their relaying
                // would show up as a change in the next request's footprint.
                eventually(10, "the relay to catch up", || async {
                    pending(&app.db).await.is_ok_and(|pending| pending == 0)
                })
                .await;
                let before = footprint(&app, &tenants).await;
                let answer = app.post_raw(&app.address, &token, body).await;
                let (status, answer) = (answer.status, answer.body);
                let succeeded = check_answer(status, &answer)?;
                if hostile.mutation && !succeeded {
                    // MongoDB writes a mutation makes itself are done when it answers, and an
                    // unchanged outbox (part of the footprint) means the relay has nothing
                    // of it to apply later: comparing right away is exact.
                    let after = footprint(&app, &tenants).await;
                    if before != after {
                        return Err(format!(
                            "a refused write changed the stores {before:?} -> {after:?}: {answer}"
                        ));
                    }
                }
                Ok(succeeded)
            });
            let succeeded = result.map_err(TestCaseError::fail)?;
            outcomes[usize::from(succeeded)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .expect("every hostile request handled");
    // What the hostile writes that were accepted did keeps every roll-up exact.
    let tenant_id = runtime.block_on(async {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT min(id) AS id FROM tenants".to_owned(),
            ))
            .await
            .expect("tenant")
            .expect("row");
        row.try_get::<i64>("", "id").expect("id")
    });
    runtime
        .block_on(stored_matches_recomputation(&app.db, tenant_id))
        .expect("stored roll-ups equal a recomputation");
    let refused = outcomes[0].load(std::sync::atomic::Ordering::Relaxed);
    let answered = outcomes[1].load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("hostile requests: {refused} refused with a coded error, {answered} answered");
    assert_eq!(
        refused + answered,
        160,
        "every generated request was sent and judged"
    );
    // A generator that only produced refusals (or only harmless requests) would prove little.
    assert!(
        refused >= 16,
        "only {refused} of 160 hostile requests were refused"
    );
    // About one in seven is harmless (22 on average, standard deviation about 4.4): fewer
    // than four would mean the generator changed, not bad luck.
    assert!(
        answered >= 4,
        "only {answered} of 160 hostile requests were answered"
    );
}

#[tokio::test]
async fn invalid_utf8_and_cyclic_fragments_are_coded_errors() {
    let app = spawn_app().await;
    let t = app.tenant("bytes").await;
    let root = app.objective(&t.admin, "root", None).await;
    let mut body = format!(
        "{{\"query\": \"mutation($i: SetCustomFieldsInput!) {{ setCustomFields(input: $i) {{ objective {{ id }} }} }}\", \"variables\": {{\"i\": {{\"objectiveId\": \"{root}\", \"fields\": {{\"region\": \""
    )
    .into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, b'E']);
    body.extend_from_slice(b"\"}}}}");
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&t.admin.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    let cyclic = "query { ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A }";
    let response = app.gql(Some(&t.admin.token), cyclic, json!({})).await;
    assert!(
        ["BAD_USER_INPUT", "QUERY_TOO_DEEP"].contains(&response.error_code()),
        "{}",
        response.body
    );
}
