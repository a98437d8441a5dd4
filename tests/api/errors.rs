//! Database failures reach clients as INTERNAL with no SQL text.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_database_error_reaches_the_client_as_internal_without_sql_text() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    app.key_result(&t.admin, &root, 0.0, 1.0, 1.0).await;
    // Break the schema under the running API, as a botched deploy would.
    app.db
        .execute_unprepared(
            "ALTER TABLE key_results RENAME COLUMN target_value TO target_value_gone",
        )
        .await
        .expect("rename");
    let response = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { objective(id: $id) { title keyResults { id targetValue } } }",
            json!({ "id": root }),
        )
        .await;
    assert_eq!(response.error_code(), "INTERNAL", "{}", response.body);
    assert_eq!(response.error_message(), "internal error");
    // Everything a client reads of the error: its message and extensions.
    let error = &response.body["errors"][0];
    let text = format!("{} {}", error["message"], error["extensions"]).to_lowercase();
    for leak in [
        "target_value",
        "select",
        "column",
        "key_results",
        "sqlx",
        "error returned from database",
    ] {
        assert!(!text.contains(leak), "the response leaks {leak:?}: {text}");
    }
    // The rest of the query still answers.
    assert_eq!(
        response.body.pointer("/data/objective/title"),
        Some(&json!("root"))
    );
    let first_key_result = goalgraph::domain::global_id::GlobalId::new(
        goalgraph::domain::global_id::NodeKind::KeyResult,
        1,
    )
    .encode();
    let write = app.check_in(&t.admin, &first_key_result, 1.0).await;
    assert_eq!(write.error_code(), "INTERNAL");
    assert_eq!(write.error_message(), "internal error");
}

#[tokio::test]
async fn a_malformed_query_is_bad_user_input() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let response = app
        .gql(Some(&t.admin.token), "{ objectives { nope } }", json!({}))
        .await;
    assert_eq!(response.error_code(), "BAD_USER_INPUT");
    let wrong_type = app
        .gql(
            Some(&t.admin.token),
            "{ objectives(first: \"ten\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(wrong_type.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_corrupt_stored_vocabulary_value_is_internal_never_a_default() {
    let app = spawn_app().await;
    let t = app.tenant("corrupt").await;
    let team = app
        .gql(
            Some(&t.admin.token),
            "mutation { createTeam(input: {name: \"Guild\", kind: DEPARTMENT}) { team { id kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(team.data("/createTeam/team/kind"), "DEPARTMENT");
    let team_id = team
        .data("/createTeam/team/id")
        .as_str()
        .expect("id")
        .to_owned();
    // A value the CHECK would refuse, written past it (as a botched manual fix would).
    app.db
        .execute_unprepared(
            "ALTER TABLE teams DROP CONSTRAINT teams_kind_check; UPDATE teams SET kind = 'guild'",
        )
        .await
        .expect("corrupt");
    let read = app
        .gql(
            Some(&t.admin.token),
            "query($id: ID!) { node(id: $id) { ... on Team { kind } } }",
            json!({ "id": team_id }),
        )
        .await;
    assert_eq!(read.error_code(), "INTERNAL", "{}", read.body);
    assert!(!read.body.to_string().contains("guild"), "{}", read.body);
    assert!(!read.body.to_string().contains("\"TEAM\""), "{}", read.body);
}
