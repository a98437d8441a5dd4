//! Query cost clients can see and plan against: estimates from stored subtree sizes (kept
//! exact through every change of the tree), `extensions.cost` and `X-RateLimit-*` on every
//! answer, the tenant's budget taken by cost and settled at the real cost, and the cap on
//! objects per request.

use goalgraph::app::RequestLimits;
use goalgraph::store::shared::RateLimit;
use sea_orm::FromQueryResult;
use serde_json::{Value, json};

use crate::helpers::{TestApp, objective_id, spawn_app, spawn_app_sharing};

const TWO_LEVELS: &str =
    "query($id: ID!) { objective(id: $id) { id children { id children { id title } } } }";

/// POSTs `query` with `variables` and returns the answer's headers and body.
async fn post(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
) -> (reqwest::header::HeaderMap, Value) {
    let answer = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request");
    let headers = answer.headers().clone();
    (headers, answer.json().await.expect("JSON"))
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> u64 {
    headers[name]
        .to_str()
        .expect("text")
        .parse()
        .expect("number")
}

#[tokio::test]
async fn tree_fields_are_priced_by_stored_subtree_sizes_and_settled_at_what_they_returned() {
    let limits = RequestLimits {
        rate_limit: Some(RateLimit {
            rate: 1.0,
            burst: 100_000.0,
        }),
        ..RequestLimits::default()
    };
    let app = spawn_app_sharing(limits, None).await;
    let t = app.tenant("priced").await;
    // A SPEC-shaped tree: 10 children, 100 grandchildren, 1,000 below those.
    let root = app.bench_tree(&t, 4, 10).await;
    let (headers, body) = post(
        &app,
        &t.admin.token,
        TWO_LEVELS,
        json!({ "id": objective_id(root) }),
    )
    .await;
    let cost = &body["extensions"]["cost"];
    // objective + id + children: 3; ten children × (id, children): 20; 100 × (id, title): 200.
    assert_eq!(cost["requested"], 223, "{body}");
    assert_eq!(cost["actual"], 223);
    assert_eq!(cost["requestedNodes"], 110);
    assert_eq!(cost["actualNodes"], 110);
    assert_eq!(cost["limit"], 100_000);
    assert_eq!(cost["remaining"], 100_000 - 223);
    assert!(cost["resetAt"].as_str().is_some_and(|at| at.ends_with('Z')));
    assert_eq!(header(&headers, "x-ratelimit-limit"), 100_000);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 100_000 - 223);
    assert!(header(&headers, "x-ratelimit-reset") > 1_700_000_000);

    // A leaf is priced as a leaf, however deep the selection: an unsized estimate (ten per
    // level) would refuse this one.
    let leaf = root + 1111 - 1;
    let deep = format!(
        "query($id: ID!) {{ objective(id: $id) {{ {}id{} }} }}",
        "children { ".repeat(7),
        " }".repeat(7)
    );
    let (_, body) = post(
        &app,
        &t.admin.token,
        &deep,
        json!({ "id": objective_id(leaf) }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["extensions"]["cost"]["requestedNodes"], 0);

    // An estimate above what comes back is settled at the real cost: the difference is given
    // back to the budget.
    let before = post(&app, &t.admin.token, "{ viewer { id } }", json!({}))
        .await
        .1["extensions"]["cost"]["remaining"]
        .as_u64()
        .expect("remaining");
    let (_, body) = post(
        &app,
        &t.admin.token,
        "{ teams(first: 100) { nodes { id name } } }",
        json!({}),
    )
    .await;
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requested"], 1 + 1 + 200);
    assert_eq!(cost["actual"], 2, "no teams: {body}");
    let after = cost["remaining"].as_u64().expect("remaining");
    assert!(after + 2 >= before && after <= before, "{before} → {after}");
}

#[tokio::test]
async fn a_request_over_the_object_cap_says_how_many_it_asked_for() {
    let app = spawn_app().await;
    let t = app.tenant("capped").await;
    let ids: Vec<String> = (1..=100).map(objective_id).collect();
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Objective { children { children { children { children { id } } } } } } }";
    let (_, body) = post(&app, &t.admin.token, query, json!({ "ids": ids })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NODE_LIMIT_EXCEEDED",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("up to 1111100 objects") && message.contains("500000"),
        "{message}"
    );
    assert!(body.get("data").is_none_or(Value::is_null));
}

