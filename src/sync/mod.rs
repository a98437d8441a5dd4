//! Keeping the two stores consistent: the transactional outbox relay (PostgreSQL → MongoDB),
//! the change-stream consumer (MongoDB → PostgreSQL), and reconcile, which compares both for a
//! tenant and repairs what differs.

pub mod activity;
pub mod reconcile;
pub mod relay;

/// A failure of a sync pipeline; each run logs it and retries.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Mongo(#[from] crate::store::mongo::MongoError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("malformed event {0}: {1}")]
    Malformed(i64, String),
}

impl From<mongodb::error::Error> for SyncError {
    fn from(err: mongodb::error::Error) -> Self {
        Self::Mongo(err.into())
    }
}
