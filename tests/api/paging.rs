//! Relay paging everywhere a list can grow: forward and backward pages with opaque cursors on
//! the root connections, an objective's children, a key result's check-ins, an objective's
//! notes and a branch; one statement or command per query level; notes refetchable by
//! `node(id:)`.

use goalgraph::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, eventually, spawn_app};

/// Every page of a connection field at `pointer`, reading forward with `first` (or backward
/// with `last`); the nodes' `field` in the order the pages give them, and the pages' count.
async fn read_all(
    app: &TestApp,
    actor: &Actor,
    query: &str,
    variables: Value,
    pointer: &str,
    backward: bool,
    field: &str,
) -> (Vec<Value>, usize) {
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut variables = variables.clone();
        variables["cursor"] = json!(cursor);
        let response = app.gql(Some(&actor.token), query, variables).await;
        let connection = response.data(pointer).clone();
        let nodes: Vec<Value> = connection["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["node"][field].clone())
            .collect();
        pages += 1;
        let info = &connection["pageInfo"];
        if backward {
            seen.splice(0..0, nodes);
            if info["hasPreviousPage"] != json!(true) {
                return (seen, pages);
            }
            cursor = info["startCursor"].as_str().map(str::to_owned);
        } else {
            seen.extend(nodes);
            if info["hasNextPage"] != json!(true) {
                return (seen, pages);
            }
            cursor = info["endCursor"].as_str().map(str::to_owned);
        }
        assert!(pages < 50, "paging does not end");
    }
}

const PAGE_INFO: &str = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";

