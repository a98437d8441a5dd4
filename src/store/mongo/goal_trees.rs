//! `goal_trees`: one document per objective with the materialised path of its ancestors
//! (`",1,5,9,"`), its depth, denormalised title/status for search, and the tenant's custom
//! fields. Maintained from PostgreSQL by the outbox relay; branch queries match an anchored
//! path prefix backed by the `{tenant_id: 1, path: 1}` index.

use std::collections::HashMap;

use futures::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::options::{FindOptions, IndexOptions, UpdateOptions};
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

use super::{MongoError, MongoResult};
use crate::store::window::Window;

pub const COLLECTION: &str = "goal_trees";

/// One objective's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalTree {
    #[serde(rename = "_id")]
    pub id: String,
    pub tenant_id: i64,
    pub objective_id: i64,
    /// Ancestor ids and its own, comma-delimited on both ends: `",1,5,9,"`.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub depth: i32,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub fields: Document,
    /// The last outbox event applied to this document (orders and de-duplicates the relay).
    #[serde(default)]
    pub outbox_id: i64,
}

/// The denormalised state of an objective, as the outbox describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveState {
    pub tenant_id: i64,
    pub objective_id: i64,
    /// Its materialised path, as PostgreSQL saw it when the event was written.
    pub path: String,
    pub title: String,
    pub status: String,
    pub archived: bool,
}

/// The document id of an objective.
pub fn document_id(tenant_id: i64, objective_id: i64) -> String {
    format!("{tenant_id}:{objective_id}")
}

/// The path of a root objective.
pub fn root_path(objective_id: i64) -> String {
    format!(",{objective_id},")
}

/// The path of a child of the objective whose path is `parent_path`.
pub fn child_path(parent_path: &str, objective_id: i64) -> String {
    format!("{parent_path}{objective_id},")
}

/// Live documents of `tenant_id` at or below `path` whose custom fields equal `conditions`.
fn branch_filter(tenant_id: i64, path: &str, conditions: &[(String, Bson)]) -> Document {
    let mut filter = doc! {
        "tenant_id": tenant_id,
        "path": prefix_filter(path),
        "archived": { "$ne": true },
    };
    for (key, value) in conditions {
        // Keys were checked to be identifiers (no `$`, no dots); the value is matched with
        // $eq, so even a document-shaped value is compared, never interpreted.
        filter.insert(format!("fields.{key}"), doc! { "$eq": value.clone() });
    }
    filter
}

/// `{"$regex": …}` with the prefix escaped: the prefix is data, never a pattern.
pub fn prefix_filter(prefix: &str) -> Document {
    doc! { "$regex": format!("^{}", escape_regex(prefix)) }
}

fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn collection(db: &Database) -> Collection<Document> {
    db.collection(COLLECTION)
}

pub(super) async fn ensure_indexes(db: &Database) -> MongoResult<()> {
    collection(db)
        .create_indexes([
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "path": 1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "objective_id": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        ])
        .await?;
    Ok(())
}

fn decode(document: Document) -> MongoResult<GoalTree> {
    bson::from_document(document).map_err(|err| MongoError::Bson(err.to_string()))
}

/// Reads and writes `goal_trees`.
#[derive(Clone)]
pub struct GoalTrees {
    db: Database,
}

impl GoalTrees {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The documents of these objectives, in one command.
    pub async fn by_objectives(
        &self,
        tenant_id: i64,
        objective_ids: &[i64],
    ) -> MongoResult<HashMap<i64, GoalTree>> {
        let cursor = collection(&self.db)
            .find(doc! { "tenant_id": tenant_id, "objective_id": { "$in": objective_ids } })
            .with_options(one_batch())
            .await?;
        let documents: Vec<Document> = cursor.try_collect().await?;
        documents
            .into_iter()
            .map(|d| decode(d).map(|tree| (tree.objective_id, tree)))
            .collect()
    }

    /// Every document of a tenant (for reconcile).
    pub async fn all(&self, tenant_id: i64) -> MongoResult<Vec<GoalTree>> {
        let cursor = collection(&self.db)
            .find(doc! { "tenant_id": tenant_id })
            .await?;
        let documents: Vec<Document> = cursor.try_collect().await?;
        documents.into_iter().map(decode).collect()
    }

