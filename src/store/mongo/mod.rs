//! MongoDB: the flexible, document-shaped data (goal_trees, goal_templates, goal_updates),
//! reached through the official driver with every command counted, plus the local
//! SecantusDB server used when none is configured.

pub mod command_log;
pub mod goal_templates;
pub mod goal_trees;
pub mod goal_updates;
#[cfg(feature = "embedded-stores")]
pub mod local_server;
pub mod seed;

use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use super::metrics::record_mongo_command;

/// A failure talking to MongoDB; the detail is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    #[error("mongodb: {0}")]
    Driver(#[from] mongodb::error::Error),
    #[error("mongodb document: {0}")]
    Bson(String),
}

impl MongoError {
    /// Whether this is a duplicate-key error (an idempotent re-apply, for the relay).
    pub fn is_duplicate_key(&self) -> bool {
        match self {
            MongoError::Driver(err) => {
                matches!(
                    err.kind.as_ref(),
                    mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) if e.code == 11000
                ) || err.to_string().contains("E11000")
            }
            MongoError::Bson(_) => false,
        }
    }
}

/// Result of a MongoDB operation.
pub type MongoResult<T> = Result<T, MongoError>;

/// A connected MongoDB database with goalgraph's collections.
#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    db: Database,
}

impl MongoStore {
    /// Connects to `uri` and uses `database`; every command is counted per request and in
    /// total. Nothing is sent until the first operation.
    pub async fn connect(uri: &str, database: &str) -> MongoResult<Self> {
        let mut options = ClientOptions::parse(uri).await?;
        options.app_name = Some("goalgraph".into());
        options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
        options.command_event_handler = Some(EventHandler::callback(|event: CommandEvent| {
            if let CommandEvent::Started(started) = event {
                record_mongo_command();
                command_log::record(&started);
            }
        }));
        let client = Client::with_options(options)?;
        let db = client.database(database);
        Ok(Self { client, db })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Closes the connections and stops the driver's background workers; every clone of
    /// this store fails afterwards. Call once, at shutdown, after the last operation.
    pub async fn shutdown(&self) {
        self.client.clone().shutdown().await;
    }

    /// Whether the server answers (`ping`).
    pub async fn ping(&self) -> MongoResult<()> {
        self.db
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await?;
        Ok(())
    }

    /// Creates the indexes goalgraph relies on (idempotent; run at start-up).
    pub async fn ensure_indexes(&self) -> MongoResult<()> {
        goal_trees::ensure_indexes(&self.db).await?;
        goal_templates::ensure_indexes(&self.db).await?;
        goal_updates::ensure_indexes(&self.db).await?;
        Ok(())
    }
}
