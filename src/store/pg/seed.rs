//! The deterministic benchmark data set of SPEC section 7, loaded with set-based SQL
//! (`generate_series`, `unnest`), never a statement per row; [`org`] adds the organisation,
//! cycles and check-in history of the org-shaped data set around it.

pub mod org;

use sea_orm::ConnectionTrait;

use super::scoped::sql;
use crate::domain::key_result::KeyResultKind;
use crate::domain::objective::ObjectiveStatus;
use crate::domain::rollup::{
    ChildObjective, Contribution, KeyResultMeasure, RollupTarget, counts_in_rollup,
    key_result_progress, recompute,
};
use crate::store::StoreResult;
use org::{Org, Placement};

/// The shape of a benchmark tree: `levels` levels (root = level 1) of fan-out `branching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeShape {
    pub levels: u32,
    pub branching: i64,
}

impl TreeShape {
    /// Objectives in the tree: 1 + b + b² + … (111,111 for 6 levels of 10).
    pub fn objectives(self) -> i64 {
        (0..self.levels)
            .map(|level| self.branching.pow(level))
            .sum()
    }
}

/// Loads a tree of `shape` into `tenant_id`, owned by `owner_id`, numbered breadth-first from
/// the current highest objective id (objective `i` of the spec gets id `base + i`), with three
/// numeric key results each, then computes every stored roll-up. Returns the root's id.
pub async fn bench_tree(
    db: &crate::store::pg::Db,
    tenant_id: i64,
    owner_id: i64,
    shape: TreeShape,
) -> StoreResult<i64> {
    bench_tree_owned_by(
        db,
        tenant_id,
        Owners {
            first: owner_id,
            count: 1,
        },
        shape,
        None,
    )
    .await
}

/// A contiguous range of user ids; objective `i` is owned by `first + i mod count` (the spec's
/// `user(i mod 997)` with 997 users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owners {
    pub first: i64,
    pub count: i64,
}

/// Creates `count` users in `tenant_id` with consecutive ids and returns them.
pub async fn bench_users(
    db: &crate::store::pg::Db,
    tenant_id: i64,
    count: i64,
) -> StoreResult<Owners> {
    let first: i64 = db
        .query_one_raw(sql(
            r#"
                WITH made AS (
                    INSERT INTO users (tenant_id, name, email, role)
                    SELECT $1, 'User ' || n, 'user' || n || '@bench.example', 'member'
                    FROM generate_series(0::bigint, $2::bigint - 1) AS n ORDER BY n
                    RETURNING id)
                SELECT min(id) AS first FROM made
            "#,
            [tenant_id.into(), count.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "first"))
        .transpose()?
        .unwrap_or(0);
    Ok(Owners { first, count })
}

/// Like [`bench_tree`], with owners spread over `owners`, and with every objective in a team
/// and a cycle of `org` when given (see [`Placement`] and [`Org::cycle`]).
///
/// Rows are generated here from the spec's formulas, their roll-ups computed with the domain
/// roll-up function, and inserted with progress already set (`INSERT … SELECT FROM unnest`
/// of column arrays, 20,000 rows per statement): no second pass of UPDATEs over the tree.
pub async fn bench_tree_owned_by(
    db: &crate::store::pg::Db,
    tenant_id: i64,
    owners: Owners,
    shape: TreeShape,
    org: Option<&Org>,
) -> StoreResult<i64> {
    let txn = db.begin().await?;
    // Serialise with other writers of the tenant and take ids above every existing one.
    txn.execute_raw(sql("LOCK TABLE objectives IN SHARE ROW EXCLUSIVE MODE", []))
        .await?;
    let base: i64 = txn
        .query_one_raw(sql(
            "SELECT COALESCE(max(id), 0) AS base FROM objectives",
            [],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "base"))
        .transpose()?
        .unwrap_or(0);
    let data = generate(shape, base, owners, org);
    for chunk in data.objectives.chunks(20_000) {
        txn.execute_raw(sql(
            r#"
                INSERT INTO objectives (id, tenant_id, parent_id, owner_id, title, status, weight,
                                        progress, team_id, cycle_id)
                SELECT id, $1, NULLIF(parent_id, 0), owner_id, 'Objective ' || (id - $2), status, weight,
                       progress, NULLIF(team_id, 0), NULLIF(cycle_id, 0)
                FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::float8[], $8::float8[],
                            $9::bigint[], $10::bigint[])
                     AS t(id, parent_id, owner_id, status, weight, progress, team_id, cycle_id)
            "#,
            [
                tenant_id.into(),
                base.into(),
                chunk.iter().map(|o| o.id).collect::<Vec<i64>>().into(),
                chunk.iter().map(|o| o.parent_id.unwrap_or(0)).collect::<Vec<i64>>().into(),
                chunk.iter().map(|o| o.owner_id).collect::<Vec<i64>>().into(),
                chunk.iter().map(|o| o.status.to_owned()).collect::<Vec<String>>().into(),
                chunk.iter().map(|o| o.weight).collect::<Vec<f64>>().into(),
                chunk.iter().map(|o| o.progress).collect::<Vec<f64>>().into(),
                chunk.iter().map(|o| o.team_id).collect::<Vec<i64>>().into(),
                chunk.iter().map(|o| o.cycle_id).collect::<Vec<i64>>().into(),
            ],
        ))
        .await?;
    }
    for chunk in data.key_results.chunks(20_000) {
        txn.execute_raw(sql(
            r#"
                INSERT INTO key_results (tenant_id, objective_id, owner_id, title, kind, start_value,
                                         target_value, current_value, weight, progress)
                SELECT $1, objective_id, owner_id, 'Key result ' || number, 'numeric', start_value,
                       target_value, current_value, weight, progress
                FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[],
                            $7::float8[], $8::float8[], $9::float8[])
                     AS t(number, objective_id, owner_id, start_value, target_value, current_value, weight, progress)
            "#,
            [
                tenant_id.into(),
                chunk.iter().map(|k| k.number).collect::<Vec<i64>>().into(),
                chunk.iter().map(|k| k.objective_id).collect::<Vec<i64>>().into(),
                chunk.iter().map(|k| k.owner_id).collect::<Vec<i64>>().into(),
                chunk.iter().map(|k| k.start).collect::<Vec<f64>>().into(),
                chunk.iter().map(|k| k.target).collect::<Vec<f64>>().into(),
                chunk.iter().map(|k| k.current).collect::<Vec<f64>>().into(),
                chunk.iter().map(|k| k.weight).collect::<Vec<f64>>().into(),
                chunk.iter().map(|k| k.progress).collect::<Vec<f64>>().into(),
            ],
        ))
        .await?;
    }
    txn.execute_raw(sql(
        "SELECT setval(pg_get_serial_sequence('objectives', 'id'), (SELECT max(id) FROM objectives))",
        [],
    ))
    .await?;
    super::subtree_sizes::recount_tenant(&txn, tenant_id).await?;
    txn.commit().await?;
    // Fresh statistics, or the planner sees the tables as they were before the load and may
    // walk a million-row tree with sequential scans.
    db.execute_unprepared("ANALYZE objectives, key_results, users, teams, cycles")
        .await?;
    Ok(base + 1)
}

