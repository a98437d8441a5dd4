//! Opening the two stores for `serve` and for the one-off subcommands: the configured
//! servers, or the development ones of [`super::EmbeddedServers`] for a missing URL.

use std::time::Duration;

use crate::auth::TokenKeys;
use crate::config::{Secret, StoreArgs};
use crate::domain::role::Role;
use crate::store::mongo::MongoStore;
use crate::store::pg::org::{NewUser, OrgRepo};
use crate::store::pg::{self, Db, PgOptions};

use super::AnyError;
use super::EmbeddedServers;

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
    /// The development servers this process started or found, when a store URL is missing.
    embedded: Option<EmbeddedServers>,
}

impl OpenStores {
    /// Opens the stores `store` describes with PostgreSQL connections of `options`.
    pub async fn open(
        store: &StoreArgs,
        options: PgOptions,
        opener: Opener,
    ) -> Result<Self, AnyError> {
        let (mut database_url, mut mongodb_uri) =
            (exposed(&store.database_url), exposed(&store.mongodb_uri));
        let embedded = if database_url.is_none() || mongodb_uri.is_none() {
            Some(EmbeddedServers::open(store, opener, &mut database_url, &mut mongodb_uri).await?)
        } else {
            None
        };
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
        if let (Some(embedded), Opener::Serve) = (&embedded, opener) {
            embedded.record(database_url, mongodb_uri)?;
        }
        Ok(Self {
            db,
            mongo,
            embedded,
        })
    }

    /// Whether PostgreSQL is the embedded one started by this process (its first start
    /// creates a tenant).
    pub fn started_postgres(&self) -> bool {
        self.embedded
            .as_ref()
            .is_some_and(EmbeddedServers::started_postgres)
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
        let mut embedded = self.embedded;
        if let Some(embedded) = &mut embedded {
            embedded.stop_mongo().await?;
        }
        self.db.close().await?;
        if let Some(embedded) = embedded {
            embedded.stop_postgres().await?;
        }
        Ok(())
    }
}

fn exposed(secret: &Option<Secret>) -> Option<String> {
    secret.as_ref().map(|secret| secret.expose().to_owned())
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
