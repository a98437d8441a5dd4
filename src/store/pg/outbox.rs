//! Appends change events to the transactional outbox, in the writer's transaction, for the
//! relay that keeps MongoDB's goal_trees in step.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::Db;
use super::entity::{objective, outbox};
use super::scoped::sql;
use super::tree::materialized_path;
use crate::domain::objective::{ObjectiveStatus, Visibility};
use crate::store::StoreResult;

/// What happened to an objective, with its stored `event_type`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter,
)]
pub enum ObjectiveEvent {
    #[strum(serialize = "objective.created")]
    Created,
    #[strum(serialize = "objective.updated")]
    Updated,
    #[strum(serialize = "objective.moved")]
    Moved,
    #[strum(serialize = "objective.archived")]
    Archived,
    #[strum(serialize = "objective.deleted")]
    Deleted,
}

impl ObjectiveEvent {
    /// The stored `event_type`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An objective as the writing transaction left it; every objective event carries one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSnapshot {
    pub objective_id: i64,
    pub parent_id: Option<i64>,
    /// Its materialised path as PostgreSQL saw it in the writing transaction, so the relay
    /// never derives a path from MongoDB's possibly lagging state.
    pub path: String,
    pub title: String,
    pub status: ObjectiveStatus,
    pub visibility: Visibility,
    pub archived: bool,
    pub version: i32,
}

/// Where a moved objective was before the move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoveOrigin {
    pub from_parent_id: Option<i64>,
    pub from_path: String,
}

/// A progress note given with a check-in, for goal_updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInNote {
    pub objective_id: i64,
    pub key_result_id: i64,
    pub check_in_id: i64,
    pub author_id: i64,
    pub body: String,
}

/// An objective event's stored payload: the snapshot's fields with the event's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ObjectivePayload<D> {
    #[serde(flatten)]
    objective: ObjectiveSnapshot,
    details: D,
}

/// Details of an objective event that has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NoDetails {}

/// One outbox event, typed: what writers record and the relay applies. A stored payload that
/// lacks a field is an error when decoded, never a silent default.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxEvent {
    /// Created, updated, archived or deleted (never [`ObjectiveEvent::Moved`]).
    Objective(ObjectiveEvent, ObjectiveSnapshot),
    Moved(ObjectiveSnapshot, MoveOrigin),
    CheckInNoted(CheckInNote),
}

impl OutboxEvent {
    /// The stored `event_type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            OutboxEvent::Objective(kind, _) => kind.as_str(),
            OutboxEvent::Moved(..) => ObjectiveEvent::Moved.as_str(),
            OutboxEvent::CheckInNoted(_) => CHECK_IN_NOTE_EVENT,
        }
    }

    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            OutboxEvent::Objective(_, objective) => serde_json::to_value(ObjectivePayload {
                objective: objective.clone(),
                details: NoDetails {},
            }),
            OutboxEvent::Moved(objective, origin) => serde_json::to_value(ObjectivePayload {
                objective: objective.clone(),
                details: origin.clone(),
            }),
            OutboxEvent::CheckInNoted(note) => serde_json::to_value(note),
        }
    }

    /// Decodes a stored event; the error says what is wrong with it.
    pub fn decode(event_type: &str, payload: &serde_json::Value) -> Result<Self, String> {
        let invalid = |err: serde_json::Error| format!("{event_type}: {err}");
        if event_type == CHECK_IN_NOTE_EVENT {
            return Ok(OutboxEvent::CheckInNoted(
                CheckInNote::deserialize(payload).map_err(invalid)?,
            ));
        }
        match event_type.parse::<ObjectiveEvent>().ok() {
            Some(ObjectiveEvent::Moved) => {
                let ObjectivePayload { objective, details } =
                    ObjectivePayload::<MoveOrigin>::deserialize(payload).map_err(invalid)?;
                Ok(OutboxEvent::Moved(objective, details))
            }
            Some(kind) => {
                let ObjectivePayload { objective, .. } =
                    ObjectivePayload::<NoDetails>::deserialize(payload).map_err(invalid)?;
                Ok(OutboxEvent::Objective(kind, objective))
            }
            None => Err(format!("unknown event type {event_type:?}")),
        }
    }
}

