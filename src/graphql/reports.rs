//! Dashboard reports (SPEC section 5): roll-ups of a team with its sub-teams and of a cycle,
//! department standings, key results by status under a branch, and progress histories. Each
//! costs one or two round trips per store whatever the size of what it summarises, and is
//! answered from the report cache while its tenant's data has not changed
//! ([`crate::store::report_cache`]).

use super::scalars::Timestamp;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::context::{decode_id, decode_opt, load_many, load_one, stores, viewer};
use super::enums::ObjectiveStatus;
use super::org::Team;
use super::query::{CustomFieldCondition, field_conditions};
use crate::domain::access::Viewer;
use crate::domain::global_id::{GlobalId, NodeKind};
use crate::domain::history::{self, BucketSize, KeyResultSeries, Member};
use crate::domain::key_result::KeyResultKind;
use crate::domain::objective::ObjectiveStatus as DomainStatus;
use crate::domain::rollup::{KeyResultMeasure, counts_in_rollup};
use crate::error::{AppError, AppResult};
use crate::loaders::{CycleById, DataVersionOf, KeyResultById, TeamById};
use crate::store::pg::reports::{self, Bucket, DepartmentStanding, HistoryRow, StatusGroup};
use crate::store::report_cache::ReportKey;
use strum::IntoEnumIterator as _;

/// The most objectives a progress history rolls up.
const MAX_HISTORY_OBJECTIVES: i64 = 20_000;

/// Live objectives of one status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct StatusSummary {
    /// The status.
    status: ObjectiveStatus,
    /// How many objectives have it.
    objectives: i64,
    /// Their mean rolled-up progress, 0..1.
    average_progress: f64,
}

/// Objectives summarised: how many, how far along, by status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ProgressSummary {
    /// Live (not archived) objectives visible to you.
    objectives: i64,
    /// Mean rolled-up progress of those not cancelled, 0..1 (0 when there are none).
    average_progress: f64,
    /// The share of those not cancelled that are done, 0..1.
    completion_rate: f64,
    /// Counts and mean progress per status, every status listed.
    by_status: Vec<StatusSummary>,
}

impl ProgressSummary {
    fn from_groups(groups: &[StatusGroup]) -> AppResult<Self> {
        let mut by_status = Vec::with_capacity(groups.len());
        let (mut counted, mut progress_sum, mut done) = (0_i64, 0.0, 0_i64);
        for status in DomainStatus::iter() {
            let group = groups.iter().find(|g| g.status == status);
            let (objectives, average) =
                group.map_or((0, 0.0), |g| (g.objectives, g.average_progress));
            if status != DomainStatus::Cancelled {
                counted += objectives;
                progress_sum += average * objectives as f64;
            }
            if status == DomainStatus::Done {
                done = objectives;
            }
            by_status.push(StatusSummary {
                status: status.into(),
                objectives,
                average_progress: average,
            });
        }
        let share = |part: f64| {
            if counted > 0 {
                part / counted as f64
            } else {
                0.0
            }
        };
        Ok(Self {
            objectives: by_status.iter().map(|s| s.objectives).sum(),
            average_progress: share(progress_sum),
            completion_rate: share(done as f64),
            by_status,
        })
    }
}

/// A department's standing within its company.
pub struct DepartmentRank(DepartmentStanding);

/// A department's standing within its company.
#[Object]
impl DepartmentRank {
    /// The department.
    async fn department(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        Ok(load_one::<TeamById, _>(ctx, self.0.department_id)
            .await?
            .map(Team))
    }

    /// The company it belongs to (its top-level unit).
    async fn company(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        let Some(company) = self.0.company_id else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, company).await?.map(Team))
    }

    /// Counted objectives: live, not cancelled, of the department or its sub-teams.
    async fn objectives(&self) -> i64 {
        self.0.objectives
    }

    /// Their mean rolled-up progress (null without objectives).
    async fn average_progress(&self) -> Option<f64> {
        self.0.average_progress
    }

    /// The share of them that are done (status DONE or progress 1).
    async fn completion_rate(&self) -> Option<f64> {
        self.0.completion_rate
    }

    /// The 25th percentile of their progress.
    async fn p25(&self) -> Option<f64> {
        self.0.p25
    }

    /// The median of their progress.
    async fn median(&self) -> Option<f64> {
        self.0.median
    }

    /// The 75th percentile of their progress.
    async fn p75(&self) -> Option<f64> {
        self.0.p75
    }

    /// 1 for the best average progress in its company; ties share a rank.
    async fn rank(&self) -> i64 {
        self.0.rank
    }

    /// Its relative rank: 0 for the best, 1 for the worst.
    async fn percent_rank(&self) -> f64 {
        self.0.percent_rank
    }

    /// The number of departments ranked in its company.
    async fn departments(&self) -> i64 {
        self.0.departments
    }
}

