//! Dashboard reports that PostgreSQL owns the numbers of: progress summaries of a team with its
//! sub-teams or of a cycle, department standings by window functions, key-result progress of
//! objective groups, and the raw material of progress histories (check-ins bucketed in the
//! database, read with partition pruning). Each is one statement; every one applies the
//! private-objective rule of the viewer.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};

use super::Db;
use super::cte;
use super::scoped::sql;
use super::visibility;
use crate::domain::access::Viewer;
use crate::domain::key_result::KeyResultKind;
use crate::domain::objective::{ObjectiveStatus, Visibility};
use crate::store::StoreResult;

/// Runs a report's statement planned for its actual parameters. SQLx prepares statements, and
/// after five executions on a connection PostgreSQL may keep a generic plan, which guesses one
/// row for an array parameter: for the progress history of 11,111 objectives that plan joined
/// 33,333 key results to 216,671 buckets in a nested loop (0.9 s became over 30 s).
async fn custom_planned<T: FromQueryResult>(db: &Db, statement: Statement) -> StoreResult<Vec<T>> {
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
        .await?;
    let rows = T::find_by_statement(statement).all(&txn).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Live objectives (not archived) of one status, with their mean stored progress.
#[derive(Debug, Clone, PartialEq, FromQueryResult, Serialize, Deserialize)]
pub struct StatusGroup {
    pub status: ObjectiveStatus,
    pub objectives: i64,
    pub average_progress: f64,
}

/// Objectives by status, of the teams `team_id` and below (any team when `None`) in
/// `cycle_id` (any cycle when `None`).
pub async fn status_groups(
    db: &Db,
    viewer: &Viewer,
    team_id: Option<i64>,
    cycle_id: Option<i64>,
) -> StoreResult<Vec<StatusGroup>> {
    let text = format!(
        r#"
        WITH RECURSIVE {}
        SELECT o.status, count(*) AS objectives, avg(o.progress) AS average_progress
        FROM objectives o
        WHERE o.tenant_id = $1 AND o.archived_at IS NULL
          -- no team: the whole tenant; a team: it and every team below it
          AND ($2::bigint[] IS NULL OR o.team_id = ANY(ARRAY(SELECT id FROM sub)))
          AND ($3::bigint IS NULL OR o.cycle_id = $3)
          AND {}
        GROUP BY o.status ORDER BY o.status
        "#,
        cte::team_subtree(None),
        visibility::sql("o", 4)
    );
    let teams: Option<Vec<i64>> = team_id.map(|team| vec![team]);
    let mut values: Vec<Value> = vec![viewer.tenant_id.into(), teams.into(), cycle_id.into()];
    values.extend(visibility::params(viewer));
    custom_planned(db, sql(&text, values)).await
}

/// One department's standing among the departments of its company.
#[derive(Debug, Clone, PartialEq, FromQueryResult, Serialize, Deserialize)]
pub struct DepartmentStanding {
    pub department_id: i64,
    pub company_id: Option<i64>,
    /// Counted objectives: live, not cancelled, of the department or its sub-teams.
    pub objectives: i64,
    pub average_progress: Option<f64>,
    /// The share of counted objectives that are done (status done or progress 1).
    pub completion_rate: Option<f64>,
    pub p25: Option<f64>,
    pub median: Option<f64>,
    pub p75: Option<f64>,
    /// 1 for the best average progress in its company; ties share a rank.
    pub rank: i64,
    /// 0 for the best, 1 for the worst (`percent_rank`).
    pub percent_rank: f64,
    /// The number of departments in its company.
    pub departments: i64,
}

/// Every department (team of kind `department`) ranked within its company by the average
/// progress of its objectives (in `cycle_id` when given).
pub async fn department_standings(
    db: &Db,
    viewer: &Viewer,
    cycle_id: Option<i64>,
) -> StoreResult<Vec<DepartmentStanding>> {
    let text = format!(
        r#"
            WITH RECURSIVE below (team_id, department_id) AS (
                SELECT id, id FROM teams WHERE tenant_id = $1 AND kind = 'department'
              UNION ALL
                SELECT t.id, b.department_id
                FROM below b JOIN teams t ON t.tenant_id = $1 AND t.parent_id = b.team_id
            ),
            above (department_id, team_id, parent_id) AS (
                SELECT id, id, parent_id FROM teams WHERE tenant_id = $1 AND kind = 'department'
              UNION ALL
                SELECT a.department_id, t.id, t.parent_id
                FROM above a JOIN teams t ON t.tenant_id = $1 AND t.id = a.parent_id
            ),
            company AS (
                SELECT department_id, team_id AS company_id FROM above WHERE parent_id IS NULL
            ),
            stats AS (
                SELECT b.department_id, count(o.id) AS objectives,
                       avg(o.progress) AS average_progress,
                       avg(CASE WHEN o.id IS NULL THEN NULL
                                WHEN o.status = 'done' OR o.progress >= 1 THEN 1.0
                                ELSE 0.0 END)::float8 AS completion_rate,
                       percentile_cont(0.25) WITHIN GROUP (ORDER BY o.progress) AS p25,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY o.progress) AS median,
                       percentile_cont(0.75) WITHIN GROUP (ORDER BY o.progress) AS p75
                FROM below b
                LEFT JOIN objectives o ON o.tenant_id = $1 AND o.team_id = b.team_id
                     AND o.archived_at IS NULL AND o.status <> 'cancelled'
                     AND ($2::bigint IS NULL OR o.cycle_id = $2) AND {}
                GROUP BY b.department_id
            )
            SELECT s.department_id, c.company_id, s.objectives, s.average_progress,
                   s.completion_rate, s.p25, s.median, s.p75,
                   rank() OVER standing AS rank,
                   percent_rank() OVER standing AS percent_rank,
                   count(*) OVER (PARTITION BY c.company_id) AS departments
            FROM stats s LEFT JOIN company c ON c.department_id = s.department_id
            WINDOW standing AS (
                PARTITION BY c.company_id ORDER BY COALESCE(s.average_progress, 0) DESC
            )
            ORDER BY c.company_id, rank, s.department_id
        "#,
        visibility::sql("o", 3)
    );
    let mut values: Vec<Value> = vec![viewer.tenant_id.into(), cycle_id.into()];
    values.extend(visibility::params(viewer));
    custom_planned(db, sql(&text, values)).await
}

