//! MongoDB-backed fields: templates and custom fields, progress notes, the branch query, and
//! cross-store batching.

use goalgraph::store::pg::seed::{TreeShape, bench_tree};
use serde_json::json;

use crate::helpers::{Tenant, TestApp, eventually, objective_id, spawn_app};

const TEMPLATE: &str = "mutation($fields: [FieldDefinitionInput!]!) { setGoalTemplate(input: {fields: $fields}) { version fields { key type required allowedValues } } }";
const SET_FIELDS: &str = "mutation($id: ID!, $f: JSON!) { setCustomFields(input: {objectiveId: $id, fields: $f}) { objective { customFields } } }";

async fn with_template(app: &TestApp, t: &Tenant) {
    let fields = json!([
        { "key": "region", "type": "enum", "required": true, "allowedValues": ["EMEA", "APAC", "AMER"] },
        { "key": "budget", "type": "number" },
        { "key": "launch", "type": "date" },
    ]);
    let response = app
        .gql(Some(&t.admin.token), TEMPLATE, json!({ "fields": fields }))
        .await;
    assert_eq!(response.data("/setGoalTemplate/version"), &json!(1));
}

#[tokio::test]
async fn custom_fields_are_validated_against_the_versioned_template() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    with_template(&app, &t).await;
    let again = app
        .gql(
            Some(&t.admin.token),
            TEMPLATE,
            json!({ "fields": [{ "key": "region", "type": "string" }] }),
        )
        .await;
    assert_eq!(again.data("/setGoalTemplate/version"), &json!(2));
    let third = app
        .gql(
            Some(&t.admin.token),
            TEMPLATE,
            json!({ "fields": [
        { "key": "region", "type": "enum", "required": true, "allowedValues": ["EMEA", "APAC"] },
        { "key": "budget", "type": "number" },
        { "key": "launch", "type": "date" },
    ] }),
        )
        .await;
    assert_eq!(third.data("/setGoalTemplate/version"), &json!(3));
    let history = app
        .gql(
            Some(&t.admin.token),
            "{ goalTemplate { version fields { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(history.data("/goalTemplate/version"), &json!(3));

    let objective = app.objective(&t.admin, "Expand", None).await;
    let ok = app
        .gql(Some(&t.admin.token), SET_FIELDS, json!({ "id": objective, "f": { "region": "EMEA", "budget": 2.5e6, "launch": "2027-04-01" } }))
        .await;
    assert_eq!(
        ok.data("/setCustomFields/objective/customFields"),
        &json!({ "region": "EMEA", "budget": 2.5e6, "launch": "2027-04-01" })
    );

    let bad = app
        .gql(Some(&t.admin.token), SET_FIELDS, json!({ "id": objective, "f": { "region": "MARS", "budget": "lots", "colour": "red", "launch": "tomorrow" } }))
        .await;
    assert_eq!(bad.error_code(), "BAD_USER_INPUT");
    let named: Vec<&str> = bad.body["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    for field in ["region", "budget", "colour", "launch"] {
        assert!(named.contains(&field), "{field} not named: {}", bad.body);
    }
    let missing_required = app
        .gql(
            Some(&t.admin.token),
            SET_FIELDS,
            json!({ "id": objective, "f": { "budget": 1 } }),
        )
        .await;
    assert_eq!(missing_required.error_code(), "BAD_USER_INPUT");
    // Nothing of the failed writes was stored.
    let now = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { customFields } }",
            json!({ "id": objective }),
        )
        .await;
    assert_eq!(now.data("/objective/customFields/region"), &json!("EMEA"));
}

