//! Stored subtree sizes: each objective's count of unarchived children and of unarchived
//! objectives below it in all (an archived objective hides its subtree, as tree reads do).
//! Writes keep them current along the chains they refresh ([`super::rollup::refresh`]); bulk
//! loads recount a tenant at once. Query cost is estimated from them.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::scoped::sql;
use super::tree::ChainLink;
use crate::domain::access::Viewer;
use crate::store::StoreResult;

/// How many objectives hang below one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromQueryResult)]
pub struct SubtreeSize {
    pub id: i64,
    /// Unarchived children.
    pub child_count: i64,
    /// Unarchived objectives below it in all.
    pub descendant_count: i64,
}

/// A child of a chain member, as the recount needs it.
pub struct CountedChild {
    pub id: i64,
    pub parent_id: i64,
    pub archived: bool,
    pub descendant_count: i64,
}

/// The sizes of every member of `chain` recomputed from `children` (every child of every
/// member): a child on the chain contributes its recomputed size, any other its stored one.
/// Only the members whose sizes changed are returned.
pub fn recount(chain: &[ChainLink], children: &[CountedChild]) -> Vec<SubtreeSize> {
    let mut by_parent: HashMap<i64, Vec<&CountedChild>> = HashMap::new();
    for child in children.iter().filter(|child| !child.archived) {
        by_parent.entry(child.parent_id).or_default().push(child);
    }
    let on_chain: HashMap<i64, &ChainLink> = chain.iter().map(|link| (link.id, link)).collect();
    let mut sizes: HashMap<i64, SubtreeSize> = HashMap::new();
    fn size_of(
        id: i64,
        by_parent: &HashMap<i64, Vec<&CountedChild>>,
        on_chain: &HashMap<i64, &ChainLink>,
        sizes: &mut HashMap<i64, SubtreeSize>,
    ) -> SubtreeSize {
        if let Some(known) = sizes.get(&id) {
            return *known;
        }
        let kids = by_parent.get(&id).map(Vec::as_slice).unwrap_or_default();
        let descendant_count = kids
            .iter()
            .map(|child| {
                let below = if on_chain.contains_key(&child.id) {
                    size_of(child.id, by_parent, on_chain, sizes).descendant_count
                } else {
                    child.descendant_count
                };
                1 + below
            })
            .sum();
        let size = SubtreeSize {
            id,
            child_count: kids.len() as i64,
            descendant_count,
        };
        sizes.insert(id, size);
        size
    }
    chain
        .iter()
        .map(|link| size_of(link.id, &by_parent, &on_chain, &mut sizes))
        .filter(|size| {
            let link = on_chain[&size.id];
            (link.child_count, link.descendant_count) != (size.child_count, size.descendant_count)
        })
        .collect()
}

/// Stores `sizes` in one statement.
pub async fn write(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    sizes: &[SubtreeSize],
) -> StoreResult<()> {
    if sizes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = sizes.iter().map(|size| size.id).collect();
    let children: Vec<i64> = sizes.iter().map(|size| size.child_count).collect();
    let descendants: Vec<i64> = sizes.iter().map(|size| size.descendant_count).collect();
    let params: [Value; 4] = [
        tenant_id.into(),
        ids.into(),
        children.into(),
        descendants.into(),
    ];
    txn.execute_raw(sql(
        r#"
            UPDATE objectives o SET child_count = v.children, descendant_count = v.descendants
            FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, children, descendants)
            WHERE o.tenant_id = $1 AND o.id = v.id
        "#,
        params,
    ))
    .await?;
    Ok(())
}

/// Recounts every objective of `tenant_id` from scratch (after a bulk load).
pub async fn recount_tenant(db: &impl ConnectionTrait, tenant_id: i64) -> StoreResult<()> {
    db.execute_raw(sql(
        "SELECT goalgraph_recount_subtrees($1)",
        [tenant_id.into()],
    ))
    .await?;
    Ok(())
}

/// An objective's stored sizes with what decides who may see it, so sizes read for one
/// viewer can be kept and handed to another only when they may see it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct GuardedSize {
    pub id: i64,
    pub child_count: i64,
    pub descendant_count: i64,
    pub private: bool,
    pub owner_id: i64,
    pub team_id: Option<i64>,
}

impl GuardedSize {
    /// The sizes, when `viewer` may see the objective.
    pub fn visible_to(&self, viewer: &Viewer) -> Option<SubtreeSize> {
        viewer
            .can_see(self.private, self.owner_id, self.team_id)
            .then_some(SubtreeSize {
                id: self.id,
                child_count: self.child_count,
                descendant_count: self.descendant_count,
            })
    }
}

/// The stored sizes of `ids` in `tenant_id` (absent ids are left out), in one statement.
pub async fn sizes(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    ids: &[i64],
) -> StoreResult<HashMap<i64, GuardedSize>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = GuardedSize::find_by_statement(sql(
        "SELECT id, child_count, descendant_count, visibility = 'private' AS private, \
                owner_id, team_id \
         FROM objectives WHERE tenant_id = $1 AND id = ANY($2)",
        [tenant_id.into(), ids.to_vec().into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|size| (size.id, size)).collect())
}
