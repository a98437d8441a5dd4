//! The outbox relay: applies PostgreSQL's outbox to MongoDB in id order, idempotently.
//!
//! One relay works at a time across all API replicas (a transaction-scoped advisory lock);
//! events are marked processed in the same transaction that read them, after MongoDB
//! accepted them. When MongoDB is down nothing is marked, writes keep succeeding into the
//! outbox, and the relay catches up when MongoDB returns.

use std::sync::Arc;
use std::time::Duration;

use crate::store::pg::Db;
use sea_orm::ConnectionTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;

use super::SyncError;
use crate::store::mongo::MongoStore;
use crate::store::mongo::goal_trees::{GoalTrees, ObjectiveState};
use crate::store::mongo::goal_updates::{GoalUpdates, NewNote};
use crate::store::pg::entity::outbox;
use crate::store::pg::outbox::{CHECK_IN_NOTE_EVENT, ObjectiveEvent};
use crate::store::pg::scoped::sql;

/// How many events one pass relays at most.
pub const BATCH: u64 = 500;
/// How long the relay keeps draining the outbox after shutdown was asked for.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Relays the outbox to MongoDB.
#[derive(Clone)]
pub struct OutboxRelay {
    db: Db,
    trees: GoalTrees,
    updates: GoalUpdates,
    wake: Arc<Notify>,
}

impl OutboxRelay {
    /// `wake` is notified by writers after they commit, to relay without waiting for the poll.
    pub fn new(db: Db, mongo: &MongoStore, wake: Arc<Notify>) -> Self {
        Self {
            db,
            trees: GoalTrees::new(mongo.database().clone()),
            updates: GoalUpdates::new(mongo.database().clone()),
            wake,
        }
    }

    /// Relays up to [`BATCH`] pending events; returns how many were applied (0 also when
    /// another relay holds the lock).
    pub async fn run_once(&self) -> Result<usize, SyncError> {
        let txn = self.db.begin().await?;
        let locked = txn
            .query_one_raw(sql(
                "SELECT pg_try_advisory_xact_lock(1735357804, 0) AS locked",
                [],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?
            .unwrap_or(false);
        if !locked {
            return Ok(0);
        }
        let pending = outbox::Entity::find()
            .filter(outbox::Column::ProcessedAt.is_null())
            .order_by_asc(outbox::Column::Id)
            .limit(BATCH)
            .all(&txn)
            .await?;
        let mut applied = Vec::with_capacity(pending.len());
        let mut failure = None;
        for event in &pending {
            match self.apply(event).await {
                Ok(()) => applied.push(event.id),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        if !applied.is_empty() {
            txn.execute_raw(sql(
                "UPDATE outbox SET processed_at = now() WHERE id = ANY($1)",
                [applied.clone().into()],
            ))
            .await?;
        }
        txn.commit().await?;
        match failure {
            Some(err) => Err(err),
            None => Ok(applied.len()),
        }
    }

    /// Relays until `shutdown` resolves: immediately while there is a backlog, on a writer's
    /// wake-up or every 250 ms otherwise, backing off up to 5 s while MongoDB fails. On
    /// shutdown it drains what is pending (for at most [`DRAIN_TIME`]) before returning.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        self.relay_until(shutdown).await;
        let drained = tokio::time::timeout(DRAIN_TIME, async {
            while let Ok(applied) = self.run_once().await {
                if applied == 0 {
                    break;
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("outbox relay stopped before the outbox was drained");
        }
    }

    async fn relay_until(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(250);
        loop {
            let pause = match self.run_once().await {
                Ok(n) if n as u64 == BATCH => Duration::ZERO,
                Ok(_) => {
                    backoff = Duration::from_millis(250);
                    backoff
                }
                Err(err) => {
                    tracing::warn!(error = %err, "outbox relay failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn apply(&self, event: &outbox::Model) -> Result<(), SyncError> {
        let payload = &event.payload;
        let malformed = |what: &str| SyncError::Malformed(event.id, what.to_owned());
        let int = |key: &str| payload.get(key).and_then(serde_json::Value::as_i64);
        let text = |key: &str| {
            payload
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        if event.event_type == CHECK_IN_NOTE_EVENT {
            self.updates
                .add(NewNote {
                    tenant_id: event.tenant_id,
                    objective_id: int("objective_id").ok_or_else(|| malformed("objective_id"))?,
                    key_result_id: int("key_result_id"),
                    kind: "check_in",
                    body: text("body").ok_or_else(|| malformed("body"))?,
                    author_id: int("author_id").ok_or_else(|| malformed("author_id"))?,
                    source_outbox_id: Some(event.id),
                })
                .await?;
            return Ok(());
        }
        let Some(kind) = ObjectiveEvent::parse(&event.event_type) else {
            tracing::warn!(event = event.id, kind = %event.event_type, "unknown outbox event skipped");
            return Ok(());
        };
        let state = ObjectiveState {
            tenant_id: event.tenant_id,
            objective_id: event.aggregate_id,
            path: text("path").ok_or_else(|| malformed("path"))?,
            title: text("title").unwrap_or_default(),
            status: text("status").unwrap_or_default(),
            archived: payload
                .get("archived")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        };
        match kind {
            ObjectiveEvent::Created | ObjectiveEvent::Updated | ObjectiveEvent::Archived => {
                self.trees.upsert(&state, event.id).await?
            }
            ObjectiveEvent::Moved => {
                let from_path = payload
                    .pointer("/details/from_path")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                self.trees.apply_move(&state, from_path, event.id).await?
            }
            ObjectiveEvent::Deleted => {
                self.trees
                    .delete(event.tenant_id, event.aggregate_id)
                    .await?
            }
        }
        Ok(())
    }
}

/// Events not yet relayed (the relay's lag, for metrics and tests).
pub async fn pending(db: &Db) -> Result<u64, SyncError> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ProcessedAt.is_null())
        .count(db)
        .await?)
}
