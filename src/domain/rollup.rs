//! The roll-up formula of SPEC section 2, the only place it is written down.
//!
//! Key-result progress `p = clamp((current - start) / (target - start), 0, 1)`; objective
//! progress is the weighted mean of its key results' progress and its counted children's
//! progress. [`recompute`] applies it bottom-up to any set of objectives, which serves both the
//! incremental refresh along an ancestor chain and a from-scratch recomputation of a whole tree.

use std::collections::HashMap;

use super::key_result::KeyResultKind;
use super::objective::ObjectiveStatus;

/// What a key result's progress is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyResultMeasure {
    pub kind: KeyResultKind,
    pub start: f64,
    pub target: f64,
    /// `None` until the first check-in; counts as no progress.
    pub current: Option<f64>,
    pub milestones_done: u32,
    pub milestones_total: u32,
}

/// Progress of one key result, in `0..=1`.
pub fn key_result_progress(m: &KeyResultMeasure) -> f64 {
    match m.kind {
        KeyResultKind::Milestone => {
            if m.milestones_total == 0 {
                0.0
            } else {
                f64::from(m.milestones_done) / f64::from(m.milestones_total)
            }
        }
        KeyResultKind::Boolean => match m.current {
            Some(value) if value >= 1.0 => 1.0,
            _ => 0.0,
        },
        KeyResultKind::Numeric | KeyResultKind::Percentage | KeyResultKind::Currency => {
            let Some(current) = m.current else {
                return 0.0;
            };
            if m.target == m.start {
                return if current >= m.target { 1.0 } else { 0.0 };
            }
            ((current - m.start) / (m.target - m.start)).clamp(0.0, 1.0)
        }
    }
}

/// A weighted progress value: one key result's or one child objective's share of its parent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub weight: f64,
    pub progress: f64,
}

/// Whether a child objective counts towards its parent's progress: cancelled and archived
/// objectives do not.
pub fn counts_in_rollup(status: ObjectiveStatus, archived: bool) -> bool {
    status != ObjectiveStatus::Cancelled && !archived
}

