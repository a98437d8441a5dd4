//! `objective_activity`: the per-objective summary of MongoDB activity that the change-stream
//! consumer maintains, read by dashboards.

use super::Db;
use sea_orm::{ConnectionTrait, FromQueryResult};

use super::scoped::sql;
use crate::store::StoreResult;

/// Activity of one objective.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct Activity {
    pub objective_id: i64,
    pub update_count: i64,
    pub last_update_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_author_id: Option<i64>,
    pub custom_fields_changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reads `objective_activity`.
#[derive(Clone)]
pub struct ActivityRepo {
    db: Db,
}

impl ActivityRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The summaries of these objectives (absent: no activity yet).
    pub async fn by_objectives(&self, tenant_id: i64, ids: &[i64]) -> StoreResult<Vec<Activity>> {
        Ok(Activity::find_by_statement(sql(
            r#"
                SELECT objective_id, update_count, last_update_at, last_author_id, custom_fields_changed_at
                FROM objective_activity WHERE tenant_id = $1 AND objective_id = ANY($2)
            "#,
            [tenant_id.into(), ids.to_vec().into()],
        ))
        .all(&self.db)
        .await?)
    }
}

/// The summary of one objective as reconcile computes it from goal_updates.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct Summary {
    pub objective_id: i64,
    pub update_count: i64,
    pub last_update_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_author_id: Option<i64>,
}

/// Counts one more progress note (the change-stream consumer, once per note): the count goes
/// up by one, and the latest note's time and author are kept.
pub async fn count_update(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    objective_id: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    author_id: Option<i64>,
) -> StoreResult<()> {
    txn.execute_raw(sql(
        r#"
        INSERT INTO objective_activity
               (tenant_id, objective_id, update_count, last_update_at, last_author_id)
        VALUES ($1, $2, 1, $3, $4)
        ON CONFLICT (tenant_id, objective_id) DO UPDATE SET
            update_count = objective_activity.update_count + 1,
            -- notes may arrive out of time order: the author of the latest one wins
            last_author_id = CASE WHEN objective_activity.last_update_at IS NULL
                                    OR EXCLUDED.last_update_at >= objective_activity.last_update_at
                                  THEN EXCLUDED.last_author_id
                                  ELSE objective_activity.last_author_id END,
            last_update_at = GREATEST(objective_activity.last_update_at, EXCLUDED.last_update_at)
        "#,
        [
            tenant_id.into(),
            objective_id.into(),
            created_at.into(),
            author_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records that an objective's custom fields changed at `at`.
pub async fn fields_changed(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    objective_id: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    txn.execute_raw(sql(
        r#"
            INSERT INTO objective_activity (tenant_id, objective_id, custom_fields_changed_at)
            VALUES ($1, $2, $3)
            ON CONFLICT (tenant_id, objective_id) DO UPDATE SET
              custom_fields_changed_at = EXCLUDED.custom_fields_changed_at
        "#,
        [tenant_id.into(), objective_id.into(), at.into()],
    ))
    .await?;
    Ok(())
}

/// The tenant's stored summaries of objectives that have notes.
pub async fn summaries(db: &Db, tenant_id: i64) -> StoreResult<Vec<Summary>> {
    Ok(Summary::find_by_statement(sql(
        r#"
            SELECT objective_id, update_count, last_update_at, last_author_id
            FROM objective_activity WHERE tenant_id = $1 AND update_count > 0
        "#,
        [tenant_id.into()],
    ))
    .all(db)
    .await?)
}

/// Writes the summaries of notes loaded in bulk (`seed --bench`, which inserts notes without a
/// change-stream consumer watching), in one statement.
pub async fn write_summaries(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    summaries: &[Summary],
) -> StoreResult<()> {
    if summaries.is_empty() {
        return Ok(());
    }
    // Array parameters cannot hold NULL here: a missing time travels as the epoch and a
    // missing author as 0, and both become NULL again in the statement.
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let objectives: Vec<i64> = summaries.iter().map(|s| s.objective_id).collect();
    let counts: Vec<i64> = summaries.iter().map(|s| s.update_count).collect();
    let times: Vec<chrono::DateTime<chrono::Utc>> = summaries
        .iter()
        .map(|s| s.last_update_at.unwrap_or(epoch))
        .collect();
    let authors: Vec<i64> = summaries
        .iter()
        .map(|s| s.last_author_id.unwrap_or(0))
        .collect();
    db.execute_raw(sql(
        r#"
            INSERT INTO objective_activity
              (tenant_id, objective_id, update_count, last_update_at, last_author_id)
            SELECT $1, objective_id, update_count, NULLIF(last_update_at, 'epoch'),
                   NULLIF(last_author_id, 0)
            FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[], $5::bigint[])
                 AS s(objective_id, update_count, last_update_at, last_author_id)
            ON CONFLICT (tenant_id, objective_id) DO UPDATE SET
              update_count = EXCLUDED.update_count, last_update_at = EXCLUDED.last_update_at,
              last_author_id = EXCLUDED.last_author_id
        "#,
        [
            tenant_id.into(),
            objectives.into(),
            counts.into(),
            times.into(),
            authors.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Replaces an objective's summary with `summary` as recomputed by reconcile (`None`: it has
/// no notes).
pub async fn overwrite_summary(
    db: &Db,
    tenant_id: i64,
    objective_id: i64,
    summary: Option<&Summary>,
) -> StoreResult<()> {
    let statement = match summary {
        Some(s) => sql(
            r#"
                INSERT INTO objective_activity
                  (tenant_id, objective_id, update_count, last_update_at, last_author_id)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (tenant_id, objective_id) DO UPDATE SET
                  update_count = EXCLUDED.update_count, last_update_at = EXCLUDED.last_update_at,
                  last_author_id = EXCLUDED.last_author_id
            "#,
            [
                tenant_id.into(),
                objective_id.into(),
                s.update_count.into(),
                s.last_update_at.into(),
                s.last_author_id.into(),
            ],
        ),
        None => sql(
            r#"
                UPDATE objective_activity
                SET update_count = 0, last_update_at = NULL, last_author_id = NULL
                WHERE tenant_id = $1 AND objective_id = $2
            "#,
            [tenant_id.into(), objective_id.into()],
        ),
    };
    db.execute_raw(statement).await?;
    Ok(())
}
