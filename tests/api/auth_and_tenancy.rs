//! Authentication, roles, private objectives, and tenants never seeing each other.

use goalgraph::domain::role::Role;
use serde_json::json;

use crate::helpers::{Tenant, TestApp, spawn_app};

const READ_OBJECTIVE: &str = "query($id: ID!) { objective(id: $id) { id title } }";

/// Status, `WWW-Authenticate` and body of a POST with `token` (if any).
async fn post(app: &TestApp, token: Option<&str>, query: &str) -> (u16, String, serde_json::Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("text").to_owned())
        .unwrap_or_default();
    (status, challenge, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge_except_for_introspection() {
    let app = spawn_app().await;
    for query in [
        "{ objectives { edges { node { id } } } }",
        "mutation { createObjective(input: {title: \"x\"}) { objective { id } } }",
        "{ __typename viewer { id } }",
    ] {
        let (status, challenge, body) = post(&app, None, query).await;
        assert_eq!(status, 401, "{query}");
        assert_eq!(challenge, r#"Bearer realm="goalgraph""#);
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body.get("data").is_none() || body["data"].is_null());
    }
    // Anonymous callers may introspect (the schema is public: schema.graphql, `goalgraph
    // schema`), so IDEs and code generators work before a token is pasted.
    let (status, _, body) = post(&app, None, "{ __schema { queryType { name } } }").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["__schema"]["queryType"]["name"].is_string());
}