/// `P(o) = (Σ w_kr·p_kr + Σ w_child·P(child)) / (Σ w_kr + Σ w_child)`; 0 with neither.
pub fn objective_progress<'a>(
    key_results: impl IntoIterator<Item = &'a Contribution>,
    children: impl IntoIterator<Item = &'a Contribution>,
) -> f64 {
    let (weighted, total) = key_results
        .into_iter()
        .chain(children)
        .fold((0.0, 0.0), |(weighted, total), c| {
            (weighted + c.weight * c.progress, total + c.weight)
        });
    if total > 0.0 {
        (weighted / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// An objective whose progress is to be (re)computed.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupTarget {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub key_results: Vec<Contribution>,
}

/// A child of some target, with the progress stored for it (used when the child is not itself
/// a target; a child that is a target contributes its recomputed value instead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChildObjective {
    pub id: i64,
    pub parent_id: i64,
    pub weight: f64,
    pub counts: bool,
    pub stored_progress: f64,
}

/// Recomputes the progress of every target, children before parents.
///
/// `children` must hold every child of every target. Targets form one or more upward chains
/// (or a whole tree); a target is computed only after all targets below it.
pub fn recompute(targets: &[RollupTarget], children: &[ChildObjective]) -> HashMap<i64, f64> {
    let target_ids: HashMap<i64, usize> = targets
        .iter()
        .enumerate()
        .map(|(index, t)| (t.id, index))
        .collect();
    let mut children_of: HashMap<i64, Vec<&ChildObjective>> = HashMap::new();
    for child in children {
        children_of.entry(child.parent_id).or_default().push(child);
    }
    // Kahn's algorithm over the targets: a target is ready once none of its children is a
    // pending target.
    let mut pending_children: Vec<usize> = targets
        .iter()
        .map(|t| {
            children_of.get(&t.id).map_or(0, |kids| {
                kids.iter()
                    .filter(|k| target_ids.contains_key(&k.id))
                    .count()
            })
        })
        .collect();
    let mut ready: Vec<usize> = (0..targets.len())
        .filter(|&i| pending_children[i] == 0)
        .collect();
    let mut progress: HashMap<i64, f64> = HashMap::with_capacity(targets.len());
    while let Some(index) = ready.pop() {
        let target = &targets[index];
        let child_contributions: Vec<Contribution> = children_of
            .get(&target.id)
            .map(|kids| {
                kids.iter()
                    .filter(|k| k.counts)
                    .map(|k| Contribution {
                        weight: k.weight,
                        progress: progress.get(&k.id).copied().unwrap_or(k.stored_progress),
                    })
                    .collect()
            })
            .unwrap_or_default();
        progress.insert(
            target.id,
            objective_progress(&target.key_results, &child_contributions),
        );
        if let Some(&parent_index) = target.parent_id.and_then(|p| target_ids.get(&p)) {
            pending_children[parent_index] -= 1;
            if pending_children[parent_index] == 0 {
                ready.push(parent_index);
            }
        }
    }
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(start: f64, target: f64, current: Option<f64>) -> KeyResultMeasure {
        KeyResultMeasure {
            kind: KeyResultKind::Numeric,
            start,
            target,
            current,
            milestones_done: 0,
            milestones_total: 0,
        }
    }

    #[test]
    fn key_result_progress_follows_the_spec_table() {
        let milestone = |done, total| KeyResultMeasure {
            kind: KeyResultKind::Milestone,
            milestones_done: done,
            milestones_total: total,
            ..numeric(0.0, 1.0, None)
        };
        let boolean = |current| KeyResultMeasure {
            kind: KeyResultKind::Boolean,
            ..numeric(0.0, 1.0, current)
        };
        let cases: Vec<(&str, KeyResultMeasure, f64)> = vec![
            ("halfway", numeric(0.0, 100.0, Some(50.0)), 0.5),
            ("offset start", numeric(10.0, 110.0, Some(35.0)), 0.25),
            (
                "below start clamps to 0",
                numeric(10.0, 110.0, Some(0.0)),
                0.0,
            ),
            (
                "beyond target clamps to 1",
                numeric(0.0, 100.0, Some(130.0)),
                1.0,
            ),
            ("no value yet", numeric(0.0, 100.0, None), 0.0),
            (
                "reduction target halfway",
                numeric(100.0, 50.0, Some(75.0)),
                0.5,
            ),
            (
                "reduction target missed",
                numeric(100.0, 50.0, Some(120.0)),
                0.0,
            ),
            (
                "reduction target beaten",
                numeric(100.0, 50.0, Some(10.0)),
                1.0,
            ),
            ("target = start reached", numeric(5.0, 5.0, Some(5.0)), 1.0),
            ("target = start exceeded", numeric(5.0, 5.0, Some(6.0)), 1.0),
            (
                "target = start not reached",
                numeric(5.0, 5.0, Some(4.0)),
                0.0,
            ),
            ("target = start, no value", numeric(5.0, 5.0, None), 0.0),
            ("boolean done", boolean(Some(1.0)), 1.0),
            ("boolean not done", boolean(Some(0.0)), 0.0),
            ("boolean unset", boolean(None), 0.0),
            ("milestones 1 of 4", milestone(1, 4), 0.25),
            ("milestones all done", milestone(3, 3), 1.0),
            ("no milestones", milestone(0, 0), 0.0),
        ];
        for (name, measure, expected) in cases {
            let got = key_result_progress(&measure);
            assert!(
                (got - expected).abs() < 1e-12,
                "{name}: {got} != {expected}"
            );
        }
    }

    #[test]
    fn objective_progress_is_the_weighted_mean_of_key_results_and_children() {
        let krs = [
            Contribution {
                weight: 1.0,
                progress: 1.0,
            },
            Contribution {
                weight: 3.0,
                progress: 0.0,
            },
        ];
        let kids = [Contribution {
            weight: 4.0,
            progress: 0.5,
        }];
        assert!((objective_progress(&krs, &kids) - 0.375).abs() < 1e-12);
    }

    #[test]
    fn a_leaf_without_key_results_counts_zero() {
        assert_eq!(objective_progress(&[], &[]), 0.0);
    }

    #[test]
    fn cancelled_and_archived_children_do_not_count() {
        assert!(!counts_in_rollup(ObjectiveStatus::Cancelled, false));
        assert!(!counts_in_rollup(ObjectiveStatus::Done, true));
        assert!(counts_in_rollup(ObjectiveStatus::AtRisk, false));
        let targets = [RollupTarget {
            id: 1,
            parent_id: None,
            key_results: vec![],
        }];
        let children = [
            ChildObjective {
                id: 2,
                parent_id: 1,
                weight: 1.0,
                counts: true,
                stored_progress: 0.2,
            },
            ChildObjective {
                id: 3,
                parent_id: 1,
                weight: 5.0,
                counts: false,
                stored_progress: 1.0,
            },
        ];
        assert!((recompute(&targets, &children)[&1] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_deep_chain_rolls_up_from_the_leaf() {
        // 1 <- 2 <- ... <- 50; only the leaf has a key result, at 0.8; each level has one
        // more child (stored progress 0) of equal weight beside the chain.
        let depth = 50;
        let targets: Vec<RollupTarget> = (1..=depth)
            .map(|id| RollupTarget {
                id,
                parent_id: (id > 1).then_some(id - 1),
                key_results: if id == depth {
                    vec![Contribution {
                        weight: 1.0,
                        progress: 0.8,
                    }]
                } else {
                    vec![]
                },
            })
            .collect();
        let mut children: Vec<ChildObjective> = (2..=depth)
            .map(|id| ChildObjective {
                id,
                parent_id: id - 1,
                weight: 1.0,
                counts: true,
                stored_progress: 0.0,
            })
            .collect();
        children.extend((1..depth).map(|parent| ChildObjective {
            id: 1000 + parent,
            parent_id: parent,
            weight: 1.0,
            counts: true,
            stored_progress: 0.0,
        }));
        let progress = recompute(&targets, &children);
        assert!((progress[&depth] - 0.8).abs() < 1e-12);
        let expected_root = 0.8 / 2f64.powi((depth - 1) as i32);
        assert!((progress[&1] - expected_root).abs() < 1e-15);
    }

    #[test]
    fn a_child_outside_the_targets_contributes_its_stored_progress() {
        let targets = [RollupTarget {
            id: 1,
            parent_id: None,
            key_results: vec![],
        }];
        let children = [ChildObjective {
            id: 2,
            parent_id: 1,
            weight: 2.0,
            counts: true,
            stored_progress: 0.6,
        }];
        assert!((recompute(&targets, &children)[&1] - 0.6).abs() < 1e-12);
    }
}
