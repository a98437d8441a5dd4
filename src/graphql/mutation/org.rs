//! Mutations of the organisation: teams, cycles and users.

use super::super::scalars::Date;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::Datelike;

use crate::domain::DomainError;
use crate::domain::global_id::NodeKind;
use crate::domain::role::Role as DomainRole;
use crate::domain::text::{EmailText, Name};
use crate::error::AppResult;
use crate::graphql::context::{authorized, decode_id, decode_opt, stores};
use crate::graphql::enums::{Role, TeamKind};
use crate::graphql::org::{Cycle, Team, User};
use crate::store::pg::org::{NewCycle, NewTeam, NewUser, TeamPatch};

/// A new org unit.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// The unit's name (1–200 characters).
    name: String,
    /// Its level in the org chart.
    kind: TeamKind,
    /// The unit it belongs to; omit for a top-level unit.
    parent_id: Option<ID>,
}

/// Changes to an org unit; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// The unit to change.
    id: ID,
    /// New name.
    name: Option<String>,
    /// New level.
    kind: Option<TeamKind>,
    /// New parent unit, or null for top level; refused inside its own subtree.
    parent_id: MaybeUndefined<ID>,
}

/// A new planning cycle.
#[derive(InputObject)]
pub struct CreateCycleInput {
    /// The cycle's name, unique in the tenant (e.g. "FY2027 Q1").
    name: String,
    /// First day.
    starts_on: Date,
    /// Last day (not before the first).
    ends_on: Date,
    /// The fiscal year; defaults to the year of `startsOn`.
    fiscal_year: Option<i32>,
}

/// A new user.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Display name (1–200 characters).
    name: String,
    /// Email address, unique in the tenant.
    email: String,
    /// What they may do.
    role: Role,
    /// Their home team.
    team_id: Option<ID>,
}

/// The team a mutation created or changed.
#[derive(SimpleObject)]
pub struct TeamPayload {
    /// The team as it is now.
    team: Team,
}

/// The cycle a mutation created.
#[derive(SimpleObject)]
pub struct CyclePayload {
    /// The new cycle.
    cycle: Cycle,
}

/// The user a mutation created.
#[derive(SimpleObject)]
pub struct UserPayload {
    /// The new user.
    user: User,
}

fn name(raw: &str) -> AppResult<String> {
    Ok(Name::parse("name", raw)?.into_inner())
}

#[derive(Default)]
pub struct OrgMutations;

#[Object]
impl OrgMutations {
    /// Adds an org unit (managers and admins).
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new team.")] input: CreateTeamInput,
    ) -> AppResult<TeamPayload> {
        let viewer = authorized(ctx, DomainRole::can_manage_org, "manage teams")?;
        let command = NewTeam {
            name: name(&input.name)?,
            kind: input.kind.into(),
            parent_id: decode_opt(input.parent_id.as_ref(), NodeKind::Team, "parentId")?,
        };
        let created = stores(ctx).org.create_team(&viewer, command).await?;
        Ok(TeamPayload {
            team: Team(created),
        })
    }

    /// Renames, re-levels or re-parents an org unit (managers and admins).
    async fn update_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team and what to change (omitted fields stay as they are).")]
        input: UpdateTeamInput,
    ) -> AppResult<TeamPayload> {
        let viewer = authorized(ctx, DomainRole::can_manage_org, "manage teams")?;
        let id = decode_id(&input.id, NodeKind::Team, "id")?;
        let patch = TeamPatch {
            name: input.name.as_deref().map(name).transpose()?,
            kind: input.kind.map(Into::into),
            parent_id: match &input.parent_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(raw) => {
                    Some(Some(decode_id(raw, NodeKind::Team, "parentId")?))
                }
            },
        };
        let updated = stores(ctx).org.update_team(&viewer, id, patch).await?;
        Ok(TeamPayload {
            team: Team(updated),
        })
    }

    /// Adds a planning cycle (managers and admins).
    async fn create_cycle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new cycle.")] input: CreateCycleInput,
    ) -> AppResult<CyclePayload> {
        let viewer = authorized(ctx, DomainRole::can_manage_org, "manage cycles")?;
        if input.ends_on < input.starts_on {
            return Err(DomainError::invalid("endsOn", "must not be before startsOn").into());
        }
        let fiscal_year = input.fiscal_year.unwrap_or(input.starts_on.0.year());
        if !(1900..=9999).contains(&fiscal_year) {
            return Err(DomainError::invalid("fiscalYear", "must be between 1900 and 9999").into());
        }
        let command = NewCycle {
            name: name(&input.name)?,
            starts_on: input.starts_on.0,
            ends_on: input.ends_on.0,
            fiscal_year,
        };
        let created = stores(ctx).org.create_cycle(&viewer, command).await?;
        Ok(CyclePayload {
            cycle: Cycle(created),
        })
    }

    /// Adds a user to your tenant (admins).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> AppResult<UserPayload> {
        let viewer = authorized(ctx, DomainRole::can_manage_users, "manage users")?;
        let email = EmailText::parse("email", &input.email)?.into_inner();
        if !email.contains('@') {
            return Err(DomainError::invalid("email", "must be an email address").into());
        }
        let command = NewUser {
            name: name(&input.name)?,
            email,
            role: input.role.into(),
            team_id: decode_opt(input.team_id.as_ref(), NodeKind::Team, "teamId")?,
        };
        let created = stores(ctx).org.create_user(&viewer, command).await?;
        Ok(UserPayload {
            user: User(created),
        })
    }
}
