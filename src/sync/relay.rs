//! The outbox relay: applies PostgreSQL's outbox to MongoDB in id order, idempotently.
//!
//! One relay works at a time across all API replicas (a transaction-scoped advisory lock);
//! events are marked processed in the same transaction that read them, after MongoDB
//! accepted them, and deleted once they are older than [`RETENTION`], so the table holds
//! what is pending plus a short tail. When MongoDB is down nothing is marked, writes keep
//! succeeding into the outbox, and the relay catches up when MongoDB returns.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::SyncError;
use crate::store::mongo::MongoStore;
use crate::store::mongo::goal_trees::{GoalTrees, ObjectiveState};
use crate::store::mongo::goal_updates::{GoalUpdates, NewNote};
use crate::store::pg::outbox::{
    self, ObjectiveEvent, ObjectiveSnapshot, OutboxEvent, PendingEvent,
};
use crate::store::pg::{Db, data_version};

/// How many events one pass relays at most.
pub const BATCH: u64 = 500;
/// How long the relay keeps draining the outbox after shutdown was asked for.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// How long relayed events are kept before they are deleted.
pub const RETENTION: Duration = Duration::from_secs(600);
/// How often relayed events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

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
    #[tracing::instrument(name = "outbox.relay", skip(self), err(level = "debug"))]
    pub async fn run_once(&self) -> Result<usize, SyncError> {
        let txn = self.db.begin().await?;
        let Some(pending) = outbox::claim_pending(&txn, BATCH).await? else {
            return Ok(0);
        };
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
            outbox::mark_relayed(&txn, &applied).await?;
            // goal_trees changed (paths, statuses, titles): reports that read it must not serve
            // answers computed before (check-in notes change no report).
            // Events are applied in order until the first failure: the applied ones lead.
            let mut tenants: Vec<i64> = pending[..applied.len()]
                .iter()
                .filter(|event| event.event_type != outbox::CHECK_IN_NOTE_EVENT)
                .map(|event| event.tenant_id)
                .collect();
            tenants.sort_unstable();
            tenants.dedup();
            data_version::bump(&txn, &tenants).await?;
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
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune += PRUNE_EVERY;
                if let Err(err) = outbox::prune_relayed(&self.db, RETENTION).await {
                    tracing::warn!(error = %err, "pruning relayed outbox events failed");
                }
            }
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

    async fn apply(&self, pending: &PendingEvent) -> Result<(), SyncError> {
        let event = OutboxEvent::decode(&pending.event_type, &pending.payload)
            .map_err(|what| SyncError::Malformed(pending.id, what))?;
        let state = |objective: &ObjectiveSnapshot| ObjectiveState {
            tenant_id: pending.tenant_id,
            objective_id: objective.objective_id,
            path: objective.path.clone(),
            title: objective.title.clone(),
            status: objective.status.as_str().to_owned(),
            archived: objective.archived,
        };
        match event {
            OutboxEvent::CheckInNoted(note) => {
                self.updates
                    .add(NewNote {
                        tenant_id: pending.tenant_id,
                        objective_id: note.objective_id,
                        key_result_id: Some(note.key_result_id),
                        kind: "check_in",
                        body: note.body,
                        author_id: note.author_id,
                        source_outbox_id: Some(pending.id),
                    })
                    .await?;
            }
            OutboxEvent::Moved(objective, origin) => {
                self.trees
                    .apply_move(&state(&objective), &origin.from_path, pending.id)
                    .await?
            }
            OutboxEvent::Objective(ObjectiveEvent::Deleted, objective) => {
                self.trees
                    .delete(pending.tenant_id, objective.objective_id)
                    .await?
            }
            OutboxEvent::Objective(_, objective) => {
                self.trees.upsert(&state(&objective), pending.id).await?
            }
        }
        Ok(())
    }
}

/// Events not yet relayed (the relay's lag, for metrics and tests).
pub async fn pending(db: &Db) -> Result<u64, SyncError> {
    Ok(outbox::pending_count(db).await?)
}
