//! The Relay `Node` interface: any object refetchable by its global ID.

use async_graphql::{Context, Interface};

use super::context::load_one;
use super::documents::GoalUpdate;
use super::key_result::{CheckIn, KeyResult};
use super::milestone::Milestone;
use super::objective::Objective;
use super::org::{Cycle, Team, User};
use crate::domain::global_id::{GlobalId, NodeKind, decode_note};
use crate::error::AppResult;
use crate::loaders::{
    CheckInById, CycleById, KeyResultById, MilestoneById, ObjectiveById, TeamById, UpdateById,
    UserById,
};
use mongodb::bson::oid::ObjectId;

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "async_graphql::ID", desc = "The global ID."))]
pub enum Node {
    Objective(Objective),
    KeyResult(KeyResult),
    Milestone(Milestone),
    Team(Team),
    Cycle(Cycle),
    User(User),
    CheckIn(CheckIn),
    GoalUpdate(GoalUpdate),
}

/// The node `raw` names, if it exists in the viewer's tenant and is visible to them.
pub async fn resolve(ctx: &Context<'_>, raw: &str) -> AppResult<Option<Node>> {
    let Some(GlobalId { kind, id }) = GlobalId::decode(raw) else {
        return note(ctx, raw).await;
    };
    Ok(match kind {
        NodeKind::Objective => load_one::<ObjectiveById, _>(ctx, id)
            .await?
            .map(|m| Node::Objective(Objective(m))),
        NodeKind::KeyResult => load_one::<KeyResultById, _>(ctx, id)
            .await?
            .map(|m| Node::KeyResult(KeyResult(m))),
        NodeKind::Milestone => load_one::<MilestoneById, _>(ctx, id)
            .await?
            .map(|m| Node::Milestone(Milestone(m))),
        NodeKind::Team => load_one::<TeamById, _>(ctx, id)
            .await?
            .map(|m| Node::Team(Team(m))),
        NodeKind::Cycle => load_one::<CycleById, _>(ctx, id)
            .await?
            .map(|m| Node::Cycle(Cycle(m))),
        NodeKind::User => load_one::<UserById, _>(ctx, id)
            .await?
            .map(|m| Node::User(User(m))),
        NodeKind::CheckIn => load_one::<CheckInById, _>(ctx, id)
            .await?
            .map(|m| Node::CheckIn(CheckIn(m))),
    })
}

/// The progress note `raw` names, if its objective is visible to the viewer.
async fn note(ctx: &Context<'_>, raw: &str) -> AppResult<Option<Node>> {
    let Some(id) = decode_note(raw).and_then(|hex| ObjectId::parse_str(hex).ok()) else {
        return Ok(None);
    };
    let Some(note) = load_one::<UpdateById, _>(ctx, id).await? else {
        return Ok(None);
    };
    let visible = load_one::<ObjectiveById, _>(ctx, note.objective_id)
        .await?
        .is_some();
    Ok(visible.then_some(Node::GoalUpdate(GoalUpdate(note))))
}