#[tokio::test]
async fn operators_in_custom_field_values_and_filters_are_data_never_executed() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let fields = json!([{ "key": "region", "type": "string" }]);
    app.gql(Some(&t.admin.token), TEMPLATE, json!({ "fields": fields }))
        .await
        .data("/setGoalTemplate");
    let root = app.objective(&t.admin, "root", None).await;
    let child = app.objective(&t.admin, "child", Some(&root)).await;
    let injected = app
        .gql(
            Some(&t.admin.token),
            SET_FIELDS,
            json!({ "id": child, "f": { "region": { "$gt": "" } } }),
        )
        .await;
    assert_eq!(injected.error_code(), "BAD_USER_INPUT");
    let key_injection = app
        .gql(
            Some(&t.admin.token),
            SET_FIELDS,
            json!({ "id": child, "f": { "$where": "sleep(1000)" } }),
        )
        .await;
    assert_eq!(key_injection.error_code(), "BAD_USER_INPUT");
    // A string that looks like an operator is stored as a string.
    app.gql(
        Some(&t.admin.token),
        SET_FIELDS,
        json!({ "id": child, "f": { "region": "{\"$gt\": \"\"}" } }),
    )
    .await
    .data("/setCustomFields");
    let branch =
        "query($u: ID!, $w: [CustomFieldCondition!]) { branch(under: $u, where: $w) { title } }";
    eventually(10, "the relay to write the tree", || async {
        let r = app
            .gql(Some(&t.admin.token), branch, json!({ "u": root, "w": [] }))
            .await;
        r.body
            .pointer("/data/branch")
            .and_then(|b| b.as_array())
            .is_some_and(|b| b.len() == 1)
    })
    .await;
    let as_operator = app
        .gql(
            Some(&t.admin.token),
            branch,
            json!({ "u": root, "w": [{ "key": "region", "equals": { "$gt": "" } }] }),
        )
        .await;
    assert_eq!(as_operator.error_code(), "BAD_USER_INPUT");
    let as_key = app
        .gql(
            Some(&t.admin.token),
            branch,
            json!({ "u": root, "w": [{ "key": "$where", "equals": "x" }] }),
        )
        .await;
    assert_eq!(as_key.error_code(), "BAD_USER_INPUT");
    let literal = app
        .gql(
            Some(&t.admin.token),
            branch,
            json!({ "u": root, "w": [{ "key": "region", "equals": "{\"$gt\": \"\"}" }] }),
        )
        .await;
    assert_eq!(literal.data("/branch"), &json!([{ "title": "child" }]));
}

#[tokio::test]
async fn the_branch_query_filters_a_subtree_by_custom_fields() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    with_template(&app, &t).await;
    let company = app.objective(&t.admin, "company", None).await;
    let emea = app.objective(&t.admin, "emea", Some(&company)).await;
    let emea_team = app.objective(&t.admin, "emea team", Some(&emea)).await;
    let apac = app.objective(&t.admin, "apac", Some(&company)).await;
    let elsewhere = app.objective(&t.admin, "elsewhere", None).await;
    for (id, region) in [
        (&emea, "EMEA"),
        (&emea_team, "EMEA"),
        (&apac, "APAC"),
        (&elsewhere, "EMEA"),
    ] {
        app.gql(
            Some(&t.admin.token),
            SET_FIELDS,
            json!({ "id": id, "f": { "region": region } }),
        )
        .await
        .data("/setCustomFields");
    }
    let query = "query($u: ID!) { branch(under: $u, where: [{key: \"region\", equals: \"EMEA\"}]) { title } }";
    eventually(10, "the relay", || async {
        app.gql(Some(&t.admin.token), query, json!({ "u": company }))
            .await
            .body
            .pointer("/data/branch")
            == Some(&json!([{ "title": "emea" }, { "title": "emea team" }]))
    })
    .await;
    let under_emea = app
        .gql(Some(&t.admin.token), query, json!({ "u": emea }))
        .await;
    assert_eq!(
        under_emea.data("/branch"),
        &json!([{ "title": "emea team" }])
    );
}

