//! Logs and traces: log lines on stderr (text, or one JSON object per line), every request in a
//! span carrying its request id, and — when an OTLP endpoint is configured — the spans exported
//! to OpenTelemetry over OTLP/HTTP, continuing the trace an incoming `traceparent` names.

use axum::http::{HeaderMap, Request};
use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The request-id header: kept from the client when it sends one, else a new UUID.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What [`init`] set up; [`Telemetry::shutdown`] flushes the spans not yet exported.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered (when exporting) and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("goalgraph: flushing traces failed: {error}");
        }
    }
}

/// Where spans go: the OTLP endpoint of `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (the standard variables), when one is set.
fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// Installs the process's log and trace pipeline: `RUST_LOG` filters (default
/// `goalgraph=info,warn`), `GOALGRAPH_LOG_FORMAT=json` writes JSON lines, and an OTLP endpoint
/// turns trace export on (service name from `OTEL_SERVICE_NAME`, default `goalgraph`).
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "goalgraph=info,warn".into());
    let json = std::env::var("GOALGRAPH_LOG_FORMAT").is_ok_and(|format| format == "json");
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };
    let provider = otlp_configured().then(tracer_provider).flatten();
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("goalgraph")));
    global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .init();
    Telemetry { provider }
}

/// A tracer provider exporting in batches over OTLP/HTTP (protobuf); `None`, with a message,
/// when the exporter cannot be built.
fn tracer_provider() -> Option<SdkTracerProvider> {
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("goalgraph: OTLP trace export is off: {error}");
            return None;
        }
    };
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "goalgraph".into());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Drops an incoming `x-request-id` that is not a short token of letters, digits, `-` and `_`
/// (so a new one is made): ids go into every log line.
pub async fn drop_unsafe_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let safe = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !safe {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

/// The span of one HTTP request: its id, method and path; the child of the remote span an
/// incoming `traceparent` names, when there is one.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let _ = span.set_parent(remote_parent(request.headers()));
    span
}

/// The trace context of a W3C `traceparent` (and `tracestate`) header.
fn remote_parent(headers: &HeaderMap) -> opentelemetry::Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}
