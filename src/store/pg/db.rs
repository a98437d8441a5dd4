//! The PostgreSQL handle every repository holds: SeaORM's pool, made safe behind a
//! transaction-pooling pgBouncer when configured so.
//!
//! Through pgBouncer in transaction mode a server connection belongs to a client only until its
//! transaction ends. SQLx prepares each statement (`Parse`, `Sync`) and then executes it
//! (`Bind`, `Execute`, `Sync`), so outside an explicit transaction the two halves may reach
//! different servers; and it names its statements (`sqlx_s_1`, …) per client connection, so
//! names left on a server by one client collide with another's. In
//! [`Pooling::Transaction`] mode, therefore, every statement runs inside a transaction (a lone
//! statement gets one of its own), each transaction starts by dropping whatever prepared
//! statements its server connection holds, SQLx's statement cache is off, and the session
//! settings that cannot be sent at start-up (`jit`, `statement_timeout`) are set per
//! transaction with `SET LOCAL`.

use std::sync::Arc;

use futures::TryStreamExt;
use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, postgres::PgRow};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, RuntimeErr, Statement, StreamTrait, TransactionTrait,
};
use sea_query_sqlx::SqlxValues;

/// How connections reach PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Pooling {
    /// Each pooled connection is a PostgreSQL session of its own (directly, or through a
    /// session-pooling pgBouncer): statements are prepared once and cached.
    #[default]
    Session,
    /// Through a transaction-pooling pgBouncer (1.18 keeps no prepared statements across
    /// transactions): every statement runs in a transaction that clears the server's
    /// prepared statements first; no statement cache.
    Transaction,
}

/// Runs `$call` (an expression using the connection bound to `$conn`) on the pool, or in
/// transaction-pooling mode in a transaction of its own.
macro_rules! on_its_own {
    ($db:expr, $conn:ident => $call:expr) => {
        if $db.prologue.is_none() {
            let $conn = &$db.connection;
            $call.await
        } else {
            let txn = $db.begin().await?;
            let $conn = &txn;
            let result = $call.await?;
            txn.commit().await?;
            Ok(result)
        }
    };
}

/// SeaORM's pool plus what transaction pooling needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    connection: DatabaseConnection,
    /// SQL run at the start of every transaction in transaction-pooling mode.
    prologue: Option<Arc<str>>,
}

impl Db {
    /// Wraps a pool whose connections are sessions of their own.
    pub fn session(connection: DatabaseConnection) -> Self {
        Self {
            connection,
            prologue: None,
        }
    }

    /// Wraps a pool that reaches PostgreSQL through a transaction pooler; `settings` are
    /// `(name, value)` pairs applied to every transaction with `SET LOCAL`.
    pub fn transaction_pooled(connection: DatabaseConnection, settings: &[(&str, String)]) -> Self {
        let mut prologue = String::from("DEALLOCATE ALL");
        for (name, value) in settings {
            prologue.push_str(&format!(
                "; SET LOCAL {name} = '{}'",
                value.replace('\'', "''")
            ));
        }
        Self {
            connection,
            prologue: Some(prologue.into()),
        }
    }

    /// How this handle reaches PostgreSQL.
    pub fn pooling(&self) -> Pooling {
        match self.prologue {
            Some(_) => Pooling::Transaction,
            None => Pooling::Session,
        }
    }

    /// The underlying SeaORM pool (for migrations, the SQLx pool and closing).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Starts a transaction (in transaction-pooling mode, one that first clears its server's
    /// prepared statements and applies the session settings).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let txn = self.connection.begin().await?;
        if let Some(prologue) = &self.prologue {
            txn.execute_unprepared(prologue).await?;
        }
        Ok(txn)
    }

    /// Runs `stmt` and hands `each` every row as it arrives from PostgreSQL, so a large
    /// result is never held whole as raw rows (in transaction-pooling mode, in a transaction
    /// of its own, like every statement). The first error, the database's or `each`'s, ends it.
    pub async fn for_each_row<E: From<DbErr>>(
        &self,
        stmt: Statement,
        mut each: impl FnMut(&PgRow) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        if self.prologue.is_none() {
            return self.stream_from_pool(&stmt, &mut each).await;
        }
        let txn = self.begin().await?;
        {
            let mut rows = std::pin::pin!(txn.stream_raw(stmt).await?);
            while let Some(row) = rows.try_next().await? {
                let row = row
                    .try_as_pg_row()
                    .ok_or_else(|| DbErr::Custom("not a PostgreSQL row".into()))?;
                each(row)?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// [`Self::for_each_row`] on a pooled session, through SQLx directly: SeaORM's stream reads
    /// the clock twice per row for its metric callback (3 % of the server's time on a whole
    /// subtree), so the statement is counted here instead, once, as the callback counts it.
    async fn stream_from_pool<E: From<DbErr>>(
        &self,
        stmt: &Statement,
        each: &mut (impl FnMut(&PgRow) -> Result<(), E> + Send),
    ) -> Result<(), E> {
        let pool = self.connection.get_postgres_connection_pool();
        let values = SqlxValues(stmt.values.clone().unwrap_or(Values(Vec::new())));
        let mut rows = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values).fetch(pool);
        let mut failed = false;
        let result = loop {
            match rows.try_next().await {
                Ok(Some(row)) => {
                    if let Err(error) = each(&row) {
                        break Err(error);
                    }
                }
                Ok(None) => break Ok(()),
                Err(error) => {
                    failed = true;
                    break Err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(error))).into());
                }
            }
        };
        drop(rows);
        super::statement_ran(&stmt.sql, failed);
        result
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<(), DbErr> {
        self.connection.close().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_its_own!(self, conn => conn.execute_raw(stmt))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        on_its_own!(self, conn => conn.execute_unprepared(sql))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_its_own!(self, conn => conn.query_one_raw(stmt))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_its_own!(self, conn => conn.query_all_raw(stmt))
    }
}