/// Key results of a group of objectives, with their mean stored progress.
#[derive(Debug, Clone, PartialEq, FromQueryResult, Serialize, Deserialize)]
pub struct KeyResultGroup {
    pub label: String,
    pub objectives: i64,
    pub key_results: i64,
    pub average_progress: Option<f64>,
}

/// For each `(label, objective_id)` pair's label: the key results of the visible objectives
/// carrying it, counted and averaged.
pub async fn key_results_by_group(
    db: &Db,
    viewer: &Viewer,
    groups: &[(String, i64)],
) -> StoreResult<Vec<KeyResultGroup>> {
    let labels: Vec<String> = groups.iter().map(|(label, _)| label.clone()).collect();
    let ids: Vec<i64> = groups.iter().map(|(_, id)| *id).collect();
    let text = format!(
        r#"
            SELECT g.label, count(DISTINCT o.id) AS objectives, count(kr.id) AS key_results,
                    avg(kr.progress) AS average_progress
            FROM unnest($2::text[], $3::bigint[]) AS g (label, objective_id)
            JOIN objectives o ON o.tenant_id = $1 AND o.id = g.objective_id AND {}
            LEFT JOIN key_results kr ON kr.tenant_id = $1 AND kr.objective_id = o.id
            GROUP BY g.label ORDER BY g.label
        "#,
        visibility::sql("o", 4)
    );
    let mut values: Vec<Value> = vec![viewer.tenant_id.into(), labels.into(), ids.into()];
    values.extend(visibility::params(viewer));
    custom_planned(db, sql(&text, values)).await
}

/// Calendar buckets of a progress history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
}

impl Bucket {
    /// The `date_trunc` unit.
    pub fn unit(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }
}

/// A key result's shape and, per row, either its last value of one bucket (`bucket` set) or
/// its last value before the range (`bucket` null), or nothing when it has no check-ins.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct HistoryRow {
    pub key_result_id: i64,
    pub objective_id: i64,
    pub kind: KeyResultKind,
    pub start_value: f64,
    pub target_value: f64,
    pub weight: f64,
    /// Stored progress (used for milestone key results, which check-ins do not move).
    pub progress: f64,
    pub bucket: Option<NaiveDateTime>,
    pub value: Option<f64>,
    pub check_ins: i64,
}

