//! `goal_updates`: progress notes and comments on objectives and key results — a markdown
//! body, its author and time, and the history of its edits.

use std::collections::HashMap;

use futures::TryStreamExt;
use mongodb::bson::{self, DateTime, Document, doc, oid::ObjectId};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

use super::{MongoError, MongoResult};
use crate::store::window::Window;

pub const COLLECTION: &str = "goal_updates";

/// An earlier version of an edited note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    pub body: String,
    pub edited_at: DateTime,
}

/// A progress note or comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalUpdate {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub tenant_id: i64,
    pub objective_id: i64,
    #[serde(default)]
    pub key_result_id: Option<i64>,
    /// `note`, or `check_in` for a note given with a check-in.
    pub kind: String,
    pub body: String,
    pub author_id: i64,
    pub created_at: DateTime,
    #[serde(default)]
    pub edits: Vec<Edit>,
    /// The outbox event that delivered it (check-in notes), making the relay idempotent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_outbox_id: Option<i64>,
}

/// A new note.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNote {
    pub tenant_id: i64,
    pub objective_id: i64,
    pub key_result_id: Option<i64>,
    pub kind: &'static str,
    pub body: String,
    pub author_id: i64,
    pub source_outbox_id: Option<i64>,
}

fn collection(db: &Database) -> Collection<GoalUpdate> {
    db.collection(COLLECTION)
}

pub(super) async fn ensure_indexes(db: &Database) -> MongoResult<()> {
    collection(db)
        .create_indexes([
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "objective_id": 1, "created_at": -1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "key_result_id": 1, "created_at": -1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "source_outbox_id": 1 })
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .partial_filter_expression(doc! { "source_outbox_id": { "$exists": true } })
                        .build(),
                )
                .build(),
        ])
        .await?;
    Ok(())
}

/// The notes of `$group` results (`_id`: the owner's id, `updates`: its notes) by owner.
fn grouped_updates(groups: Vec<Document>) -> MongoResult<HashMap<i64, Vec<GoalUpdate>>> {
    let mut out = HashMap::new();
    for group in groups {
        let Ok(owner) = group.get_i64("_id") else {
            continue;
        };
        let updates = group
            .get_array("updates")
            .map_err(|e| MongoError::Bson(e.to_string()))?
            .iter()
            .filter_map(|b| b.as_document().cloned())
            .map(decode)
            .collect::<MongoResult<Vec<_>>>()?;
        out.insert(owner, updates);
    }
    Ok(out)
}

fn decode(document: Document) -> MongoResult<GoalUpdate> {
    bson::from_document(document).map_err(|err| MongoError::Bson(err.to_string()))
}

/// Reads and writes `goal_updates`.
#[derive(Clone)]
pub struct GoalUpdates {
    db: Database,
}

impl GoalUpdates {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Adds a note; a note from an outbox event already delivered is not added twice.
    pub async fn add(&self, note: NewNote) -> MongoResult<GoalUpdate> {
        let update = GoalUpdate {
            id: ObjectId::new(),
            tenant_id: note.tenant_id,
            objective_id: note.objective_id,
            key_result_id: note.key_result_id,
            kind: note.kind.into(),
            body: note.body,
            author_id: note.author_id,
            created_at: DateTime::now(),
            edits: Vec::new(),
            source_outbox_id: note.source_outbox_id,
        };
        match collection(&self.db)
            .insert_one(&update)
            .await
            .map_err(MongoError::from)
        {
            Err(err) if err.is_duplicate_key() => Ok(update),
            other => other.map(|_| update),
        }
    }

    /// Inserts many notes at once (bulk loads), unordered, in batches of 10,000.
    pub async fn insert_many(&self, notes: &[GoalUpdate]) -> MongoResult<()> {
        for chunk in notes.chunks(10_000) {
            collection(&self.db)
                .insert_many(chunk)
                .ordered(false)
                .await?;
        }
        Ok(())
    }

    /// Replaces a note's body, keeping the previous one in its edit history.
    pub async fn edit(
        &self,
        tenant_id: i64,
        id: ObjectId,
        body: String,
    ) -> MongoResult<Option<GoalUpdate>> {
        let Some(current) = self.by_id(tenant_id, id).await? else {
            return Ok(None);
        };
        let previous = Edit {
            body: current.body,
            edited_at: DateTime::now(),
        };
        let previous = bson::to_bson(&previous).map_err(|e| MongoError::Bson(e.to_string()))?;
        collection(&self.db)
            .update_one(
                doc! { "tenant_id": tenant_id, "_id": id },
                doc! { "$set": { "body": body }, "$push": { "edits": previous } },
            )
            .await?;
        self.by_id(tenant_id, id).await
    }

