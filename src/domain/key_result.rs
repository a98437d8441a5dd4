//! Key-result kinds and the rules their start, target and current values obey.

use super::DomainError;
use super::text::finite;

vocabulary! {
    /// How a key result is measured (stored as `numeric`, `percentage`, ...).
    pub enum KeyResultKind {
        Numeric,
        Percentage,
        Currency,
        /// Done (1) or not (0).
        Boolean,
        /// Progress is the share of the key result's milestones that are done.
        Milestone,
    }
}

impl KeyResultKind {
    /// Parses a kind given by a client as text (template shapes); the error names `field`.
    pub fn parse_input(field: &'static str, raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid(field, format!("unknown kind {raw:?}")))
    }
}

/// The validated range of a key result: where it started and where it aims.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyResultRange {
    pub start: f64,
    pub target: f64,
}

impl KeyResultRange {
    /// Boolean and milestone key results have a fixed 0..1 range; other kinds take any finite
    /// start and target (a target below the start measures a reduction).
    pub fn parse(kind: KeyResultKind, start: f64, target: f64) -> Result<Self, DomainError> {
        match kind {
            KeyResultKind::Boolean | KeyResultKind::Milestone => Ok(Self {
                start: 0.0,
                target: 1.0,
            }),
            _ => Ok(Self {
                start: finite("startValue", start)?,
                target: finite("targetValue", target)?,
            }),
        }
    }
}

/// Validates a value reported for a key result of `kind`.
pub fn check_value(kind: KeyResultKind, value: f64) -> Result<f64, DomainError> {
    let value = finite("value", value)?;
    match kind {
        KeyResultKind::Boolean if value != 0.0 && value != 1.0 => Err(DomainError::invalid(
            "value",
            "a boolean key result takes 0 or 1",
        )),
        KeyResultKind::Milestone => Err(DomainError::invalid(
            "value",
            "a milestone key result moves by completing its milestones, not by check-ins",
        )),
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boolean_key_result_accepts_only_zero_or_one() {
        assert_eq!(check_value(KeyResultKind::Boolean, 1.0), Ok(1.0));
        assert!(check_value(KeyResultKind::Boolean, 0.5).is_err());
    }

    #[test]
    fn a_milestone_key_result_takes_no_check_in_values() {
        assert!(check_value(KeyResultKind::Milestone, 1.0).is_err());
    }

    #[test]
    fn numeric_values_must_be_finite() {
        assert!(check_value(KeyResultKind::Numeric, f64::NAN).is_err());
        assert!(KeyResultRange::parse(KeyResultKind::Numeric, 0.0, f64::INFINITY).is_err());
    }
}

/// A validated request to create a key result.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKeyResult {
    pub objective_id: i64,
    pub owner_id: Option<i64>,
    pub title: String,
    pub kind: KeyResultKind,
    pub range: KeyResultRange,
    pub weight: f64,
}

/// A validated partial update of a key result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyResultPatch {
    pub title: Option<String>,
    pub owner_id: Option<Option<i64>>,
    pub start: Option<f64>,
    pub target: Option<f64>,
    pub weight: Option<f64>,
}

/// A validated check-in: a new value (and confidence, and a progress note) for a key result.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckIn {
    pub key_result_id: i64,
    pub value: f64,
    pub confidence: Option<f64>,
    /// A markdown note, stored in MongoDB's goal_updates via the outbox.
    pub note: Option<String>,
}
