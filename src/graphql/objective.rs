//! The `Objective` type and its tree fields.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::context::{encode_id, load_one};
use super::enums::{ObjectiveStatus, Visibility, stored};
use super::key_result::KeyResult;
use super::milestone::Milestone;
use super::org::{Cycle, Team, User};
use crate::domain::global_id::NodeKind;
use crate::error::{AppError, AppResult};
use crate::loaders::{
    AncestorsOf, ChildrenOf, CycleById, DescendantsOf, KeyResultsOf, MilestonesOf, ObjectiveById,
    SubtreeKey, TeamById, UserById,
};
use crate::store::pg::entity::objective;

/// The deepest `maxDepth` a tree field accepts.
pub const MAX_TREE_DEPTH: i32 = 1000;

/// An objective: a goal in the alignment tree, measured by key results and by its children.
#[derive(Clone)]
pub struct Objective(pub objective::Model);

#[Object]
impl Objective {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::Objective, self.0.id)
    }

    /// What the objective aims for.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Why and how, in markdown.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Where it stands.
    async fn status(&self) -> AppResult<ObjectiveStatus> {
        Ok(stored::<crate::domain::objective::ObjectiveStatus>(&self.0.status)?.into())
    }

    /// Who may see it.
    async fn visibility(&self) -> AppResult<Visibility> {
        Ok(stored::<crate::domain::objective::Visibility>(&self.0.visibility)?.into())
    }

    /// Its weight in its parent's roll-up (> 0).
    async fn weight(&self) -> f64 {
        self.0.weight
    }

    /// Rolled-up progress in 0..1: the weighted mean of its key results and its children that
    /// are neither cancelled nor archived. Stored and kept current by every write.
    async fn progress(&self) -> f64 {
        self.0.progress
    }

    /// Incremented by every change; pass it as `expectedVersion` to refuse lost updates.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed (progress changes excepted: those are derived).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// When it was archived; archived objectives leave lists, trees and roll-ups.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    /// The objective it aligns to (null for a root, or when the parent is hidden from you).
    async fn parent(&self, ctx: &Context<'_>) -> AppResult<Option<Objective>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(load_one::<ObjectiveById, _>(ctx, parent_id)
            .await?
            .map(Objective))
    }

    /// The objectives aligned directly to this one (unarchived, visible to you), by id.
    async fn children(&self, ctx: &Context<'_>) -> AppResult<Vec<Objective>> {
        Ok(load_one::<ChildrenOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Objective)
            .collect())
    }

    /// The whole subtree below this objective as a flat list in pre-order (each objective
    /// followed by its own subtree, siblings by id), down to `maxDepth` levels (1 = children).
    async fn descendants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] max_depth: i32,
    ) -> AppResult<Vec<TreeEntry>> {
        if !(1..=MAX_TREE_DEPTH).contains(&max_depth) {
            return Err(AppError::bad_input(
                "maxDepth",
                format!("maxDepth must be between 1 and {MAX_TREE_DEPTH}"),
            ));
        }
        let key = SubtreeKey {
            root_id: self.0.id,
            max_depth,
        };
        Ok(load_one::<DescendantsOf, _>(ctx, key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|entry| TreeEntry {
                depth: entry.depth,
                objective: Objective(entry.objective),
            })
            .collect())
    }

    /// The path from the root down to this objective's parent (root first).
    async fn ancestors(&self, ctx: &Context<'_>) -> AppResult<Vec<Objective>> {
        Ok(load_one::<AncestorsOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Objective)
            .collect())
    }

    /// The key results measuring this objective, by id.
    async fn key_results(&self, ctx: &Context<'_>) -> AppResult<Vec<KeyResult>> {
        Ok(load_one::<KeyResultsOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(KeyResult)
            .collect())
    }

    /// Dated steps towards this objective, by id.
    async fn milestones(&self, ctx: &Context<'_>) -> AppResult<Vec<Milestone>> {
        Ok(load_one::<MilestonesOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Milestone)
            .collect())
    }

    /// The org unit that owns it.
    async fn team(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        let Some(team_id) = self.0.team_id else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, team_id).await?.map(Team))
    }

    /// The person accountable for it.
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        Ok(load_one::<UserById, _>(ctx, self.0.owner_id)
            .await?
            .map(User))
    }

    /// The planning period it belongs to.
    async fn cycle(&self, ctx: &Context<'_>) -> AppResult<Option<Cycle>> {
        let Some(cycle_id) = self.0.cycle_id else {
            return Ok(None);
        };
        Ok(load_one::<CycleById, _>(ctx, cycle_id).await?.map(Cycle))
    }
}

/// One objective of a subtree listing, with its distance below the objective asked about.
pub struct TreeEntry {
    depth: i32,
    objective: Objective,
}

#[Object]
impl TreeEntry {
    /// Levels below the starting objective (1 = a child).
    async fn depth(&self) -> i32 {
        self.depth
    }

    /// The objective.
    async fn objective(&self) -> &Objective {
        &self.objective
    }
}
