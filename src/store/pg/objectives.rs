//! The objectives repository: visible lookups, filtered pages, and the writes that change the
//! alignment tree (create, update, move, archive, delete), each with its outbox event and
//! roll-up refresh in one transaction under the tenant's write lock.

use super::Db;
use super::paging::{self, KeysetOrder, Window};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Select,
};

use super::entity::{cycle, objective, team, user};
use super::outbox::{MoveOrigin, ObjectiveEvent, record_move, record_objective};
use super::scoped::{begin_tenant_write, by_ids, grouped_by_position, require, update_in_tenant};
use super::{progress_feed, rollup, tree, visibility};
use crate::domain::access::Viewer;
use crate::domain::objective::{NewObjective, ObjectivePatch, ObjectiveStatus, check_move};
use crate::store::{StoreError, StoreResult};

/// Filters of the `objectives` query; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectiveFilter {
    /// Objectives of any of these teams.
    pub team_ids: Option<Vec<i64>>,
    pub cycle_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub parent_id: Option<i64>,
    /// Only objectives without a parent.
    pub roots_only: bool,
    /// Any of these statuses (empty: all).
    pub statuses: Vec<ObjectiveStatus>,
    /// Case-insensitive substring of the title.
    pub text: Option<String>,
    pub include_archived: bool,
}

/// Reads and writes `objectives`.
#[derive(Clone)]
pub struct ObjectiveRepo {
    db: Db,
}

