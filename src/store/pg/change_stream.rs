//! `change_stream_offsets`: where each change-stream consumer resumes, and which replica's
//! consumer holds the lease to apply events.
//!
//! Every replica runs a consumer, but only the lease holder reads the stream. The lease is a
//! fence as well as a lock: each event's effect is committed in a transaction that first
//! advances the stored token *on condition that this consumer still holds the lease*, so a
//! consumer that stalled past its lease (and was replaced) can never apply an event again.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::Db;
use super::scoped::sql;
use crate::store::StoreResult;

/// How long a lease lasts without being renewed: a killed replica's consumer is replaced
/// after at most this long.
pub const LEASE: Duration = Duration::from_secs(10);

/// One consumer's lease on its row, held as `owner`.
#[derive(Clone)]
pub struct ConsumerLease {
    db: Db,
    consumer: &'static str,
    owner: String,
}

/// The outcome of [`ConsumerLease::acquire`].
#[derive(Debug, Clone, PartialEq)]
pub enum Acquired {
    /// This consumer holds the lease; resume after this token (none: start from now).
    Held(Option<serde_json::Value>),
    /// Another consumer holds it.
    Elsewhere,
}

impl ConsumerLease {
    /// The lease of `consumer` for `owner` (unique per process and start).
    pub fn new(db: Db, consumer: &'static str, owner: String) -> Self {
        Self {
            db,
            consumer,
            owner,
        }
    }

    /// Takes the lease when it is free, expired or already ours.
    pub async fn acquire(&self) -> StoreResult<Acquired> {
        let row = self
            .db
            .query_one_raw(sql(
                r#"
                INSERT INTO change_stream_offsets (consumer, owner, lease_expires_at)
                VALUES ($1, $2, now() + make_interval(secs => $3))
                ON CONFLICT (consumer) DO UPDATE
                   SET owner = EXCLUDED.owner, lease_expires_at = EXCLUDED.lease_expires_at
                 WHERE change_stream_offsets.owner IS NULL
                    OR change_stream_offsets.owner = EXCLUDED.owner
                    OR change_stream_offsets.lease_expires_at < now()
                RETURNING resume_token
                "#,
                [
                    self.consumer.into(),
                    self.owner.clone().into(),
                    LEASE.as_secs_f64().into(),
                ],
            ))
            .await?;
        match row {
            Some(row) => Ok(Acquired::Held(row.try_get("", "resume_token")?)),
            None => Ok(Acquired::Elsewhere),
        }
    }

    /// Extends the lease; false when it was lost.
    pub async fn renew(&self) -> StoreResult<bool> {
        let result = self
            .db
            .execute_raw(sql(
                r#"
                    UPDATE change_stream_offsets
                    SET lease_expires_at = now() + make_interval(secs => $3)
                    WHERE consumer = $1 AND owner = $2
                "#,
                [
                    self.consumer.into(),
                    self.owner.clone().into(),
                    LEASE.as_secs_f64().into(),
                ],
            ))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives the lease up at once (a clean shutdown), so another replica takes over without
    /// waiting for it to expire.
    pub async fn release(&self) -> StoreResult<()> {
        self.db
            .execute_raw(sql(
                r#"
                    UPDATE change_stream_offsets SET owner = NULL, lease_expires_at = NULL
                    WHERE consumer = $1 AND owner = $2
                "#,
                [self.consumer.into(), self.owner.clone().into()],
            ))
            .await?;
        Ok(())
    }

    /// In `txn`, before applying an event: stores `token` as the resume point, adds `counted`
    /// to the applied-events total and extends the lease — only while this consumer holds the
    /// lease. False when it does not: roll back without applying anything. The row stays
    /// locked until `txn` ends, so no other consumer can take over in between.
    pub async fn advance(
        &self,
        txn: &DatabaseTransaction,
        token: serde_json::Value,
        counted: i64,
    ) -> StoreResult<bool> {
        let result = txn
            .execute_raw(sql(
                r#"
                UPDATE change_stream_offsets
                   SET resume_token = $3, events = events + $4, updated_at = now(),
                       lease_expires_at = now() + make_interval(secs => $5)
                 WHERE consumer = $1 AND owner = $2
                "#,
                [
                    self.consumer.into(),
                    self.owner.clone().into(),
                    token.into(),
                    counted.into(),
                    LEASE.as_secs_f64().into(),
                ],
            ))
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

/// An owner name unique to this process and moment: host, process id and start time.
pub fn unique_owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{host}:{}:{started:x}", std::process::id())
}
