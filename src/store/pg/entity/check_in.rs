//! `check_ins`: the time series of key-result values, partitioned by fiscal year.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "check_ins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub created_at: DateTimeUtc,
    pub tenant_id: i64,
    pub key_result_id: i64,
    pub author_id: i64,
    pub value: f64,
    pub confidence: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
