//! Round-trip counters: SQL statements per request and in total.
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
