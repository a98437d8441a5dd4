//! The playground is served with its assets, so it works with no internet connection.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_playground_loads_every_asset_from_the_api_itself() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("GraphiQL"));
    let external: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//"))
        .collect();
    assert!(
        external.is_empty(),
        "the playground references external resources: {external:?}"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        assert!(
            page.contains(&format!("/graphiql/{asset}")),
            "{asset} not referenced"
        );
        let response = app
            .client
            .get(format!("{}/graphiql/{asset}", app.address))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.expect("body").len() > 1000,
            "{asset} is empty"
        );
    }
}

#[tokio::test]
async fn metrics_expose_the_sql_statement_counter() {
    let app = spawn_app().await;
    let body = app.get_text("/metrics").await;
    assert!(body.contains("goalgraph_sql_statements_total"), "{body}");
}

#[tokio::test]
async fn metrics_expose_request_histograms_and_sync_lag() {
    let app = spawn_app().await;
    let t = app.tenant("metrics").await;
    app.gql(
        Some(&t.admin.token),
        "{ viewer { id } }",
        serde_json::json!({}),
    )
    .await
    .data("/viewer");
    let body = app.get_text("/metrics").await;
    for series in [
        "goalgraph_graphql_request_duration_seconds_bucket{operation=\"anonymous\",outcome=\"ok\",le=\"0.005\"}",
        "goalgraph_graphql_request_duration_seconds_count",
        "goalgraph_sql_statements_per_request_bucket",
        "goalgraph_mongo_commands_per_request_sum",
        "goalgraph_outbox_pending_events",
        "goalgraph_outbox_lag_seconds",
        "goalgraph_change_stream_events_total",
    ] {
        assert!(body.contains(series), "{series} missing:\n{body}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_readiness_checks_both_stores() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .expect("healthz");
    assert_eq!(given.headers()["x-request-id"], "client-chosen-42");
    let made = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "not ok; <script>")
        .send()
        .await
        .expect("healthz");
    let id = made.headers()["x-request-id"].to_str().expect("ascii");
    assert!(!id.is_empty() && id != "not ok; <script>");

    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(
        (&body["postgres"], &body["mongodb"], &body["relay"]),
        (
            &serde_json::json!("ok"),
            &serde_json::json!("ok"),
            &serde_json::json!("ok")
        )
    );
}

#[tokio::test]
async fn the_playground_runs_subscriptions_in_a_browser() {
    let app = spawn_app().await;
    let tenant = app.tenant("playground-live").await;
    let root = app.objective(&tenant.admin, "root", None).await;
    let kr = app.key_result(&tenant.admin, &root, 0.0, 100.0, 1.0).await;
    let e2e = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e");
    // Async, so this test's runtime keeps serving the page while the browser runs.
    let output = tokio::process::Command::new("node")
        .arg(e2e.join("playground-subscription.mjs"))
        .current_dir(&e2e)
        .env("GOALGRAPH_URL", &app.address)
        .env("GOALGRAPH_TOKEN", &tenant.admin.token)
        .env("ROOT_ID", &root)
        .env("KEY_RESULT_ID", &kr)
        .output()
        .await
        .expect("node (scripts/test installs e2e/node_modules and chromium)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "playground subscription failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).expect("event JSON");
    assert_eq!(
        event["data"]["progressChanged"]["objective"]["id"],
        root.as_str(),
        "{event}"
    );
    assert!(event["data"]["progressChanged"]["objective"]["progress"].as_f64() > Some(0.0));
}