#[tokio::test]
async fn progress_notes_keep_their_edit_history_and_check_in_notes_arrive() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let objective = app.objective(&t.admin, "Grow", None).await;
    let kr = app.key_result(&t.admin, &objective, 0.0, 10.0, 1.0).await;
    let added = app
        .gql(Some(&t.admin.token), "mutation($o: ID!) { addProgressNote(input: {objectiveId: $o, body: \"Kick-off **done**\"}) { update { id body } } }", json!({ "o": objective }))
        .await;
    let note = added
        .data("/addProgressNote/update/id")
        .as_str()
        .expect("id")
        .to_owned();
    let edited = app
        .gql(Some(&t.admin.token), "mutation($id: ID!) { editProgressNote(input: {id: $id, body: \"Kick-off done, late\"}) { update { body edits { body } } } }", json!({ "id": note }))
        .await;
    assert_eq!(
        edited.data("/editProgressNote/update/edits"),
        &json!([{ "body": "Kick-off **done**" }])
    );
    let other = app
        .user(&t, goalgraph::domain::role::Role::Member, None)
        .await;
    let not_author = app
        .gql(Some(&other.token), "mutation($id: ID!) { editProgressNote(input: {id: $id, body: \"mine now\"}) { update { id } } }", json!({ "id": note }))
        .await;
    assert_eq!(not_author.error_code(), "FORBIDDEN");

    let check_in = app
        .gql(Some(&t.admin.token), "mutation($kr: ID!) { checkIn(input: {keyResultId: $kr, value: 4, note: \"40% there\"}) { keyResult { progress } } }", json!({ "kr": kr }))
        .await;
    assert!(
        (check_in
            .data("/checkIn/keyResult/progress")
            .as_f64()
            .expect("p")
            - 0.4)
            .abs()
            < 1e-9
    );
    let latest = "query($kr: ID!, $o: ID!) { node(id: $kr) { ... on KeyResult { latestUpdate { kind body } } } objective(id: $o) { updates { body } latestUpdate { body } } }";
    eventually(10, "the check-in note to be relayed", || async {
        let r = app
            .gql(
                Some(&t.admin.token),
                latest,
                json!({ "kr": kr, "o": objective }),
            )
            .await;
        r.body.pointer("/data/node/latestUpdate/body") == Some(&json!("40% there"))
    })
    .await;
    let r = app
        .gql(
            Some(&t.admin.token),
            latest,
            json!({ "kr": kr, "o": objective }),
        )
        .await;
    assert_eq!(r.data("/node/latestUpdate/kind"), &json!("check_in"));
    assert_eq!(
        r.data("/objective/updates"),
        &json!([{ "body": "40% there" }, { "body": "Kick-off done, late" }])
    );
    assert_eq!(r.data("/objective/latestUpdate/body"), &json!("40% there"));
}

/// Custom fields and the latest note of every objective of a subtree.
const PAGE: &str = "query($id: ID!) { objective(id: $id) { descendants { objective { title customFields latestUpdate { body } keyResults { latestUpdate { body } } } } } }";

#[tokio::test]
async fn mongodb_commands_for_500_objectives_are_the_same_few_as_for_5() {
    let app = spawn_app().await;
    let t = app.tenant("bench").await;
    // A 4-level tree of branching 8 has 1 + 8 + 64 + 512 = 585 objectives; a grandchild's
    // subtree is itself and its 8 children.
    let root = bench_tree(
        &app.db,
        t.id,
        t.admin.id,
        TreeShape {
            levels: 4,
            branching: 8,
        },
    )
    .await
    .expect("seed");
    let small_root = root + 9; // spec objective 10, the first grandchild
    let small_child = root + 73; // spec objective 74, its first child
    app.gql(
        Some(&t.admin.token),
        "mutation($o: ID!) { addProgressNote(input: {objectiveId: $o, body: \"note\"}) { update { id } } }",
        json!({ "o": objective_id(small_child) }),
    )
    .await
    .data("/addProgressNote");
    let large = app
        .gql(
            Some(&t.admin.token),
            PAGE,
            json!({ "id": objective_id(root) }),
        )
        .await;
    let small = app
        .gql(
            Some(&t.admin.token),
            PAGE,
            json!({ "id": objective_id(small_root) }),
        )
        .await;
    assert_eq!(
        large
            .data("/objective/descendants")
            .as_array()
            .expect("list")
            .len(),
        584
    );
    assert_eq!(
        small
            .data("/objective/descendants")
            .as_array()
            .expect("list")
            .len(),
        8
    );
    assert_eq!(
        small.data("/objective/descendants/0/objective/latestUpdate/body"),
        &json!("note")
    );
    eprintln!(
        "MongoDB commands: {} objectives -> {}, {} objectives -> {}",
        584, large.mongo_commands, 8, small.mongo_commands
    );
    // goal_trees by $in, notes by objective, notes by key result: one command each.
    assert_eq!(large.mongo_commands, 3);
    assert_eq!(small.mongo_commands, 3);
}
