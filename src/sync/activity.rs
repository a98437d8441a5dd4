//! The change-stream consumer: watches MongoDB's goal_updates (and custom-field changes in
//! goal_trees) and maintains PostgreSQL's `objective_activity` summary.
//!
//! Each event's effect and the stream's resume token are committed in one PostgreSQL
//! transaction, so a consumer stopped at any point resumes exactly after the last event it
//! accounted for: nothing is lost and nothing is counted twice.

use std::time::Duration;

use crate::store::pg::Db;
use futures::StreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType, ResumeToken};
use mongodb::options::FullDocumentType;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::SyncError;
use crate::store::mongo::MongoStore;
use crate::store::mongo::{goal_trees, goal_updates};
use crate::store::pg::scoped::sql;

/// The consumer's name in `change_stream_offsets`.
pub const CONSUMER: &str = "objective_activity";

/// Maintains `objective_activity` from MongoDB's change stream.
#[derive(Clone)]
pub struct ActivityConsumer {
    db: Db,
    mongo: MongoStore,
}

impl ActivityConsumer {
    pub fn new(db: Db, mongo: MongoStore) -> Self {
        Self { db, mongo }
    }

    /// Consumes until `shutdown` resolves, reopening the stream after failures.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                outcome = self.consume() => {
                    if let Err(err) = outcome {
                        tracing::warn!(error = %err, "change-stream consumer failed; reopening");
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Opens the stream where the stored token says and applies events until it fails.
    async fn consume(&self) -> Result<(), SyncError> {
        let token = self.stored_token().await?;
        let fresh = token.is_none();
        let pipeline = [doc! { "$match": {
            "ns.coll": { "$in": [goal_updates::COLLECTION, goal_trees::COLLECTION] },
            "operationType": { "$in": ["insert", "update", "replace"] },
        } }];
        let mut stream = self
            .mongo
            .database()
            .watch()
            .pipeline(pipeline)
            .full_document(FullDocumentType::UpdateLookup)
            .resume_after(token)
            .await?;
        if fresh {
            // Remember where a first stream starts, so a restart before the first event
            // resumes here instead of skipping what happened in between.
            if let Some(start) = stream.resume_token() {
                let txn = self.db.begin().await?;
                store_token(&txn, &start, 0).await?;
                txn.commit().await?;
            }
        }
        while let Some(event) = stream.next().await {
            let event: ChangeStreamEvent<Document> = event?;
            let txn = self.db.begin().await?;
            let counted = apply(&txn, &event).await?;
            store_token(&txn, &event.id, i64::from(counted)).await?;
            txn.commit().await?;
        }
        Ok(())
    }

    async fn stored_token(&self) -> Result<Option<ResumeToken>, SyncError> {
        let row = self
            .db
            .query_one_raw(sql(
                "SELECT resume_token FROM change_stream_offsets WHERE consumer = $1",
                [CONSUMER.into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let json: serde_json::Value = row.try_get("", "resume_token")?;
        let bson = Bson::try_from(json).map_err(|e| SyncError::Malformed(0, e.to_string()))?;
        Ok(Some(
            bson::from_bson(bson).map_err(|e| SyncError::Malformed(0, e.to_string()))?,
        ))
    }
}

/// Applies one event to the summary; returns 1 when it counted as activity.
async fn apply(
    txn: &DatabaseTransaction,
    event: &ChangeStreamEvent<Document>,
) -> Result<u8, SyncError> {
    let collection = event
        .ns
        .as_ref()
        .and_then(|ns| ns.coll.as_deref())
        .unwrap_or_default();
    let Some(document) = event.full_document.as_ref() else {
        return Ok(0);
    };
    let (Ok(tenant_id), Ok(objective_id)) = (
        document.get_i64("tenant_id"),
        document.get_i64("objective_id"),
    ) else {
        return Ok(0);
    };
    if collection == goal_updates::COLLECTION && event.operation_type == OperationType::Insert {
        let created_at = document
            .get_datetime("created_at")
            .map(|t| to_chrono(*t))
            .unwrap_or_else(|_| chrono::Utc::now());
        let author_id = document.get_i64("author_id").ok();
        txn.execute_raw(sql(
            "INSERT INTO objective_activity (tenant_id, objective_id, update_count, last_update_at, last_author_id) \
             VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (tenant_id, objective_id) DO UPDATE SET \
               update_count = objective_activity.update_count + 1, \
               last_author_id = CASE WHEN objective_activity.last_update_at IS NULL \
                                       OR EXCLUDED.last_update_at >= objective_activity.last_update_at \
                                     THEN EXCLUDED.last_author_id ELSE objective_activity.last_author_id END, \
               last_update_at = GREATEST(objective_activity.last_update_at, EXCLUDED.last_update_at)",
            [tenant_id.into(), objective_id.into(), created_at.into(), author_id.into()],
        ))
        .await?;
        return Ok(1);
    }
    let fields_changed = event.update_description.as_ref().is_some_and(|u| {
        u.updated_fields
            .keys()
            .any(|k| k == "fields" || k.starts_with("fields."))
    });
    if collection == goal_trees::COLLECTION && fields_changed {
        let at = event
            .wall_time
            .map(to_chrono)
            .unwrap_or_else(chrono::Utc::now);
        txn.execute_raw(sql(
            "INSERT INTO objective_activity (tenant_id, objective_id, custom_fields_changed_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, objective_id) DO UPDATE SET \
               custom_fields_changed_at = EXCLUDED.custom_fields_changed_at",
            [tenant_id.into(), objective_id.into(), at.into()],
        ))
        .await?;
    }
    Ok(0)
}

async fn store_token(
    txn: &DatabaseTransaction,
    token: &ResumeToken,
    counted: i64,
) -> Result<(), SyncError> {
    let bson = bson::to_bson(token).map_err(|e| SyncError::Malformed(0, e.to_string()))?;
    let json = bson.into_relaxed_extjson();
    txn.execute_raw(sql(
        "INSERT INTO change_stream_offsets (consumer, resume_token, events) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer) DO UPDATE SET resume_token = EXCLUDED.resume_token, \
           events = change_stream_offsets.events + EXCLUDED.events, updated_at = now()",
        [CONSUMER.into(), json.into(), counted.into()],
    ))
    .await?;
    Ok(())
}

/// A BSON time as a chrono time (millisecond precision, as stored).
pub fn to_chrono(time: bson::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or_default()
}
