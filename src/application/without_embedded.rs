//! A build without the `embedded-stores` cargo feature (the container image): no development
//! stores to start, so both store URLs are required.

use crate::config::StoreArgs;

use super::AnyError;
use super::stores::Opener;

/// No embedded servers can exist in this build (the type has no values).
pub enum EmbeddedServers {}

impl EmbeddedServers {
    /// Always refuses: this build cannot start development stores.
    pub async fn open(
        _store: &StoreArgs,
        _opener: Opener,
        _database_url: &mut Option<String>,
        _mongodb_uri: &mut Option<String>,
    ) -> Result<Self, AnyError> {
        Err(
            "this goalgraph was built without embedded stores (cargo feature \
             `embedded-stores`): set DATABASE_URL and MONGODB_URI"
                .into(),
        )
    }

    pub fn record(&self, _database_url: String, _mongodb_uri: String) -> Result<(), AnyError> {
        match *self {}
    }

    pub fn started_postgres(&self) -> bool {
        match *self {}
    }

    pub async fn stop_mongo(&mut self) -> Result<(), AnyError> {
        match *self {}
    }

    pub async fn stop_postgres(self) -> Result<(), AnyError> {
        match self {}
    }
}
