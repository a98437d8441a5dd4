//! Keeps stored roll-ups current: after a write, recomputes key-result and objective progress
//! along the ancestor chains of the objectives it touched, inside the writer's transaction.
//!
//! The work is proportional to depth x fan-out, never to subtree size: siblings off the chain
//! contribute their stored progress. Six statements at most whatever the depth: the chain, its
//! key results, the chain's children, one batched UPDATE each for key results and objectives,
//! (plus one for the chain's stored subtree sizes after a change of the tree's shape), and one
//! NOTIFY announcing the changed objectives to live subscribers
//! (see [`super::progress_feed`]).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::scoped::sql;
use super::subtree_sizes::{self, CountedChild};
use super::{progress_feed, tree};
use crate::domain::key_result::KeyResultKind;
use crate::domain::objective::ObjectiveStatus;
use crate::domain::rollup::{
    ChildObjective, Contribution, KeyResultMeasure, RollupTarget, counts_in_rollup,
    key_result_progress, recompute,
};
use crate::store::{StoreError, StoreResult};

#[derive(Debug, FromQueryResult)]
struct KeyResultRow {
    id: i64,
    objective_id: i64,
    kind: KeyResultKind,
    start_value: f64,
    target_value: f64,
    current_value: Option<f64>,
    weight: f64,
    progress: f64,
    milestones_done: i64,
    milestones_total: i64,
}

#[derive(Debug, FromQueryResult)]
struct ChildRow {
    id: i64,
    parent_id: i64,
    weight: f64,
    status: ObjectiveStatus,
    archived: bool,
    progress: f64,
    public: bool,
    descendant_count: i64,
    public_descendant_count: i64,
}

