//! Reconcile: compares a tenant's objectives in PostgreSQL with goal_trees in MongoDB, and the
//! activity summary with goal_updates; reports every difference and, asked to, repairs it.

use std::collections::{BTreeMap, HashMap};

use crate::store::pg::Db;
use crate::store::pg::activity::{self, Summary};
use crate::store::pg::outbox;

use super::SyncError;
use super::activity::to_chrono;
use crate::store::mongo::MongoStore;
use crate::store::mongo::goal_trees::{GoalTree, GoalTrees, depth_of, document_id};
use crate::store::mongo::goal_updates::GoalUpdates;
use crate::store::pg::tree::tenant_paths;

/// One difference between the stores.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// An objective with no goal_trees document.
    MissingDocument { objective_id: i64 },
    /// A goal_trees document for no objective of the tenant.
    ExtraDocument { objective_id: i64 },
    /// A document whose path differs from the objective's place in the tree.
    WrongPath {
        objective_id: i64,
        expected: String,
        actual: String,
    },
    /// A document whose title, status or archived flag is stale.
    StaleFields {
        objective_id: i64,
        fields: Vec<&'static str>,
    },
    /// An activity summary that disagrees with goal_updates.
    WrongSummary {
        objective_id: i64,
        expected: String,
        actual: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::MissingDocument { objective_id } => {
                write!(f, "objective {objective_id}: no goal_trees document")
            }
            Difference::ExtraDocument { objective_id } => {
                write!(
                    f,
                    "objective {objective_id}: goal_trees document without an objective"
                )
            }
            Difference::WrongPath {
                objective_id,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "objective {objective_id}: path {actual:?}, expected {expected:?}"
                )
            }
            Difference::StaleFields {
                objective_id,
                fields,
            } => {
                write!(f, "objective {objective_id}: stale {}", fields.join(", "))
            }
            Difference::WrongSummary {
                objective_id,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "objective {objective_id}: activity {actual}, expected {expected}"
                )
            }
        }
    }
}

/// What reconcile found (and, with repair, fixed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub objectives: usize,
    pub documents: usize,
    pub differences: Vec<Difference>,
    pub repaired: bool,
}

/// Compares the stores for `tenant_id`; with `repair`, rewrites goal_trees documents and
/// summary rows from their sources of truth (custom fields are kept).
pub async fn reconcile(
    db: &Db,
    mongo: &MongoStore,
    tenant_id: i64,
    repair: bool,
) -> Result<Report, SyncError> {
    let trees = GoalTrees::new(mongo.database().clone());
    let expected = tenant_paths(db, tenant_id).await?;
    let mut documents: HashMap<i64, GoalTree> = trees
        .all(tenant_id)
        .await?
        .into_iter()
        .map(|tree| (tree.objective_id, tree))
        .collect();
    let mut report = Report {
        objectives: expected.len(),
        documents: documents.len(),
        ..Report::default()
    };
    // Events written after this point have higher ids and still apply; older pending ones
    // are already reflected in the state read above.
    let high_water = outbox::high_water(db).await?;
    let mut rewrites = Vec::new();
    for node in &expected {
        let existing = documents.remove(&node.id);
        let mut stale = Vec::new();
        match &existing {
            None => report.differences.push(Difference::MissingDocument {
                objective_id: node.id,
            }),
            Some(doc) => {
                if doc.path != node.path {
                    report.differences.push(Difference::WrongPath {
                        objective_id: node.id,
                        expected: node.path.clone(),
                        actual: doc.path.clone(),
                    });
                }
                if doc.title != node.title {
                    stale.push("title");
                }
                if doc.status != node.status.as_str() {
                    stale.push("status");
                }
                if doc.archived != node.archived {
                    stale.push("archived");
                }
                if !stale.is_empty() {
                    report.differences.push(Difference::StaleFields {
                        objective_id: node.id,
                        fields: stale.clone(),
                    });
                }
            }
        }
        let differs = existing
            .as_ref()
            .is_none_or(|d| d.path != node.path || !stale.is_empty());
        if differs {
            rewrites.push(GoalTree {
                id: document_id(tenant_id, node.id),
                tenant_id,
                objective_id: node.id,
                path: node.path.clone(),
                depth: depth_of(&node.path),
                title: node.title.clone(),
                status: node.status.as_str().to_owned(),
                archived: node.archived,
                fields: existing.map(|d| d.fields).unwrap_or_default(),
                outbox_id: high_water,
            });
        }
    }
    let extra: Vec<i64> = documents.keys().copied().collect();
    for objective_id in &extra {
        report.differences.push(Difference::ExtraDocument {
            objective_id: *objective_id,
        });
    }

    let wanted: BTreeMap<i64, Summary> = GoalUpdates::new(mongo.database().clone())
        .summary(tenant_id)
        .await?
        .into_iter()
        .map(|(objective_id, s)| {
            (
                objective_id,
                Summary {
                    objective_id,
                    update_count: s.count,
                    last_update_at: s.last_at.map(to_chrono),
                    last_author_id: s.last_author_id,
                },
            )
        })
        .collect();
    let stored: BTreeMap<i64, Summary> = activity::summaries(db, tenant_id)
        .await?
        .into_iter()
        .map(|row| (row.objective_id, row))
        .collect();
    let describe = |row: Option<&Summary>| match row {
        Some(r) => format!("{} updates, last by {:?}", r.update_count, r.last_author_id),
        None => "none".to_owned(),
    };
    let mut summary_fixes = Vec::new();
    for objective_id in wanted
        .keys()
        .chain(stored.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (want, have) = (wanted.get(&objective_id), stored.get(&objective_id));
        let same = match (want, have) {
            (Some(w), Some(h)) => {
                w.update_count == h.update_count
                    && w.last_author_id == h.last_author_id
                    && w.last_update_at.map(|t| t.timestamp_millis())
                        == h.last_update_at.map(|t| t.timestamp_millis())
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            report.differences.push(Difference::WrongSummary {
                objective_id,
                expected: describe(want),
                actual: describe(have),
            });
            summary_fixes.push((objective_id, want));
        }
    }

    if repair {
        for tree in &rewrites {
            trees.replace(tree).await?;
        }
        for objective_id in extra {
            trees.delete(tenant_id, objective_id).await?;
        }
        for (objective_id, want) in summary_fixes {
            activity::overwrite_summary(db, tenant_id, objective_id, want).await?;
        }
        report.repaired = true;
    }
    Ok(report)
}
