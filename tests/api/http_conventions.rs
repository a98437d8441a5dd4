//! GraphQL over HTTP as clients speak it: the answer's media type negotiated from `Accept`
//! (graphql-request 4 and other pre-specification clients accept only `application/json`),
//! 4xx without `data` for requests that fail before execution when the client prefers
//! `application/graphql-response+json`, 415 for bodies that are not JSON, and queries (but not
//! mutations) over GET, persisted-query hashes included.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use goalgraph::graphql::Resolution;
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

/// A client that shows answers as sent (no transparent decompression).
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client")
}

/// A long pre-rendered list is written while the body is sent (chunked: its length is not
/// known before), a short answer keeps its exact `Content-Length`, and both read as the same
/// JSON as the answers async-graphql writes as a whole (`--no-pre-rendered-lists`).
#[tokio::test]
async fn a_long_list_is_sent_as_it_is_written_and_a_short_answer_declares_its_length() {
    let app = spawn_app().await;
    let t = app.tenant("pieces").await;
    let root = app.bench_tree(&t, 4, 10).await;
    let whole = app
        .replica_with(|settings| settings.resolution = Resolution::LeanValues)
        .await;
    let subtree = |max_depth: u32| {
        json!({
            "query": "query($id: ID!, $depth: Int) { objective(id: $id) { id descendants(maxDepth: $depth) { depth objective { id title status weight owner { name } } } } }",
            "variables": { "id": crate::helpers::objective_id(root), "depth": max_depth },
        })
    };
    for (max_depth, entries, streamed) in [(3, 1_110, true), (1, 10, false)] {
        let mut answers = Vec::new();
        for address in [&app.address, &whole] {
            let response = raw_client()
                .post(format!("{address}/graphql"))
                .bearer_auth(&t.admin.token)
                .header("accept-encoding", "identity")
                .json(&subtree(max_depth))
                .send()
                .await
                .expect("request");
            let headers = response.headers().clone();
            let lists = headers["x-goalgraph-pre-rendered-lists"].clone();
            let body = response.bytes().await.expect("body");
            let chunked = headers
                .get("transfer-encoding")
                .is_some_and(|value| value == "chunked");
            match headers.get("content-length") {
                Some(declared) => {
                    assert!(!chunked);
                    assert_eq!(declared.to_str().expect("text"), body.len().to_string());
                }
                None => assert!(chunked, "an answer of unknown length is chunked"),
            }
            answers.push((lists, chunked, body));
        }
        assert_eq!(answers[0].0, "1");
        assert_eq!(answers[1].0, "0");
        assert_eq!(
            answers[0].1, streamed,
            "the pre-rendered answer, {entries} entries"
        );
        assert!(!answers[1].1, "async-graphql's answer is written whole");
        assert_eq!(answers[0].2.len() > 64 * 1024, streamed);
        let read = |body: &[u8]| serde_json::from_slice::<Value>(body).expect("JSON");
        let pre_rendered = read(&answers[0].2);
        assert_eq!(pre_rendered, read(&answers[1].2));
        assert_eq!(
            pre_rendered["data"]["objective"]["descendants"]
                .as_array()
                .expect("list")
                .len(),
            entries
        );
    }
}

#[tokio::test]
async fn large_answers_and_assets_are_compressed_and_small_ones_are_not() {
    let app = spawn_app().await;
    let t = app.tenant("compress").await;
    let root = app.bench_tree(&t, 3, 10).await;
    let subtree = json!({
        "query": "query($id: ID!) { objective(id: $id) { descendants { objective { id title status weight owner { name } keyResults { id title startValue targetValue currentValue weight } } } } }",
        "variables": { "id": crate::helpers::objective_id(root) },
    });
    let raw = raw_client();
    let mut sizes = Vec::new();
    for encoding in ["identity", "gzip", "br"] {
        let response = raw
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&t.admin.token)
            .header("accept-encoding", encoding)
            .json(&subtree)
            .send()
            .await
            .expect("request");
        let sent = response
            .headers()
            .get("content-encoding")
            .map(|value| value.to_str().expect("text").to_owned());
        assert_eq!(
            sent.as_deref(),
            (encoding != "identity").then_some(encoding),
            "{encoding}"
        );
        sizes.push(response.bytes().await.expect("body").len());
    }
    assert!(sizes[1] * 4 < sizes[0], "gzip: {sizes:?}");
    assert!(sizes[2] * 4 < sizes[0], "brotli: {sizes:?}");
    // The decompressed answer is the whole answer (reqwest decodes it transparently).
    let decoded = app.post_json(Some(&t.admin.token), &subtree).await;
    assert_eq!(
        decoded["data"]["objective"]["descendants"]
            .as_array()
            .expect("list")
            .len(),
        110
    );
    // Small answers are sent as they are.
    let small = raw
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&t.admin.token)
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("request");
    assert!(small.headers().get("content-encoding").is_none());
    // The playground's script: compressed, with an ETag a revalidation answers with 304.
    let script = raw
        .get(format!("{}/graphiql/graphiql.min.js", app.address))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("script");
    assert_eq!(script.status().as_u16(), 200);
    assert_eq!(script.headers()["content-encoding"], "br");
    let etag = script.headers()["etag"].clone();
    let again = raw
        .get(format!("{}/graphiql/graphiql.min.js", app.address))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn browsers_on_configured_origins_may_call_the_api_and_others_may_not() {
    let (database_url, name) = crate::helpers::fresh_database_named().await;
    let mut settings =
        crate::helpers::TestSettings::new(database_url, &crate::helpers::mongo_uri(), &name);
    settings.cors_origins = vec![reqwest::header::HeaderValue::from_static(
        "https://okr.example.com",
    )];
    let app = crate::helpers::serve_app(settings).await;
    let t = app.tenant("cors").await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://okr.example.com")
        .await
        .expect("preflight");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://okr.example.com"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The actual call carries the header for the allowed origin, and exposes the request id.
    let call = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://okr.example.com")
        .bearer_auth(&t.admin.token)
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("call");
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "https://okr.example.com"
    );
    let exposed = call.headers()["access-control-expose-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    for counted in [
        "x-goalgraph-sql-statements",
        "x-goalgraph-mongo-commands",
        "x-goalgraph-pre-rendered-lists",
    ] {
        assert!(exposed.contains(counted), "{exposed}");
    }
    // Without configured origins (the default) no origin is allowed.
    let default = spawn_app().await;
    let refused = default
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/graphql", default.address),
        )
        .header("origin", "https://okr.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
