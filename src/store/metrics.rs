//! Round-trip counters (SQL statements and MongoDB commands per request and in total) and
//! request metrics (count, latency, statements and commands per request, labelled by operation
//! and outcome), exposed in Prometheus format through the `metrics` crate's exporter with the
//! process's own metrics.
//!
//! A request runs inside [`RequestCounters::scope`]; the database layer's statement hook calls
//! [`record_sql_statement`], which counts into the task-local counters of the current request
//! and into the process-wide total. DataLoader batches run on spawned tasks, so their spawner
//! goes through [`spawn_in_request`] to carry the request's counters along.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

tokio::task_local! {
    static CURRENT: Arc<RequestCounters>;
}

/// Prometheus histogram buckets of each per-request distribution.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const ROUND_TRIP_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// This process's metrics recorder (the `metrics` crate's Prometheus exporter) and its
/// process collector (CPU, memory, open files …), installed on first use.
struct Exposition {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPOSITION: OnceLock<Option<Exposition>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls do nothing). Metrics
/// recorded before it are not kept.
pub fn install() {
    EXPOSITION.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("goalgraph_graphql_request_duration_seconds".into()),
                SECONDS_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Suffix("_per_request".into()),
                    ROUND_TRIP_BUCKETS,
                )
            });
        let handle = match builder.map(PrometheusBuilder::install_recorder) {
            Ok(Ok(handle)) => handle,
            Ok(Err(error)) | Err(error) => {
                tracing::warn!(%error, "metrics: cannot install the Prometheus recorder");
                return None;
            }
        };
        describe();
        let process = metrics_process::Collector::default();
        process.describe();
        Some(Exposition { handle, process })
    });
}

fn describe() {
    describe_counter!("goalgraph_sql_statements_total", "SQL statements executed.");
    describe_counter!(
        "goalgraph_sql_statement_failures_total",
        "SQL statements that returned an error."
    );
    describe_counter!("goalgraph_mongo_commands_total", "MongoDB commands sent.");
    describe_counter!(
        "goalgraph_report_cache_total",
        "Report answers looked up in the report cache, by report and outcome (hit or miss)."
    );
    describe_counter!(
        "goalgraph_user_cache_total",
        "Users looked up in the replica's user cache (tokens' users, owners, authors), by \
         outcome (hit, or miss: read from PostgreSQL)."
    );
    describe_counter!(
        "goalgraph_graphql_requests_total",
        "GraphQL requests answered, by operation name and outcome (ok, or the first error's code)."
    );
    describe_histogram!(
        "goalgraph_graphql_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a GraphQL request, by operation name and outcome."
    );
    describe_histogram!(
        "goalgraph_sql_statements_per_request",
        "SQL statements one GraphQL request ran."
    );
    describe_histogram!(
        "goalgraph_mongo_commands_per_request",
        "MongoDB commands one GraphQL request sent."
    );
}

/// Records a finished GraphQL request: how long it took and its round trips, labelled with its
/// operation name (see [`operation_label`]) and outcome (`ok` or an error code).
pub fn record_request(
    elapsed: std::time::Duration,
    counters: &RequestCounters,
    operation: &str,
    outcome: &str,
) {
    let labels = [
        ("operation", operation.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    counter!("goalgraph_graphql_requests_total", &labels).increment(1);
    histogram!("goalgraph_graphql_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    histogram!("goalgraph_sql_statements_per_request").record(counters.sql_statements() as f64);
    histogram!("goalgraph_mongo_commands_per_request").record(counters.mongo_commands() as f64);
}

/// An operation name fit for a label: clients choose names, so anything that is not a plain
/// GraphQL name of at most 64 characters is `other`, and an unnamed operation `anonymous`.
pub fn operation_label(name: Option<&str>) -> &str {
    match name {
        None => "anonymous",
        Some(name)
            if !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            name
        }
        Some(_) => "other",
    }
}

/// What one request did: its round trips, and the lists it answered as JSON written from rows.
#[derive(Debug, Default)]
pub struct RequestCounters {
    sql_statements: AtomicU64,
    mongo_commands: AtomicU64,
    pre_rendered_lists: AtomicU64,
}

impl RequestCounters {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// SQL statements executed so far by this request.
    pub fn sql_statements(&self) -> u64 {
        self.sql_statements.load(Ordering::Relaxed)
    }

    /// MongoDB commands sent so far by this request.
    pub fn mongo_commands(&self) -> u64 {
        self.mongo_commands.load(Ordering::Relaxed)
    }

    /// Lists answered so far as JSON written from their rows (`graphql::prerender`).
    pub fn pre_rendered_lists(&self) -> u64 {
        self.pre_rendered_lists.load(Ordering::Relaxed)
    }

    /// Runs `fut` with these counters as the current request's.
    pub async fn scope<F: Future>(self: Arc<Self>, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }
}

/// Called once per SQL statement by the connection's metric hook.
pub fn record_sql_statement(failed: bool) {
    counter!("goalgraph_sql_statements_total").increment(1);
    if failed {
        counter!("goalgraph_sql_statement_failures_total").increment(1);
    }
    let _ = CURRENT.try_with(|counters| {
        counters.sql_statements.fetch_add(1, Ordering::Relaxed);
    });
}

/// Called once per MongoDB command by the driver's command monitor.
pub fn record_mongo_command() {
    counter!("goalgraph_mongo_commands_total").increment(1);
    let _ = CURRENT.try_with(|counters| {
        counters.mongo_commands.fetch_add(1, Ordering::Relaxed);
    });
}

/// Called once per list answered as JSON written from its rows.
pub fn record_pre_rendered_list() {
    let _ = CURRENT.try_with(|counters| {
        counters.pre_rendered_lists.fetch_add(1, Ordering::Relaxed);
    });
}

/// Counts users found in the replica's user cache and users read from PostgreSQL instead, in
/// `goalgraph_user_cache_total{outcome}`.
pub fn record_user_lookups(hits: usize, misses: usize) {
    for (outcome, count) in [("hit", hits), ("miss", misses)] {
        if count > 0 {
            metrics::counter!("goalgraph_user_cache_total", "outcome" => outcome)
                .increment(count as u64);
        }
    }
}

/// Spawns `fut` (a DataLoader batch) on the runtime in a span of the current request's,
/// counting its round trips towards that request.
pub fn spawn_in_request<F>(fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let fut = tracing::Instrument::instrument(fut, tracing::info_span!("dataloader.batch"));
    match CURRENT.try_with(Arc::clone) {
        Ok(counters) => tokio::spawn(CURRENT.scope(counters, fut)),
        Err(_) => tokio::spawn(fut),
    }
}

/// Every metric of this process in Prometheus text exposition format, process metrics
/// included (empty when the recorder could not be installed).
pub fn prometheus_text() -> String {
    install();
    match EXPOSITION.get() {
        Some(Some(exposition)) => {
            exposition.process.collect();
            exposition.handle.run_upkeep();
            exposition.handle.render()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn statements_count_towards_the_request_that_ran_them_even_on_spawned_tasks() {
        let counters = RequestCounters::new();
        let other = RequestCounters::new();
        counters
            .clone()
            .scope(async {
                record_sql_statement(false);
                spawn_in_request(async { record_sql_statement(false) })
                    .await
                    .expect("task ran");
            })
            .await;
        other
            .clone()
            .scope(async { record_sql_statement(true) })
            .await;
        assert_eq!(counters.sql_statements(), 2);
        assert_eq!(other.sql_statements(), 1);
    }
}
