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

/// The bound: one statement to resolve the token's user, one for the objective, and per
/// nesting level one for children and one for key results (4 levels).
const MAX_STATEMENTS: u64 = 1 + 1 + 2 * 4;

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
    // Token user, the objective, the recursive CTE.
    assert_eq!(whole.statements, 3);
    assert_eq!(branch.statements, 3);
}
