//! The organisation types: `Team`, `User` and `Cycle`.

use super::scalars::Date;
use async_graphql::{Context, ID, Object};
use ref_cast::RefCast;

use super::context::{encode_id, load_one};
use super::enums::{Role, TeamKind};
use super::lean::{Plain, PlainFields, enum_name};
use crate::domain::global_id::NodeKind;
use crate::error::AppResult;
use crate::loaders::{SubTeamsOf, TeamById, UsersOfTeam};
use crate::store::pg::entity::{cycle, team, user};

/// An org unit: company, division, department or team.
#[derive(Clone)]
pub struct Team(pub team::Model);

/// An org unit: company, division, department or team.
#[Object]
impl Team {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::Team, self.0.id)
    }

    /// The unit's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its level in the org chart.
    async fn kind(&self) -> TeamKind {
        self.0.kind.into()
    }

    /// The unit it belongs to.
    async fn parent(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, parent_id).await?.map(Team))
    }

    /// The units directly below it, by id.
    async fn children(&self, ctx: &Context<'_>) -> AppResult<Vec<Team>> {
        Ok(load_one::<SubTeamsOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Team)
            .collect())
    }

    /// The people whose home team this is, by id.
    async fn members(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        Ok(load_one::<UsersOfTeam, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(User)
            .collect())
    }
}

/// A person in the tenant.
#[derive(Clone, RefCast)]
#[repr(transparent)]
pub struct User(pub user::Model);

impl PlainFields for User {
    fn plain_field(&self, name: &str) -> Option<Plain<'_>> {
        let row = &self.0;
        Some(match name {
            "id" => Plain::Id(NodeKind::User, row.id),
            "name" => Plain::Text(&row.name),
            "email" => Plain::Text(&row.email),
            "role" => Plain::Enum(enum_name(Role::from(row.role))),
            _ => return None,
        })
    }
}

/// A person in the tenant.
#[Object]
impl User {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::User, self.0.id)
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Email address, unique within the tenant.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// What the user may do.
    async fn role(&self) -> AppResult<Role> {
        Ok(self.0.role.into())
    }

    /// The user's home team.
    async fn team(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        let Some(team_id) = self.0.team_id else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, team_id).await?.map(Team))
    }
}

/// A planning period such as "FY2027 Q1".
#[derive(Clone)]
pub struct Cycle(pub cycle::Model);

/// A planning period such as "FY2027 Q1".
#[Object]
impl Cycle {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::Cycle, self.0.id)
    }

    /// The period's name, unique within the tenant.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// First day of the period.
    async fn starts_on(&self) -> Date {
        Date(self.0.starts_on)
    }

    /// Last day of the period.
    async fn ends_on(&self) -> Date {
        Date(self.0.ends_on)
    }

    /// The fiscal year it belongs to.
    async fn fiscal_year(&self) -> i32 {
        self.0.fiscal_year
    }
}
