//! The milestones repository. A milestone attached to a key result of kind `milestone` moves
//! that key result's progress, so its writes refresh the roll-up chain.

use super::Db;
use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};

use super::entity::milestone;
use super::key_results::visible_key_result;
use super::objectives::visible_one;
use super::rollup;
use super::scoped::{begin_tenant_write, by_ids, grouped_by, update_in_tenant};
use crate::domain::access::Viewer;
use crate::store::{StoreError, StoreResult};

/// A validated new milestone.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMilestone {
    pub objective_id: i64,
    pub key_result_id: Option<i64>,
    pub title: String,
    pub due_on: Option<NaiveDate>,
}

/// A validated change to a milestone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MilestonePatch {
    pub title: Option<String>,
    pub due_on: Option<Option<NaiveDate>>,
    pub done: Option<bool>,
}

/// Reads and writes `milestones`.
#[derive(Clone)]
pub struct MilestoneRepo {
    db: Db,
}

impl MilestoneRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The milestones of each of `objective_ids` (already known to be visible), by id.
    pub async fn by_objectives(
        &self,
        tenant_id: i64,
        objective_ids: &[i64],
    ) -> StoreResult<Vec<milestone::Model>> {
        grouped_by::<milestone::Entity>(
            &self.db,
            tenant_id,
            milestone::Column::ObjectiveId,
            objective_ids,
            None,
        )
        .await
    }

    /// Adds a milestone to a visible objective, optionally counting towards one of its key
    /// results.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create(
        &self,
        viewer: &Viewer,
        command: NewMilestone,
    ) -> StoreResult<milestone::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        visible_one(&txn, viewer, command.objective_id, "objectiveId").await?;
        if let Some(kr) = command.key_result_id {
            let key_result = visible_key_result(&txn, viewer, kr).await?;
            if key_result.objective_id != command.objective_id {
                return Err(crate::domain::DomainError::invalid(
                    "keyResultId",
                    "the key result belongs to another objective",
                )
                .into());
            }
        }
        let created = milestone::ActiveModel {
            tenant_id: Set(viewer.tenant_id),
            objective_id: Set(command.objective_id),
            key_result_id: Set(command.key_result_id),
            title: Set(command.title),
            due_on: Set(command.due_on),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        rollup::refresh(&txn, viewer.tenant_id, &[command.objective_id]).await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Renames, re-dates, completes or re-opens a milestone of a visible objective.
    #[tracing::instrument(skip(self, viewer, patch), fields(tenant = viewer.tenant_id))]
    pub async fn update(
        &self,
        viewer: &Viewer,
        id: i64,
        patch: MilestonePatch,
    ) -> StoreResult<milestone::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = self.visible(&txn, viewer, id).await?;
        let objective_id = current.objective_id;
        let mut active = current.clone().into_active_model();
        if let Some(title) = patch.title {
            active.title = Set(title);
        }
        if let Some(due_on) = patch.due_on {
            active.due_on = Set(due_on);
        }
        match patch.done {
            Some(true) if current.done_at.is_none() => active.done_at = Set(Some(Utc::now())),
            Some(false) => active.done_at = Set(None),
            _ => {}
        }
        let updated = update_in_tenant(&txn, viewer.tenant_id, active).await?;
        rollup::refresh(&txn, viewer.tenant_id, &[objective_id]).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Deletes a milestone of a visible objective.
    #[tracing::instrument(skip(self, viewer), fields(tenant = viewer.tenant_id))]
    pub async fn delete(&self, viewer: &Viewer, id: i64) -> StoreResult<milestone::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = self.visible(&txn, viewer, id).await?;
        milestone::Entity::delete_many()
            .filter(milestone::Column::TenantId.eq(viewer.tenant_id))
            .filter(milestone::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        rollup::refresh(&txn, viewer.tenant_id, &[current.objective_id]).await?;
        txn.commit().await?;
        Ok(current)
    }

    /// The milestones with these ids whose objective `viewer` may see.
    pub async fn visible_by_ids(
        &self,
        viewer: &Viewer,
        ids: &[i64],
    ) -> StoreResult<Vec<milestone::Model>> {
        let milestones = by_ids::<milestone::Entity>(&self.db, viewer.tenant_id, ids, None).await?;
        let objective_ids: Vec<i64> = milestones.iter().map(|m| m.objective_id).collect();
        let visible: std::collections::HashSet<i64> =
            super::objectives::ObjectiveRepo::new(self.db.clone())
                .visible_by_ids(viewer, &objective_ids)
                .await?
                .into_iter()
                .map(|o| o.id)
                .collect();
        Ok(milestones
            .into_iter()
            .filter(|m| visible.contains(&m.objective_id))
            .collect())
    }

    async fn visible(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        viewer: &Viewer,
        id: i64,
    ) -> StoreResult<milestone::Model> {
        let found = by_ids::<milestone::Entity>(txn, viewer.tenant_id, &[id], None)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("id"))?;
        visible_one(txn, viewer, found.objective_id, "id").await?;
        Ok(found)
    }
}
