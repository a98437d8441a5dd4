//! The benchmark's organisation (BENCHMARKS.md "The org-shaped data set"): a company, 10
//! departments of 10 teams, two sub-teams below every even-numbered team, two quarterly cycles
//! of fiscal year 2026, the team of every objective along its branch and of every user, and a
//! weekly check-in history over the third quarter. The 211 units are inserted one by one (each
//! names its parent's new id); users and check-ins are set-based.

use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::super::scoped::sql;
use super::Owners;
use crate::store::StoreResult;

/// The fiscal year of the two cycles and of the check-in history.
pub const FISCAL_YEAR: i32 = 2026;
/// Departments below the company, teams per department, sub-teams per even-numbered team.
pub const DEPARTMENTS: usize = 10;
pub const TEAMS_PER_DEPARTMENT: usize = 10;
pub const SUB_TEAMS_PER_TEAM: usize = 2;
/// Weekly check-ins per key result with a history (the 13 weeks of a quarter).
pub const HISTORY_WEEKS: i32 = 13;

/// Where an objective sits in the org: the unit that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Company,
    Department(usize),
    Team(usize, usize),
    SubTeam(usize, usize, usize),
}

impl Placement {
    /// The placement of the `ordinal`-th child (0-based) of an objective placed at `self`:
    /// the company's children go to departments, a department's to its teams, an even team's
    /// to its sub-teams in turn; below that, children stay with their parent's unit.
    pub fn child(self, ordinal: usize) -> Self {
        match self {
            Placement::Company => Placement::Department(ordinal % DEPARTMENTS),
            Placement::Department(d) => Placement::Team(d, ordinal % TEAMS_PER_DEPARTMENT),
            Placement::Team(d, t) if t % 2 == 0 => {
                Placement::SubTeam(d, t, ordinal % SUB_TEAMS_PER_TEAM)
            }
            other => other,
        }
    }
}

/// The ids of the org's units and cycles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Team ids in creation order: the company, the departments, their teams, the sub-teams.
    pub teams: Vec<i64>,
    /// The third and the fourth quarter of [`FISCAL_YEAR`].
    pub cycles: [i64; 2],
}

/// The position in [`Org::teams`] of each unit, from the numbering the SQL below uses.
fn team_index(placement: Placement) -> usize {
    let first_team = 1 + DEPARTMENTS;
    let first_sub_team = first_team + DEPARTMENTS * TEAMS_PER_DEPARTMENT;
    match placement {
        Placement::Company => 0,
        Placement::Department(d) => 1 + d,
        Placement::Team(d, t) => first_team + d * TEAMS_PER_DEPARTMENT + t,
        Placement::SubTeam(d, t, s) => {
            first_sub_team + (d * TEAMS_PER_DEPARTMENT / 2 + t / 2) * SUB_TEAMS_PER_TEAM + s
        }
    }
}

impl Org {
    /// The team that owns objectives placed at `placement`.
    pub fn team(&self, placement: Placement) -> i64 {
        self.teams[team_index(placement)]
    }

    /// The cycle of spec objective `i`: the fourth quarter for odd `i`, the third for even.
    pub fn cycle(&self, i: i64) -> i64 {
        self.cycles[usize::from(i % 2 == 1)]
    }
}

