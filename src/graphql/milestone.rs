//! The `Milestone` type.

use super::scalars::Date;
use super::scalars::Timestamp;
use async_graphql::{Context, ID, Object};

use super::context::{encode_id, load_one};
use super::key_result::KeyResult;
use crate::domain::global_id::NodeKind;
use crate::error::AppResult;
use crate::loaders::KeyResultById;
use crate::store::pg::entity::milestone;

/// A dated step towards an objective.
#[derive(Clone)]
pub struct Milestone(pub milestone::Model);

/// A dated step towards an objective.
#[Object]
impl Milestone {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::Milestone, self.0.id)
    }

    /// What is to be done.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// When it is due.
    async fn due_on(&self) -> Option<Date> {
        self.0.due_on.map(Date)
    }

    /// When it was done; null while open.
    async fn done_at(&self) -> Option<Timestamp> {
        self.0.done_at.map(Timestamp)
    }

    /// The milestone-kind key result it counts towards, if any.
    async fn key_result(&self, ctx: &Context<'_>) -> AppResult<Option<KeyResult>> {
        let Some(id) = self.0.key_result_id else {
            return Ok(None);
        };
        Ok(load_one::<KeyResultById, _>(ctx, id).await?.map(KeyResult))
    }
}