#[tokio::test]
async fn root_connections_page_forward_and_backward() {
    let app = spawn_app().await;
    let t = app.tenant("paging").await;
    let mut titles = Vec::new();
    for n in 0..7 {
        let title = format!("objective {n}");
        app.objective(&t.admin, &title, None).await;
        titles.push(json!(title));
    }
    let forward = format!(
        "query($cursor: String) {{ objectives(first: 3, after: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }}"
    );
    let backward = format!(
        "query($cursor: String) {{ objectives(last: 3, before: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }}"
    );
    let read = |query: String, backward: bool| {
        let app = &app;
        let admin = &t.admin;
        async move {
            read_all(
                app,
                admin,
                &query,
                json!({}),
                "/objectives",
                backward,
                "title",
            )
            .await
        }
    };
    assert_eq!(read(forward, false).await, (titles.clone(), 3));
    assert_eq!(read(backward, true).await, (titles.clone(), 3));

    let last_two = app
        .gql(
            Some(&t.admin.token),
            &format!("{{ objectives(last: 2) {{ nodes {{ title }} totalCount {PAGE_INFO} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        last_two.data("/objectives/nodes"),
        &json!([{ "title": "objective 5" }, { "title": "objective 6" }])
    );
    assert_eq!(last_two.data("/objectives/totalCount"), &json!(7));
    assert_eq!(
        last_two.data("/objectives/pageInfo/hasPreviousPage"),
        &json!(true)
    );
    for (query, field) in [
        ("{ objectives(first: 1, last: 1) { nodes { id } } }", "last"),
        (
            "{ objectives(before: \"bm9wZQ\") { nodes { id } } }",
            "before",
        ),
        ("{ teams(last: 101) { nodes { id } } }", "last"),
    ] {
        let refused = app.gql(Some(&t.admin.token), query, json!({})).await;
        let code = refused.error_code().to_owned();
        assert!(
            code == "BAD_USER_INPUT" || code == "PAGE_TOO_LARGE",
            "{query}: {:?}",
            refused.body
        );
        if code == "BAD_USER_INPUT" {
            assert_eq!(refused.body["errors"][0]["extensions"]["field"], field);
        }
    }
}

#[tokio::test]
async fn the_children_of_a_wide_objective_come_a_page_at_a_time_without_the_private_one() {
    let app = spawn_app().await;
    let t = app.tenant("wide").await;
    let member = app.user(&t, Role::Member, None).await;
    let parent = app.objective(&t.admin, "wide", None).await;
    let mut visible = Vec::new();
    for n in 0..23 {
        let child = app
            .objective(&t.admin, &format!("child {n:02}"), Some(&parent))
            .await;
        if n == 11 {
            app.gql(
                Some(&t.admin.token),
                "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
                json!({ "input": { "id": child, "visibility": "PRIVATE" } }),
            )
            .await
            .data("/updateObjective");
        } else {
            visible.push(json!(format!("child {n:02}")));
        }
    }
    let forward = format!(
        "query($id: ID!, $cursor: String) {{ objective(id: $id) {{ childrenConnection(first: 5, after: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }} }}"
    );
    let backward = format!(
        "query($id: ID!, $cursor: String) {{ objective(id: $id) {{ childrenConnection(last: 10, before: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }} }}"
    );
    let variables = json!({ "id": parent });
    let pointer = "/objective/childrenConnection";
    let (titles, pages) = read_all(
        &app,
        &member,
        &forward,
        variables.clone(),
        pointer,
        false,
        "title",
    )
    .await;
    assert_eq!((titles, pages), (visible.clone(), 5));
    let (titles, pages) =
        read_all(&app, &member, &backward, variables, pointer, true, "title").await;
    assert_eq!((titles, pages), (visible, 3));
}

#[tokio::test]
async fn nested_pages_cost_one_statement_per_level_whatever_the_number_of_parents() {
    let app = spawn_app().await;
    let t = app.tenant("batched").await;
    let root = app.objective(&t.admin, "root", None).await;
    let mut statements = Vec::new();
    for parents in [2, 6] {
        while app
            .gql(
                Some(&t.admin.token),
                "query($id: ID!) { objective(id: $id) { children { id } } }",
                json!({ "id": root }),
            )
            .await
            .data("/objective/children")
            .as_array()
            .expect("children")
            .len()
            < parents
        {
            let parent = app.objective(&t.admin, "parent", Some(&root)).await;
            for n in 0..3 {
                app.objective(&t.admin, &format!("leaf {n}"), Some(&parent))
                    .await;
            }
            let kr = app.key_result(&t.admin, &parent, 0.0, 10.0, 1.0).await;
            for value in [1.0, 2.0, 3.0] {
                app.check_in(&t.admin, &kr, value).await.data("/checkIn");
            }
        }
        let response = app
            .gql(
                Some(&t.admin.token),
                "query($id: ID!) { objective(id: $id) { children { childrenConnection(first: 2) { nodes { title } pageInfo { hasNextPage } } keyResults { checkInsConnection(last: 2) { nodes { value } } } updatesConnection(first: 2) { nodes { body } } } } }",
                json!({ "id": root }),
            )
            .await;
        for child in response
            .data("/objective/children")
            .as_array()
            .expect("children")
        {
            assert_eq!(
                child["childrenConnection"]["nodes"]
                    .as_array()
                    .map(Vec::len),
                Some(2)
            );
            assert_eq!(child["childrenConnection"]["pageInfo"]["hasNextPage"], true);
            assert_eq!(
                child["keyResults"][0]["checkInsConnection"]["nodes"],
                json!([{ "value": 2.0 }, { "value": 1.0 }])
            );
        }
        statements.push((response.statements, response.mongo_commands));
    }
    assert_eq!(
        statements[0], statements[1],
        "{statements:?} for 2 and 6 parents"
    );
}

#[tokio::test]
async fn check_ins_page_newest_first_and_notes_by_opaque_cursors_and_node() {
    let app = spawn_app().await;
    let t = app.tenant("history").await;
    let objective = app.objective(&t.admin, "history", None).await;
    let kr = app.key_result(&t.admin, &objective, 0.0, 100.0, 1.0).await;
    for value in 1..=7 {
        app.check_in(&t.admin, &kr, f64::from(value))
            .await
            .data("/checkIn");
    }
    let check_ins = format!(
        "query($id: ID!, $cursor: String) {{ node(id: $id) {{ ... on KeyResult {{ checkInsConnection(first: 3, after: $cursor) {{ edges {{ node {{ value }} }} {PAGE_INFO} }} }} }} }}"
    );
    let (values, pages) = read_all(
        &app,
        &t.admin,
        &check_ins,
        json!({ "id": kr }),
        "/node/checkInsConnection",
        false,
        "value",
    )
    .await;
    let newest_first: Vec<Value> = (1..=7).rev().map(|v| json!(f64::from(v))).collect();
    assert_eq!((values, pages), (newest_first, 3));

    let mut bodies = Vec::new();
    for n in 0..5 {
        let body = format!("note {n}");
        app.gql(
            Some(&t.admin.token),
            "mutation($o: ID!, $b: String!) { addProgressNote(input: {objectiveId: $o, body: $b}) { update { id } } }",
            json!({ "o": objective, "b": body }),
        )
        .await
        .data("/addProgressNote");
        bodies.insert(0, json!(body));
    }
    let notes = format!(
        "query($id: ID!, $cursor: String) {{ objective(id: $id) {{ updatesConnection(last: 2, before: $cursor) {{ edges {{ cursor node {{ id body }} }} {PAGE_INFO} }} }} }}"
    );
    let (read, pages) = read_all(
        &app,
        &t.admin,
        &notes,
        json!({ "id": objective }),
        "/objective/updatesConnection",
        true,
        "body",
    )
    .await;
    assert_eq!((read, pages), (bodies, 3));
    // The deprecated list pages after a note's ID, as its argument says.
    let deprecated = "query($id: ID!, $after: String) { objective(id: $id) { updates(first: 2, after: $after) { id body } } }";
    let newest = app
        .gql(Some(&t.admin.token), deprecated, json!({ "id": objective }))
        .await;
    let newest = newest.data("/objective/updates").clone();
    assert_eq!(newest[0]["body"], "note 4");
    let older = app
        .gql(
            Some(&t.admin.token),
            deprecated,
            json!({ "id": objective, "after": newest[1]["id"] }),
        )
        .await;
    let older: Vec<Value> = older
        .data("/objective/updates")
        .as_array()
        .expect("list")
        .iter()
        .map(|note| note["body"].clone())
        .collect();
    assert_eq!(older, [json!("note 2"), json!("note 1")]);

    // Cursors and IDs are opaque (not the documents' ObjectIds), and a note is a Node.
    let first = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { updatesConnection(first: 1) { edges { cursor node { id body } } } } }",
            json!({ "id": objective }),
        )
        .await;
    let edge = first.data("/objective/updatesConnection/edges/0").clone();
    for opaque in [&edge["cursor"], &edge["node"]["id"]] {
        let text = opaque.as_str().expect("string");
        assert!(
            !(text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit())),
            "{text} is a raw ObjectId"
        );
    }
    let refetch = "query($id: ID!) { node(id: $id) { __typename id ... on GoalUpdate { body } } }";
    let node = app
        .gql(
            Some(&t.admin.token),
            refetch,
            json!({ "id": edge["node"]["id"] }),
        )
        .await;
    assert_eq!(
        node.data("/node"),
        &json!({ "__typename": "GoalUpdate", "id": edge["node"]["id"], "body": "note 4" })
    );
    // Someone who may not see the objective cannot see its note either.
    let outsider_tenant = app.tenant("outsider").await;
    let hidden = app
        .gql(
            Some(&outsider_tenant.admin.token),
            refetch,
            json!({ "id": edge["node"]["id"] }),
        )
        .await;
    assert_eq!(hidden.data("/node"), &Value::Null);
}

