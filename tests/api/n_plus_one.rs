//! Round trips grow with a query's depth, never with the number of objects it returns.

use goalgraph::store::pg::seed::{TreeShape, bench_tree};
use serde_json::json;

use crate::helpers::{objective_id, spawn_app};

/// SPEC section 7, Q1: an objective with its key results, children, grandchildren and
/// great-grandchildren, each with key results.
const Q1: &str = "query($id: ID!) { objective(id: $id) { title progress keyResults { progress }
  children { title progress keyResults { progress }
    children { title progress keyResults { progress }
      children { title progress keyResults { progress } } } } } }";

/// The bound: one statement for the objective, and per nesting level one for children and
/// one for key results (4 levels); the token's user comes from the replica's cache.
const MAX_STATEMENTS: u64 = 1 + 2 * 4;

/// Q1 as a dashboard writes it (issue 12's field sets), nested and flat.
const Q1_FULL_NESTED: &str = include_str!("../fixtures/q1_full_nested.graphql");
const Q1_FULL_FLAT: &str = include_str!("../fixtures/q1_full_flat.graphql");

/// The bound for the full-field forms: the objective (with its children), then per level the
/// children, their key results and their owners.
const FULL_FIELDS_MAX_STATEMENTS: u64 = 1 + 3 * 4;