#[derive(Debug, PartialEq, FromQueryResult)]
struct Sizes {
    id: i64,
    child_count: i64,
    descendant_count: i64,
    public_child_count: i64,
    public_descendant_count: i64,
}

/// Every objective's stored sizes, by id.
async fn stored(app: &TestApp, tenant: i64) -> Vec<Sizes> {
    Sizes::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT id, child_count, descendant_count, public_child_count, public_descendant_count \
         FROM objectives WHERE tenant_id = $1 ORDER BY id",
        [tenant.into()],
    ))
    .all(&app.db)
    .await
    .expect("sizes")
}

#[tokio::test]
async fn stored_sizes_stay_exact_through_creates_moves_visibility_archives_and_deletes() {
    let app = spawn_app().await;
    let t = app.tenant("sizes").await;
    let a = app.objective(&t.admin, "a", None).await;
    let b = app.objective(&t.admin, "b", Some(&a)).await;
    let c = app.objective(&t.admin, "c", Some(&b)).await;
    let d = app.objective(&t.admin, "d", Some(&c)).await;
    let e = app.objective(&t.admin, "e", Some(&a)).await;
    let f = app.objective(&t.admin, "f", None).await;
    let mutate = |query: &'static str, variables: Value| {
        let app = &app;
        let token = t.admin.token.clone();
        async move {
            let answer = app.gql(Some(&token), query, variables).await;
            assert!(answer.body.get("errors").is_none(), "{}", answer.body);
        }
    };
    let check = || async {
        let before = stored(&app, t.id).await;
        // A recount from scratch changes nothing when the maintained sizes are exact.
        goalgraph::store::pg::subtree_sizes::recount_tenant(&app.db, t.id)
            .await
            .expect("recount");
        assert_eq!(before, stored(&app, t.id).await);
        before
    };
    let sizes = check().await;
    assert_eq!((sizes[0].child_count, sizes[0].descendant_count), (2, 4));
    assert_eq!(
        (
            sizes[0].public_child_count,
            sizes[0].public_descendant_count
        ),
        (2, 4)
    );
    let visibility = "mutation($id: ID!, $v: Visibility!) { updateObjective(input: {id: $id, visibility: $v}) { objective { id } } }";
    mutate(visibility, json!({ "id": b, "v": "PRIVATE" })).await;
    let sizes = check().await;
    assert_eq!(
        (
            sizes[0].public_child_count,
            sizes[0].public_descendant_count
        ),
        (1, 1),
        "b, and c and d below it, are hidden from viewers who see no private objective"
    );
    assert_eq!((sizes[0].child_count, sizes[0].descendant_count), (2, 4));
    mutate(visibility, json!({ "id": c, "v": "PRIVATE" })).await;
    check().await;
    mutate(visibility, json!({ "id": b, "v": "PUBLIC" })).await;
    let sizes = check().await;
    assert_eq!(
        (
            sizes[0].public_child_count,
            sizes[0].public_descendant_count
        ),
        (2, 2)
    );
    let move_to = "mutation($id: ID!, $to: ID) { moveObjective(input: {id: $id, newParentId: $to}) { objective { id } } }";
    mutate(move_to, json!({ "id": c, "to": f })).await;
    check().await;
    mutate(move_to, json!({ "id": b, "to": e })).await;
    check().await;
    mutate(move_to, json!({ "id": e, "to": null })).await;
    check().await;
    mutate(
        "mutation($id: ID!) { archiveObjective(id: $id) { objective { id } } }",
        json!({ "id": c }),
    )
    .await;
    let sizes = check().await;
    let f_row = sizes.iter().find(|s| objective_id(s.id) == f).expect("f");
    assert_eq!(
        (f_row.child_count, f_row.descendant_count),
        (0, 0),
        "c and d are archived"
    );
    mutate(
        "mutation($id: ID!) { deleteObjective(id: $id) { deletedId } }",
        json!({ "id": d }),
    )
    .await;
    check().await;
    let _ = a;
}

