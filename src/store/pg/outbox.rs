//! Appends change events to the transactional outbox, in the writer's transaction, for the
//! relay that keeps MongoDB's goal_trees in step.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, FromQueryResult};

use super::entity::{objective, outbox};
use super::tree::materialized_path;
use crate::store::StoreResult;

/// What happened to an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectiveEvent {
    Created,
    Updated,
    Moved,
    Archived,
    Deleted,
}

impl ObjectiveEvent {
    /// The event for an outbox `event_type`, if it is an objective event.
    pub fn parse(event_type: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Updated,
            Self::Moved,
            Self::Archived,
            Self::Deleted,
        ]
        .into_iter()
        .find(|e| e.as_str() == event_type)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveEvent::Created => "objective.created",
            ObjectiveEvent::Updated => "objective.updated",
            ObjectiveEvent::Moved => "objective.moved",
            ObjectiveEvent::Archived => "objective.archived",
            ObjectiveEvent::Deleted => "objective.deleted",
        }
    }
}

/// Records `event` for `objective` (its state after the change) with `extra` details. The
/// payload carries the objective's materialised path as PostgreSQL sees it in this
/// transaction, so the relay never derives a path from MongoDB's possibly lagging state.
pub async fn record_objective(
    txn: &impl ConnectionTrait,
    event: ObjectiveEvent,
    objective: &objective::Model,
    extra: serde_json::Value,
) -> StoreResult<()> {
    let path =
        materialized_path(txn, objective.tenant_id, objective.parent_id, objective.id).await?;
    let payload = serde_json::json!({
        "objective_id": objective.id,
        "parent_id": objective.parent_id,
        "path": path,
        "title": objective.title,
        "status": objective.status,
        "visibility": objective.visibility,
        "archived": objective.archived_at.is_some(),
        "version": objective.version,
        "details": extra,
    });
    outbox::ActiveModel {
        tenant_id: Set(objective.tenant_id),
        aggregate_type: Set("objective".into()),
        aggregate_id: Set(objective.id),
        event_type: Set(event.as_str().into()),
        payload: Set(payload),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Records a progress note given with a check-in, for the relay to add to goal_updates: the
/// note is acknowledged with the check-in because it is committed in the same transaction.
pub async fn record_check_in_note(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    objective_id: i64,
    key_result_id: i64,
    check_in_id: i64,
    author_id: i64,
    body: &str,
) -> StoreResult<()> {
    outbox::ActiveModel {
        tenant_id: Set(tenant_id),
        aggregate_type: Set("key_result".into()),
        aggregate_id: Set(key_result_id),
        event_type: Set(CHECK_IN_NOTE_EVENT.into()),
        payload: Set(serde_json::json!({
            "objective_id": objective_id,
            "key_result_id": key_result_id,
            "check_in_id": check_in_id,
            "author_id": author_id,
            "body": body,
        })),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The event type of [`record_check_in_note`].
pub const CHECK_IN_NOTE_EVENT: &str = "check_in.noted";

/// How far the two sync directions are behind, for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, FromQueryResult)]
pub struct SyncStatus {
    /// Outbox events not yet applied to MongoDB.
    pub outbox_pending: i64,
    /// Age of the oldest of them, in seconds (0 when none is pending).
    pub outbox_lag_seconds: f64,
    /// Change-stream events applied to PostgreSQL so far.
    pub change_stream_events: i64,
    /// Seconds since the change-stream consumer last applied an event (none before the first).
    pub change_stream_idle_seconds: Option<f64>,
}

/// The current [`SyncStatus`], in one statement.
pub async fn sync_status(db: &impl ConnectionTrait) -> StoreResult<SyncStatus> {
    let statement = crate::store::pg::scoped::sql(
        "SELECT \
           (SELECT count(*) FROM outbox WHERE processed_at IS NULL) AS outbox_pending, \
           (SELECT COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8 \
              FROM outbox WHERE processed_at IS NULL) AS outbox_lag_seconds, \
           (SELECT COALESCE(sum(events), 0)::bigint FROM change_stream_offsets) \
              AS change_stream_events, \
           (SELECT extract(epoch FROM now() - max(updated_at))::float8 \
              FROM change_stream_offsets) AS change_stream_idle_seconds",
        [],
    );
    SyncStatus::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("sync status".into()).into())
}
