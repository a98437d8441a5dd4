//! Appends change events to the transactional outbox, in the writer's transaction, for the
//! relay that keeps MongoDB's goal_trees in step.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

use super::entity::{objective, outbox};
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
    fn as_str(self) -> &'static str {
        match self {
            ObjectiveEvent::Created => "objective.created",
            ObjectiveEvent::Updated => "objective.updated",
            ObjectiveEvent::Moved => "objective.moved",
            ObjectiveEvent::Archived => "objective.archived",
            ObjectiveEvent::Deleted => "objective.deleted",
        }
    }
}

/// Records `event` for `objective` (its state after the change) with `extra` details.
pub async fn record_objective(
    txn: &impl ConnectionTrait,
    event: ObjectiveEvent,
    objective: &objective::Model,
    extra: serde_json::Value,
) -> StoreResult<()> {
    let payload = serde_json::json!({
        "objective_id": objective.id,
        "parent_id": objective.parent_id,
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