fn count_objectives(node: &serde_json::Value) -> usize {
    1 + node["children"]
        .as_array()
        .map(|kids| kids.iter().map(count_objectives).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn q1_issues_the_same_statements_for_111_and_1111_objectives() {
    let app = spawn_app().await;
    let t = app.tenant("bench").await;
    // 1 + 10 + 100 objectives, plus one great-grandchild so every level of Q1 has rows.
    let small = bench_tree(
        &app.db,
        t.id,
        t.admin.id,
        TreeShape {
            levels: 3,
            branching: 10,
        },
    )
    .await
    .expect("seed small");
    let small_leaf = objective_id(small + 110);
    app.objective(&t.admin, "great-grandchild", Some(&small_leaf))
        .await;
    let large = bench_tree(
        &app.db,
        t.id,
        t.admin.id,
        TreeShape {
            levels: 4,
            branching: 10,
        },
    )
    .await
    .expect("seed large");

    let small_response = app
        .gql(
            Some(&t.admin.token),
            Q1,
            json!({ "id": objective_id(small) }),
        )
        .await;
    let large_response = app
        .gql(
            Some(&t.admin.token),
            Q1,
            json!({ "id": objective_id(large) }),
        )
        .await;
    assert_eq!(count_objectives(small_response.data("/objective")), 112);
    assert_eq!(count_objectives(large_response.data("/objective")), 1111);
    let key_results = large_response
        .body
        .to_string()
        .matches("\"progress\"")
        .count();
    assert_eq!(
        key_results,
        1111 + 3 * 1111,
        "every objective and its three key results"
    );

    assert_eq!(
        small_response.statements, large_response.statements,
        "statements depend on size"
    );
    assert!(
        large_response.statements <= MAX_STATEMENTS,
        "{} statements > bound {MAX_STATEMENTS}",
        large_response.statements
    );
    eprintln!(
        "Q1 statements: 112 objectives -> {}, 1111 objectives -> {}",
        small_response.statements, large_response.statements
    );

    // The full field sets a dashboard asks for are accepted, nested or flat, and their round
    // trips do not depend on size either.
    for query in [Q1_FULL_NESTED, Q1_FULL_FLAT] {
        let small = app
            .gql(
                Some(&t.admin.token),
                query,
                json!({ "id": objective_id(small) }),
            )
            .await;
        let large = app
            .gql(
                Some(&t.admin.token),
                query,
                json!({ "id": objective_id(large) }),
            )
            .await;
        small.data("/objective");
        let text = large.data("/objective").to_string();
        assert_eq!(text.matches("\"startValue\"").count(), 3 * 1111, "{query}");
        // One statement per relation per level (owners too): the same bound for 112 and
        // 1,111 objectives. (Whether the root's owner shares a batch with its descendants'
        // depends on timing, so the two counts may differ by one, never with size.)
        for response in [&small, &large] {
            assert!(
                response.statements <= FULL_FIELDS_MAX_STATEMENTS,
                "{query}: {} statements",
                response.statements
            );
        }
    }
}

#[tokio::test]
async fn a_subtree_listing_is_one_statement_whatever_its_size() {
    let app = spawn_app().await;
    let t = app.tenant("bench").await;
    let root = bench_tree(
        &app.db,
        t.id,
        t.admin.id,
        TreeShape {
            levels: 4,
            branching: 10,
        },
    )
    .await
    .expect("seed");
    let q2 = "query($id: ID!) { objective(id: $id) { descendants { depth objective { id title progress } } } }";
    // The first request of a token's user reads the user; later ones find it cached.
    let first = app
        .gql(Some(&t.admin.token), "{ viewer { id } }", json!({}))
        .await;
    assert_eq!(
        first.statements, 1,
        "the user; the viewer field finds the row in the replica's cache"
    );
    // Pricing a tree read reads its root's stored subtree size, once per replica every few
    // seconds (`http::cost`): the first read of each root costs that statement more.
    for priced in [root, root + 1] {
        let cold = app
            .gql(
                Some(&t.admin.token),
                q2,
                json!({ "id": objective_id(priced) }),
            )
            .await;
        assert_eq!(cold.statements, 2, "the stored size, then the subtree");
    }
    let whole = app
        .gql(
            Some(&t.admin.token),
            q2,
            json!({ "id": objective_id(root) }),
        )
        .await;
    let branch = app
        .gql(
            Some(&t.admin.token),
            q2,
            json!({ "id": objective_id(root + 1) }),
        )
        .await;
    assert_eq!(
        whole
            .data("/objective/descendants")
            .as_array()
            .expect("list")
            .len(),
        1110
    );
    assert_eq!(
        branch
            .data("/objective/descendants")
            .as_array()
            .expect("list")
            .len(),
        110
    );
    // The objective and its subtree in one recursive CTE; the token's user comes from the
    // replica's cache.
    assert_eq!(whole.statements, 1);
    assert_eq!(branch.statements, 1);
    let metrics = app.get_text("/metrics").await;
    for outcome in ["hit", "miss"] {
        let series = format!("goalgraph_user_cache_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "{series} missing from /metrics");
    }
}

#[tokio::test]
async fn an_objective_with_its_children_is_one_statement_and_hides_what_children_hides() {
    use goalgraph::domain::role::Role;
    let app = spawn_app().await;
    let t = app.tenant("q3").await;
    let member = app.user(&t, Role::Member, None).await;
    let root = app.objective(&t.admin, "root", None).await;
    let public = app.objective(&t.admin, "public", Some(&root)).await;
    let private = app.objective(&t.admin, "private", Some(&root)).await;
    let archived = app.objective(&t.admin, "archived", Some(&root)).await;
    app.gql(
        Some(&t.admin.token),
        "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
        json!({ "input": { "id": private, "visibility": "PRIVATE" } }),
    )
    .await
    .data("/updateObjective");
    app.gql(
        Some(&t.admin.token),
        "mutation($id: ID!) { archiveObjective(id: $id) { objective { id } } }",
        json!({ "id": archived }),
    )
    .await
    .data("/archiveObjective");
    let q3 = "query($id: ID!) { objective(id: $id) { id title children { id title progress } } }";
    let children = |response: &crate::helpers::Gql| -> Vec<String> {
        response
            .data("/objective/children")
            .as_array()
            .expect("children")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };
    // Warm the replica's user cache for both callers, and its record of the root's stored
    // subtree size (read once to price tree reads).
    for token in [&t.admin.token, &member.token] {
        app.gql(Some(token), "{ viewer { id } }", json!({})).await;
    }
    app.gql(Some(&t.admin.token), q3, json!({ "id": root }))
        .await;
    let as_admin = app
        .gql(Some(&t.admin.token), q3, json!({ "id": root }))
        .await;
    assert_eq!(
        as_admin.statements, 1,
        "the objective and its children together"
    );
    assert_eq!(children(&as_admin), vec![public.clone(), private.clone()]);
    let as_member = app
        .gql(Some(&member.token), q3, json!({ "id": root }))
        .await;
    assert_eq!(as_member.statements, 1);
    assert_eq!(children(&as_member), vec![public.clone()]);
    // A root the caller may not see hands out none of its children.
    let hidden = app
        .gql(Some(&member.token), q3, json!({ "id": private }))
        .await;
    assert_eq!(
        hidden.body["data"]["objective"],
        serde_json::Value::Null,
        "{}",
        hidden.body
    );

    // The same for an objective with its descendants (one recursive CTE).
    let q2 = "query($id: ID!) { objective(id: $id) { id descendants(maxDepth: 2) { depth objective { id } } } }";
    let listed = |response: &crate::helpers::Gql| -> Vec<String> {
        response
            .data("/objective/descendants")
            .as_array()
            .expect("descendants")
            .iter()
            .map(|e| e["objective"]["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let as_admin = app
        .gql(Some(&t.admin.token), q2, json!({ "id": root }))
        .await;
    assert_eq!(as_admin.statements, 1);
    assert_eq!(listed(&as_admin), vec![public.clone(), private.clone()]);
    let as_member = app
        .gql(Some(&member.token), q2, json!({ "id": root }))
        .await;
    assert_eq!(listed(&as_member), vec![public.clone()]);
    let hidden = app
        .gql(Some(&member.token), q2, json!({ "id": private }))
        .await;
    assert_eq!(hidden.body["data"]["objective"], serde_json::Value::Null);
    // Two selections with different depths are still answered right (each loads its own).
    let two = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { a: descendants(maxDepth: 1) { depth } b: descendants(maxDepth: 2) { depth } } }",
            json!({ "id": root }),
        )
        .await;
    assert_eq!(two.data("/objective/a").as_array().expect("a").len(), 2);
    assert_eq!(two.data("/objective/b").as_array().expect("b").len(), 2);
}