    /// The notes of `tenant_id` among `ids`, in one command.
    pub async fn by_ids(&self, tenant_id: i64, ids: &[ObjectId]) -> MongoResult<Vec<GoalUpdate>> {
        let cursor = collection(&self.db)
            .find(doc! { "tenant_id": tenant_id, "_id": { "$in": ids } })
            .await?;
        Ok(cursor.try_collect().await?)
    }

    pub async fn by_id(&self, tenant_id: i64, id: ObjectId) -> MongoResult<Option<GoalUpdate>> {
        Ok(collection(&self.db)
            .find_one(doc! { "tenant_id": tenant_id, "_id": id })
            .await?)
    }

    /// The newest `limit` notes of each of `ids` (objective or key-result ids, by `key`), in
    /// one aggregation command.
    pub async fn latest_by(
        &self,
        tenant_id: i64,
        key: Owner,
        ids: &[i64],
        limit: i64,
    ) -> MongoResult<HashMap<i64, Vec<GoalUpdate>>> {
        let field = key.field();
        let pipeline = vec![
            doc! { "$match": { "tenant_id": tenant_id, field: { "$in": ids } } },
            doc! { "$sort": { "created_at": -1, "_id": -1 } },
            doc! { "$group": { "_id": format!("${field}"), "updates": { "$push": "$$ROOT" } } },
            doc! { "$project": { "updates": { "$slice": ["$updates", limit] } } },
        ];
        let cursor = collection(&self.db)
            .aggregate(pipeline)
            .batch_size(100_000)
            .await?;
        let groups: Vec<Document> = cursor.try_collect().await?;
        grouped_updates(groups)
    }

    /// The window of each of `objective_ids`' notes, newest first (by id, which grows with
    /// time), in one aggregation command; each list in read order.
    pub async fn pages(
        &self,
        tenant_id: i64,
        objective_ids: &[i64],
        window: &Window<ObjectId>,
    ) -> MongoResult<HashMap<i64, Vec<GoalUpdate>>> {
        let mut id = Document::new();
        // Newest first: after a cursor means older, a smaller id.
        if let Some(after) = window.after {
            id.insert("$lt", after);
        }
        if let Some(before) = window.before {
            id.insert("$gt", before);
        }
        let mut filter = doc! { "tenant_id": tenant_id, "objective_id": { "$in": objective_ids } };
        if !id.is_empty() {
            filter.insert("_id", id);
        }
        let limit = i64::try_from(window.limit).unwrap_or(i64::MAX);
        let pipeline = vec![
            doc! { "$match": filter },
            doc! { "$sort": { "_id": if window.from_end { 1 } else { -1 } } },
            doc! { "$group": { "_id": "$objective_id", "updates": { "$push": "$$ROOT" } } },
            doc! { "$project": { "updates": { "$slice": ["$updates", limit] } } },
        ];
        let cursor = collection(&self.db)
            .aggregate(pipeline)
            .batch_size(100_000)
            .await?;
        let groups: Vec<Document> = cursor.try_collect().await?;
        grouped_updates(groups)
    }

    /// Update count, last time and last author per objective of a tenant (for reconcile).
    pub async fn summary(&self, tenant_id: i64) -> MongoResult<HashMap<i64, NoteSummary>> {
        let pipeline = vec![
            doc! { "$match": { "tenant_id": tenant_id } },
            doc! { "$sort": { "created_at": 1, "_id": 1 } },
            doc! { "$group": {
                "_id": "$objective_id",
                "count": { "$sum": 1 },
                "last_at": { "$last": "$created_at" },
                "last_author": { "$last": "$author_id" },
            } },
        ];
        let cursor = self
            .db
            .collection::<Document>(COLLECTION)
            .aggregate(pipeline)
            .await?;
        let groups: Vec<Document> = cursor.try_collect().await?;
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                let objective_id = g.get_i64("_id").ok()?;
                let count = match g.get("count")? {
                    bson::Bson::Int32(n) => i64::from(*n),
                    bson::Bson::Int64(n) => *n,
                    _ => return None,
                };
                Some((
                    objective_id,
                    NoteSummary {
                        count,
                        last_at: g.get_datetime("last_at").ok().copied(),
                        last_author_id: g.get_i64("last_author").ok(),
                    },
                ))
            })
            .collect())
    }
}

/// What a set of notes is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Objective,
    KeyResult,
}

impl Owner {
    fn field(self) -> &'static str {
        match self {
            Owner::Objective => "objective_id",
            Owner::KeyResult => "key_result_id",
        }
    }
}

/// The activity summary of one objective's notes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteSummary {
    pub count: i64,
    pub last_at: Option<DateTime>,
    pub last_author_id: Option<i64>,
}