struct SeedObjective {
    id: i64,
    parent_id: Option<i64>,
    owner_id: i64,
    status: &'static str,
    weight: f64,
    progress: f64,
    /// 0 for none.
    team_id: i64,
    /// 0 for none.
    cycle_id: i64,
}

struct SeedKeyResult {
    number: i64,
    objective_id: i64,
    owner_id: i64,
    start: f64,
    target: f64,
    current: f64,
    weight: f64,
    progress: f64,
}

struct SeedData {
    objectives: Vec<SeedObjective>,
    key_results: Vec<SeedKeyResult>,
}

/// The spec's data set with objective `i` at id `base + i`, roll-ups included.
fn generate(shape: TreeShape, base: i64, owners: Owners, org: Option<&Org>) -> SeedData {
    let n = shape.objectives();
    let b = shape.branching;
    let statuses = ["on_track", "at_risk", "off_track", "done"];
    let mut objectives = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut key_results = Vec::with_capacity(usize::try_from(3 * n).unwrap_or(0));
    let mut targets = Vec::with_capacity(objectives.capacity());
    let mut children = Vec::with_capacity(objectives.capacity());
    let mut placements: Vec<Placement> = Vec::with_capacity(objectives.capacity());
    for i in 1..=n {
        let parent_id = (i > 1).then(|| base + (i - 2) / b + 1);
        // Objective i's parent is spec objective (i - 2) / b + 1, already placed.
        let placement = match i {
            1 => Placement::Company,
            _ => placements[usize::try_from((i - 2) / b).unwrap_or(0)]
                .child(usize::try_from((i - 2) % b).unwrap_or(0)),
        };
        placements.push(placement);
        let weight = (1 + i % 4) as f64;
        let status = statuses[usize::try_from(i % 4).unwrap_or(0)];
        let mut contributions = Vec::with_capacity(3);
        for j in 1..=3_i64 {
            let start = ((i % 5) * 10) as f64;
            let span = (100 + (7 * i + 13 * j) % 900) as f64;
            // 64-bit integer arithmetic inside the mod, as the spec says.
            let factor = ((2_654_435_761_i64 * i + 40_503 * j) % 1301) as f64;
            let current = start + span * factor / 1000.0 - 10.0;
            let kr_weight = (1 + (i + j) % 3) as f64;
            let progress = key_result_progress(&KeyResultMeasure {
                kind: KeyResultKind::Numeric,
                start,
                target: start + span,
                current: Some(current),
                milestones_done: 0,
                milestones_total: 0,
            });
            contributions.push(Contribution {
                weight: kr_weight,
                progress,
            });
            key_results.push(SeedKeyResult {
                number: 3 * (i - 1) + j,
                objective_id: base + i,
                owner_id: owners.first + i % owners.count,
                start,
                target: start + span,
                current,
                weight: kr_weight,
                progress,
            });
        }
        targets.push(RollupTarget {
            id: base + i,
            parent_id,
            key_results: contributions,
        });
        if let Some(parent_id) = parent_id {
            children.push(ChildObjective {
                id: base + i,
                parent_id,
                weight,
                counts: counts_in_rollup(status.parse().unwrap_or(ObjectiveStatus::OnTrack), false),
                stored_progress: 0.0,
            });
        }
        objectives.push(SeedObjective {
            id: base + i,
            parent_id,
            owner_id: owners.first + i % owners.count,
            status,
            weight,
            progress: 0.0,
            team_id: org.map_or(0, |org| org.team(placement)),
            cycle_id: org.map_or(0, |org| org.cycle(i)),
        });
    }
    let progress = recompute(&targets, &children);
    for objective in &mut objectives {
        objective.progress = progress.get(&objective.id).copied().unwrap_or(0.0);
    }
    SeedData {
        objectives,
        key_results,
    }
}
