//! Operations endpoints: Prometheus metrics and a liveness probe.

use axum::http::header;
use axum::response::IntoResponse;

use crate::store::metrics::prometheus_text;

/// `GET /metrics`: process-wide counters in Prometheus text format.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus_text(),
    )
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}
