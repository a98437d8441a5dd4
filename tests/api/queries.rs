//! Reads: node lookup, pagination with a capped page size, and the objective filters.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn objectives_page_through_with_opaque_cursors() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    for i in 0..7 {
        app.objective(&t.admin, &format!("Objective {i}"), None)
            .await;
    }
    let query = "query($after: String) { objectives(first: 3, after: $after) { edges { cursor node { title } } pageInfo { hasNextPage endCursor } } }";
    let mut after: Option<String> = None;
    let mut titles = Vec::new();
    loop {
        let page = app
            .gql(Some(&t.admin.token), query, json!({ "after": after }))
            .await;
        for edge in page.data("/objectives/edges").as_array().expect("edges") {
            titles.push(edge["node"]["title"].as_str().expect("title").to_owned());
        }
        if !page
            .data("/objectives/pageInfo/hasNextPage")
            .as_bool()
            .expect("bool")
        {
            break;
        }
        after = page
            .data("/objectives/pageInfo/endCursor")
            .as_str()
            .map(str::to_owned);
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Objective {i}")).collect();
    assert_eq!(titles, expected);
}

#[tokio::test]
async fn a_page_larger_than_the_cap_or_a_forged_cursor_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let too_big = app
        .gql(
            Some(&t.admin.token),
            "{ objectives(first: 101) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(too_big.error_code(), "PAGE_TOO_LARGE");
    assert!(too_big.error_message().contains("at most 100"));
    let forged = app
        .gql(
            Some(&t.admin.token),
            "{ objectives(after: \"abc\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(forged.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn filters_narrow_by_status_text_owner_and_team_with_sub_teams() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let create_team = "mutation($n: String!, $p: ID) { createTeam(input: {name: $n, kind: TEAM, parentId: $p}) { team { id } } }";
    let company = app
        .gql(Some(&t.admin.token), create_team, json!({ "n": "Company" }))
        .await
        .data("/createTeam/team/id")
        .clone();
    let sales = app
        .gql(
            Some(&t.admin.token),
            create_team,
            json!({ "n": "Sales", "p": company }),
        )
        .await
        .data("/createTeam/team/id")
        .clone();
    let create = "mutation($input: CreateObjectiveInput!) { createObjective(input: $input) { objective { id } } }";
    for (title, status, team) in [
        ("Grow revenue 50%", "ON_TRACK", Some(&company)),
        ("Grow_margin", "AT_RISK", Some(&sales)),
        ("Hire", "AT_RISK", None),
    ] {
        app.gql(
            Some(&t.admin.token),
            create,
            json!({ "input": { "title": title, "status": status, "teamId": team } }),
        )
        .await
        .data("/createObjective");
    }
    let titles = |filter: serde_json::Value| {
        let app = &app;
        let token = t.admin.token.clone();
        async move {
            let response = app
                .gql(Some(&token), "query($f: ObjectiveFilter) { objectives(filter: $f) { edges { node { title } } } }", json!({ "f": filter }))
                .await;
            response
                .data("/objectives/edges")
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["title"].as_str().expect("title").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        titles(json!({ "status": ["AT_RISK"] })).await,
        ["Grow_margin", "Hire"]
    );
    assert_eq!(
        titles(json!({ "text": "grow" })).await,
        ["Grow revenue 50%", "Grow_margin"]
    );
    // LIKE wildcards in the text are literal.
    assert_eq!(titles(json!({ "text": "50%" })).await, ["Grow revenue 50%"]);
    assert_eq!(titles(json!({ "text": "w_m" })).await, ["Grow_margin"]);
    assert_eq!(titles(json!({ "text": "%" })).await, ["Grow revenue 50%"]);
    assert_eq!(
        titles(json!({ "teamId": company })).await,
        ["Grow revenue 50%"]
    );
    assert_eq!(
        titles(json!({ "teamId": company, "includeSubTeams": true })).await,
        ["Grow revenue 50%", "Grow_margin"]
    );
    let owner = app
        .gql(Some(&t.admin.token), "{ viewer { id } }", json!({}))
        .await
        .data("/viewer/id")
        .clone();
    assert_eq!(titles(json!({ "ownerId": owner })).await.len(), 3);
}

#[tokio::test]
async fn node_refetches_every_kind_by_global_id() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let objective = app.objective(&t.admin, "Grow", None).await;
    let kr = app.key_result(&t.admin, &objective, 0.0, 100.0, 1.0).await;
    let team = app
        .gql(
            Some(&t.admin.token),
            "mutation { createTeam(input: {name: \"Ops\", kind: DEPARTMENT}) { team { id } } }",
            json!({}),
        )
        .await
        .data("/createTeam/team/id")
        .clone();
    let cycle = app
        .gql(Some(&t.admin.token), "mutation { createCycle(input: {name: \"FY2027 Q1\", startsOn: \"2027-01-01\", endsOn: \"2027-03-31\"}) { cycle { id fiscalYear } } }", json!({}))
        .await;
    assert_eq!(cycle.data("/createCycle/cycle/fiscalYear"), &json!(2027));
    let cycle = cycle.data("/createCycle/cycle/id").clone();
    let user = app
        .gql(Some(&t.admin.token), "{ viewer { id } }", json!({}))
        .await
        .data("/viewer/id")
        .clone();
    for (id, typename) in [
        (json!(objective), "Objective"),
        (json!(kr), "KeyResult"),
        (team, "Team"),
        (cycle, "Cycle"),
        (user, "User"),
    ] {
        let node = app
            .gql(
                Some(&t.admin.token),
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(node.data("/node/__typename"), &json!(typename));
        assert_eq!(node.data("/node/id"), &id);
    }
    let missing = app
        .gql(
            Some(&t.admin.token),
            "{ node(id: \"bm9wZQ\") { id } }",
            json!({}),
        )
        .await;
    assert!(missing.data("/node").is_null());
}

#[tokio::test]
async fn connections_count_every_page_only_when_asked() {
    let app = spawn_app().await;
    let t = app.tenant("counted").await;
    let root = app.objective(&t.admin, "root", None).await;
    for n in 0..4 {
        app.objective(&t.admin, &format!("child {n}"), Some(&root))
            .await;
    }
    let token = Some(t.admin.token.as_str());
    let counted = app
        .gql(
            token,
            "query($root: ID!) { objectives(first: 2, filter: { parentId: $root }) { totalCount \
             edges { node { title } } pageInfo { hasNextPage } } \
             teams { totalCount } users { totalCount } }",
            json!({ "root": root }),
        )
        .await;
    assert_eq!(counted.data("/objectives/totalCount"), 4);
    assert_eq!(
        counted
            .data("/objectives/edges")
            .as_array()
            .expect("list")
            .len(),
        2
    );
    assert_eq!(counted.data("/objectives/pageInfo/hasNextPage"), true);
    assert_eq!(counted.data("/teams/totalCount"), 0);
    assert_eq!(counted.data("/users/totalCount"), 1);
    // The count is one statement more, and only when selected.
    let plain = "{ objectives(first: 2) { edges { node { title } } } }";
    let with_count = "{ objectives(first: 2) { totalCount edges { node { title } } } }";
    let without = app.gql(token, plain, json!({})).await;
    let with = app.gql(token, with_count, json!({})).await;
    assert_eq!(with.data("/objectives/totalCount"), 5);
    assert_eq!(with.statements, without.statements + 1);
}