/// The snapshot of `objective` as this transaction sees it (its path included).
pub async fn snapshot(
    txn: &impl ConnectionTrait,
    objective: &objective::Model,
) -> StoreResult<ObjectiveSnapshot> {
    let path =
        materialized_path(txn, objective.tenant_id, objective.parent_id, objective.id).await?;
    Ok(ObjectiveSnapshot {
        objective_id: objective.id,
        parent_id: objective.parent_id,
        path,
        title: objective.title.clone(),
        status: objective.status,
        visibility: objective.visibility,
        archived: objective.archived_at.is_some(),
        version: objective.version,
    })
}

/// Records `event` for `objective` (its state after the change).
pub async fn record_objective(
    txn: &impl ConnectionTrait,
    event: ObjectiveEvent,
    objective: &objective::Model,
) -> StoreResult<()> {
    record_with_snapshot(txn, objective, |snapshot| {
        OutboxEvent::Objective(event, snapshot)
    })
    .await
}

/// Records the move of `objective` (its state after the move) from `origin`.
pub async fn record_move(
    txn: &impl ConnectionTrait,
    objective: &objective::Model,
    origin: MoveOrigin,
) -> StoreResult<()> {
    record_with_snapshot(txn, objective, |snapshot| {
        OutboxEvent::Moved(snapshot, origin)
    })
    .await
}

async fn record_with_snapshot(
    txn: &impl ConnectionTrait,
    objective: &objective::Model,
    event: impl FnOnce(ObjectiveSnapshot) -> OutboxEvent,
) -> StoreResult<()> {
    let snapshot = snapshot(txn, objective).await?;
    let event = event(snapshot);
    record(txn, objective.tenant_id, "objective", objective.id, &event).await
}

/// Records a progress note given with a check-in, for the relay to add to goal_updates: the
/// note is acknowledged with the check-in because it is committed in the same transaction.
pub async fn record_check_in_note(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    note: CheckInNote,
) -> StoreResult<()> {
    let key_result_id = note.key_result_id;
    record(
        txn,
        tenant_id,
        "key_result",
        key_result_id,
        &OutboxEvent::CheckInNoted(note),
    )
    .await
}

