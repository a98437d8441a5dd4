//! Levels of the org chart.

vocabulary! {
    /// A level of the org chart (stored as `company`, `division`, ...).
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
}