    /// Objectives strictly below the one at `path` whose custom fields equal `conditions`.
    pub async fn branch(
        &self,
        tenant_id: i64,
        path: &str,
        conditions: &[(String, Bson)],
        limit: i64,
    ) -> MongoResult<Vec<i64>> {
        let window = Window::first(u64::try_from(limit).unwrap_or_default());
        let found = self
            .branch_window(tenant_id, path, conditions, &window)
            .await?;
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// `(path, objective id)` of the documents strictly below `path` whose custom fields equal
    /// `conditions`, in `window` of the tree order (by path; cursors are paths), in read
    /// order.
    pub async fn branch_window(
        &self,
        tenant_id: i64,
        path: &str,
        conditions: &[(String, Bson)],
        window: &Window<String>,
    ) -> MongoResult<Vec<(String, i64)>> {
        let mut filter = branch_filter(tenant_id, path, conditions);
        let mut on_path = prefix_filter(path);
        on_path.insert("$ne", path);
        if let Some(after) = &window.after {
            on_path.insert("$gt", after.as_str());
        }
        if let Some(before) = &window.before {
            on_path.insert("$lt", before.as_str());
        }
        filter.insert("path", on_path);
        let limit = i64::try_from(window.limit).unwrap_or(i64::MAX);
        let options = FindOptions::builder()
            .projection(doc! { "objective_id": 1, "path": 1 })
            .sort(doc! { "path": if window.from_end { -1 } else { 1 } })
            .limit(limit)
            .batch_size(u32::try_from(limit).unwrap_or(u32::MAX))
            .build();
        let cursor = collection(&self.db)
            .find(filter)
            .with_options(options)
            .await?;
        let documents: Vec<Document> = cursor.try_collect().await?;
        Ok(documents
            .iter()
            .filter_map(|d| {
                Some((
                    d.get_str("path").ok()?.to_owned(),
                    d.get_i64("objective_id").ok()?,
                ))
            })
            .collect())
    }

    /// The objective at `path` and every one beneath it whose custom fields equal
    /// `conditions`, grouped by status in one aggregation: `(status, objective ids)`.
    pub async fn status_groups(
        &self,
        tenant_id: i64,
        path: &str,
        conditions: &[(String, Bson)],
    ) -> MongoResult<Vec<(String, Vec<i64>)>> {
        let pipeline = [
            doc! { "$match": branch_filter(tenant_id, path, conditions) },
            doc! { "$group": { "_id": "$status", "objective_ids": { "$push": "$objective_id" } } },
            doc! { "$sort": { "_id": 1 } },
        ];
        let cursor = collection(&self.db).aggregate(pipeline).await?;
        let groups: Vec<Document> = cursor.try_collect().await?;
        Ok(groups
            .iter()
            .filter_map(|group| {
                let status = group.get_str("_id").ok()?.to_owned();
                let ids = group
                    .get_array("objective_ids")
                    .ok()?
                    .iter()
                    .filter_map(Bson::as_i64)
                    .collect();
                Some((status, ids))
            })
            .collect())
    }

    /// Creates or refreshes an objective's document from its state, as of outbox event
    /// `outbox_id`; an event older than the document's is ignored.
    pub async fn upsert(&self, state: &ObjectiveState, outbox_id: i64) -> MongoResult<()> {
        let path = &state.path;
        let depth = depth_of(path);
        let id = document_id(state.tenant_id, state.objective_id);
        let result = collection(&self.db)
            .update_one(
                doc! {
                    "tenant_id": state.tenant_id,
                    "objective_id": state.objective_id,
                    "_id": &id,
                    "outbox_id": { "$lt": outbox_id },
                },
                doc! {
                    "$set": {
                        "tenant_id": state.tenant_id,
                        "objective_id": state.objective_id,
                        "path": path,
                        "depth": depth,
                        "title": &state.title,
                        "status": &state.status,
                        "archived": state.archived,
                        "outbox_id": outbox_id,
                    },
                    "$setOnInsert": { "fields": {} },
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await;
        match result.map_err(MongoError::from) {
            // The document exists with a newer event: this one was applied before.
            Err(err) if err.is_duplicate_key() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Applies a move from `from_path` as of `outbox_id`: rewrites, in one `update_many`
    /// with a pipeline update, the path prefix and depth of every descendant, then the moved
    /// objective's own document. Re-applying it changes nothing: no path starts with the old
    /// prefix any more, and the document's `outbox_id` already records the event.
    pub async fn apply_move(
        &self,
        state: &ObjectiveState,
        from_path: &str,
        outbox_id: i64,
    ) -> MongoResult<()> {
        let id = document_id(state.tenant_id, state.objective_id);
        if !from_path.is_empty() && from_path != state.path {
            let delta = depth_of(&state.path) - depth_of(from_path);
            let old_length = i64::try_from(from_path.chars().count()).unwrap_or(i64::MAX);
            collection(&self.db)
                .update_many(
                    doc! {
                        "tenant_id": state.tenant_id,
                        "path": prefix_filter(from_path),
                        "_id": { "$ne": &id },
                        "outbox_id": { "$lt": outbox_id },
                    },
                    vec![doc! { "$set": {
                        "path": { "$concat": [
                            &state.path,
                            { "$substrCP": ["$path", old_length, { "$strLenCP": "$path" }] },
                        ] },
                        "depth": { "$add": ["$depth", delta] },
                    } }],
                )
                .await?;
        }
        self.upsert(state, outbox_id).await
    }

    /// Removes an objective's document.
    pub async fn delete(&self, tenant_id: i64, objective_id: i64) -> MongoResult<()> {
        collection(&self.db)
            .delete_one(doc! {
                "tenant_id": tenant_id,
                "objective_id": objective_id,
                "_id": document_id(tenant_id, objective_id),
            })
            .await?;
        Ok(())
    }

    /// Replaces an objective's custom fields (already validated against the template).
    pub async fn set_fields(
        &self,
        tenant_id: i64,
        objective_id: i64,
        fields: Document,
    ) -> MongoResult<()> {
        collection(&self.db)
            .update_one(
                doc! {
                    "tenant_id": tenant_id,
                    "objective_id": objective_id,
                    "_id": document_id(tenant_id, objective_id),
                },
                doc! {
                    "$set": { "fields": fields },
                    "$setOnInsert": {
                        "tenant_id": tenant_id,
                        "objective_id": objective_id,
                        "path": "",
                        "depth": 0,
                        "outbox_id": 0_i64,
                    },
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await?;
        Ok(())
    }

    /// Inserts many new documents (bulk loads), unordered, in batches of 10,000.
    pub async fn insert_many(&self, trees: &[GoalTree]) -> MongoResult<()> {
        for chunk in trees.chunks(10_000) {
            let documents = chunk
                .iter()
                .map(|tree| {
                    bson::to_document(tree).map_err(|err| MongoError::Bson(err.to_string()))
                })
                .collect::<MongoResult<Vec<_>>>()?;
            collection(&self.db)
                .insert_many(documents)
                .ordered(false)
                .await?;
        }
        Ok(())
    }

    /// Replaces whole documents (reconcile's repair).
    pub async fn replace(&self, tree: &GoalTree) -> MongoResult<()> {
        let document = bson::to_document(tree).map_err(|err| MongoError::Bson(err.to_string()))?;
        collection(&self.db)
            .replace_one(
                doc! {
                    "tenant_id": tree.tenant_id,
                    "objective_id": tree.objective_id,
                    "_id": &tree.id,
                },
                document,
            )
            .with_options(
                mongodb::options::ReplaceOptions::builder()
                    .upsert(true)
                    .build(),
            )
            .await?;
        Ok(())
    }
}

/// Levels above the objective at `path` (a root has depth 0).
pub fn depth_of(path: &str) -> i32 {
    let ids = path.split(',').filter(|part| !part.is_empty()).count();
    i32::try_from(ids.saturating_sub(1)).unwrap_or(i32::MAX)
}

/// Find options that return everything in the first batch (one command, no getMore).
fn one_batch() -> FindOptions {
    FindOptions::builder().batch_size(100_000).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_hang_off_their_parent_and_count_depth() {
        let root = root_path(1);
        let child = child_path(&root, 12);
        assert_eq!(child, ",1,12,");
        assert_eq!(depth_of(&root), 0);
        assert_eq!(depth_of(&child_path(&child, 345)), 2);
    }

    #[test]
    fn a_prefix_is_escaped_so_it_matches_literally() {
        assert_eq!(escape_regex(",1,2,"), ",1,2,");
        assert_eq!(escape_regex("a.b*c"), "a\\.b\\*c");
    }
}
