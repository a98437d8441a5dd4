//! Progress over time: calendar buckets of a range, and the roll-up replayed at the end of each
//! bucket from the key-result values known by then (the tree as it is today).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

use super::DomainError;
use super::rollup::{ChildObjective, Contribution, KeyResultMeasure, RollupTarget, recompute};

/// The most buckets one history may have.
pub const MAX_BUCKETS: usize = 400;

/// The length of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSize {
    Day,
    Week,
}

/// The starts of the buckets covering `[from, to)`: days, or ISO weeks starting on Monday
/// (as PostgreSQL's `date_trunc` cuts them, in UTC).
pub fn bucket_starts(
    from: NaiveDateTime,
    to: NaiveDateTime,
    size: BucketSize,
) -> Result<Vec<NaiveDateTime>, DomainError> {
    if from >= to {
        return Err(DomainError::invalid("to", "to must be later than from"));
    }
    let day = from.date();
    let (first, step) = match size {
        BucketSize::Day => (day, Duration::days(1)),
        BucketSize::Week => (
            day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Duration::days(7),
        ),
    };
    let mut starts = Vec::new();
    let mut start: NaiveDate = first;
    while start.and_hms_opt(0, 0, 0).is_some_and(|s| s < to) {
        if starts.len() == MAX_BUCKETS {
            return Err(DomainError::invalid(
                "to",
                format!("the range spans more than {MAX_BUCKETS} buckets; shorten it or use WEEK"),
            ));
        }
        starts.extend(start.and_hms_opt(0, 0, 0));
        start += step;
    }
    Ok(starts)
}

/// A key result's values over the range.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyResultSeries {
    pub objective_id: i64,
    pub weight: f64,
    /// Its shape; `current` is the last value before the range.
    pub measure: KeyResultMeasure,
    /// `(bucket start, last value in it, check-ins in it)`, by bucket.
    pub values: Vec<(NaiveDateTime, f64, i64)>,
    /// Progress that does not come from check-ins (milestone key results), if any.
    pub fixed_progress: Option<f64>,
}

/// An objective of the subtree whose progress is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    pub id: i64,
    /// `None` for the subtree's root.
    pub parent_id: Option<i64>,
    pub weight: f64,
    pub counts: bool,
}

/// One bucket of a history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    pub start: NaiveDateTime,
    /// Progress at the end of the bucket.
    pub progress: f64,
    /// Check-ins made during the bucket.
    pub check_ins: i64,
}

/// The progress of `root` at the end of each bucket, rolled up over `members` from `series`.
pub fn replay(
    root: i64,
    members: &[Member],
    series: &[KeyResultSeries],
    starts: &[NaiveDateTime],
) -> Vec<HistoryPoint> {
    let children: Vec<ChildObjective> = members
        .iter()
        .filter_map(|m| {
            Some(ChildObjective {
                id: m.id,
                parent_id: m.parent_id?,
                weight: m.weight,
                counts: m.counts,
                stored_progress: 0.0,
            })
        })
        .collect();
    let index_of: std::collections::HashMap<i64, usize> =
        members.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    let mut current: Vec<Option<f64>> = series.iter().map(|s| s.measure.current).collect();
    let mut next: Vec<usize> = vec![0; series.len()];
    starts
        .iter()
        .map(|&start| {
            let mut check_ins = 0;
            for (index, s) in series.iter().enumerate() {
                while let Some(&(bucket, value, count)) = s.values.get(next[index]) {
                    if bucket > start {
                        break;
                    }
                    current[index] = Some(value);
                    if bucket == start {
                        check_ins += count;
                    }
                    next[index] += 1;
                }
            }
            let mut targets: Vec<RollupTarget> = members
                .iter()
                .map(|m| RollupTarget {
                    id: m.id,
                    parent_id: m.parent_id,
                    key_results: Vec::new(),
                })
                .collect();
            for (index, s) in series.iter().enumerate() {
                let progress = s.fixed_progress.unwrap_or_else(|| {
                    super::rollup::key_result_progress(&KeyResultMeasure {
                        current: current[index],
                        ..s.measure
                    })
                });
                if let Some(&target) = index_of.get(&s.objective_id) {
                    targets[target].key_results.push(Contribution {
                        weight: s.weight,
                        progress,
                    });
                }
            }
            let progress = recompute(&targets, &children)
                .get(&root)
                .copied()
                .unwrap_or(0.0);
            HistoryPoint {
                start,
                progress,
                check_ins,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key_result::KeyResultKind;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date")
    }

    fn numeric(objective_id: i64, before: Option<f64>, values: Vec<(u32, f64)>) -> KeyResultSeries {
        KeyResultSeries {
            objective_id,
            weight: 1.0,
            measure: KeyResultMeasure {
                kind: KeyResultKind::Numeric,
                start: 0.0,
                target: 100.0,
                current: before,
                milestones_done: 0,
                milestones_total: 0,
            },
            values: values.into_iter().map(|(d, v)| (at(d), v, 1)).collect(),
            fixed_progress: None,
        }
    }

    #[test]
    fn days_and_monday_weeks_cover_the_range() {
        let days = bucket_starts(at(2), at(5), BucketSize::Day).expect("days");
        assert_eq!(days, vec![at(2), at(3), at(4)]);
        // 2026-03-04 is a Wednesday; its week starts on Monday the 2nd.
        let weeks = bucket_starts(at(4), at(17), BucketSize::Week).expect("weeks");
        assert_eq!(weeks, vec![at(2), at(9), at(16)]);
    }

    #[test]
    fn an_empty_or_huge_range_is_refused() {
        assert!(bucket_starts(at(5), at(5), BucketSize::Day).is_err());
        let from = at(1);
        let to = from + Duration::days(500);
        assert!(bucket_starts(from, to, BucketSize::Day).is_err());
        assert!(bucket_starts(from, to, BucketSize::Week).is_ok());
    }

    #[test]
    fn values_carry_forward_and_roll_up_through_children() {
        let members = [
            Member {
                id: 1,
                parent_id: None,
                weight: 1.0,
                counts: true,
            },
            Member {
                id: 2,
                parent_id: Some(1),
                weight: 1.0,
                counts: true,
            },
        ];
        let series = [
            numeric(1, Some(50.0), vec![(3, 100.0)]),
            numeric(2, None, vec![(2, 20.0), (4, 40.0)]),
        ];
        let starts = bucket_starts(at(1), at(5), BucketSize::Day).expect("days");
        let points = replay(1, &members, &series, &starts);
        let progress: Vec<f64> = points.iter().map(|p| p.progress).collect();
        assert_eq!(progress, vec![0.25, 0.35, 0.6, 0.7]);
        let check_ins: Vec<i64> = points.iter().map(|p| p.check_ins).collect();
        assert_eq!(check_ins, vec![0, 1, 1, 1]);
    }
}
