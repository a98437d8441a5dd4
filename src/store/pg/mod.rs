//! PostgreSQL: connection set-up, the SeaORM entities and one repository per aggregate. All
//! SQL lives in this module tree; resolvers and loaders call repository methods only.

pub mod activity;
pub mod entity;
pub mod key_results;
pub mod milestones;
pub mod objectives;
pub mod org;
pub mod outbox;
pub mod progress_feed;
pub mod reports;
pub mod rollup;
pub mod scoped;
pub mod seed;
pub mod tree;
pub mod visibility;

use std::time::Duration;

use migration::MigratorTrait as _;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use super::StoreResult;
use super::metrics::record_sql_statement;

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels any statement running longer (none when `None`): the API sets it a
    /// little above its request timeout so a cancelled request's query does not run on.
    pub statement_timeout: Option<Duration>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: None,
        }
    }
}

/// Opens a pool with JIT off (it makes recursive CTEs slow to plan and gains nothing on
/// OLTP-sized queries), the statement timeout of `options`, and every statement counted.
pub async fn connect(url: &str, options: &PgOptions) -> StoreResult<DatabaseConnection> {
    let statement_timeout = options.statement_timeout;
    let mut connect = ConnectOptions::new(url.to_owned());
    connect
        .max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |opts| {
            let opts = opts.options([("jit", "off")]);
            match statement_timeout {
                Some(timeout) => {
                    opts.options([("statement_timeout", format!("{}ms", timeout.as_millis()))])
                }
                None => opts,
            }
        });
    let mut db = Database::connect(connect).await?;
    db.set_metric_callback(|info| record_sql_statement(info.failed));
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> StoreResult<()> {
    migration::Migrator::up(db, None).await?;
    Ok(())
}

/// Creates the `check_ins` partitions for this fiscal year and the next `years_ahead`.
pub async fn ensure_check_in_partitions(
    db: &DatabaseConnection,
    years_ahead: i32,
) -> StoreResult<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT goalgraph_ensure_check_in_partition(y)::text AS name \
             FROM generate_series(extract(year FROM now())::int, \
                                  extract(year FROM now())::int + $1) AS y",
            [years_ahead.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").map_err(Into::into))
        .collect()
}
