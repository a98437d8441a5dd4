//! Operations endpoints: Prometheus metrics (with sync lag) and liveness and readiness probes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::store::metrics::prometheus_text;
use crate::store::pg::outbox::{SyncStatus, sync_status};

/// Readiness reports the relay as degraded when the oldest unrelayed outbox event is older
/// than this.
pub const MAX_OUTBOX_LAG_SECONDS: f64 = 60.0;

/// `GET /metrics`: process-wide counters and histograms, whether each store answers, and how
/// far the outbox and the change stream are behind, in Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = prometheus_text();
    let status = sync_status(state.stores.objectives.db()).await;
    let mongodb = mongodb_answers(&state).await;
    text.push_str(&format!(
        "# HELP goalgraph_store_up Whether the store answers (1) or not (0).\n\
         # TYPE goalgraph_store_up gauge\n\
         goalgraph_store_up{{store=\"postgres\"}} {}\n\
         goalgraph_store_up{{store=\"mongodb\"}} {}\n",
        u8::from(status.is_ok()),
        u8::from(mongodb),
    ));
    if let Ok(status) = status {
        text.push_str(&sync_text(&status));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Whether MongoDB answers a ping within [`PING_TIMEOUT`].
async fn mongodb_answers(state: &AppState) -> bool {
    tokio::time::timeout(PING_TIMEOUT, state.mongo.ping())
        .await
        .is_ok_and(|ping| ping.is_ok())
}

/// How long a probe waits for MongoDB.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn sync_text(status: &SyncStatus) -> String {
    let mut text = format!(
        "# HELP goalgraph_outbox_pending_events Outbox events not yet applied to MongoDB.\n\
         # TYPE goalgraph_outbox_pending_events gauge\n\
         goalgraph_outbox_pending_events {}\n\
         # HELP goalgraph_outbox_lag_seconds Age of the oldest unrelayed outbox event.\n\
         # TYPE goalgraph_outbox_lag_seconds gauge\n\
         goalgraph_outbox_lag_seconds {}\n\
         # HELP goalgraph_change_stream_events_total Change-stream events applied to PostgreSQL.\n\
         # TYPE goalgraph_change_stream_events_total counter\n\
         goalgraph_change_stream_events_total {}\n",
        status.outbox_pending, status.outbox_lag_seconds, status.change_stream_events
    );
    if let Some(idle) = status.change_stream_idle_seconds {
        text.push_str(&format!(
            "# HELP goalgraph_change_stream_idle_seconds Time since the change-stream consumer \
             last applied an event.\n\
             # TYPE goalgraph_change_stream_idle_seconds gauge\n\
             goalgraph_change_stream_idle_seconds {idle}\n"
        ));
    }
    text
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 while PostgreSQL answers, 503 when it does not. PostgreSQL is the
/// source of truth and every write goes there first, so a replica that reaches it can serve;
/// a MongoDB outage or a relay falling behind only *degrades* it (document reads and notes
/// fail, writes queue in the outbox), and taking every replica out of the load balancer for
/// that would turn a partial outage into a total one. The body names the degraded parts.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let status = sync_status(state.stores.objectives.db()).await;
    let postgres = status.is_ok();
    let mongodb = mongodb_answers(&state).await;
    let relay = status
        .as_ref()
        .is_ok_and(|s| s.outbox_lag_seconds <= MAX_OUTBOX_LAG_SECONDS);
    let verdict = |ok: bool| if ok { "ok" } else { "failing" };
    let degraded: Vec<&str> = [("mongodb", mongodb), ("relay", relay)]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(part, _)| part)
        .collect();
    let overall = match (postgres, degraded.is_empty()) {
        (false, _) => "unready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let body = json!({
        "status": overall,
        "postgres": verdict(postgres),
        "mongodb": verdict(mongodb),
        "relay": verdict(relay),
        "degraded": degraded,
        "outbox_pending": status.as_ref().map(|s| s.outbox_pending).ok(),
        "outbox_lag_seconds": status.as_ref().map(|s| s.outbox_lag_seconds).ok(),
    });
    let code = if postgres {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
