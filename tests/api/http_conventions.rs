//! GraphQL over HTTP as clients speak it: the answer's media type negotiated from `Accept`
//! (graphql-request 4 and other pre-specification clients accept only `application/json`),
//! 4xx without `data` for requests that fail before execution when the client prefers
//! `application/graphql-response+json`, 415 for bodies that are not JSON, and queries (but not
//! mutations) over GET, persisted-query hashes included.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use goalgraph::http::persisted::sha256_hex;

/// Status, content type and JSON body of an answer.
async fn read(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, content_type, body)
}

async fn post(
    app: &TestApp,
    token: &str,
    accept: Option<&str>,
    body: Value,
) -> (u16, String, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    read(request.send().await.expect("request")).await
}

async fn get(
    app: &TestApp,
    token: &str,
    accept: &str,
    params: &[(&str, &str)],
) -> (u16, String, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header(ACCEPT, accept)
        .query(params)
        .send()
        .await
        .expect("request");
    read(response).await
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn the_answer_type_follows_the_accept_header() {
    let app = spawn_app().await;
    let t = app.tenant("accept").await;
    let token = t.admin.token.as_str();
    let viewer = json!({ "query": "{ viewer { name } }" });
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/json, text/plain, */*"),
    ] {
        let (status, content_type, body) = post(&app, token, accept, viewer.clone()).await;
        assert_eq!(status, 200, "{accept:?}");
        assert!(
            content_type.starts_with("application/json"),
            "{accept:?}: {content_type}"
        );
        assert_eq!(body["data"]["viewer"]["name"], "accept admin");
    }
    let (status, content_type, _) = post(
        &app,
        token,
        Some("application/graphql-response+json, application/json;q=0.9"),
        viewer.clone(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    let (status, _, body) = post(&app, token, Some("text/html"), viewer).await;
    assert_eq!(status, 406);
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_ACCEPTABLE");
}

#[tokio::test]
async fn requests_that_fail_before_execution_are_4xx_without_data_in_graphql_response_json() {
    let app = spawn_app().await;
    let t = app.tenant("failures").await;
    let token = t.admin.token.as_str();
    for (what, body) in [
        ("parse", json!({ "query": "{ viewer { " })),
        ("validation", json!({ "query": "{ noSuchField }" })),
    ] {
        let (status, _, answer) = post(&app, token, Some(GRAPHQL_RESPONSE), body.clone()).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer.get("data").is_none(), "{what}: {answer}");
        assert!(answer["errors"][0]["message"].is_string());
        // Pre-specification clients keep 200 and `data: null`.
        let (status, _, answer) = post(&app, token, Some("application/json"), body).await;
        assert_eq!(status, 200, "{what}");
        assert_eq!(answer["data"], Value::Null);
    }
    // A field error is an executed request: 200 with data, whichever the type.
    let (status, _, answer) = post(
        &app,
        token,
        Some(GRAPHQL_RESPONSE),
        json!({ "query": "{ viewer { id } objectives(first: 1000) { edges { node { id } } } }" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["data"].is_object(), "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "PAGE_TOO_LARGE");
    // A body that is not JSON at all.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    let (status, _, answer) = read(response).await;
    assert_eq!(status, 400);
    assert!(answer.get("data").is_none(), "{answer}");
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = spawn_app().await;
    let t = app.tenant("media").await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/json; charset=latin1"),
    ] {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&t.admin.token)
            .body(r#"{"query":"{ viewer { id } }"}"#);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let (status, _, answer) = read(request.send().await.expect("request")).await;
        assert_eq!(status, 415, "{content_type:?}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"],
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }
    let answer = app
        .post_raw(
            &app.address,
            &t.admin.token,
            r#"{"query":"{ viewer { name } }"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "charset-less application/json is fine");
}

#[tokio::test]
async fn get_runs_queries_and_persisted_hashes_but_never_mutations() {
    let app = spawn_app().await;
    let t = app.tenant("get").await;
    let token = t.admin.token.as_str();
    let objective = app.objective(&t.admin, "read by GET", None).await;
    let query = "query($id: ID!) { objective(id: $id) { title } }";
    let variables = json!({ "id": objective }).to_string();
    let (status, content_type, body) = get(
        &app,
        token,
        "application/json",
        &[("query", query), ("variables", &variables)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("application/json"));
    assert_eq!(body["data"]["objective"]["title"], "read by GET");

    // Apollo's useGETForHashedQueries: the hash alone, registered once by a POST.
    let hash = sha256_hex(query);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let (_, _, unknown) = get(
        &app,
        token,
        "application/json",
        &[("variables", &variables), ("extensions", &extensions)],
    )
    .await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let registered = post(
        &app,
        token,
        None,
        json!({ "query": query, "variables": { "id": objective },
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }),
    )
    .await;
    assert_eq!(registered.0, 200);
    let (status, _, body) = get(
        &app,
        token,
        GRAPHQL_RESPONSE,
        &[("variables", &variables), ("extensions", &extensions)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["objective"]["title"], "read by GET");

    // Mutations need POST: 405 with Allow, and nothing written.
    let mutation =
        r#"mutation { createObjective(input: { title: "by GET" }) { objective { id } } }"#;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .query(&[("query", mutation)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 405);
    let allow = response
        .headers()
        .get("allow")
        .expect("Allow")
        .to_str()
        .expect("text")
        .to_owned();
    assert!(allow.contains("POST"), "{allow}");
    let (_, _, body) = read(response).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );
    let titles = app
        .gql(
            Some(token),
            "{ objectives(first: 10) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        titles
            .data("/objectives/edges")
            .as_array()
            .expect("list")
            .len(),
        1,
        "the GET mutation wrote nothing"
    );

    // A browser asking for the page without a query still gets the playground.
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("<html"));
}

/// The `graphql-http` package's server audits (the GraphQL-over-HTTP specification's own
/// conformance checks, run by Node.js from `e2e/`): every MUST and every SHOULD passes. The
/// MAY audits that answer with a notice are listed in the README ("GraphQL over HTTP").
#[tokio::test]
async fn the_graphql_http_server_audits_pass() {
    let app = spawn_app().await;
    let t = app.tenant("audit").await;
    let root_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new("node")
        .arg(root_dir.join("e2e").join("graphql-http-audit.mjs"))
        .arg(format!("{}/graphql", app.address))
        .arg(&t.admin.token)
        .current_dir(root_dir.join("e2e"))
        .output()
        .await
        .expect("node (install Node.js; scripts/test installs e2e/node_modules)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the audit did not run:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON result per line"))
        .collect();
    let required = |result: &&Value| {
        let name = result["name"].as_str().unwrap_or_default();
        name.starts_with("MUST") || name.starts_with("SHOULD")
    };
    let failed: Vec<String> = results
        .iter()
        .filter(required)
        .filter(|result| result["status"] != "ok")
        .map(|result| format!("{}: {}", result["name"], result["reason"]))
        .collect();
    assert!(failed.is_empty(), "audits failed:\n{}", failed.join("\n"));
    assert!(
        results.iter().filter(required).count() >= 30,
        "the audit ran too few checks: {}",
        results.len()
    );
}