async fn record(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    aggregate_type: &str,
    aggregate_id: i64,
    event: &OutboxEvent,
) -> StoreResult<()> {
    let payload = event
        .payload()
        .map_err(|err| sea_orm::DbErr::Json(format!("outbox payload: {err}")))?;
    outbox::ActiveModel {
        tenant_id: Set(tenant_id),
        aggregate_type: Set(aggregate_type.into()),
        aggregate_id: Set(aggregate_id),
        event_type: Set(event.event_type().into()),
        payload: Set(payload),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The event type of [`record_check_in_note`].
pub const CHECK_IN_NOTE_EVENT: &str = "check_in.noted";

/// An event waiting for the relay.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    pub id: i64,
    pub tenant_id: i64,
    pub aggregate_id: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
}

/// In `txn`, takes the relay's transaction-scoped advisory lock (one relay at a time across
/// replicas) and returns up to `limit` pending events in id order; `None` when another relay
/// holds the lock.
pub async fn claim_pending(
    txn: &DatabaseTransaction,
    limit: u64,
) -> StoreResult<Option<Vec<PendingEvent>>> {
    let locked = txn
        .query_one_raw(sql(
            "SELECT pg_try_advisory_xact_lock($1, 0) AS locked",
            [RELAY_LOCK.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(None);
    }
    let pending = outbox::Entity::find()
        .filter(outbox::Column::ProcessedAt.is_null())
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(txn)
        .await?;
    Ok(Some(
        pending
            .into_iter()
            .map(|row| PendingEvent {
                id: row.id,
                tenant_id: row.tenant_id,
                aggregate_id: row.aggregate_id,
                event_type: row.event_type,
                payload: row.payload,
            })
            .collect(),
    ))
}

/// Marks `ids` relayed (in the claiming transaction).
pub async fn mark_relayed(txn: &DatabaseTransaction, ids: &[i64]) -> StoreResult<()> {
    txn.execute_raw(sql(
        "UPDATE outbox SET processed_at = now() WHERE id = ANY($1)",
        [ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// Deletes events relayed more than `retention` ago, keeping the newest row (its id is the
/// high-water mark [`high_water`] reads); returns how many went.
pub async fn prune_relayed(db: &Db, retention: std::time::Duration) -> StoreResult<u64> {
    let result = db
        .execute_raw(sql(
            r#"
            DELETE FROM outbox
             WHERE processed_at < now() - make_interval(secs => $1)
               -- the newest event stays: reconcile reads the high-water mark from it
               AND id < (SELECT max(id) FROM outbox)
            "#,
            [retention.as_secs_f64().into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// The id of the newest event written: events after it have higher ids.
pub async fn high_water(db: &Db) -> StoreResult<i64> {
    Ok(db
        .query_one_raw(sql("SELECT COALESCE(max(id), 0) AS id FROM outbox", []))
        .await?
        .map(|row| row.try_get("", "id"))
        .transpose()?
        .unwrap_or(0))
}

/// Events not yet relayed (the relay's lag, for tests and tools).
pub async fn pending_count(db: &Db) -> StoreResult<u64> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ProcessedAt.is_null())
        .count(db)
        .await?)
}

/// The key of the relay's advisory lock.
const RELAY_LOCK: i32 = 1_735_357_804;

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
    let statement = sql(
        r#"
            SELECT
              (SELECT count(*) FROM outbox WHERE processed_at IS NULL) AS outbox_pending,
              (SELECT COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8
                 FROM outbox WHERE processed_at IS NULL) AS outbox_lag_seconds,
              (SELECT COALESCE(sum(events), 0)::bigint FROM change_stream_offsets)
                 AS change_stream_events,
              (SELECT extract(epoch FROM now() - max(updated_at))::float8
                 FROM change_stream_offsets) AS change_stream_idle_seconds
        "#,
        [],
    );
    SyncStatus::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("sync status".into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn event_types_round_trip_through_their_stored_names() {
        assert_eq!(ObjectiveEvent::Created.as_str(), "objective.created");
        for event in ObjectiveEvent::iter() {
            assert_eq!(event.as_str().parse::<ObjectiveEvent>(), Ok(event));
        }
        assert!("created".parse::<ObjectiveEvent>().is_err());
    }

    fn snapshot() -> ObjectiveSnapshot {
        ObjectiveSnapshot {
            objective_id: 7,
            parent_id: Some(3),
            path: ",3,7,".into(),
            title: "Grow".into(),
            status: ObjectiveStatus::OnTrack,
            visibility: Visibility::Public,
            archived: false,
            version: 2,
        }
    }

    #[test]
    fn a_move_without_its_origin_is_an_error_not_a_plain_update() {
        let moved = OutboxEvent::Moved(
            snapshot(),
            MoveOrigin {
                from_parent_id: Some(1),
                from_path: ",1,7,".into(),
            },
        );
        let mut payload = moved.payload().expect("payload");
        assert_eq!(
            OutboxEvent::decode(moved.event_type(), &payload),
            Ok(moved.clone())
        );
        payload["details"]
            .as_object_mut()
            .expect("details")
            .remove("from_path");
        let err = OutboxEvent::decode(moved.event_type(), &payload).expect_err("missing field");
        assert!(err.contains("from_path"), "{err}");
    }

    #[test]
    fn an_objective_event_without_its_path_is_an_error() {
        let created = OutboxEvent::Objective(ObjectiveEvent::Created, snapshot());
        let mut payload = created.payload().expect("payload");
        payload.as_object_mut().expect("object").remove("path");
        assert!(OutboxEvent::decode(created.event_type(), &payload).is_err());
        assert!(OutboxEvent::decode("objective.exploded", &payload).is_err());
    }
}
