//! The development stores a `serve` or a subcommand uses when no server is configured: the
//! embedded PostgreSQL and the local MongoDB-compatible server under the data directory —
//! started by this process when it owns the directory, or those of the `goalgraph serve` that
//! does. Built with the `embedded-stores` cargo feature (on by default).

use std::time::Duration;

use crate::config::StoreArgs;
use crate::store::embedded::EmbeddedPostgres;
use crate::store::instance::{self, Claim, InstanceLock, InstanceRecord};
use crate::store::mongo::local_server::{LocalMongo, Storage};

use super::AnyError;
use super::stores::Opener;

/// The local MongoDB-compatible server's program name, as it shows in its command line.
const LOCAL_MONGO_PROGRAM: &str = "secantusd";
/// How long a subcommand waits for a starting `serve` to record where its databases are.
const RECORD_WAIT: Duration = Duration::from_secs(60);

/// The embedded servers this process started, and its claim on the data directory.
pub struct EmbeddedServers {
    postgres: Option<EmbeddedPostgres>,
    local_mongo: Option<LocalMongo>,
    lock: Option<InstanceLock>,
}

impl EmbeddedServers {
    /// Fills in whichever of `database_url` and `mongodb_uri` is missing: from servers this
    /// process starts when it owns the data directory, else from the `serve` that owns it.
    pub async fn open(
        store: &StoreArgs,
        opener: Opener,
        database_url: &mut Option<String>,
        mongodb_uri: &mut Option<String>,
    ) -> Result<Self, AnyError> {
        let mut servers = Self {
            postgres: None,
            local_mongo: None,
            lock: None,
        };
        match instance::claim(&store.data_dir)? {
            Claim::Owned { lock, leftover } => {
                reclaim(leftover).await?;
                if database_url.is_none() {
                    let server = EmbeddedPostgres::start_reclaiming(
                        &store.data_dir.join("postgres"),
                        store.pg_port,
                    )
                    .await?;
                    server.ensure_database("goalgraph").await?;
                    *database_url = Some(server.url("goalgraph"));
                    servers.postgres = Some(server);
                }
                if mongodb_uri.is_none() {
                    let venv = store
                        .mongodb_venv
                        .clone()
                        .unwrap_or_else(|| store.data_dir.join("venv"));
                    let server = LocalMongo::start(
                        &venv,
                        Storage::Directory(store.data_dir.join("mongodb")),
                    )
                    .await?;
                    *mongodb_uri = Some(server.uri());
                    servers.local_mongo = Some(server);
                }
                servers.lock = Some(lock);
            }
            Claim::Taken(record) => {
                let record = match (opener, record) {
                    (Opener::Command, Some(record)) => record,
                    (Opener::Command, None) => {
                        instance::running_instance(&store.data_dir, RECORD_WAIT)
                            .await
                            .ok_or_else(|| in_use(store, None))?
                    }
                    (Opener::Serve, record) => return Err(in_use(store, record).into()),
                };
                database_url.get_or_insert(record.database_url);
                mongodb_uri.get_or_insert(record.mongodb_uri);
            }
        }
        Ok(servers)
    }

    /// Records, for the subcommands, where a `serve` owning the data directory keeps its
    /// databases.
    pub fn record(&self, database_url: String, mongodb_uri: String) -> Result<(), AnyError> {
        if let Some(lock) = &self.lock {
            lock.record(&InstanceRecord {
                pid: std::process::id(),
                database_url,
                mongodb_uri,
                mongodb_pid: self.local_mongo.as_ref().and_then(LocalMongo::pid),
            })?;
        }
        Ok(())
    }

    /// Whether this process started the embedded PostgreSQL.
    pub fn started_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Stops the local MongoDB-compatible server (after the driver has shut down).
    pub async fn stop_mongo(&mut self) -> Result<(), AnyError> {
        if let Some(local) = self.local_mongo.take() {
            local.stop().await?;
        }
        Ok(())
    }

    /// Stops PostgreSQL (after the pool has closed) and gives the data directory up.
    pub async fn stop_postgres(mut self) -> Result<(), AnyError> {
        if let Some(postgres) = self.postgres.take() {
            postgres.stop().await?;
        }
        if let Some(lock) = self.lock.take() {
            lock.clear();
        }
        Ok(())
    }
}

/// Stops the local MongoDB-compatible server a dead owner of the data directory recorded (the
/// PostgreSQL it left is stopped by [`EmbeddedPostgres::start_reclaiming`]).
async fn reclaim(leftover: Option<InstanceRecord>) -> Result<(), AnyError> {
    if let Some(pid) = leftover.and_then(|record| record.mongodb_pid)
        && instance::process_runs(pid, LOCAL_MONGO_PROGRAM)
    {
        tracing::warn!(
            pid,
            "stopping the MongoDB server a dead goalgraph left running"
        );
        instance::stop_process(pid, LOCAL_MONGO_PROGRAM, Duration::from_secs(20)).await?;
    }
    Ok(())
}

fn in_use(store: &StoreArgs, record: Option<InstanceRecord>) -> String {
    let owner = record.map_or_else(
        || "another goalgraph process".to_owned(),
        |record| format!("goalgraph process {}", record.pid),
    );
    format!(
        "the data directory {} is in use by {owner}; stop it first, or choose another \
         --data-dir (GOALGRAPH_DATA_DIR)",
        store.data_dir.display()
    )
}
