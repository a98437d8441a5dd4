//! GraphQL mirrors of the domain vocabularies, converted both ways by async-graphql's
//! `remote` enums so the wire names never drift from the domain.

use async_graphql::Enum;

use crate::domain;

/// Where an objective stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::objective::ObjectiveStatus")]
pub enum ObjectiveStatus {
    /// Being written; not yet committed to.
    Draft,
    /// Progressing as planned.
    OnTrack,
    /// Might miss its target.
    AtRisk,
    /// Will miss its target without intervention.
    OffTrack,
    /// Achieved.
    Done,
    /// Abandoned; excluded from its parent's roll-up.
    Cancelled,
}

/// Who may see an objective.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::objective::Visibility")]
pub enum Visibility {
    /// Everyone in the tenant.
    Public,
    /// The owner, managers of the objective's team, and admins.
    Private,
}

/// How a key result is measured.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::key_result::KeyResultKind")]
pub enum KeyResultKind {
    /// Any number, from start to target.
    Numeric,
    /// A percentage, from start to target.
    Percentage,
    /// An amount of money, from start to target.
    Currency,
    /// Done (1) or not (0).
    Boolean,
    /// The share of its milestones that are done.
    Milestone,
}

/// A user's role in their tenant.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::role::Role")]
pub enum Role {
    /// Reads everything public.
    Viewer,
    /// Writes objectives, key results, check-ins and milestones.
    Member,
    /// A member who also manages teams and cycles and sees their team's private objectives.
    Manager,
    /// Everything, including users and every private objective.
    Admin,
}

/// A level of the org chart.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::team::TeamKind")]
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
