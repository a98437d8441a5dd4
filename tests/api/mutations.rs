//! Writes: moves and their races, optimistic concurrency, deletes, validation, milestones.

use serde_json::json;

use crate::helpers::{Actor, TestApp, spawn_app};

const MOVE: &str = "mutation($id: ID!, $p: ID) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id parent { id } } } }";

async fn move_to(
    app: &TestApp,
    actor: &Actor,
    id: &str,
    parent: Option<&str>,
) -> crate::helpers::Gql {
    app.gql(Some(&actor.token), MOVE, json!({ "id": id, "p": parent }))
        .await
}

#[tokio::test]
async fn moving_an_objective_under_itself_or_its_descendant_is_rejected() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let child = app.objective(&t.admin, "child", Some(&root)).await;
    let grandchild = app.objective(&t.admin, "grandchild", Some(&child)).await;
    for target in [&root, &child, &grandchild] {
        let response = move_to(&app, &t.admin, &root, Some(target)).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    }
    // A legal move works and shows the new parent.
    let sibling = app.objective(&t.admin, "sibling", None).await;
    let moved = move_to(&app, &t.admin, &grandchild, Some(&sibling)).await;
    assert_eq!(
        moved.data("/moveObjective/objective/parent/id"),
        &json!(sibling)
    );
    let to_root = move_to(&app, &t.admin, &grandchild, None).await;
    assert!(to_root.data("/moveObjective/objective/parent").is_null());
}

#[tokio::test]
async fn two_conflicting_moves_racing_leave_no_cycle_and_exactly_one_fails() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    for round in 0..5 {
        let root = app
            .objective(&t.admin, &format!("root {round}"), None)
            .await;
        let a = app.objective(&t.admin, "a", Some(&root)).await;
        let b = app.objective(&t.admin, "b", Some(&root)).await;
        let (first, second) = tokio::join!(
            move_to(&app, &t.admin, &a, Some(&b)),
            move_to(&app, &t.admin, &b, Some(&a)),
        );
        let failures: Vec<&str> = [&first, &second]
            .iter()
            .filter(|r| r.body.get("errors").is_some())
            .map(|r| r.error_code())
            .collect();
        assert_eq!(
            failures,
            vec!["BAD_USER_INPUT"],
            "{} / {}",
            first.body,
            second.body
        );
        // The tree has no cycle: a's and b's ancestors both end at the root.
        for id in [&a, &b] {
            let path = app
                .gql(
                    Some(&t.admin.token),
                    "query($id: ID!) { objective(id: $id) { ancestors { id } } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(path.data("/objective/ancestors/0/id"), &json!(root));
        }
    }
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let id = app.objective(&t.admin, "Grow", None).await;
    let update = "mutation($id: ID!, $v: Int, $title: String) { updateObjective(input: {id: $id, expectedVersion: $v, title: $title}) { objective { title version } } }";
    let first = app
        .gql(
            Some(&t.admin.token),
            update,
            json!({ "id": id, "v": 1, "title": "Grow faster" }),
        )
        .await;
    assert_eq!(first.data("/updateObjective/objective/version"), &json!(2));
    let stale = app
        .gql(
            Some(&t.admin.token),
            update,
            json!({ "id": id, "v": 1, "title": "Lost update" }),
        )
        .await;
    assert_eq!(stale.error_code(), "CONFLICT");
    let now = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(now.data("/objective/title"), &json!("Grow faster"));
}

#[tokio::test]
async fn deleting_an_objective_with_children_is_a_conflict() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let child = app.objective(&t.admin, "child", Some(&root)).await;
    let delete = "mutation($id: ID!) { deleteObjective(id: $id) { deletedId } }";
    assert_eq!(
        app.gql(Some(&t.admin.token), delete, json!({ "id": root }))
            .await
            .error_code(),
        "CONFLICT"
    );
    assert_eq!(
        app.gql(Some(&t.admin.token), delete, json!({ "id": child }))
            .await
            .data("/deleteObjective/deletedId"),
        &json!(child)
    );
    assert_eq!(
        app.gql(Some(&t.admin.token), delete, json!({ "id": root }))
            .await
            .data("/deleteObjective/deletedId"),
        &json!(root)
    );
}

