//! The deterministic benchmark data set of SPEC section 7, loaded with set-based SQL
//! (`generate_series`), never a statement per row.

use sea_orm::{ConnectionTrait, TransactionTrait};

use super::rollup;
use super::scoped::sql;
use crate::store::StoreResult;

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
    db: &sea_orm::DatabaseConnection,
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
    db: &sea_orm::DatabaseConnection,
    tenant_id: i64,
    count: i64,
) -> StoreResult<Owners> {
    let first: i64 = db
        .query_one_raw(sql(
            "WITH made AS ( \
                 INSERT INTO users (tenant_id, name, email, role) \
                 SELECT $1, 'User ' || n, 'user' || n || '@bench.example', 'member' \
                 FROM generate_series(0::bigint, $2::bigint - 1) AS n ORDER BY n \
                 RETURNING id) \
             SELECT min(id) AS first FROM made",
            [tenant_id.into(), count.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "first"))
        .transpose()?
        .unwrap_or(0);
    Ok(Owners { first, count })
}

/// Like [`bench_tree`], with owners spread over `owners`.
pub async fn bench_tree_owned_by(
    db: &sea_orm::DatabaseConnection,
    tenant_id: i64,
    owners: Owners,
    shape: TreeShape,
) -> StoreResult<i64> {
    let txn = db.begin().await?;
    let base: i64 = txn
        .query_one_raw(sql(
            "SELECT COALESCE(max(id), 0) AS base FROM objectives",
            [],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "base"))
        .transpose()?
        .unwrap_or(0);
    let n = shape.objectives();
    let b = shape.branching;
    txn.execute_raw(sql(
        "INSERT INTO objectives (id, tenant_id, parent_id, owner_id, title, status, weight) \
         SELECT $1 + i, $2, \
                CASE WHEN i = 1 THEN NULL ELSE $1 + (i - 2) / $5 + 1 END, \
                $3 + i % $6, 'Objective ' || i, \
                (ARRAY['on_track', 'at_risk', 'off_track', 'done'])[i % 4 + 1], \
                1 + i % 4 \
         FROM generate_series(1::bigint, $4::bigint) AS i",
        [
            base.into(),
            tenant_id.into(),
            owners.first.into(),
            n.into(),
            b.into(),
            owners.count.into(),
        ],
    ))
    .await?;
    // Key result j of objective i is spec id 3(i-1)+j. `current` uses 64-bit arithmetic
    // inside the mod, exactly as the spec: (2654435761·i + 40503·j) mod 1301.
    txn.execute_raw(sql(
        "INSERT INTO key_results (tenant_id, objective_id, owner_id, title, kind, \
                                  start_value, target_value, current_value, weight) \
         SELECT $2, $1 + i, $3 + i % $5, 'Key result ' || (3 * (i - 1) + j), 'numeric', \
                (i % 5) * 10, \
                (i % 5) * 10 + (100 + (7 * i + 13 * j) % 900), \
                (i % 5) * 10 \
                  + (100 + (7 * i + 13 * j) % 900) \
                    * ((2654435761 * i + 40503 * j) % 1301) / 1000.0 - 10, \
                1 + (i + j) % 3 \
         FROM generate_series(1::bigint, $4::bigint) AS i, generate_series(1::bigint, 3::bigint) AS j \
         ORDER BY i, j",
        [
            base.into(),
            tenant_id.into(),
            owners.first.into(),
            n.into(),
            owners.count.into(),
        ],
    ))
    .await?;
    txn.execute_raw(sql(
        "SELECT setval(pg_get_serial_sequence('objectives', 'id'), (SELECT max(id) FROM objectives))",
        [],
    ))
    .await?;
    rollup::rebuild_all(&txn, tenant_id).await?;
    txn.commit().await?;
    Ok(base + 1)
}