/// Key results of the objectives in one status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct KeyResultStatusGroup {
    /// The objectives' status.
    status: ObjectiveStatus,
    /// Objectives in the group (visible to you).
    objectives: i64,
    /// Their key results.
    key_results: i64,
    /// The key results' mean progress, 0..1 (null without key results).
    average_progress: Option<f64>,
}

/// The length of one bucket of a progress history.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum HistoryBucket {
    /// Calendar days (UTC).
    Day,
    /// ISO weeks, starting on Monday (UTC).
    Week,
}

/// Progress at the end of one bucket.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ProgressPoint {
    /// When the bucket starts.
    starts_at: Timestamp,
    /// Progress at the bucket's end, 0..1.
    progress: f64,
    /// Check-ins made during the bucket.
    check_ins: i64,
}

/// Report queries (merged into the query root).
#[derive(Default)]
pub struct ReportQuery;

/// Report queries (merged into the query root).
#[Object]
impl ReportQuery {
    /// Objectives of a team and all its sub-teams (in one cycle when given), by status.
    async fn team_rollup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team, with all its sub-teams.")] team_id: ID,
        #[graphql(desc = "Only objectives of this cycle (every cycle when omitted).")]
        cycle_id: Option<ID>,
    ) -> AppResult<ProgressSummary> {
        let viewer = viewer(ctx)?;
        let team = decode_id(&team_id, NodeKind::Team, "teamId")?;
        let cycle = decode_opt(cycle_id.as_ref(), NodeKind::Cycle, "cycleId")?;
        if load_one::<TeamById, _>(ctx, team).await?.is_none() {
            return Err(AppError::NotFound { what: "teamId" });
        }
        let arguments = format!("team={team}&cycle={cycle:?}");
        let groups = cached(ctx, &viewer, "teamRollup", arguments, async {
            Ok(
                reports::status_groups(stores(ctx).objectives.db(), &viewer, Some(team), cycle)
                    .await?,
            )
        })
        .await?;
        ProgressSummary::from_groups(&groups)
    }

    /// Objectives of a cycle, by status.
    async fn cycle_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cycle.")] cycle_id: ID,
    ) -> AppResult<ProgressSummary> {
        let viewer = viewer(ctx)?;
        let cycle = decode_id(&cycle_id, NodeKind::Cycle, "cycleId")?;
        if load_one::<CycleById, _>(ctx, cycle).await?.is_none() {
            return Err(AppError::NotFound { what: "cycleId" });
        }
        let groups = cached(
            ctx,
            &viewer,
            "cycleSummary",
            format!("cycle={cycle}"),
            async {
                Ok(
                    reports::status_groups(stores(ctx).objectives.db(), &viewer, None, Some(cycle))
                        .await?,
                )
            },
        )
        .await?;
        ProgressSummary::from_groups(&groups)
    }

    /// Every department ranked within its company by the mean progress of its (and its
    /// sub-teams') objectives, with progress percentiles (PostgreSQL window functions).
    async fn department_ranking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only objectives of this cycle (every cycle when omitted).")]
        cycle_id: Option<ID>,
    ) -> AppResult<Vec<DepartmentRank>> {
        let viewer = viewer(ctx)?;
        let cycle = decode_opt(cycle_id.as_ref(), NodeKind::Cycle, "cycleId")?;
        let standings = cached(
            ctx,
            &viewer,
            "departmentRanking",
            format!("cycle={cycle:?}"),
            async {
                Ok(
                    reports::department_standings(stores(ctx).objectives.db(), &viewer, cycle)
                        .await?,
                )
            },
        )
        .await?;
        // One batch for every department and company named.
        let teams = standings
            .iter()
            .flat_map(|s| std::iter::once(s.department_id).chain(s.company_id));
        load_many::<TeamById, _>(ctx, teams).await?;
        Ok(standings.into_iter().map(DepartmentRank).collect())
    }

    /// Key results of `under` and every objective beneath it whose custom fields match
    /// `where`, grouped by their objective's status with mean progress. The branch and its
    /// grouping come from a MongoDB aggregation over goal_trees (which owns paths and custom
    /// fields, as of the relay's latest event); the progress figures from PostgreSQL.
    async fn key_results_by_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective whose subtree is summarised.")] under: ID,
        #[graphql(
            name = "where",
            default,
            desc = "Custom-field conditions, every one of which must hold."
        )]
        conditions: Vec<CustomFieldCondition>,
    ) -> AppResult<Vec<KeyResultStatusGroup>> {
        let viewer = viewer(ctx)?;
        let root = decode_id(&under, NodeKind::Objective, "under")?;
        let conditions = field_conditions(conditions)?;
        let arguments = format!("under={root}&where={conditions:?}");
        let (groups, figures) = cached(ctx, &viewer, "keyResultsByStatus", arguments, async {
            let s = stores(ctx);
            let Some(path) = reports::visible_path(s.objectives.db(), &viewer, root).await? else {
                return Err(AppError::NotFound { what: "under" });
            };
            let groups = s
                .trees
                .status_groups(viewer.tenant_id, &path, &conditions)
                .await?;
            let members: Vec<(String, i64)> = groups
                .iter()
                .flat_map(|(status, ids)| ids.iter().map(move |id| (status.clone(), *id)))
                .collect();
            let figures =
                reports::key_results_by_group(s.objectives.db(), &viewer, &members).await?;
            let statuses: Vec<String> = groups.into_iter().map(|(status, _)| status).collect();
            Ok((statuses, figures))
        })
        .await?;
        let mut result = Vec::new();
        for status in &groups {
            let Some(figure) = figures.iter().find(|f| &f.label == status) else {
                // None of the group's objectives is visible to the viewer.
                continue;
            };
            result.push(KeyResultStatusGroup {
                status: status
                    .parse::<DomainStatus>()
                    .map_err(|_| AppError::Internal(format!("corrupt stored status {status:?}")))?
                    .into(),
                objectives: figure.objectives,
                key_results: figure.key_results,
                average_progress: figure.average_progress,
            });
        }
        Ok(result)
    }

    /// Progress of an objective (rolled up over its subtree as it is today) or of a key result
    /// at the end of each day or week in `[from, to)`, from the check-ins (at most 400 buckets;
    /// milestone key results, which check-ins do not move, count at their current progress).
    async fn progress_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An objective's or a key result's global ID.")] id: ID,
        #[graphql(desc = "The start of the range (included).")] from: Timestamp,
        #[graphql(desc = "The end of the range (excluded).")] to: Timestamp,
        #[graphql(default_with = "HistoryBucket::Day", desc = "Days or weeks.")]
        bucket: HistoryBucket,
    ) -> AppResult<Vec<ProgressPoint>> {
        let viewer = viewer(ctx)?;
        let size = match bucket {
            HistoryBucket::Day => BucketSize::Day,
            HistoryBucket::Week => BucketSize::Week,
        };
        let starts = history::bucket_starts(from.0.naive_utc(), to.0.naive_utc(), size)?;
        let unit = match bucket {
            HistoryBucket::Day => Bucket::Day,
            HistoryBucket::Week => Bucket::Week,
        };
        let global = GlobalId::decode(&id).ok_or_else(|| {
            AppError::bad_input("id", "id is not a valid objective or key result ID")
        })?;
        let arguments = format!(
            "{}:{}&from={}&to={}&bucket={}",
            global.kind.as_str(),
            global.id,
            from.0.timestamp_micros(),
            to.0.timestamp_micros(),
            unit.unit()
        );
        let points = cached(ctx, &viewer, "progressHistory", arguments, async {
            history_points(ctx, &viewer, global, (from.0, to.0), unit, &starts).await
        })
        .await?;
        Ok(points
            .into_iter()
            .map(|(start, progress, check_ins)| ProgressPoint {
                starts_at: Timestamp(utc(start)),
                progress,
                check_ins,
            })
            .collect())
    }
}