#[tokio::test]
async fn a_branch_pages_in_tree_order_both_ways() {
    let app = spawn_app().await;
    let t = app.tenant("branch").await;
    let root = app.objective(&t.admin, "root", None).await;
    let mut expected = Vec::new();
    for a in 0..3 {
        let child = app.objective(&t.admin, &format!("{a}"), Some(&root)).await;
        expected.push(json!(format!("{a}")));
        for b in 0..2 {
            app.objective(&t.admin, &format!("{a}.{b}"), Some(&child))
                .await;
            expected.push(json!(format!("{a}.{b}")));
        }
    }
    let forward = format!(
        "query($id: ID!, $cursor: String) {{ branchConnection(under: $id, first: 4, after: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }}"
    );
    let backward = format!(
        "query($id: ID!, $cursor: String) {{ branchConnection(under: $id, last: 4, before: $cursor) {{ edges {{ node {{ title }} }} {PAGE_INFO} }} }}"
    );
    // The goal_trees documents arrive through the relay; tree order is the order of their
    // materialised paths (as text), which `branch` gives in one list.
    let all = "query($id: ID!) { branch(under: $id, first: 500) { title } }";
    eventually(10, "the relay", || async {
        let listed = app
            .gql(Some(&t.admin.token), all, json!({ "id": root }))
            .await;
        listed.data("/branch").as_array().map(Vec::len) == Some(expected.len())
    })
    .await;
    let listed = app
        .gql(Some(&t.admin.token), all, json!({ "id": root }))
        .await;
    let in_tree_order: Vec<Value> = listed
        .data("/branch")
        .as_array()
        .expect("list")
        .iter()
        .map(|node| node["title"].clone())
        .collect();
    let mut sorted = in_tree_order.clone();
    sorted.sort_by_key(|title| title.as_str().map(str::to_owned));
    expected.sort_by_key(|title| title.as_str().map(str::to_owned));
    assert_eq!(sorted, expected);
    let (titles, pages) = read_all(
        &app,
        &t.admin,
        &forward,
        json!({ "id": root }),
        "/branchConnection",
        false,
        "title",
    )
    .await;
    assert_eq!((titles, pages), (in_tree_order.clone(), 3));
    let (titles, pages) = read_all(
        &app,
        &t.admin,
        &backward,
        json!({ "id": root }),
        "/branchConnection",
        true,
        "title",
    )
    .await;
    assert_eq!((titles, pages), (in_tree_order, 3));
}
