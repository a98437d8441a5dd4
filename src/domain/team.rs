//! Levels of the org chart.

/// A level of the org chart (stored as `company`, `division`, ...).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum TeamKind {
    /// The whole company.
    Company,
    /// A division of the company.
    Division,
    /// A department of a division.
    Department,
    /// A team of a department.
    Team,
}