/// Recomputes progress for `seeds` and every ancestor of theirs, writes what changed, and
/// announces the changed objectives to subscribers (delivered when `txn` commits).
pub async fn refresh(txn: &impl ConnectionTrait, tenant_id: i64, seeds: &[i64]) -> StoreResult<()> {
    if seeds.is_empty() {
        return Ok(());
    }
    let chain = tree::chain(txn, tenant_id, seeds).await?;
    let chain_ids: Vec<i64> = chain.iter().map(|link| link.id).collect();
    let key_results = key_result_rows(txn, tenant_id, Some(&chain_ids)).await?;
    let children = ChildRow::find_by_statement(sql(
        r#"
            SELECT id, parent_id, weight, status, archived_at IS NOT NULL AS archived, progress,
                   visibility = 'public' AS public, descendant_count, public_descendant_count
            FROM objectives WHERE tenant_id = $1 AND parent_id = ANY($2)
        "#,
        [tenant_id.into(), chain_ids.into()],
    ))
    .all(txn)
    .await?;

    let counted: Vec<CountedChild> = children
        .iter()
        .map(|child| CountedChild {
            id: child.id,
            parent_id: child.parent_id,
            archived: child.archived,
            public: child.public,
            descendant_count: child.descendant_count,
            public_descendant_count: child.public_descendant_count,
        })
        .collect();
    let sizes = subtree_sizes::recount(&chain, &counted);
    let (kr_progress, mut contributions) = key_result_progress_by_objective(&key_results)?;
    let kr_updates: Vec<(i64, f64)> = key_results
        .iter()
        .filter_map(|kr| {
            let progress = kr_progress[&kr.id];
            (progress != kr.progress).then_some((kr.id, progress))
        })
        .collect();
    let targets: Vec<RollupTarget> = chain
        .iter()
        .map(|link| RollupTarget {
            id: link.id,
            parent_id: link.parent_id,
            key_results: contributions.remove(&link.id).unwrap_or_default(),
        })
        .collect();
    let children: Vec<ChildObjective> = children
        .iter()
        .map(|child| {
            Ok(ChildObjective {
                id: child.id,
                parent_id: child.parent_id,
                weight: child.weight,
                counts: counts_in_rollup(child.status, child.archived),
                stored_progress: child.progress,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let recomputed = recompute(&targets, &children);

    // (objective, new progress) for every objective of the chain whose progress moved.
    let objective_updates: Vec<(i64, f64)> = chain
        .iter()
        .filter_map(|link| {
            let after = *recomputed.get(&link.id)?;
            (after != link.progress).then_some((link.id, after))
        })
        .collect();
    subtree_sizes::write(txn, tenant_id, &sizes).await?;
    write_progress(txn, "key_results", tenant_id, &kr_updates).await?;
    write_progress(txn, "objectives", tenant_id, &objective_updates).await?;
    progress_feed::announce(
        txn,
        &progress_feed::notices_from_chain(tenant_id, &chain, &objective_updates),
    )
    .await?;
    Ok(())
}

/// The key results (with milestone counts) of `objective_ids`, or of the whole tenant.
async fn key_result_rows(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    objective_ids: Option<&[i64]>,
) -> StoreResult<Vec<KeyResultRow>> {
    let statement = sql(
        r#"
            SELECT kr.id, kr.objective_id, kr.kind, kr.start_value, kr.target_value,
                   kr.current_value, kr.weight, kr.progress,
                   COALESCE(m.done, 0) AS milestones_done, COALESCE(m.total, 0) AS milestones_total
            FROM key_results kr
            LEFT JOIN (
                SELECT key_result_id, count(done_at) AS done, count(*) AS total
                FROM milestones
                WHERE tenant_id = $1 AND key_result_id IS NOT NULL
                  AND ($2::bigint[] IS NULL OR objective_id = ANY($2))
                GROUP BY key_result_id
            ) m ON m.key_result_id = kr.id
            WHERE kr.tenant_id = $1 AND ($2::bigint[] IS NULL OR kr.objective_id = ANY($2))
        "#,
        [tenant_id.into(), objective_ids.map(<[i64]>::to_vec).into()],
    );
    Ok(KeyResultRow::find_by_statement(statement).all(db).await?)
}

/// Each key result's progress (by key-result id), and the contributions they make to their
/// objectives (by objective id).
type KeyResultProgress = (HashMap<i64, f64>, HashMap<i64, Vec<Contribution>>);

fn key_result_progress_by_objective(rows: &[KeyResultRow]) -> StoreResult<KeyResultProgress> {
    let mut progress_by_id = HashMap::with_capacity(rows.len());
    let mut contributions: HashMap<i64, Vec<Contribution>> = HashMap::new();
    for kr in rows {
        let progress = key_result_progress(&KeyResultMeasure {
            kind: kr.kind,
            start: kr.start_value,
            target: kr.target_value,
            current: kr.current_value,
            milestones_done: u32::try_from(kr.milestones_done).unwrap_or(u32::MAX),
            milestones_total: u32::try_from(kr.milestones_total).unwrap_or(u32::MAX),
        });
        progress_by_id.insert(kr.id, progress);
        contributions
            .entry(kr.objective_id)
            .or_default()
            .push(Contribution {
                weight: kr.weight,
                progress,
            });
    }
    Ok((progress_by_id, contributions))
}

/// One batched UPDATE of `table.progress` for `(id, progress)` pairs.
async fn write_progress(
    txn: &impl ConnectionTrait,
    table: &'static str,
    tenant_id: i64,
    updates: &[(i64, f64)],
) -> StoreResult<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = updates.iter().map(|(id, _)| *id).collect();
    let values: Vec<f64> = updates.iter().map(|(_, p)| *p).collect();
    let params: [Value; 3] = [tenant_id.into(), ids.into(), values.into()];
    txn.execute_raw(sql(
        &format!(
            r#"
                UPDATE {table} t SET progress = v.progress
                FROM unnest($2::bigint[], $3::float8[]) AS v(id, progress)
                WHERE t.tenant_id = $1 AND t.id = v.id
            "#
        ),
        params,
    ))
    .await?;
    Ok(())
}

/// Progress of every objective and key result of a tenant, recomputed from scratch from key
/// result values and milestones, ignoring every stored progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FullRollup {
    pub objectives: HashMap<i64, f64>,
    pub key_results: HashMap<i64, f64>,
}

/// Recomputes the whole tenant's roll-ups without reading stored progress (for audits, tests
/// and bulk loads; a write refreshes only its chain through [`refresh`]).
pub async fn recompute_all(db: &impl ConnectionTrait, tenant_id: i64) -> StoreResult<FullRollup> {
    let key_results = key_result_rows(db, tenant_id, None).await?;
    let objectives = ChildRow::find_by_statement(sql(
        r#"
            SELECT id, COALESCE(parent_id, 0) AS parent_id, weight, status,
                   archived_at IS NOT NULL AS archived, progress,
                   visibility = 'public' AS public, descendant_count, public_descendant_count
            FROM objectives WHERE tenant_id = $1
        "#,
        [tenant_id.into()],
    ))
    .all(db)
    .await?;
    let (kr_progress, mut contributions) = key_result_progress_by_objective(&key_results)?;
    let targets: Vec<RollupTarget> = objectives
        .iter()
        .map(|o| RollupTarget {
            id: o.id,
            parent_id: (o.parent_id != 0).then_some(o.parent_id),
            key_results: contributions.remove(&o.id).unwrap_or_default(),
        })
        .collect();
    let children: Vec<ChildObjective> = objectives
        .iter()
        .filter(|o| o.parent_id != 0)
        .map(|o| {
            Ok(ChildObjective {
                id: o.id,
                parent_id: o.parent_id,
                weight: o.weight,
                counts: counts_in_rollup(o.status, o.archived),
                // Every child is also a target, so this is never read.
                stored_progress: 0.0,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(FullRollup {
        objectives: recompute(&targets, &children),
        key_results: kr_progress,
    })
}
