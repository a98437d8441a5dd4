//! Cross-store loaders: each batches the keys of a query level into one MongoDB command
//! (`$in`), or one SQL statement for the activity summary.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{Stores, every_key, grouped};
use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::store::mongo::goal_trees::{GoalTree, GoalTrees};
use crate::store::mongo::goal_updates::{GoalUpdate, GoalUpdates, Owner};
use crate::store::pg::activity::{Activity, ActivityRepo};
use mongodb::bson::oid::ObjectId;

macro_rules! document_loader {
    ($name:ident, $field:ident, $repo:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            repo: $repo,
            viewer: Viewer,
        }

        impl $name {
            pub fn new(stores: &Stores, viewer: Viewer) -> Self {
                Self {
                    repo: stores.$field.clone(),
                    viewer,
                }
            }
        }
    };
}

document_loader!(
    GoalTreeOf,
    trees,
    GoalTrees,
    "goal_trees documents by objective id."
);
document_loader!(
    UpdatesOf,
    updates,
    GoalUpdates,
    "Newest notes by (objective id, count)."
);
document_loader!(
    LatestUpdateOfKeyResult,
    updates,
    GoalUpdates,
    "The newest note by key result id."
);
document_loader!(
    UpdateById,
    updates,
    GoalUpdates,
    "Notes by ObjectId, in the viewer's tenant (whether their objective is visible is for the \
     caller to check)."
);
document_loader!(
    ActivityOf,
    activity,
    ActivityRepo,
    "Activity summaries by objective id."
);

impl Loader<i64> for GoalTreeOf {
    type Value = Option<GoalTree>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let found = self.repo.by_objectives(self.viewer.tenant_id, keys).await?;
        Ok(every_key(
            keys,
            found.into_iter().map(|(k, v)| (k, Some(v))).collect(),
        ))
    }
}

/// A first page of an objective's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpdatesKey {
    pub objective_id: i64,
    pub limit: i64,
}

impl Loader<UpdatesKey> for UpdatesOf {
    type Value = Vec<GoalUpdate>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[UpdatesKey],
    ) -> Result<HashMap<UpdatesKey, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (limit, keys) in grouped(keys.to_vec(), |key| key.limit) {
            let ids: Vec<i64> = keys.iter().map(|key| key.objective_id).collect();
            let found = self
                .repo
                .latest_by(self.viewer.tenant_id, Owner::Objective, &ids, limit)
                .await?;
            for (objective_id, updates) in found {
                out.insert(
                    UpdatesKey {
                        objective_id,
                        limit,
                    },
                    updates,
                );
            }
        }
        Ok(every_key(keys, out))
    }
}

impl Loader<i64> for LatestUpdateOfKeyResult {
    type Value = Option<GoalUpdate>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let found = self
            .repo
            .latest_by(self.viewer.tenant_id, Owner::KeyResult, keys, 1)
            .await?;
        let latest = found
            .into_iter()
            .map(|(id, mut updates)| (id, updates.drain(..).next()))
            .collect();
        Ok(every_key(keys, latest))
    }
}

impl Loader<ObjectId> for UpdateById {
    type Value = GoalUpdate;
    type Error = AppError;

    async fn load(&self, keys: &[ObjectId]) -> Result<HashMap<ObjectId, Self::Value>, Self::Error> {
        let notes = self.repo.by_ids(self.viewer.tenant_id, keys).await?;
        Ok(notes.into_iter().map(|note| (note.id, note)).collect())
    }
}

impl Loader<i64> for ActivityOf {
    type Value = Option<Activity>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.by_objectives(self.viewer.tenant_id, keys).await?;
        let found = rows
            .into_iter()
            .map(|a| (a.objective_id, Some(a)))
            .collect();
        Ok(every_key(keys, found))
    }
}
