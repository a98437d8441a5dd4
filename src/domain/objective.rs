//! Objective vocabulary: status, visibility, and the alignment rule for moves.

use super::DomainError;

vocabulary! {
    /// Where an objective stands. Its text form (`on_track`, ...) is derived: the database and
    /// the progress feed store it.
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ObjectiveStatus {
        Draft,
        OnTrack,
        AtRisk,
        OffTrack,
        Done,
        Cancelled,
    }
}

vocabulary! {
    /// Who may see an objective.
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Visibility {
        /// Everyone in the tenant.
        Public,
        /// The owner, managers of the objective's team, and admins.
        Private,
    }
}

impl Visibility {
    /// Whether only some people may see it.
    pub fn is_private(self) -> bool {
        self == Visibility::Private
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
    use strum::IntoEnumIterator as _;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in ObjectiveStatus::iter() {
            assert_eq!(status.as_str().parse::<ObjectiveStatus>(), Ok(status));
        }
        assert_eq!(ObjectiveStatus::OnTrack.as_str(), "on_track");
        assert!("finished".parse::<ObjectiveStatus>().is_err());
    }

    #[test]
    fn the_json_form_is_the_stored_text_form() {
        for status in ObjectiveStatus::iter() {
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(Visibility::Private).expect("json"),
            serde_json::Value::from("private")
        );
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
