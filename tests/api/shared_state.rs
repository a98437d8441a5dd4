//! State every replica must agree on, in Redis: each tenant's rate limit and the automatic
//! persisted-query registry; and the in-process fallback without Redis.

use goalgraph::app::RequestLimits;
use goalgraph::http::persisted::sha256_hex;
use goalgraph::store::shared::RateLimit;
use serde_json::{Value, json};

use crate::helpers::{TestApp, redis_url, spawn_app_sharing};

const VIEWER: &str = "{ viewer { name } }";

/// POSTs `body` to `address` and returns the status and JSON answer; a 429 must say when to
/// retry.
async fn post(app: &TestApp, address: &str, token: &str, body: Value) -> (u16, Value) {
    let answer = app.post_raw(address, token, body.to_string()).await;
    if answer.status == 429 {
        assert!(
            answer.headers.contains_key("retry-after"),
            "429 without Retry-After"
        );
    }
    (answer.status, answer.body)
}

fn limited(rate: f64, burst: f64) -> RequestLimits {
    RequestLimits {
        rate_limit: Some(RateLimit { rate, burst }),
        ..RequestLimits::default()
    }
}

#[tokio::test]
async fn a_tenants_rate_limit_is_shared_by_every_replica_through_redis() {
    // `{ viewer { name } }` costs 2 points: a budget of 10 holds five of them.
    let app = spawn_app_sharing(limited(1.0, 10.0), Some(redis_url())).await;
    let replica = app.replica().await;
    let t = app.tenant("busy").await;
    let other = app.tenant("quiet").await;
    let query = json!({ "query": VIEWER });
    for _ in 0..5 {
        let (status, body) = post(&app, &app.address, &t.admin.token, query.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    // The burst is spent on the first replica; the second one knows.
    let (status, body) = post(&app, &replica, &t.admin.token, query.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry after"))
    );
    // Another tenant has its own budget.
    let (status, _) = post(&app, &replica, &other.admin.token, query.clone()).await;
    assert_eq!(status, 200);
    // A batch costs what its operations cost together (5 × 2 > the 8 points left).
    let (status, _) = post(
        &app,
        &replica,
        &other.admin.token,
        json!([query, query, query, query, query]),
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn without_redis_each_process_keeps_its_own_budget() {
    let app = spawn_app_sharing(limited(1.0, 4.0), None).await;
    let t = app.tenant("local").await;
    let query = json!({ "query": VIEWER });
    for _ in 0..2 {
        assert_eq!(
            post(&app, &app.address, &t.admin.token, query.clone())
                .await
                .0,
            200
        );
    }
    assert_eq!(post(&app, &app.address, &t.admin.token, query).await.0, 429);
}

#[tokio::test]
async fn a_persisted_query_registered_on_one_replica_runs_by_hash_on_another() {
    let app = spawn_app_sharing(RequestLimits::default(), Some(redis_url())).await;
    let replica = app.replica().await;
    let t = app.tenant("mobile").await;
    // A query text unique to this run, so nothing registered it before.
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let query = format!("{{ viewer {{ name }} }} # {unique}-{}", std::process::id());
    let hash = sha256_hex(&query);
    let by_hash =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });

    let (_, body) = post(&app, &replica, &t.admin.token, by_hash.clone()).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let mut register = by_hash.clone();
    register["query"] = json!(query);
    let (_, body) = post(&app, &app.address, &t.admin.token, register).await;
    assert_eq!(body["data"]["viewer"]["name"], "mobile admin", "{body}");

    let (_, body) = post(&app, &replica, &t.admin.token, by_hash).await;
    assert_eq!(body["data"]["viewer"]["name"], "mobile admin", "{body}");

    let forged = json!({
        "query": "{ viewer { id } }",
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } }
    });
    let (_, body) = post(&app, &app.address, &t.admin.token, forged).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_HASH_MISMATCH"
    );
    let bad = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "x" } } });
    let (_, body) = post(&app, &app.address, &t.admin.token, bad).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}