#[tokio::test]
async fn a_bad_token_is_401_with_invalid_token_whatever_it_asks() {
    let app = spawn_app().await;
    let tenant = app.tenant("acme").await;
    let other_keys = goalgraph::auth::TokenKeys::new(b"some-other-secret-some-other-secret")
        .expect("token keys");
    let forged = other_keys.issue(tenant.id, tenant.admin.id, Role::Admin, 60);
    let ghost = app.keys.issue(tenant.id, 999_999, Role::Admin, 60);
    for token in ["not-a-jwt", forged.as_str(), ghost.as_str()] {
        for query in ["{ viewer { id } }", "{ __schema { queryType { name } } }"] {
            let (status, challenge, body) = post(&app, Some(token), query).await;
            assert_eq!(status, 401, "{query}");
            assert!(
                challenge.starts_with(r#"Bearer realm="goalgraph", error="invalid_token""#),
                "{challenge}"
            );
            assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        }
    }
    // The same answer in application/graphql-response+json, without `data`.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth("not-a-jwt")
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_viewer_cannot_write() {
    let app = spawn_app().await;
    let tenant = app.tenant("acme").await;
    let viewer = app.user(&tenant, Role::Viewer, None).await;
    let response = app
        .gql(
            Some(&viewer.token),
            "mutation { createObjective(input: {title: \"x\"}) { objective { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(response.error_code(), "FORBIDDEN");
}

#[tokio::test]
async fn a_token_never_grants_more_than_the_users_stored_role() {
    let app = spawn_app().await;
    let tenant = app.tenant("acme").await;
    let viewer = app.user(&tenant, Role::Viewer, None).await;
    let inflated = app.keys.issue(tenant.id, viewer.id, Role::Admin, 60);
    let response = app
        .gql(
            Some(&inflated),
            "mutation { createObjective(input: {title: \"x\"}) { objective { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(response.error_code(), "FORBIDDEN");
}

/// Tenant A with a small tree, key results and a team; returns the IDs tenant B will probe.
async fn tenant_a_with_data(app: &TestApp) -> (Tenant, Vec<String>) {
    let a = app.tenant("alpha").await;
    let root = app.objective(&a.admin, "Alpha root", None).await;
    let child = app.objective(&a.admin, "Alpha child", Some(&root)).await;
    let kr = app.key_result(&a.admin, &child, 0.0, 10.0, 1.0).await;
    let team = app
        .gql(
            Some(&a.admin.token),
            "mutation { createTeam(input: {name: \"Alpha team\", kind: TEAM}) { team { id } } }",
            json!({}),
        )
        .await
        .data("/createTeam/team/id")
        .as_str()
        .expect("id")
        .to_owned();
    let viewer = app
        .gql(Some(&a.admin.token), "{ viewer { id } }", json!({}))
        .await
        .data("/viewer/id")
        .as_str()
        .expect("id")
        .to_owned();
    (a, vec![root, child, kr, team, viewer])
}

#[tokio::test]
async fn tenant_b_sees_nothing_of_tenant_a_through_any_read() {
    let app = spawn_app().await;
    let (_a, a_ids) = tenant_a_with_data(&app).await;
    let b = app.tenant("beta").await;
    let b_root = app.objective(&b.admin, "Beta root", None).await;

    for id in &a_ids {
        let node = app
            .gql(
                Some(&b.admin.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(
            node.data("/node").is_null(),
            "node({id}) leaked: {}",
            node.body
        );
        let objective = app
            .gql(Some(&b.admin.token), READ_OBJECTIVE, json!({ "id": id }))
            .await;
        assert!(
            objective.data("/objective").is_null(),
            "objective({id}) leaked"
        );
        let team = app
            .gql(
                Some(&b.admin.token),
                "query($id: ID!) { team(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(team.data("/team").is_null(), "team({id}) leaked");
    }
    let nodes = app
        .gql(
            Some(&b.admin.token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": a_ids }),
        )
        .await;
    assert!(
        nodes
            .data("/nodes")
            .as_array()
            .expect("list")
            .iter()
            .all(|n| n.is_null())
    );

    let lists = app
        .gql(
            Some(&b.admin.token),
            "{ objectives(first: 100, filter: {includeArchived: true}) { edges { node { title } } }
               teams { edges { node { name } } }
               users { edges { node { name } } } }",
            json!({}),
        )
        .await;
    let text = lists.body.to_string();
    assert!(!text.contains("Alpha"), "a list leaked tenant A: {text}");
    assert!(!text.contains("alpha"), "a list leaked tenant A: {text}");
    assert_eq!(
        lists
            .data("/objectives/edges")
            .as_array()
            .expect("edges")
            .len(),
        1
    );

    let nested = app
        .gql(
            Some(&b.admin.token),
            "query($id: ID!) { objective(id: $id) { children { id } descendants { objective { id } } ancestors { id } keyResults { id } } }",
            json!({ "id": b_root }),
        )
        .await;
    assert_eq!(nested.data("/objective/children"), &json!([]));
    assert_eq!(nested.data("/objective/descendants"), &json!([]));
}

#[tokio::test]
async fn tenant_b_cannot_write_to_tenant_a() {
    let app = spawn_app().await;
    let (_a, a_ids) = tenant_a_with_data(&app).await;
    let (a_root, a_kr) = (&a_ids[0], &a_ids[2]);
    let b = app.tenant("beta").await;
    let b_root = app.objective(&b.admin, "Beta root", None).await;
    let attempts = [
        (
            "mutation($id: ID!) { updateObjective(input: {id: $id, title: \"pwned\"}) { objective { id } } }",
            json!({ "id": a_root }),
        ),
        (
            "mutation($id: ID!) { archiveObjective(id: $id) { objective { id } } }",
            json!({ "id": a_root }),
        ),
        (
            "mutation($id: ID!) { deleteObjective(id: $id) { deletedId } }",
            json!({ "id": a_root }),
        ),
        (
            "mutation($id: ID!) { createObjective(input: {title: \"x\", parentId: $id}) { objective { id } } }",
            json!({ "id": a_root }),
        ),
        (
            "mutation($id: ID!, $p: ID!) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }",
            json!({ "id": b_root, "p": a_root }),
        ),
        (
            "mutation($id: ID!) { checkIn(input: {keyResultId: $id, value: 5}) { keyResult { id } } }",
            json!({ "id": a_kr }),
        ),
        (
            "mutation($id: ID!) { createKeyResult(input: {objectiveId: $id, title: \"x\", kind: NUMERIC}) { keyResult { id } } }",
            json!({ "id": a_root }),
        ),
    ];
    for (query, variables) in attempts {
        let response = app.gql(Some(&b.admin.token), query, variables).await;
        assert_eq!(
            response.error_code(),
            "NOT_FOUND",
            "{query}: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn a_private_objective_is_seen_by_its_owner_its_team_manager_and_admins_only() {
    let app = spawn_app().await;
    let tenant = app.tenant("acme").await;
    let team = app
        .gql(
            Some(&tenant.admin.token),
            "mutation { createTeam(input: {name: \"Sales\", kind: TEAM}) { team { id } } }",
            json!({}),
        )
        .await
        .data("/createTeam/team/id")
        .as_str()
        .expect("id")
        .to_owned();
    let team_id = goalgraph::domain::global_id::GlobalId::decode(&team)
        .expect("id")
        .id;
    let owner = app.user(&tenant, Role::Member, Some(team_id)).await;
    let manager = app.user(&tenant, Role::Manager, Some(team_id)).await;
    let other_manager = app.user(&tenant, Role::Manager, None).await;
    let colleague = app.user(&tenant, Role::Member, Some(team_id)).await;
    let public_root = app.objective(&owner, "Public root", None).await;
    let secret = app
        .gql(
            Some(&owner.token),
            "mutation($t: ID!, $p: ID!) { createObjective(input: {title: \"Secret\", teamId: $t, parentId: $p, visibility: PRIVATE}) { objective { id } } }",
            json!({ "t": team, "p": public_root }),
        )
        .await
        .data("/createObjective/objective/id")
        .as_str()
        .expect("id")
        .to_owned();
    for (who, sees) in [
        (&owner, true),
        (&manager, true),
        (&tenant.admin, true),
        (&colleague, false),
        (&other_manager, false),
    ] {
        let direct = app
            .gql(Some(&who.token), READ_OBJECTIVE, json!({ "id": secret }))
            .await;
        assert_eq!(
            !direct.data("/objective").is_null(),
            sees,
            "objective(): {}",
            direct.body
        );
        let through_tree = app
            .gql(Some(&who.token), "query($id: ID!) { objective(id: $id) { children { id } descendants { objective { id } } } }", json!({ "id": public_root }))
            .await;
        let count = through_tree
            .data("/objective/children")
            .as_array()
            .expect("list")
            .len();
        assert_eq!(count == 1, sees, "children: {}", through_tree.body);
        let listed = app
            .gql(
                Some(&who.token),
                "{ objectives { edges { node { title } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            listed.body.to_string().contains("Secret"),
            sees,
            "objectives: {}",
            listed.body
        );
    }
}

#[tokio::test]
async fn a_check_in_is_a_node_seen_only_by_who_may_see_its_objective() {
    let app = spawn_app().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let member = app.user(&acme, Role::Member, None).await;
    let secret = app
        .create_objective(
            &acme.admin,
            json!({ "title": "secret", "visibility": "PRIVATE" }),
        )
        .await;
    let kr = app.key_result(&acme.admin, &secret, 0.0, 10.0, 1.0).await;
    app.check_in(&acme.admin, &kr, 4.0).await.data("/checkIn");
    let listed = app
        .gql(
            Some(&acme.admin.token),
            "query($kr: ID!) { node(id: $kr) { ... on KeyResult { checkIns { id value } } } }",
            json!({ "kr": kr }),
        )
        .await;
    let id = listed
        .data("/node/checkIns/0/id")
        .as_str()
        .expect("id")
        .to_owned();
    let refetch = "query($id: ID!) { node(id: $id) { __typename id ... on CheckIn { value author { name } } } }";
    let seen = app
        .gql(Some(&acme.admin.token), refetch, json!({ "id": id }))
        .await;
    assert_eq!(seen.data("/node/__typename"), "CheckIn");
    assert_eq!(seen.data("/node/id"), id.as_str());
    assert_eq!(seen.data("/node/value"), 4.0);
    // The member may not see the private objective, so not its check-ins either; another
    // tenant's admin sees nothing.
    for token in [&member.token, &other.admin.token] {
        let hidden = app.gql(Some(token), refetch, json!({ "id": id })).await;
        assert_eq!(hidden.data("/node"), &serde_json::Value::Null);
    }
}
