//! The key-results repository: lookups through the owning objective's visibility, CRUD, and
//! check-ins, each write refreshing the roll-up chain in its transaction.

use super::Db;
use super::paging::{self, KeysetOrder, Window};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, Value,
};

use super::entity::{check_in, key_result, user};
use super::objectives::visible_one;
use super::outbox::{CheckInNote, record_check_in_note};
use super::scoped::{begin_tenant_write, grouped_by_position, require, sql, update_in_tenant};
use super::{rollup, visibility};
use crate::domain::access::Viewer;
use crate::domain::key_result::{
    KeyResultKind, KeyResultPatch, KeyResultRange, NewCheckIn, NewKeyResult, check_value,
};
use crate::store::{StoreError, StoreResult};

/// Reads and writes `key_results` and `check_ins`.
#[derive(Clone)]
pub struct KeyResultRepo {
    db: Db,
}

impl KeyResultRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The key results of each of `objective_ids` (already known to be visible), by id.
    pub async fn by_objectives(
        &self,
        tenant_id: i64,
        objective_ids: &[i64],
    ) -> StoreResult<Vec<key_result::Model>> {
        // Decoded by position: a subtree's key results are the largest read there is.
        grouped_by_position::<key_result::Entity>(
            &self.db,
            tenant_id,
            key_result::Column::ObjectiveId,
            objective_ids,
            None,
        )
        .await
    }

    /// The key results with these ids whose objective `viewer` may see.
    pub async fn visible_by_ids(
        &self,
        viewer: &Viewer,
        ids: &[i64],
    ) -> StoreResult<Vec<key_result::Model>> {
        visible_key_results(&self.db, viewer, ids).await
    }

    /// The check-ins with these ids whose key results `viewer` may see (a key result is
    /// visible when its objective is): the check-ins, then their key results' visibility.
    pub async fn visible_check_ins(
        &self,
        viewer: &Viewer,
        ids: &[i64],
    ) -> StoreResult<Vec<check_in::Model>> {
        let check_ins = check_in::Model::find_by_statement(sql(
            "SELECT * FROM check_ins WHERE tenant_id = $1 AND id = ANY($2)",
            [viewer.tenant_id.into(), ids.to_vec().into()],
        ))
        .all(&self.db)
        .await?;
        if check_ins.is_empty() {
            return Ok(check_ins);
        }
        let key_result_ids: Vec<i64> = check_ins.iter().map(|c| c.key_result_id).collect();
        let visible: std::collections::HashSet<i64> =
            visible_key_results(&self.db, viewer, &key_result_ids)
                .await?
                .iter()
                .map(|kr| kr.id)
                .collect();
        Ok(check_ins
            .into_iter()
            .filter(|c| visible.contains(&c.key_result_id))
            .collect())
    }

    /// The window of each of `key_result_ids`' check-ins, newest first (by time, then id), in
    /// one statement; rows come grouped by key result, each group in read order.
    pub async fn check_in_pages(
        &self,
        tenant_id: i64,
        key_result_ids: &[i64],
        window: &Window<(chrono::DateTime<chrono::Utc>, i64)>,
    ) -> StoreResult<Vec<check_in::Model>> {
        let query = check_in::Entity::find()
            .filter(check_in::Column::TenantId.eq(tenant_id))
            .filter(sea_orm::sea_query::Expr::cust_with_values(
                "check_ins.key_result_id = ANY($1)",
                [key_result_ids.to_vec()],
            ));
        let order = KeysetOrder {
            columns: &["check_ins.created_at", "check_ins.id"],
            natural: sea_orm::Order::Desc,
        };
        paging::per_group(&self.db, query, "key_result_id", &order, window).await
    }

    /// The latest `limit` check-ins of each of `key_result_ids`, newest first.
    pub async fn latest_check_ins(
        &self,
        tenant_id: i64,
        key_result_ids: &[i64],
        limit: i64,
    ) -> StoreResult<Vec<check_in::Model>> {
        let statement = sql(
            r#"
                SELECT id, created_at, tenant_id, key_result_id, author_id, value, confidence
                FROM (
                    SELECT c.*, row_number() OVER (
                        PARTITION BY c.key_result_id ORDER BY c.created_at DESC, c.id DESC) AS rank
                    FROM check_ins c WHERE c.tenant_id = $1 AND c.key_result_id = ANY($2)
                ) ranked WHERE rank <= $3
                ORDER BY key_result_id, created_at DESC, id DESC
            "#,
            [
                tenant_id.into(),
                key_result_ids.to_vec().into(),
                limit.into(),
            ],
        );
        Ok(check_in::Model::find_by_statement(statement)
            .all(&self.db)
            .await?)
    }

    /// Adds a key result to a visible objective.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create(
        &self,
        viewer: &Viewer,
        command: NewKeyResult,
    ) -> StoreResult<key_result::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        visible_one(&txn, viewer, command.objective_id, "objectiveId").await?;
        require::<user::Entity>(&txn, viewer.tenant_id, command.owner_id, "ownerId").await?;
        let created = key_result::ActiveModel {
            tenant_id: Set(viewer.tenant_id),
            objective_id: Set(command.objective_id),
            owner_id: Set(command.owner_id),
            title: Set(command.title),
            kind: Set(command.kind),
            start_value: Set(command.range.start),
            target_value: Set(command.range.target),
            weight: Set(command.weight),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        rollup::refresh(&txn, viewer.tenant_id, &[command.objective_id]).await?;
        let created = reload(&txn, viewer.tenant_id, created.id).await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Changes a visible key result's title, owner, range or weight.
    #[tracing::instrument(skip(self, viewer, patch), fields(tenant = viewer.tenant_id))]
    pub async fn update(
        &self,
        viewer: &Viewer,
        id: i64,
        patch: KeyResultPatch,
    ) -> StoreResult<key_result::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_key_result(&txn, viewer, id).await?;
        if let Some(owner) = patch.owner_id {
            require::<user::Entity>(&txn, viewer.tenant_id, owner, "ownerId").await?;
        }
        let kind: KeyResultKind = current.kind;
        let range = KeyResultRange::parse(
            kind,
            patch.start.unwrap_or(current.start_value),
            patch.target.unwrap_or(current.target_value),
        )?;
        let objective_id = current.objective_id;
        let mut active = current.into_active_model();
        if let Some(title) = patch.title {
            active.title = Set(title);
        }
        if let Some(owner) = patch.owner_id {
            active.owner_id = Set(owner);
        }
        if let Some(weight) = patch.weight {
            active.weight = Set(weight);
        }
        active.start_value = Set(range.start);
        active.target_value = Set(range.target);
        active.updated_at = Set(Utc::now());
        update_in_tenant(&txn, viewer.tenant_id, active).await?;
        rollup::refresh(&txn, viewer.tenant_id, &[objective_id]).await?;
        let updated = reload(&txn, viewer.tenant_id, id).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Deletes a visible key result with its check-ins.
    #[tracing::instrument(skip(self, viewer), fields(tenant = viewer.tenant_id))]
    pub async fn delete(&self, viewer: &Viewer, id: i64) -> StoreResult<key_result::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_key_result(&txn, viewer, id).await?;
        key_result::Entity::delete_many()
            .filter(key_result::Column::TenantId.eq(viewer.tenant_id))
            .filter(key_result::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        rollup::refresh(&txn, viewer.tenant_id, &[current.objective_id]).await?;
        txn.commit().await?;
        Ok(current)
    }

    /// Records a check-in: appends to the time series, moves the key result's current value
    /// and confidence, and refreshes the roll-ups above it.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn check_in(
        &self,
        viewer: &Viewer,
        command: NewCheckIn,
    ) -> StoreResult<(check_in::Model, key_result::Model)> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = visible_key_result(&txn, viewer, command.key_result_id).await?;
        let value = check_value(current.kind, command.value)?;
        let recorded = check_in::Model::find_by_statement(sql(
            r#"
                INSERT INTO check_ins (tenant_id, key_result_id, author_id, value, confidence)
                VALUES ($1, $2, $3, $4, $5)
                RETURNING id, created_at, tenant_id, key_result_id, author_id, value, confidence
            "#,
            [
                viewer.tenant_id.into(),
                command.key_result_id.into(),
                viewer.user_id.into(),
                value.into(),
                command.confidence.into(),
            ],
        ))
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("keyResultId"))?;
        let objective_id = current.objective_id;
        if let Some(note) = &command.note {
            // The note rides in the check-in's transaction: acknowledged together, relayed
            // to goal_updates (idempotently) even if MongoDB is down right now.
            record_check_in_note(
                &txn,
                viewer.tenant_id,
                CheckInNote {
                    objective_id,
                    key_result_id: command.key_result_id,
                    check_in_id: recorded.id,
                    author_id: viewer.user_id,
                    body: note.clone(),
                },
            )
            .await?;
        }
        let mut active = current.into_active_model();
        active.current_value = Set(Some(value));
        if let Some(confidence) = command.confidence {
            active.confidence = Set(Some(confidence));
        }
        active.updated_at = Set(Utc::now());
        update_in_tenant(&txn, viewer.tenant_id, active).await?;
        rollup::refresh(&txn, viewer.tenant_id, &[objective_id]).await?;
        let updated = reload(&txn, viewer.tenant_id, command.key_result_id).await?;
        txn.commit().await?;
        Ok((recorded, updated))
    }
}

async fn visible_key_results(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: &[i64],
) -> StoreResult<Vec<key_result::Model>> {
    let text = format!(
        r#"
            SELECT kr.* FROM key_results kr
            JOIN objectives o ON o.tenant_id = kr.tenant_id AND o.id = kr.objective_id
            WHERE kr.tenant_id = $1 AND kr.id = ANY($2) AND {} ORDER BY kr.id
        "#,
        visibility::sql("o", 3)
    );
    let mut values: Vec<Value> = vec![viewer.tenant_id.into(), ids.to_vec().into()];
    values.extend(visibility::params(viewer));
    Ok(key_result::Model::find_by_statement(sql(&text, values))
        .all(db)
        .await?)
}

/// The key result `id` if its objective is visible to `viewer`, else `NotFound`.
pub(crate) async fn visible_key_result(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> StoreResult<key_result::Model> {
    visible_key_results(db, viewer, &[id])
        .await?
        .pop()
        .ok_or(StoreError::NotFound("keyResultId"))
}

async fn reload(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: i64,
) -> StoreResult<key_result::Model> {
    key_result::Entity::find()
        .filter(key_result::Column::TenantId.eq(tenant_id))
        .filter(key_result::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("keyResultId"))
}
