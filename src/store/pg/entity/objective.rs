//! `objectives`: the alignment tree (`parent_id` adjacency list) with its stored roll-up.

use sea_orm::entity::prelude::*;

use crate::domain::objective::{ObjectiveStatus, Visibility};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "objectives")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub parent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub owner_id: i64,
    pub cycle_id: Option<i64>,
    pub title: String,
    pub description: String,
    pub status: ObjectiveStatus,
    pub visibility: Visibility,
    pub weight: f64,
    pub progress: f64,
    pub archived_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