#[tokio::test]
async fn a_cost_never_tells_what_is_below_an_objective_you_cannot_see() {
    let app = spawn_app().await;
    let t = app.tenant("hidden").await;
    let member = app
        .user(&t, goalgraph::domain::role::Role::Member, None)
        .await;
    let secret = app.objective(&t.admin, "secret", None).await;
    for n in 0..3 {
        app.objective(&t.admin, &format!("below {n}"), Some(&secret))
            .await;
    }
    let private = app
        .gql(
            Some(&t.admin.token),
            "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
            json!({ "input": { "id": secret, "visibility": "PRIVATE" } }),
        )
        .await;
    assert!(private.body.get("errors").is_none(), "{}", private.body);
    let requested = |token: String, id: String| {
        let app = &app;
        async move {
            post(app, &token, TWO_LEVELS, json!({ "id": id })).await.1["extensions"]["cost"].clone()
        }
    };
    // The admin's estimate comes from the stored sizes (3 children; at most the 3 below for
    // the second level) and is cached on the replica ...
    let admin = requested(t.admin.token.clone(), secret.clone()).await;
    assert_eq!(admin["requestedNodes"], 6);
    // ... the member's is the one for an objective that does not exist.
    let hidden = requested(member.token.clone(), secret.clone()).await;
    let missing = requested(member.token.clone(), objective_id(999_999)).await;
    assert_eq!(hidden["requestedNodes"], missing["requestedNodes"]);
    assert_eq!(hidden["requested"], missing["requested"]);
}

#[tokio::test]
async fn a_cost_never_tells_how_many_private_objectives_lie_below_a_visible_one() {
    let app = spawn_app().await;
    let t = app.tenant("counted").await;
    let member = app
        .user(&t, goalgraph::domain::role::Role::Member, None)
        .await;
    // Two public roots of the same public shape; below the first, a private branch of three.
    let with_secrets = app.objective(&t.admin, "with secrets", None).await;
    let without = app.objective(&t.admin, "without", None).await;
    for root in [&with_secrets, &without] {
        for n in 0..2 {
            app.objective(&t.admin, &format!("public {n}"), Some(root))
                .await;
        }
    }
    let secret = app
        .create_objective(
            &t.admin,
            json!({ "title": "secret", "parentId": with_secrets, "visibility": "PRIVATE" }),
        )
        .await;
    for n in 0..2 {
        app.objective(&t.admin, &format!("below the secret {n}"), Some(&secret))
            .await;
    }
    let cost = |token: String, id: String| {
        let app = &app;
        async move {
            post(app, &token, TWO_LEVELS, json!({ "id": id })).await.1["extensions"]["cost"].clone()
        }
    };
    let member_with = cost(member.token.clone(), with_secrets.clone()).await;
    let member_without = cost(member.token.clone(), without.clone()).await;
    assert_eq!(member_with["actualNodes"], member_without["actualNodes"]);
    for field in ["requested", "requestedNodes"] {
        assert_eq!(
            member_with[field], member_without[field],
            "{field} tells the member about the private branch: {member_with} vs {member_without}"
        );
    }
    // The admin, who sees it, is priced for it.
    let admin_with = cost(t.admin.token.clone(), with_secrets).await;
    let admin_without = cost(t.admin.token.clone(), without).await;
    assert!(
        admin_with["requestedNodes"].as_i64() > admin_without["requestedNodes"].as_i64(),
        "{admin_with} vs {admin_without}"
    );
}
