//! Loaders for objectives and what hangs off them: children, descendants, ancestors, key
//! results, milestones and check-ins.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{SharedRows, Stores, by_id, every_key, grouped, shared};
use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::store::pg::entity::{check_in, key_result, milestone, objective};
use crate::store::pg::key_results::KeyResultRepo;
use crate::store::pg::milestones::MilestoneRepo;
use crate::store::pg::objectives::ObjectiveRepo;
use crate::store::pg::tree::{self, SubtreeRead, TreeEntry};

macro_rules! objective_loader {
    ($name:ident, $repo:ident, $repo_type:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            repo: $repo_type,
            viewer: Viewer,
        }

        impl $name {
            pub fn new(stores: &Stores, viewer: Viewer) -> Self {
                Self {
                    repo: stores.$repo.clone(),
                    viewer,
                }
            }
        }
    };
}

objective_loader!(
    ObjectiveById,
    objectives,
    ObjectiveRepo,
    "Visible objectives by id."
);
objective_loader!(
    ChildrenOf,
    objectives,
    ObjectiveRepo,
    "Visible, unarchived children by parent id."
);
objective_loader!(
    DescendantsOf,
    objectives,
    ObjectiveRepo,
    "Subtrees by (root id, max depth)."
);
objective_loader!(
    AncestorsOf,
    objectives,
    ObjectiveRepo,
    "Paths to the root by objective id."
);
objective_loader!(
    KeyResultsOf,
    key_results,
    KeyResultRepo,
    "Key results by objective id."
);
objective_loader!(
    KeyResultById,
    key_results,
    KeyResultRepo,
    "Visible key results by id."
);
objective_loader!(
    CheckInsOf,
    key_results,
    KeyResultRepo,
    "Latest check-ins by (key result id, count)."
);
objective_loader!(
    CheckInById,
    key_results,
    KeyResultRepo,
    "Check-ins by id, when their key result is visible."
);
objective_loader!(
    MilestonesOf,
    milestones,
    MilestoneRepo,
    "Milestones by objective id."
);
objective_loader!(
    MilestoneById,
    milestones,
    MilestoneRepo,
    "Visible milestones by id."
);

impl Loader<i64> for ObjectiveById {
    type Value = objective::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.visible_by_ids(&self.viewer, keys).await?;
        Ok(by_id(rows, |o| o.id))
    }
}

impl Loader<i64> for ChildrenOf {
    type Value = SharedRows<objective::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.visible_children(&self.viewer, keys).await?;
        Ok(every_key(
            keys,
            shared(grouped(rows, |o| o.parent_id.unwrap_or_default())),
        ))
    }
}

/// A subtree request: the root, how many levels below it, and which columns of the objectives
/// below it the query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubtreeKey {
    pub root_id: i64,
    pub read: SubtreeRead,
}

impl Loader<SubtreeKey> for DescendantsOf {
    type Value = SharedRows<TreeEntry>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[SubtreeKey],
    ) -> Result<HashMap<SubtreeKey, Self::Value>, Self::Error> {
        // One statement per distinct depth bound and column set (in practice one per query).
        let by_read = grouped(keys.to_vec(), |key| key.read);
        let mut out = HashMap::new();
        for (read, keys) in by_read {
            let roots: Vec<i64> = keys.iter().map(|key| key.root_id).collect();
            let entries = tree::descendants(self.repo.db(), &self.viewer, &roots, read).await?;
            for (root_id, entries) in grouped(entries, |entry| entry.start_id) {
                out.insert(SubtreeKey { root_id, read }, SharedRows::new(entries));
            }
        }
        Ok(every_key(keys, out))
    }
}

impl Loader<i64> for AncestorsOf {
    type Value = Vec<objective::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let entries = tree::ancestors(self.repo.db(), &self.viewer, keys).await?;
        let paths = grouped(entries, |entry| entry.start_id)
            .into_iter()
            .map(|(start, entries)| (start, entries.into_iter().map(|e| e.objective).collect()))
            .collect();
        Ok(every_key(keys, paths))
    }
}

impl Loader<i64> for KeyResultsOf {
    type Value = SharedRows<key_result::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.by_objectives(self.viewer.tenant_id, keys).await?;
        Ok(every_key(keys, shared(grouped(rows, |kr| kr.objective_id))))
    }
}

impl Loader<i64> for KeyResultById {
    type Value = key_result::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.visible_by_ids(&self.viewer, keys).await?;
        Ok(by_id(rows, |kr| kr.id))
    }
}

/// A check-in history request: the key result and how many of its latest check-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckInsKey {
    pub key_result_id: i64,
    pub limit: i64,
}

impl Loader<CheckInsKey> for CheckInsOf {
    type Value = Vec<check_in::Model>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[CheckInsKey],
    ) -> Result<HashMap<CheckInsKey, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (limit, keys) in grouped(keys.to_vec(), |key| key.limit) {
            let ids: Vec<i64> = keys.iter().map(|key| key.key_result_id).collect();
            let rows = self
                .repo
                .latest_check_ins(self.viewer.tenant_id, &ids, limit)
                .await?;
            for (key_result_id, rows) in grouped(rows, |c| c.key_result_id) {
                out.insert(
                    CheckInsKey {
                        key_result_id,
                        limit,
                    },
                    rows,
                );
            }
        }
        Ok(every_key(keys, out))
    }
}

impl Loader<i64> for CheckInById {
    type Value = check_in::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.visible_check_ins(&self.viewer, keys).await?;
        Ok(by_id(rows, |c| c.id))
    }
}

impl Loader<i64> for MilestonesOf {
    type Value = Vec<milestone::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.by_objectives(self.viewer.tenant_id, keys).await?;
        Ok(every_key(keys, grouped(rows, |m| m.objective_id)))
    }
}

impl Loader<i64> for MilestoneById {
    type Value = milestone::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.visible_by_ids(&self.viewer, keys).await?;
        Ok(by_id(rows, |m| m.id))
    }
}
