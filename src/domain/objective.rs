//! Objective vocabulary: status, visibility, and the alignment rule for moves.

use std::str::FromStr;

use super::DomainError;

/// Where an objective stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectiveStatus {
    Draft,
    OnTrack,
    AtRisk,
    OffTrack,
    Done,
    Cancelled,
}

impl ObjectiveStatus {
    pub const ALL: [ObjectiveStatus; 6] = [
        ObjectiveStatus::Draft,
        ObjectiveStatus::OnTrack,
        ObjectiveStatus::AtRisk,
        ObjectiveStatus::OffTrack,
        ObjectiveStatus::Done,
        ObjectiveStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveStatus::Draft => "draft",
            ObjectiveStatus::OnTrack => "on_track",
            ObjectiveStatus::AtRisk => "at_risk",
            ObjectiveStatus::OffTrack => "off_track",
            ObjectiveStatus::Done => "done",
            ObjectiveStatus::Cancelled => "cancelled",
        }
    }
}

impl FromStr for ObjectiveStatus {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| DomainError::invalid("status", format!("unknown status {s:?}")))
    }
}

/// Who may see an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Everyone in the tenant.
    Public,
    /// The owner, managers of the objective's team, and admins.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl FromStr for Visibility {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            _ => Err(DomainError::invalid(
                "visibility",
                format!("unknown visibility {s:?}"),
            )),
        }
    }
}

/// Refuses a move of `objective` under `new_parent` when the new parent is the objective itself
/// or lies in its subtree. `new_parent_ancestors` is the new parent's path to the root.
pub fn check_move(
    objective: i64,
    new_parent: i64,
    new_parent_ancestors: &[i64],
) -> Result<(), DomainError> {
    if objective == new_parent || new_parent_ancestors.contains(&objective) {
        return Err(DomainError::AlignmentCycle);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in ObjectiveStatus::ALL {
            assert_eq!(status.as_str().parse::<ObjectiveStatus>(), Ok(status));
        }
        assert!("finished".parse::<ObjectiveStatus>().is_err());
    }

    #[test]
    fn moving_an_objective_under_itself_is_a_cycle() {
        assert_eq!(check_move(5, 5, &[1]), Err(DomainError::AlignmentCycle));
    }

    #[test]
    fn moving_an_objective_under_its_descendant_is_a_cycle() {
        // 9's path to the root is 7 -> 5 -> 1, so 5 cannot go under 9.
        assert_eq!(
            check_move(5, 9, &[7, 5, 1]),
            Err(DomainError::AlignmentCycle)
        );
    }

    #[test]
    fn moving_an_objective_under_a_cousin_is_fine() {
        assert_eq!(check_move(5, 8, &[2, 1]), Ok(()));
    }
}

/// A validated request to create an objective.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObjective {
    pub parent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub owner_id: i64,
    pub cycle_id: Option<i64>,
    pub title: String,
    pub description: String,
    pub status: ObjectiveStatus,
    pub visibility: Visibility,
    pub weight: f64,
}

/// A validated partial update of an objective; `None` leaves a field as it is, and the
/// nullable references take `Some(None)` to clear them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectivePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<ObjectiveStatus>,
    pub visibility: Option<Visibility>,
    pub weight: Option<f64>,
    pub owner_id: Option<i64>,
    pub team_id: Option<Option<i64>>,
    pub cycle_id: Option<Option<i64>>,
    /// Refuse the update unless the stored version is this one (optimistic concurrency).
    pub expected_version: Option<i32>,
}
