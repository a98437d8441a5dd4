//! Round-trip counters (SQL statements and MongoDB commands per request and in total) and
//! request histograms (latency, statements and commands per request).
//!
//! A request runs inside [`RequestCounters::scope`]; the database layer's statement hook calls
//! [`record_sql_statement`], which counts into the task-local counters of the current request
//! and into the process-wide total. DataLoader batches run on spawned tasks, so their spawner
//! goes through [`spawn_in_request`] to carry the request's counters along.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static CURRENT: Arc<RequestCounters>;
}

static TOTAL_SQL_STATEMENTS: AtomicU64 = AtomicU64::new(0);
static TOTAL_MONGO_COMMANDS: AtomicU64 = AtomicU64::new(0);
static TOTAL_SQL_FAILURES: AtomicU64 = AtomicU64::new(0);
static TOTAL_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A Prometheus histogram with fixed upper bounds, updated lock-free.
struct Histogram {
    bounds: &'static [f64],
    counts: [AtomicU64; 16],
    /// The sum of observations, in millionths.
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: [const { AtomicU64::new(0) }; 16],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        if let Some(index) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[index].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str) -> String {
        let mut text = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            text.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {cumulative}\n"));
        }
        let count = self.count.load(Ordering::Relaxed);
        text.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}\n"));
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        text.push_str(&format!("{name}_sum {sum}\n{name}_count {count}\n"));
        text
    }
}

static REQUEST_SECONDS: Histogram = Histogram::new(&[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
]);
static STATEMENTS_PER_REQUEST: Histogram =
    Histogram::new(&[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
static COMMANDS_PER_REQUEST: Histogram =
    Histogram::new(&[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);

/// Records a finished GraphQL request: how long it took and its round trips.
pub fn record_request(elapsed: std::time::Duration, counters: &RequestCounters) {
    REQUEST_SECONDS.observe(elapsed.as_secs_f64());
    STATEMENTS_PER_REQUEST.observe(counters.sql_statements() as f64);
    COMMANDS_PER_REQUEST.observe(counters.mongo_commands() as f64);
}

/// Round trips made on behalf of one request.
#[derive(Debug, Default)]
pub struct RequestCounters {
    sql_statements: AtomicU64,
    mongo_commands: AtomicU64,
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

    /// Runs `fut` with these counters as the current request's.
    pub async fn scope<F: Future>(self: Arc<Self>, fut: F) -> F::Output {
        TOTAL_REQUESTS.fetch_add(1, Ordering::Relaxed);
        CURRENT.scope(self, fut).await
    }
}

/// Called once per SQL statement by the connection's metric hook.
pub fn record_sql_statement(failed: bool) {
    TOTAL_SQL_STATEMENTS.fetch_add(1, Ordering::Relaxed);
    if failed {
        TOTAL_SQL_FAILURES.fetch_add(1, Ordering::Relaxed);
    }
    let _ = CURRENT.try_with(|counters| {
        counters.sql_statements.fetch_add(1, Ordering::Relaxed);
    });
}

/// Called once per MongoDB command by the driver's command monitor.
pub fn record_mongo_command() {
    TOTAL_MONGO_COMMANDS.fetch_add(1, Ordering::Relaxed);
    let _ = CURRENT.try_with(|counters| {
        counters.mongo_commands.fetch_add(1, Ordering::Relaxed);
    });
}

/// Spawns `fut` on the runtime, counting its round trips towards the current request.
pub fn spawn_in_request<F>(fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    match CURRENT.try_with(Arc::clone) {
        Ok(counters) => tokio::spawn(CURRENT.scope(counters, fut)),
        Err(_) => tokio::spawn(fut),
    }
}

/// The process-wide counters in Prometheus text exposition format.
pub fn prometheus_text() -> String {
    format!(
        "# HELP goalgraph_sql_statements_total SQL statements executed.\n\
         # TYPE goalgraph_sql_statements_total counter\n\
         goalgraph_sql_statements_total {}\n\
         # HELP goalgraph_sql_statement_failures_total SQL statements that returned an error.\n\
         # TYPE goalgraph_sql_statement_failures_total counter\n\
         goalgraph_sql_statement_failures_total {}\n\
         # HELP goalgraph_mongo_commands_total MongoDB commands sent.\n\
         # TYPE goalgraph_mongo_commands_total counter\n\
         goalgraph_mongo_commands_total {}\n\
         # HELP goalgraph_graphql_requests_total GraphQL requests served.\n\
         # TYPE goalgraph_graphql_requests_total counter\n\
         goalgraph_graphql_requests_total {}\n",
        TOTAL_SQL_STATEMENTS.load(Ordering::Relaxed),
        TOTAL_SQL_FAILURES.load(Ordering::Relaxed),
        TOTAL_MONGO_COMMANDS.load(Ordering::Relaxed),
        TOTAL_REQUESTS.load(Ordering::Relaxed),
    ) + &REQUEST_SECONDS.render(
        "goalgraph_graphql_request_duration_seconds",
        "Time to answer a GraphQL request.",
    ) + &STATEMENTS_PER_REQUEST.render(
        "goalgraph_sql_statements_per_request",
        "SQL statements one GraphQL request ran.",
    ) + &COMMANDS_PER_REQUEST.render(
        "goalgraph_mongo_commands_per_request",
        "MongoDB commands one GraphQL request sent.",
    )
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
