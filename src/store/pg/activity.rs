//! `objective_activity`: the per-objective summary of MongoDB activity that the change-stream
//! consumer maintains, read by dashboards.

use super::Db;
use sea_orm::FromQueryResult;

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
            "SELECT objective_id, update_count, last_update_at, last_author_id, custom_fields_changed_at \
             FROM objective_activity WHERE tenant_id = $1 AND objective_id = ANY($2)",
            [tenant_id.into(), ids.to_vec().into()],
        ))
        .all(&self.db)
        .await?)
    }
}