/// Creates the units (named "Company", "Department d", "Team d.t", "Team d.t.s") and the two
/// cycles in `tenant_id`, and puts user `n` of `owners` in unit `n mod units`.
pub async fn create(txn: &DatabaseTransaction, tenant_id: i64, owners: Owners) -> StoreResult<Org> {
    let mut units: Vec<(String, &str, Option<Placement>)> =
        vec![("Company".into(), "company", None)];
    for d in 0..DEPARTMENTS {
        units.push((
            format!("Department {d}"),
            "department",
            Some(Placement::Company),
        ));
    }
    for d in 0..DEPARTMENTS {
        for t in 0..TEAMS_PER_DEPARTMENT {
            units.push((
                format!("Team {d}.{t}"),
                "team",
                Some(Placement::Department(d)),
            ));
        }
    }
    for d in 0..DEPARTMENTS {
        for t in (0..TEAMS_PER_DEPARTMENT).step_by(2) {
            for s in 0..SUB_TEAMS_PER_TEAM {
                units.push((
                    format!("Team {d}.{t}.{s}"),
                    "team",
                    Some(Placement::Team(d, t)),
                ));
            }
        }
    }
    // Ids are taken in order, so a unit's parent (always earlier) is known when it is inserted.
    let mut teams: Vec<i64> = Vec::with_capacity(units.len());
    for (name, kind, parent) in &units {
        let parent_id = parent.map(|p| teams[team_index(p)]);
        let row = txn
            .query_one_raw(sql(
                "INSERT INTO teams (tenant_id, parent_id, name, kind) VALUES ($1, $2, $3, $4) \
                 RETURNING id",
                [
                    tenant_id.into(),
                    parent_id.into(),
                    name.clone().into(),
                    (*kind).into(),
                ],
            ))
            .await?;
        teams.push(
            row.map(|r| r.try_get::<i64>("", "id"))
                .transpose()?
                .unwrap_or(0),
        );
    }
    let mut cycles = [0_i64; 2];
    for (slot, (name, starts, ends)) in [("Q3", "07-01", "09-30"), ("Q4", "10-01", "12-31")]
        .into_iter()
        .enumerate()
    {
        let row = txn
            .query_one_raw(sql(
                "INSERT INTO cycles (tenant_id, name, starts_on, ends_on, fiscal_year) \
                 VALUES ($1, $2, $3::date, $4::date, $5) RETURNING id",
                [
                    tenant_id.into(),
                    format!("FY{FISCAL_YEAR} {name}").into(),
                    format!("{FISCAL_YEAR}-{starts}").into(),
                    format!("{FISCAL_YEAR}-{ends}").into(),
                    FISCAL_YEAR.into(),
                ],
            ))
            .await?;
        cycles[slot] = row
            .map(|r| r.try_get::<i64>("", "id"))
            .transpose()?
            .unwrap_or(0);
    }
    txn.execute_raw(sql(
        "UPDATE users SET team_id = ($3::bigint[])[1 + (id - $2) % cardinality($3::bigint[])] \
         WHERE tenant_id = $1 AND id >= $2",
        [tenant_id.into(), owners.first.into(), teams.clone().into()],
    ))
    .await?;
    Ok(Org { teams, cycles })
}

/// Writes [`HISTORY_WEEKS`] weekly check-ins (Mondays from 6 July of [`FISCAL_YEAR`], at
/// 09:00 UTC plus `id mod 8` hours) for every key result of `tenant_id` with an even id, by its
/// owner: a straight line from the start value to the current value with a deterministic
/// wobble of up to ±0.5 % of the span, the last one exactly the current value. Returns how many.
pub async fn check_in_history(db: &impl ConnectionTrait, tenant_id: i64) -> StoreResult<u64> {
    db.execute_raw(sql(
        "SELECT goalgraph_ensure_check_in_partition($1)",
        [FISCAL_YEAR.into()],
    ))
    .await?;
    let done = db
        .execute_raw(sql(
            r#"
            INSERT INTO check_ins (tenant_id, key_result_id, author_id, value, confidence, created_at)
            SELECT k.tenant_id, k.id, k.owner_id,
                   CASE WHEN w = $2 - 1 THEN k.current_value
                        ELSE k.start_value + (k.current_value - k.start_value) * (w + 1) / $2
                             + ((k.id * 31 + w * 17) % 11 - 5) * (k.target_value - k.start_value) / 1000.0
                   END,
                   0.5 + ((k.id + w) % 5) / 10.0,
                   make_timestamptz($3, 7, 6, 9, 0, 0, 'UTC') + w * interval '7 days'
                       + (k.id % 8) * interval '1 hour'
            FROM key_results k CROSS JOIN generate_series(0, $2 - 1) AS w
            WHERE k.tenant_id = $1 AND k.id % 2 = 0
              AND k.current_value IS NOT NULL AND k.owner_id IS NOT NULL
            ORDER BY k.id, w
            "#,
            [tenant_id.into(), HISTORY_WEEKS.into(), FISCAL_YEAR.into()],
        ))
        .await?;
    db.execute_unprepared("ANALYZE check_ins").await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(team_index(Placement::Company)));
        for d in 0..DEPARTMENTS {
            assert!(seen.insert(team_index(Placement::Department(d))));
            for t in 0..TEAMS_PER_DEPARTMENT {
                assert!(seen.insert(team_index(Placement::Team(d, t))));
                if t % 2 == 0 {
                    for s in 0..SUB_TEAMS_PER_TEAM {
                        assert!(seen.insert(team_index(Placement::SubTeam(d, t, s))));
                    }
                }
            }
        }
        assert_eq!(seen.len(), 211);
        assert_eq!(seen.iter().max(), Some(&210));
    }

    #[test]
    fn branches_keep_their_unit_below_teams() {
        let team = Placement::Company.child(13).child(3);
        assert_eq!(team, Placement::Team(3, 3));
        assert_eq!(team.child(5), team, "odd teams have no sub-teams");
        let sub = Placement::Team(3, 4).child(5);
        assert_eq!(sub, Placement::SubTeam(3, 4, 1));
        assert_eq!(sub.child(0), sub);
    }
}
