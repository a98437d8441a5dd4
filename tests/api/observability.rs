//! Observability with the ecosystem's crates, on the real binary: Prometheus metrics labelled by
//! operation and outcome with the process's own, request ids, and OpenTelemetry traces exported
//! over OTLP/HTTP that continue an incoming `traceparent`.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::faults::{ApiProcess, ProcessFixture};
use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_are_labelled_by_operation_and_outcome_and_include_the_process() {
    let app = spawn_app().await;
    let t = app.tenant("labelled").await;
    app.gql(
        Some(&t.admin.token),
        "query Dashboard { viewer { id } }",
        json!({}),
    )
    .await;
    app.gql(
        Some(&t.admin.token),
        "query Broken { objective(id: 1) }",
        json!({}),
    )
    .await;
    let refused = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth("not-a-token")
        .json(&json!({ "query": "query Dashboard { viewer { id } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);
    let text = app.get_text("/metrics").await;
    for expected in [
        "goalgraph_graphql_requests_total{operation=\"Dashboard\",outcome=\"ok\"}",
        "goalgraph_graphql_requests_total{operation=\"Broken\",outcome=\"BAD_USER_INPUT\"}",
        "goalgraph_graphql_requests_total{operation=\"Dashboard\",outcome=\"http_401\"}",
        "goalgraph_graphql_request_duration_seconds_bucket{operation=\"Dashboard\",outcome=\"ok\",le=\"0.005\"}",
        "goalgraph_sql_statements_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

/// An OTLP/HTTP collector: keeps the body of every export it receives.
async fn collector() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            kept.lock().expect("exports").push(body.to_vec());
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, received)
}

#[tokio::test]
async fn traces_go_to_an_otlp_collector_and_continue_the_callers_trace() {
    let (endpoint, exports) = collector().await;
    let fixture = ProcessFixture::new("traced").await;
    std::fs::create_dir_all(&fixture.data_dir).expect("dir");
    let api = ApiProcess::start_with(
        &fixture.database_url,
        &fixture.name,
        &fixture.data_dir,
        "goalgraph=info",
        None,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "goalgraph-under-test"),
        ],
    )
    .await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let answer = reqwest::Client::new()
        .post(format!("{}/graphql", api.address))
        .bearer_auth(&fixture.token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), 200);
    // SIGTERM flushes the spans still batched.
    assert!(api.terminate().await.success());
    let exports = exports.lock().expect("exports").clone();
    let bytes: Vec<u8> = exports.concat();
    let wanted: Vec<u8> = (0..trace_id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&trace_id[i..i + 2], 16).expect("hex"))
        .collect();
    assert!(!exports.is_empty(), "nothing was exported");
    assert!(
        bytes
            .windows(wanted.len())
            .any(|window| window == wanted.as_slice()),
        "no exported span belongs to the caller's trace"
    );
    assert!(
        bytes
            .windows(b"goalgraph-under-test".len())
            .any(|window| window == b"goalgraph-under-test"),
        "the service name is not in the export"
    );
    let _ = std::fs::remove_dir_all(fixture.data_dir);
}
