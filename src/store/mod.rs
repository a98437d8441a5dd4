//! Persistence: PostgreSQL (the source of truth) under `pg`, MongoDB under `mongo`, the state
//! replicas share (Redis or in process), the embedded PostgreSQL used when no server is
//! configured, and the per-request round-trip counters.

#[cfg(feature = "embedded-stores")]
pub mod embedded;
#[cfg(feature = "embedded-stores")]
pub mod instance;
pub mod metrics;
pub mod mongo;
pub mod pg;
pub mod redis_link;
pub mod report_cache;
pub mod shared;
pub mod window;

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::domain::DomainError;

/// The guarded value; a panic elsewhere while holding the lock leaves plain data usable.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A failure of the persistence layer. Database text stays inside: it is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed; the detail is for logs only.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A referenced row (named by the input field) does not exist in the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The write conflicts with the current state (stale version, duplicate, has children).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller's input breaks a business rule.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;