#[tokio::test]
async fn invalid_input_is_bad_user_input_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let create = "mutation($input: CreateObjectiveInput!) { createObjective(input: $input) { objective { id } } }";
    let cases = [
        (json!({ "title": "   " }), "title"),
        (json!({ "title": "x".repeat(301) }), "title"),
        (json!({ "title": "ok", "weight": 0 }), "weight"),
        (json!({ "title": "ok", "weight": -2 }), "weight"),
        (json!({ "title": "ok", "weight": 1e300 }), "weight"),
        (json!({ "title": "ok", "parentId": "garbage" }), "parentId"),
        (
            json!({ "title": "ok", "teamId": crate::helpers::objective_id(1) }),
            "teamId",
        ),
    ];
    for (input, field) in cases {
        let response = app
            .gql(Some(&t.admin.token), create, json!({ "input": input }))
            .await;
        assert_eq!(
            response.error_code(),
            "BAD_USER_INPUT",
            "{input}: {}",
            response.body
        );
        assert_eq!(
            response.body.pointer("/errors/0/extensions/field"),
            Some(&json!(field)),
            "{}",
            response.body
        );
    }
    let missing_parent = app
        .gql(
            Some(&t.admin.token),
            create,
            json!({ "input": { "title": "ok", "parentId": crate::helpers::objective_id(424242) } }),
        )
        .await;
    assert_eq!(missing_parent.error_code(), "NOT_FOUND");
    let listed = app
        .gql(
            Some(&t.admin.token),
            "{ objectives { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.data("/objectives/edges"),
        &json!([]),
        "a failed write left something behind"
    );

    let root = app.objective(&t.admin, "root", None).await;
    let kr = app.key_result(&t.admin, &root, 0.0, 10.0, 1.0).await;
    let check_in = "mutation($id: ID!, $v: Float!, $c: Float) { checkIn(input: {keyResultId: $id, value: $v, confidence: $c}) { keyResult { id } } }";
    let bad_confidence = app
        .gql(
            Some(&t.admin.token),
            check_in,
            json!({ "id": kr, "v": 3.0, "c": 1.5 }),
        )
        .await;
    assert_eq!(bad_confidence.error_code(), "BAD_USER_INPUT");
    let huge = app
        .gql(
            Some(&t.admin.token),
            check_in,
            json!({ "id": kr, "v": 1e200 }),
        )
        .await;
    assert_eq!(huge.error_code(), "BAD_USER_INPUT");
    let history = app
        .gql(Some(&t.admin.token), "query($id: ID!) { node(id: $id) { ... on KeyResult { checkIns { value } currentValue } } }", json!({ "id": kr }))
        .await;
    assert_eq!(history.data("/node/checkIns"), &json!([]));
    assert!(history.data("/node/currentValue").is_null());
}

#[tokio::test]
async fn a_milestone_key_result_moves_with_its_milestones() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "Launch", None).await;
    let kr = app
        .gql(
            Some(&t.admin.token),
            "mutation($o: ID!) { createKeyResult(input: {objectiveId: $o, title: \"Ship\", kind: MILESTONE}) { keyResult { id } } }",
            json!({ "o": root }),
        )
        .await
        .data("/createKeyResult/keyResult/id")
        .as_str()
        .expect("id")
        .to_owned();
    let mut milestones = Vec::new();
    for title in ["design", "build", "test", "launch"] {
        let created = app
            .gql(
                Some(&t.admin.token),
                "mutation($o: ID!, $k: ID!, $t: String!) { createMilestone(input: {objectiveId: $o, keyResultId: $k, title: $t, dueOn: \"2027-03-31\"}) { milestone { id } } }",
                json!({ "o": root, "k": kr, "t": title }),
            )
            .await;
        milestones.push(
            created
                .data("/createMilestone/milestone/id")
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let done = "mutation($id: ID!) { updateMilestone(input: {id: $id, done: true}) { milestone { doneAt } } }";
    app.gql(Some(&t.admin.token), done, json!({ "id": milestones[0] }))
        .await
        .data("/updateMilestone/milestone/doneAt");
    assert!((app.progress(&t.admin, &root).await - 0.25).abs() < 1e-9);
    app.gql(Some(&t.admin.token), done, json!({ "id": milestones[1] }))
        .await
        .data("/updateMilestone/milestone/doneAt");
    assert!((app.progress(&t.admin, &root).await - 0.5).abs() < 1e-9);
    let refused = app.check_in(&t.admin, &kr, 1.0).await;
    assert_eq!(refused.error_code(), "BAD_USER_INPUT");
}
