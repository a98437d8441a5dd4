//! Stored subtree sizes: each objective's count of unarchived children and of unarchived
//! objectives below it in all (an archived objective hides its subtree, as tree reads do), and
//! the same counts through public objectives only (what a viewer who sees no private objective
//! gets: the sizes that price such viewers' reads, so a price never tells what is hidden).
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
    /// Public unarchived children.
    pub public_child_count: i64,
    /// Unarchived objectives below it reached through public objectives only.
    pub public_descendant_count: i64,
}

/// A child of a chain member, as the recount needs it.
pub struct CountedChild {
    pub id: i64,
    pub parent_id: i64,
    pub archived: bool,
    pub public: bool,
    pub descendant_count: i64,
    pub public_descendant_count: i64,
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
        let mut size = SubtreeSize {
            id,
            child_count: kids.len() as i64,
            ..SubtreeSize::default()
        };
        for child in kids {
            let (below, public_below) = if on_chain.contains_key(&child.id) {
                let recounted = size_of(child.id, by_parent, on_chain, sizes);
                (
                    recounted.descendant_count,
                    recounted.public_descendant_count,
                )
            } else {
                (child.descendant_count, child.public_descendant_count)
            };
            size.descendant_count += 1 + below;
            if child.public {
                size.public_child_count += 1;
                size.public_descendant_count += 1 + public_below;
            }
        }
        sizes.insert(id, size);
        size
    }
    chain
        .iter()
        .map(|link| size_of(link.id, &by_parent, &on_chain, &mut sizes))
        .filter(|size| {
            let link = on_chain[&size.id];
            let stored = SubtreeSize {
                id: link.id,
                child_count: link.child_count,
                descendant_count: link.descendant_count,
                public_child_count: link.public_child_count,
                public_descendant_count: link.public_descendant_count,
            };
            stored != *size
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
    let column = |value: fn(&SubtreeSize) -> i64| -> Value {
        sizes.iter().map(value).collect::<Vec<i64>>().into()
    };
    let params: [Value; 6] = [
        tenant_id.into(),
        column(|size| size.id),
        column(|size| size.child_count),
        column(|size| size.descendant_count),
        column(|size| size.public_child_count),
        column(|size| size.public_descendant_count),
    ];
    txn.execute_raw(sql(
        r#"
            UPDATE objectives o
            SET child_count = v.children, descendant_count = v.descendants,
                public_child_count = v.public_children,
                public_descendant_count = v.public_descendants
            FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
                 AS v(id, children, descendants, public_children, public_descendants)
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
    pub public_child_count: i64,
    pub public_descendant_count: i64,
    pub private: bool,
    pub owner_id: i64,
    pub team_id: Option<i64>,
}

impl GuardedSize {
    /// The sizes `viewer` is priced by, when they may see the objective: every objective below
    /// for a viewer who sees every private one, else those reached through public objectives
    /// (an estimate that leaves out the viewer's own private objectives rather than one that
    /// counts objectives hidden from them).
    pub fn visible_to(&self, viewer: &Viewer) -> Option<SubtreeSize> {
        if !viewer.can_see(self.private, self.owner_id, self.team_id) {
            return None;
        }
        let (child_count, descendant_count) = if viewer.sees_all_private() {
            (self.child_count, self.descendant_count)
        } else {
            (self.public_child_count, self.public_descendant_count)
        };
        Some(SubtreeSize {
            id: self.id,
            child_count,
            descendant_count,
            public_child_count: self.public_child_count,
            public_descendant_count: self.public_descendant_count,
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
        "SELECT id, child_count, descendant_count, public_child_count, public_descendant_count, \
                visibility = 'private' AS private, owner_id, team_id \
         FROM objectives WHERE tenant_id = $1 AND id = ANY($2)",
        [tenant_id.into(), ids.to_vec().into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|size| (size.id, size)).collect())
}
