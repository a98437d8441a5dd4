//! Tree fields: children, descendants with depth and maxDepth in pre-order, ancestors.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn descendants_come_in_pre_order_with_depths_and_respect_max_depth() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let a = app.objective(&t.admin, "a", Some(&root)).await;
    let b = app.objective(&t.admin, "b", Some(&root)).await;
    let a1 = app.objective(&t.admin, "a1", Some(&a)).await;
    app.objective(&t.admin, "a1x", Some(&a1)).await;
    app.objective(&t.admin, "b1", Some(&b)).await;
    let query = "query($id: ID!, $d: Int!) { objective(id: $id) { descendants(maxDepth: $d) { depth objective { title } } } }";
    let listing = |depth: i32| {
        let (app, token, root) = (&app, t.admin.token.clone(), root.clone());
        async move {
            app.gql(Some(&token), query, json!({ "id": root, "d": depth }))
                .await
                .data("/objective/descendants")
                .as_array()
                .expect("list")
                .iter()
                .map(|e| {
                    (
                        e["objective"]["title"].as_str().expect("t").to_owned(),
                        e["depth"].as_i64().expect("d"),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let all = listing(100).await;
    let expected = [("a", 1), ("a1", 2), ("a1x", 3), ("b", 1), ("b1", 2)];
    assert_eq!(all, expected.map(|(t, d)| (t.to_owned(), d)));
    let shallow = listing(1).await;
    assert_eq!(shallow, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    let refused = app
        .gql(Some(&t.admin.token), query, json!({ "id": root, "d": 0 }))
        .await;
    assert_eq!(refused.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn ancestors_run_from_the_root_down_and_children_follow_archiving() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "company", None).await;
    let dept = app.objective(&t.admin, "department", Some(&root)).await;
    let team = app.objective(&t.admin, "team", Some(&dept)).await;
    let path = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { ancestors { title } parent { title } } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(
        path.data("/objective/ancestors"),
        &json!([{ "title": "company" }, { "title": "department" }])
    );
    assert_eq!(path.data("/objective/parent/title"), &json!("department"));

    app.gql(
        Some(&t.admin.token),
        "mutation($id: ID!) { archiveObjective(id: $id) { objective { archivedAt } } }",
        json!({ "id": dept }),
    )
    .await
    .data("/archiveObjective/objective/archivedAt");
    let after = app
        .gql(Some(&t.admin.token), "query($id: ID!) { objective(id: $id) { children { title } descendants { objective { title } } } }", json!({ "id": root }))
        .await;
    assert_eq!(after.data("/objective/children"), &json!([]));
    assert_eq!(after.data("/objective/descendants"), &Value::Array(vec![]));
}

#[tokio::test]
async fn teams_form_a_tree_and_refuse_cycles() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let create = "mutation($n: String!, $k: TeamKind!, $p: ID) { createTeam(input: {name: $n, kind: $k, parentId: $p}) { team { id } } }";
    let id = |r: crate::helpers::Gql| {
        r.data("/createTeam/team/id")
            .as_str()
            .expect("id")
            .to_owned()
    };
    let company = id(app
        .gql(
            Some(&t.admin.token),
            create,
            json!({ "n": "Acme", "k": "COMPANY" }),
        )
        .await);
    let division = id(app
        .gql(
            Some(&t.admin.token),
            create,
            json!({ "n": "Products", "k": "DIVISION", "p": company }),
        )
        .await);
    let team = id(app
        .gql(
            Some(&t.admin.token),
            create,
            json!({ "n": "Search", "k": "TEAM", "p": division }),
        )
        .await);
    let tree = app
        .gql(Some(&t.admin.token), "query($id: ID!) { team(id: $id) { children { name children { name parent { name } } } } }", json!({ "id": company }))
        .await;
    assert_eq!(
        tree.data("/team/children/0/children/0/parent/name"),
        &json!("Products")
    );
    let cycle = app
        .gql(Some(&t.admin.token), "mutation($id: ID!, $p: ID) { updateTeam(input: {id: $id, parentId: $p}) { team { id } } }", json!({ "id": company, "p": team }))
        .await;
    assert_eq!(cycle.error_code(), "BAD_USER_INPUT");
}

/// The large reads decode rows by column position (`store::pg::positional`); on the same rows,
/// with and without NULLs in every nullable column kind, that gives SeaORM's own decoding.
#[tokio::test]
async fn positional_decoding_reads_what_seaorm_reads() {
    use goalgraph::store::pg::entity::{key_result, objective};
    use goalgraph::store::pg::positional::decode_all;
    use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

    let app = spawn_app().await;
    let t = app.tenant("positional").await;
    let root = app.bench_tree(&t, 3, 3).await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE objectives SET archived_at = now(), status = 'at_risk' WHERE id = {}; \
             UPDATE key_results SET confidence = 0.5, current_value = NULL \
             WHERE objective_id = {}",
            root + 1,
            root + 2
        ))
        .await
        .expect("vary the nullable columns");
    let rows = |sql: String| async {
        app.db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("rows")
    };
    let objectives = rows(format!(
        "SELECT * FROM objectives WHERE tenant_id = {}",
        t.id
    ))
    .await;
    let derived: Vec<objective::Model> = objectives
        .iter()
        .map(|row| objective::Model::from_query_result(row, "").expect("SeaORM"))
        .collect();
    assert_eq!(
        decode_all::<objective::Model>(&objectives).expect("positional"),
        derived
    );
    assert!(derived.iter().any(|o| o.archived_at.is_some()));
    assert!(derived.iter().any(|o| o.parent_id.is_none()));

    let key_results = rows(format!(
        "SELECT * FROM key_results WHERE tenant_id = {} ORDER BY id",
        t.id
    ))
    .await;
    let derived: Vec<key_result::Model> = key_results
        .iter()
        .map(|row| key_result::Model::from_query_result(row, "").expect("SeaORM"))
        .collect();
    assert_eq!(
        decode_all::<key_result::Model>(&key_results).expect("positional"),
        derived
    );
    assert!(derived.iter().any(|kr| kr.confidence.is_some()));
    assert!(derived.iter().any(|kr| kr.current_value.is_none()));
    assert!(derived.iter().any(|kr| kr.current_value.is_some()));
}

/// Positional decoding checks what it reads against the columns' types: a column of another
/// type is an error, never a misread — also when the first row holds NULL there (a check made
/// only on the first row's values would then let text be read as an integer: `'1'` as 49).
#[tokio::test]
async fn positional_decoding_refuses_a_column_of_another_type() {
    use goalgraph::store::pg::entity::objective;
    use goalgraph::store::pg::positional::{Positional, decode_all};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let app = spawn_app().await;
    let t = app.tenant("positional-types").await;
    app.bench_tree(&t, 2, 3).await;
    for (column, replaced) in [
        // A narrower integer, not NULL on any row.
        ("id", "id::int4 AS id"),
        // Text where an optional integer is read, NULL on the first row (the root's).
        ("parent_id", "parent_id::text AS parent_id"),
    ] {
        let list: Vec<&str> = objective::Model::COLUMNS
            .iter()
            .map(|name| if *name == column { replaced } else { name })
            .collect();
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT {} FROM objectives WHERE tenant_id = {} ORDER BY parent_id NULLS FIRST, id",
                    list.join(", "),
                    t.id
                ),
            ))
            .await
            .expect("rows");
        assert!(rows.len() > 1);
        decode_all::<objective::Model>(&rows).expect_err(column);
    }
}