impl ObjectiveRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The connection, for the tree walks of [`super::tree`].
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The objectives with these ids that `viewer` may see.
    #[tracing::instrument(skip(self, viewer), level = "debug")]
    pub async fn visible_by_ids(
        &self,
        viewer: &Viewer,
        ids: &[i64],
    ) -> StoreResult<Vec<objective::Model>> {
        by_ids::<objective::Entity>(
            &self.db,
            viewer.tenant_id,
            ids,
            Some(visibility::condition(viewer)),
        )
        .await
    }

    /// Objective `id` if visible, with its visible, unarchived children in id order, in one
    /// statement (for a query that asks for both: one round trip instead of two).
    #[tracing::instrument(skip(self, viewer), level = "debug")]
    pub async fn visible_with_children(
        &self,
        viewer: &Viewer,
        id: i64,
    ) -> StoreResult<Option<(objective::Model, Vec<objective::Model>)>> {
        let rows = objective::Entity::find()
            .filter(objective::Column::TenantId.eq(viewer.tenant_id))
            .filter(
                Condition::any().add(objective::Column::Id.eq(id)).add(
                    Condition::all()
                        .add(objective::Column::ParentId.eq(id))
                        .add(objective::Column::ArchivedAt.is_null()),
                ),
            )
            .filter(visibility::condition(viewer))
            .order_by_asc(objective::Column::Id)
            .all(&self.db)
            .await?;
        let (roots, children): (Vec<_>, Vec<_>) = rows.into_iter().partition(|o| o.id == id);
        // Children of an objective the viewer may not see are never handed out.
        Ok(roots.into_iter().next().map(|root| (root, children)))
    }

    /// Objective `id` if visible, with its visible descendants as `read` asks for them, in
    /// pre-order, in one statement (see `tree::root_with_descendants`).
    pub async fn visible_with_descendants(
        &self,
        viewer: &Viewer,
        id: i64,
        read: tree::SubtreeRead,
    ) -> StoreResult<Option<(objective::Model, Vec<tree::TreeEntry>)>> {
        tree::root_with_descendants(&self.db, viewer, id, read).await
    }

    /// The visible, unarchived children of each of `parent_ids`, in id order.
    #[tracing::instrument(skip(self, viewer), level = "debug")]
    pub async fn visible_children(
        &self,
        viewer: &Viewer,
        parent_ids: &[i64],
    ) -> StoreResult<Vec<objective::Model>> {
        // Decoded by position: nested `children` levels are the other large read.
        let unarchived_and_visible = objective::Column::ArchivedAt
            .is_null()
            .and(visibility::condition(viewer));
        grouped_by_position::<objective::Entity>(
            &self.db,
            viewer.tenant_id,
            objective::Column::ParentId,
            parent_ids,
            Some(unarchived_and_visible),
        )
        .await
    }

    /// The window of each of `parent_ids`' unarchived, visible children in id order, in one
    /// statement; rows come grouped by parent, each group in read order.
    pub async fn visible_children_pages(
        &self,
        viewer: &Viewer,
        parent_ids: &[i64],
        window: &Window<i64>,
    ) -> StoreResult<Vec<objective::Model>> {
        let query = objective::Entity::find()
            .filter(objective::Column::TenantId.eq(viewer.tenant_id))
            .filter(Expr::cust_with_values(
                "objectives.parent_id = ANY($1)",
                [parent_ids.to_vec()],
            ))
            .filter(objective::Column::ArchivedAt.is_null())
            .filter(visibility::condition(viewer));
        let order = KeysetOrder {
            columns: &["objectives.id"],
            natural: sea_orm::Order::Asc,
        };
        paging::per_group(&self.db, query, "parent_id", &order, window).await
    }

    /// The visible objectives matching `filter` in `window` of their id order.
    #[tracing::instrument(skip(self, viewer), level = "debug")]
    pub async fn page(
        &self,
        viewer: &Viewer,
        filter: &ObjectiveFilter,
        window: &Window<i64>,
    ) -> StoreResult<Vec<objective::Model>> {
        let query = matching(viewer, filter);
        Ok(paging::by_id(query, objective::Column::Id, window)
            .all(&self.db)
            .await?)
    }

    /// How many visible objectives match `filter` (every page together).
    #[tracing::instrument(skip(self, viewer), level = "debug")]
    pub async fn count(&self, viewer: &Viewer, filter: &ObjectiveFilter) -> StoreResult<u64> {
        Ok(matching(viewer, filter).count(&self.db).await?)
    }

    /// Creates an objective (under a visible parent, if any) and refreshes the parent's chain.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create(
        &self,
        viewer: &Viewer,
        command: NewObjective,
    ) -> StoreResult<objective::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        if let Some(parent) = command.parent_id {
            visible_one(&txn, viewer, parent, "parentId").await?;
        }
        check_references(
            &txn,
            viewer.tenant_id,
            Some(command.owner_id),
            command.team_id,
            command.cycle_id,
        )
        .await?;
        let created = objective::ActiveModel {
            tenant_id: Set(viewer.tenant_id),
            parent_id: Set(command.parent_id),
            team_id: Set(command.team_id),
            owner_id: Set(command.owner_id),
            cycle_id: Set(command.cycle_id),
            title: Set(command.title),
            description: Set(command.description),
            status: Set(command.status),
            visibility: Set(command.visibility),
            weight: Set(command.weight),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        record_objective(&txn, ObjectiveEvent::Created, &created).await?;
        rollup::refresh(
            &txn,
            viewer.tenant_id,
            &created.parent_id.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Applies `patch` to a visible objective, refusing a stale `expected_version`.
    #[tracing::instrument(skip(self, viewer, patch), fields(tenant = viewer.tenant_id))]
    pub async fn update(
        &self,
        viewer: &Viewer,
        id: i64,
        patch: ObjectivePatch,
    ) -> StoreResult<objective::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_one(&txn, viewer, id, "id").await?;
        check_version(&current, patch.expected_version)?;
        check_references(
            &txn,
            viewer.tenant_id,
            patch.owner_id,
            patch.team_id.flatten(),
            patch.cycle_id.flatten(),
        )
        .await?;
        let parent_id = current.parent_id;
        let version = current.version;
        let status_changed = patch.status.is_some_and(|status| status != current.status);
        let mut active = current.into_active_model();
        if let Some(title) = patch.title {
            active.title = Set(title);
        }
        if let Some(description) = patch.description {
            active.description = Set(description);
        }
        if let Some(status) = patch.status {
            active.status = Set(status);
        }
        if let Some(visibility) = patch.visibility {
            active.visibility = Set(visibility);
        }
        if let Some(weight) = patch.weight {
            active.weight = Set(weight);
        }
        if let Some(owner) = patch.owner_id {
            active.owner_id = Set(owner);
        }
        if let Some(team) = patch.team_id {
            active.team_id = Set(team);
        }
        if let Some(cycle) = patch.cycle_id {
            active.cycle_id = Set(cycle);
        }
        mark_changed(&mut active, version);
        let updated = update_in_tenant(&txn, viewer.tenant_id, active).await?;
        record_objective(&txn, ObjectiveEvent::Updated, &updated).await?;
        if status_changed {
            progress_feed::announce_current(&txn, viewer.tenant_id, &[id]).await?;
        }
        // Weight and status feed the parent's roll-up.
        rollup::refresh(
            &txn,
            viewer.tenant_id,
            &parent_id.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Re-parents a visible objective (to the root level with `None`). Refuses a new parent
    /// that is the objective or one of its descendants; refreshes both chains.
    #[tracing::instrument(skip(self, viewer), fields(tenant = viewer.tenant_id))]
    pub async fn move_to(
        &self,
        viewer: &Viewer,
        id: i64,
        new_parent: Option<i64>,
        expected_version: Option<i32>,
    ) -> StoreResult<objective::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_one(&txn, viewer, id, "id").await?;
        check_version(&current, expected_version)?;
        if let Some(parent) = new_parent {
            visible_one(&txn, viewer, parent, "parentId").await?;
            // Under the tenant lock the tree cannot change between this check and the write.
            let parent_chain: Vec<i64> = tree::chain(&txn, viewer.tenant_id, &[parent])
                .await?
                .into_iter()
                .map(|link| link.id)
                .collect();
            check_move(id, parent, &parent_chain)?;
        }
        let old_parent = current.parent_id;
        let from_path = tree::materialized_path(&txn, viewer.tenant_id, old_parent, id).await?;
        let version = current.version;
        let mut active = current.into_active_model();
        active.parent_id = Set(new_parent);
        mark_changed(&mut active, version);
        let moved = update_in_tenant(&txn, viewer.tenant_id, active).await?;
        record_move(
            &txn,
            &moved,
            MoveOrigin {
                from_parent_id: old_parent,
                from_path,
            },
        )
        .await?;
        let seeds: Vec<i64> = old_parent.into_iter().chain(new_parent).collect();
        rollup::refresh(&txn, viewer.tenant_id, &seeds).await?;
        txn.commit().await?;
        Ok(moved)
    }

    /// Archives a visible objective: it leaves lists, tree walks and its parent's roll-up.
    #[tracing::instrument(skip(self, viewer), fields(tenant = viewer.tenant_id))]
    pub async fn archive(&self, viewer: &Viewer, id: i64) -> StoreResult<objective::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_one(&txn, viewer, id, "id").await?;
        if current.archived_at.is_some() {
            return Ok(current);
        }
        let parent_id = current.parent_id;
        let version = current.version;
        let mut active = current.into_active_model();
        active.archived_at = Set(Some(Utc::now()));
        mark_changed(&mut active, version);
        let archived = update_in_tenant(&txn, viewer.tenant_id, active).await?;
        record_objective(&txn, ObjectiveEvent::Archived, &archived).await?;
        rollup::refresh(
            &txn,
            viewer.tenant_id,
            &parent_id.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        txn.commit().await?;
        Ok(archived)
    }

    /// Deletes a visible objective without children (with its key results, check-ins and
    /// milestones); an objective with children must have them moved or deleted first.
    #[tracing::instrument(skip(self, viewer), fields(tenant = viewer.tenant_id))]
    pub async fn delete(&self, viewer: &Viewer, id: i64) -> StoreResult<objective::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_one(&txn, viewer, id, "id").await?;
        let children = objective::Entity::find()
            .filter(objective::Column::TenantId.eq(viewer.tenant_id))
            .filter(objective::Column::ParentId.eq(id))
            .count(&txn)
            .await?;
        if children > 0 {
            return Err(StoreError::Conflict(format!(
                "the objective has {children} child objectives; move or delete them first"
            )));
        }
        objective::Entity::delete_many()
            .filter(objective::Column::TenantId.eq(viewer.tenant_id))
            .filter(objective::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        record_objective(&txn, ObjectiveEvent::Deleted, &current).await?;
        rollup::refresh(
            &txn,
            viewer.tenant_id,
            &current.parent_id.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        txn.commit().await?;
        Ok(current)
    }
}

/// The objective `id` if `viewer` may see it, else `NotFound(field)`: an objective of another
/// tenant, or a private one, is indistinguishable from one that does not exist.
pub(crate) async fn visible_one(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
    field: &'static str,
) -> StoreResult<objective::Model> {
    by_ids::<objective::Entity>(
        db,
        viewer.tenant_id,
        &[id],
        Some(visibility::condition(viewer)),
    )
    .await?
    .pop()
    .ok_or(StoreError::NotFound(field))
}

async fn check_references(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    owner_id: Option<i64>,
    team_id: Option<i64>,
    cycle_id: Option<i64>,
) -> StoreResult<()> {
    require::<user::Entity>(db, tenant_id, owner_id, "ownerId").await?;
    require::<team::Entity>(db, tenant_id, team_id, "teamId").await?;
    require::<cycle::Entity>(db, tenant_id, cycle_id, "cycleId").await
}

/// Every change bumps the version (optimistic concurrency) and the change time.
fn mark_changed(active: &mut objective::ActiveModel, version: i32) {
    active.version = Set(version + 1);
    active.updated_at = Set(Utc::now());
}

fn check_version(current: &objective::Model, expected: Option<i32>) -> StoreResult<()> {
    match expected {
        Some(expected) if expected != current.version => Err(StoreError::Conflict(format!(
            "the objective is at version {}, not {expected}; reload it and retry",
            current.version
        ))),
        _ => Ok(()),
    }
}

/// Escapes `\`, `%` and `_` so a user's text matches literally inside an ILIKE pattern.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The visible objectives of `viewer`'s tenant that match `filter`, unordered and unpaged.
fn matching(viewer: &Viewer, filter: &ObjectiveFilter) -> Select<objective::Entity> {
    let mut query = objective::Entity::find()
        .filter(objective::Column::TenantId.eq(viewer.tenant_id))
        .filter(visibility::condition(viewer));
    if let Some(teams) = &filter.team_ids {
        query = query.filter(objective::Column::TeamId.eq_any(teams.iter().copied()));
    }
    if let Some(cycle) = filter.cycle_id {
        query = query.filter(objective::Column::CycleId.eq(cycle));
    }
    if let Some(owner) = filter.owner_id {
        query = query.filter(objective::Column::OwnerId.eq(owner));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(objective::Column::ParentId.eq(parent));
    }
    if filter.roots_only {
        query = query.filter(objective::Column::ParentId.is_null());
    }
    if !filter.statuses.is_empty() {
        query = query
            .filter(objective::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(text) = &filter.text {
        // The text is a bound value; escaping makes % and _ in it literal.
        query = query.filter(Expr::cust_with_values(
            "objectives.title ILIKE $1",
            [format!("%{}%", escape_like(text))],
        ));
    }
    if !filter.include_archived {
        query = query.filter(objective::Column::ArchivedAt.is_null());
    }
    query
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_user_text_match_literally() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
