//! PostgreSQL: connection set-up, the SeaORM entities and one repository per aggregate. All
//! SQL lives in this module tree; resolvers and loaders call repository methods only.

pub mod activity;
pub mod change_stream;
pub mod cte;
pub mod data_version;
pub mod db;
pub mod entity;
pub mod key_results;
pub mod milestones;
pub mod objective_columns;
pub mod objectives;
pub mod org;
pub mod outbox;
pub mod paging;
pub mod positional;
pub mod progress_feed;
pub mod reports;
pub mod rollup;
pub mod scoped;
pub mod seed;
pub mod statement_log;
pub mod subtree_sizes;
pub mod tree;
pub mod user_cache;
pub mod visibility;

use std::time::Duration;

use migration::MigratorTrait as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};

use super::StoreResult;
use super::metrics::record_sql_statement;
pub use db::{Db, Pooling};

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels any statement running longer (none when `None`): the API sets it a
    /// little above its request timeout so a cancelled request's query does not run on.
    pub statement_timeout: Option<Duration>,
    /// How connections reach PostgreSQL (directly, or through a transaction pooler).
    pub pooling: Pooling,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: None,
            pooling: Pooling::Session,
        }
    }
}

/// Opens a pool with JIT off (it makes recursive CTEs slow to plan and gains nothing on
/// OLTP-sized queries), the statement timeout of `options`, and every statement counted.
///
/// Directly, both settings are sent as start-up options; through a transaction pooler (which
/// refuses start-up options and hands each transaction to any server) they are set in every
/// transaction instead, and SQLx's statement cache is off (see [`db`]).
pub async fn connect(url: &str, options: &PgOptions) -> StoreResult<Db> {
    let mut settings = vec![("jit", "off".to_owned())];
    if let Some(timeout) = options.statement_timeout {
        settings.push(("statement_timeout", format!("{}ms", timeout.as_millis())));
    }
    let pooling = options.pooling;
    let startup = settings.clone();
    let mut connect = ConnectOptions::new(url.to_owned());
    connect
        .max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |opts| match pooling {
            Pooling::Session => opts.options(startup.iter().map(|(k, v)| (*k, v.as_str()))),
            // pgBouncer 1.18 refuses start-up parameters it does not track; binary results
            // make `extra_float_digits` moot anyway.
            Pooling::Transaction => opts.statement_cache_capacity(0).extra_float_digits(None),
        });
    let mut connection = Database::connect(connect).await?;
    connection.set_metric_callback(|info| statement_ran(&info.statement.sql, info.failed));
    Ok(match pooling {
        Pooling::Session => Db::session(connection),
        Pooling::Transaction => Db::transaction_pooled(connection, &settings),
    })
}

/// Counts statement `sql` (and logs it when a statement log is configured).
fn statement_ran(sql: &str, failed: bool) {
    record_sql_statement(failed);
    statement_log::record(sql);
}

/// Applies every pending migration, in one transaction that first takes an advisory lock:
/// replicas starting at once migrate one after another (the later ones find nothing to do),
/// and through a transaction pooler the migrator's bookkeeping stays on one server connection.
pub async fn migrate(db: &Db) -> StoreResult<()> {
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK.into()],
    ))
    .await?;
    migration::Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(())
}

/// The key of the migrations' advisory lock.
const MIGRATION_LOCK: i64 = 7_735_357_805;

/// Creates the `check_ins` partitions for this fiscal year and the next `years_ahead`.
pub async fn ensure_check_in_partitions(db: &Db, years_ahead: i32) -> StoreResult<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"
                SELECT goalgraph_ensure_check_in_partition(y)::text AS name
                FROM generate_series(extract(year FROM now())::int,
                                     extract(year FROM now())::int + $1) AS y
            "#,
            [years_ahead.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").map_err(Into::into))
        .collect()
}
