//! `teams`: org units (company, division, department, team) as an adjacency list.

use sea_orm::entity::prelude::*;

use crate::domain::team::TeamKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub kind: TeamKind,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
