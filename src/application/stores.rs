//! Opening the two stores for `serve` and for the one-off subcommands: the configured
//! servers, or the embedded ones under the data directory — started by this process when it
//! owns the directory, or those of the `goalgraph serve` that does.

use std::time::Duration;

use crate::auth::TokenKeys;
use crate::config::{Secret, StoreArgs};
use crate::domain::role::Role;
use crate::store::embedded::EmbeddedPostgres;
use crate::store::instance::{self, Claim, InstanceLock, InstanceRecord};
use crate::store::mongo::MongoStore;
use crate::store::mongo::local_server::{LocalMongo, Storage};
use crate::store::pg::org::{NewUser, OrgRepo};
use crate::store::pg::{self, Db, PgOptions};

use super::AnyError;

/// The local MongoDB-compatible server's program name, as it shows in its command line.
const LOCAL_MONGO_PROGRAM: &str = "secantusd";
/// How long a subcommand waits for a starting `serve` to record where its databases are.
const RECORD_WAIT: Duration = Duration::from_secs(60);

/// Who opens the stores, which decides what happens when another process owns the data
/// directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `goalgraph serve`: refuses a data directory another process owns, and records its
    /// databases for the subcommands.
    Serve,
    /// A one-off subcommand: uses the databases of the `serve` that owns the directory.
    Command,
}

/// Both stores, connected and migrated, with whatever embedded servers this process started.
pub struct OpenStores {
    pub db: Db,
    pub mongo: MongoStore,
    postgres: Option<EmbeddedPostgres>,
    local_mongo: Option<LocalMongo>,
    lock: Option<InstanceLock>,
}

impl OpenStores {
    /// Opens the stores `store` describes with PostgreSQL connections of `options`.
    pub async fn open(
        store: &StoreArgs,
        options: PgOptions,
        opener: Opener,
    ) -> Result<Self, AnyError> {
        let embedded = store.database_url.is_none() || store.mongodb_uri.is_none();
        let (mut database_url, mut mongodb_uri) =
            (exposed(&store.database_url), exposed(&store.mongodb_uri));
        let (mut postgres, mut local_mongo, mut lock) = (None, None, None);
        if embedded {
            match instance::claim(&store.data_dir)? {
                Claim::Owned {
                    lock: owned,
                    leftover,
                } => {
                    reclaim(leftover).await?;
                    if database_url.is_none() {
                        let server = EmbeddedPostgres::start_reclaiming(
                            &store.data_dir.join("postgres"),
                            store.pg_port,
                        )
                        .await?;
                        server.ensure_database("goalgraph").await?;
                        database_url = Some(server.url("goalgraph"));
                        postgres = Some(server);
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
                        mongodb_uri = Some(server.uri());
                        local_mongo = Some(server);
                    }
                    lock = Some(owned);
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
        }
        let (Some(database_url), Some(mongodb_uri)) = (database_url, mongodb_uri) else {
            unreachable!("both stores are configured or embedded");
        };
        let db = pg::connect(&database_url, &options)
            .await
            .map_err(|err| format!("cannot connect to PostgreSQL: {err}"))?;
        pg::migrate(&db)
            .await
            .map_err(|err| format!("migrating PostgreSQL failed: {err}"))?;
        pg::ensure_check_in_partitions(&db, 1)
            .await
            .map_err(|err| format!("creating check-in partitions failed: {err}"))?;
        let mongo = MongoStore::connect(&mongodb_uri, &store.mongodb_database)
            .await
            .map_err(|err| format!("cannot connect to MongoDB: {err}"))?;
        if let (Some(lock), Opener::Serve) = (&lock, opener) {
            lock.record(&InstanceRecord {
                pid: std::process::id(),
                database_url,
                mongodb_uri,
                mongodb_pid: local_mongo.as_ref().and_then(LocalMongo::pid),
            })?;
        }
        Ok(Self {
            db,
            mongo,
            postgres,
            local_mongo,
            lock,
        })
    }

    /// Whether PostgreSQL is the embedded one started by this process (its first start
    /// creates a tenant).
    pub fn started_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Creates MongoDB's indexes in the background, retrying, so an unreachable MongoDB never
    /// stops the API from starting.
    pub fn ensure_indexes_in_background(&self) {
        let mongo = self.mongo.clone();
        tokio::spawn(async move {
            while let Err(err) = mongo.ensure_indexes().await {
                tracing::warn!(error = %err, "creating MongoDB indexes failed; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }

    /// Closes the connections and stops the servers this process started.
    pub async fn close(self) -> Result<(), AnyError> {
        // Stop the driver's background workers before the runtime drops them mid-request.
        self.mongo.shutdown().await;
        if let Some(local) = self.local_mongo {
            local.stop().await?;
        }
        self.db.close().await?;
        if let Some(postgres) = self.postgres {
            postgres.stop().await?;
        }
        if let Some(lock) = self.lock {
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

fn exposed(secret: &Option<Secret>) -> Option<String> {
    secret.as_ref().map(|secret| secret.expose().to_owned())
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

/// On the first start of an embedded database, creates a tenant with an admin and returns a
/// 24-hour token for it, so the playground works with no set-up at all.
pub async fn bootstrap_first_tenant(db: &Db, keys: &TokenKeys) -> Result<Option<String>, AnyError> {
    let org = OrgRepo::new(db.clone());
    if org.has_tenants().await.map_err(|err| format!("{err}"))? {
        return Ok(None);
    }
    let admin = NewUser {
        name: "Admin".into(),
        email: "admin@example.com".into(),
        role: Role::Admin,
        team_id: None,
    };
    let (tenant, user) = org
        .create_tenant("My company", admin)
        .await
        .map_err(|err| format!("{err}"))?;
    Ok(Some(format!(
        "first start: created tenant {} with admin user {}; a token for the dashboard and the \
         playground (24 h):\n{}",
        tenant.id,
        user.id,
        keys.issue(tenant.id, user.id, Role::Admin, 86_400)
    )))
}