/// `compute`'s answer for `viewer`, from the report cache when the tenant's data has not
/// changed since it was computed (its data version, read once per request, is in the key).
async fn cached<T, F>(
    ctx: &Context<'_>,
    viewer: &Viewer,
    report: &'static str,
    arguments: String,
    compute: F,
) -> AppResult<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: std::future::Future<Output = AppResult<T>>,
{
    let cache = &stores(ctx).reports;
    if !cache.is_on() {
        return compute.await;
    }
    let version = load_one::<DataVersionOf, _>(ctx, viewer.tenant_id)
        .await?
        .unwrap_or_default();
    let key = ReportKey::new(viewer, version, report, arguments);
    cache.get_or_compute(key, compute).await
}

/// The progress history of an objective (its subtree rolled up) or a key result: per bucket
/// starting at `starts`, its start, progress at its end and check-ins during it.
async fn history_points(
    ctx: &Context<'_>,
    viewer: &Viewer,
    global: GlobalId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    unit: Bucket,
    starts: &[NaiveDateTime],
) -> AppResult<Vec<(NaiveDateTime, f64, i64)>> {
    let db = stores(ctx).objectives.db();
    let (root, members, key_result) = match global.kind {
        NodeKind::Objective => {
            let members =
                reports::subtree_members(db, viewer.tenant_id, global.id, MAX_HISTORY_OBJECTIVES)
                    .await?;
            let visible = members.iter().any(|m| {
                m.id == global.id
                    && viewer.can_see(m.visibility.is_private(), m.owner_id, m.team_id)
            });
            if !visible {
                return Err(AppError::NotFound { what: "id" });
            }
            let members = members
                .iter()
                .map(|m| {
                    Ok(Member {
                        id: m.id,
                        parent_id: m.parent_id.filter(|_| m.id != global.id),
                        weight: m.weight,
                        counts: counts_in_rollup(m.status, m.archived),
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            (global.id, members, None)
        }
        NodeKind::KeyResult => {
            let kr = load_one::<KeyResultById, _>(ctx, global.id)
                .await?
                .ok_or(AppError::NotFound { what: "id" })?;
            let member = Member {
                id: kr.objective_id,
                parent_id: None,
                weight: 1.0,
                counts: true,
            };
            (kr.objective_id, vec![member], Some(kr.id))
        }
        _ => {
            return Err(AppError::bad_input(
                "id",
                "id must name an objective or a key result",
            ));
        }
    };
    let objective_ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let key_results = key_result.map(|id| vec![id]);
    let rows = reports::history_rows(
        db,
        viewer.tenant_id,
        key_results.as_deref(),
        &objective_ids,
        from,
        to,
        unit,
    )
    .await?;
    let series = series_of(&rows)?;
    Ok(history::replay(root, &members, &series, starts)
        .into_iter()
        .map(|point| (point.start, point.progress, point.check_ins))
        .collect())
}

/// Groups history rows (ordered by key result, then bucket with "before" first) by key result.
fn series_of(rows: &[HistoryRow]) -> AppResult<Vec<KeyResultSeries>> {
    let mut series: Vec<KeyResultSeries> = Vec::new();
    let mut last_id = None;
    for row in rows {
        if last_id != Some(row.key_result_id) {
            last_id = Some(row.key_result_id);
            let kind: KeyResultKind = row.kind;
            series.push(KeyResultSeries {
                objective_id: row.objective_id,
                weight: row.weight,
                measure: KeyResultMeasure {
                    kind,
                    start: row.start_value,
                    target: row.target_value,
                    current: None,
                    milestones_done: 0,
                    milestones_total: 0,
                },
                values: Vec::new(),
                fixed_progress: (kind == KeyResultKind::Milestone).then_some(row.progress),
            });
        }
        let Some(current) = series.last_mut() else {
            continue;
        };
        match (row.bucket, row.value) {
            (Some(bucket), Some(value)) => current.values.push((bucket, value, row.check_ins)),
            (None, Some(value)) => current.measure.current = Some(value),
            _ => {}
        }
    }
    Ok(series)
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&at)
}
