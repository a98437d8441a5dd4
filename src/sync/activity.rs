//! The change-stream consumer: watches MongoDB's goal_updates (and custom-field changes in
//! goal_trees) and maintains PostgreSQL's `objective_activity` summary.
//!
//! Every replica runs one, and one at a time reads the stream: the holder of the lease in
//! `change_stream_offsets` (see `store::pg::change_stream`). Each event's effect and the
//! stream's resume token are committed in one PostgreSQL transaction that first checks the
//! lease is still held, so a consumer stopped at any point — or replaced by another replica's
//! after it was killed — resumes exactly after the last event accounted for: nothing is lost
//! and nothing is counted twice.

use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType, ResumeToken};
use mongodb::options::FullDocumentType;

use super::SyncError;
use crate::store::mongo::MongoStore;
use crate::store::mongo::{goal_trees, goal_updates};
use crate::store::pg::Db;
use crate::store::pg::activity;
use crate::store::pg::change_stream::{Acquired, ConsumerLease, LEASE, unique_owner};

/// The consumer's name in `change_stream_offsets`.
pub const CONSUMER: &str = "objective_activity";
/// How often a consumer that does not hold the lease checks whether it is free.
const STANDBY_POLL: Duration = Duration::from_secs(2);

/// Maintains `objective_activity` from MongoDB's change stream.
#[derive(Clone)]
pub struct ActivityConsumer {
    db: Db,
    mongo: MongoStore,
    lease: ConsumerLease,
}

/// What one event does to the summary.
#[derive(Debug, Clone, PartialEq)]
enum Effect {
    /// A new progress note: counted once.
    Note {
        tenant_id: i64,
        objective_id: i64,
        created_at: chrono::DateTime<chrono::Utc>,
        author_id: Option<i64>,
    },
    /// Custom fields changed.
    FieldsChanged {
        tenant_id: i64,
        objective_id: i64,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Nothing to record (the token still advances).
    None,
}

impl ActivityConsumer {
    pub fn new(db: Db, mongo: MongoStore) -> Self {
        let lease = ConsumerLease::new(db.clone(), CONSUMER, unique_owner());
        Self { db, mongo, lease }
    }

    /// Consumes while holding the lease until `shutdown` resolves, standing by while another
    /// replica's consumer holds it and reopening the stream after failures; gives the lease
    /// up on shutdown.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = tokio::select! {
                _ = &mut shutdown => break,
                outcome = self.lead() => match outcome {
                    Ok(()) => STANDBY_POLL,
                    Err(err) => {
                        tracing::warn!(error = %err, "change-stream consumer failed; reopening");
                        Duration::from_secs(1)
                    }
                },
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        if let Err(err) = self.lease.release().await {
            tracing::warn!(error = %err, "releasing the change-stream lease failed");
        }
    }

    /// Takes the lease if it can and applies events until the stream fails or the lease is
    /// lost; returns at once when another consumer holds it.
    async fn lead(&self) -> Result<(), SyncError> {
        let token = match self.lease.acquire().await? {
            Acquired::Elsewhere => return Ok(()),
            Acquired::Held(token) => token.map(decode_token).transpose()?,
        };
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
            if let Some(start) = stream.resume_token()
                && !self.commit(&start, &Effect::None).await?
            {
                return Ok(());
            }
        }
        loop {
            match tokio::time::timeout(LEASE / 3, stream.next()).await {
                Err(_idle) => {
                    if !self.lease.renew().await? {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Ok(Some(event)) => {
                    let event: ChangeStreamEvent<Document> = event?;
                    if !self.commit(&event.id, &effect_of(&event)).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Applies `effect` and stores `token` in one transaction, if the lease is still held;
    /// false (nothing applied) when it is not.
    #[tracing::instrument(name = "change_stream.event", skip_all, err(level = "debug"))]
    async fn commit(&self, token: &ResumeToken, effect: &Effect) -> Result<bool, SyncError> {
        let token = encode_token(token)?;
        let txn = self.db.begin().await?;
        let counted = i64::from(matches!(effect, Effect::Note { .. }));
        if !self.lease.advance(&txn, token, counted).await? {
            txn.rollback().await?;
            tracing::info!("change-stream lease lost to another replica");
            return Ok(false);
        }
        match *effect {
            Effect::Note {
                tenant_id,
                objective_id,
                created_at,
                author_id,
            } => {
                activity::count_update(&txn, tenant_id, objective_id, created_at, author_id).await?
            }
            Effect::FieldsChanged {
                tenant_id,
                objective_id,
                at,
            } => activity::fields_changed(&txn, tenant_id, objective_id, at).await?,
            Effect::None => {}
        }
        txn.commit().await?;
        Ok(true)
    }
}

/// What `event` does to the summary.
fn effect_of(event: &ChangeStreamEvent<Document>) -> Effect {
    let collection = event
        .ns
        .as_ref()
        .and_then(|ns| ns.coll.as_deref())
        .unwrap_or_default();
    let Some(document) = event.full_document.as_ref() else {
        return Effect::None;
    };
    let (Ok(tenant_id), Ok(objective_id)) = (
        document.get_i64("tenant_id"),
        document.get_i64("objective_id"),
    ) else {
        return Effect::None;
    };
    if collection == goal_updates::COLLECTION && event.operation_type == OperationType::Insert {
        return Effect::Note {
            tenant_id,
            objective_id,
            created_at: document
                .get_datetime("created_at")
                .map(|t| to_chrono(*t))
                .unwrap_or_else(|_| chrono::Utc::now()),
            author_id: document.get_i64("author_id").ok(),
        };
    }
    let fields_changed = event.update_description.as_ref().is_some_and(|u| {
        u.updated_fields
            .keys()
            .any(|k| k == "fields" || k.starts_with("fields."))
    });
    if collection == goal_trees::COLLECTION && fields_changed {
        return Effect::FieldsChanged {
            tenant_id,
            objective_id,
            at: event
                .wall_time
                .map(to_chrono)
                .unwrap_or_else(chrono::Utc::now),
        };
    }
    Effect::None
}

fn encode_token(token: &ResumeToken) -> Result<serde_json::Value, SyncError> {
    let bson = bson::to_bson(token).map_err(|e| SyncError::Malformed(0, e.to_string()))?;
    Ok(bson.into_relaxed_extjson())
}

fn decode_token(json: serde_json::Value) -> Result<ResumeToken, SyncError> {
    let bson = Bson::try_from(json).map_err(|e| SyncError::Malformed(0, e.to_string()))?;
    bson::from_bson(bson).map_err(|e| SyncError::Malformed(0, e.to_string()))
}

/// A BSON time as a chrono time (millisecond precision, as stored).
pub fn to_chrono(time: bson::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or_default()
}
