//! `key_results`: the measurable results of an objective, with their stored progress.

use sea_orm::entity::prelude::*;

use crate::domain::key_result::KeyResultKind;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "key_results")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub objective_id: i64,
    pub owner_id: Option<i64>,
    pub title: String,
    pub kind: KeyResultKind,
    pub start_value: f64,
    pub target_value: f64,
    pub current_value: Option<f64>,
    pub weight: f64,
    pub confidence: Option<f64>,
    pub progress: f64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