/// The statement behind [`history_rows`]; public so its plan can be inspected (partition
/// pruning on `check_ins.created_at`).
pub fn history_statement(
    tenant_id: i64,
    key_result_ids: Option<&[i64]>,
    objective_ids: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
) -> Statement {
    sql(
        r#"
            WITH kr AS (
                SELECT id, objective_id, kind, start_value, target_value, weight, progress
                FROM key_results
                WHERE tenant_id = $1 AND objective_id = ANY($3)
                  AND ($2::bigint[] IS NULL OR id = ANY($2))
            ),
            in_range AS (
                SELECT DISTINCT ON (c.key_result_id, bucket)
                       c.key_result_id,
                       date_trunc($6, c.created_at AT TIME ZONE 'UTC') AS bucket,
                       c.value,
                       count(*) OVER (PARTITION BY c.key_result_id,
                                      date_trunc($6, c.created_at AT TIME ZONE 'UTC')) AS check_ins
                FROM check_ins c
                WHERE c.tenant_id = $1 AND c.key_result_id IN (SELECT id FROM kr)
                  AND c.created_at >= $4 AND c.created_at < $5
                ORDER BY c.key_result_id, bucket, c.created_at DESC
            ),
            before AS (
                SELECT kr.id AS key_result_id, NULL::timestamp AS bucket, last.value,
                       0::bigint AS check_ins
                FROM kr CROSS JOIN LATERAL (
                    SELECT c.value FROM check_ins c
                    WHERE c.tenant_id = $1 AND c.key_result_id = kr.id AND c.created_at < $4
                    ORDER BY c.created_at DESC LIMIT 1
                ) last
            )
            SELECT kr.id AS key_result_id, kr.objective_id, kr.kind, kr.start_value,
                   kr.target_value, kr.weight, kr.progress, v.bucket, v.value,
                   COALESCE(v.check_ins, 0) AS check_ins
            FROM kr LEFT JOIN (
                SELECT * FROM in_range UNION ALL SELECT * FROM before
            ) v ON v.key_result_id = kr.id
            ORDER BY kr.id, v.bucket NULLS FIRST
        "#,
        [
            tenant_id.into(),
            key_result_ids.map(<[i64]>::to_vec).into(),
            objective_ids.to_vec().into(),
            from.into(),
            to.into(),
            bucket.unit().into(),
        ],
    )
}

/// The check-in history of the key results of `objective_ids` (only `key_result_ids` of
/// them when given) between `from` and `to`, bucketed, with each one's last value before.
pub async fn history_rows(
    db: &Db,
    tenant_id: i64,
    key_result_ids: Option<&[i64]>,
    objective_ids: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
) -> StoreResult<Vec<HistoryRow>> {
    let statement = history_statement(tenant_id, key_result_ids, objective_ids, from, to, bucket);
    custom_planned(db, statement).await
}

/// An objective of a subtree whose history is being rebuilt.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct SubtreeMember {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub weight: f64,
    pub status: ObjectiveStatus,
    pub archived: bool,
    pub visibility: Visibility,
    pub owner_id: i64,
    pub team_id: Option<i64>,
}

/// `root` and every objective beneath it, regardless of visibility (a roll-up counts every
/// child; the caller checks that the viewer may see `root`). At most `limit` rows.
pub async fn subtree_members(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    root: i64,
    limit: i64,
) -> StoreResult<Vec<SubtreeMember>> {
    let statement = sql(
        r#"
            WITH RECURSIVE sub (id) AS (
                SELECT id FROM objectives WHERE tenant_id = $1 AND id = $2
              UNION ALL
                SELECT o.id FROM sub JOIN objectives o ON o.tenant_id = $1 AND o.parent_id = sub.id
            )
            SELECT o.id, o.parent_id, o.weight, o.status, o.archived_at IS NOT NULL AS archived,
                   o.visibility, o.owner_id, o.team_id
            FROM (SELECT id FROM sub LIMIT $3) s JOIN objectives o ON o.tenant_id = $1 AND o.id = s.id
        "#,
        [tenant_id.into(), root.into(), limit.into()],
    );
    Ok(SubtreeMember::find_by_statement(statement).all(db).await?)
}

/// The materialised path (`",1,5,9,"`) of objective `id` if `viewer` may see it.
pub async fn visible_path(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> StoreResult<Option<String>> {
    let text = format!(
        "WITH RECURSIVE {} {}",
        cte::objective_ancestry(&visibility::sql("o", 3)),
        cte::ANCESTRY_PATH
    );
    let mut values: Vec<Value> = vec![viewer.tenant_id.into(), id.into()];
    values.extend(visibility::params(viewer));
    let row = db.query_one_raw(sql(&text, values)).await?;
    Ok(match row {
        Some(row) => row.try_get("", "path")?,
        None => None,
    })
}
