//! Mutations of objectives: create, update, move, archive, delete.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use super::DeletePayload;
use crate::domain::global_id::NodeKind;
use crate::domain::objective::{NewObjective, ObjectivePatch};
use crate::domain::role::Role;
use crate::domain::text::{Description, Title, weight};
use crate::error::AppResult;
use crate::graphql::context::{authorized, decode_id, decode_opt, encode_id, stores};
use crate::graphql::enums::{ObjectiveStatus, Visibility};
use crate::graphql::objective::Objective;

/// A new objective.
#[derive(InputObject)]
pub struct CreateObjectiveInput {
    /// What the objective aims for (1–300 characters).
    title: String,
    /// Why and how, in markdown (up to 20,000 characters).
    #[graphql(default)]
    description: String,
    /// The objective it aligns to; omit for a root.
    parent_id: Option<ID>,
    /// The owning org unit.
    team_id: Option<ID>,
    /// The accountable person; defaults to you.
    owner_id: Option<ID>,
    /// The planning period.
    cycle_id: Option<ID>,
    /// Defaults to DRAFT.
    status: Option<ObjectiveStatus>,
    /// Defaults to PUBLIC.
    visibility: Option<Visibility>,
    /// Weight in the parent's roll-up, > 0 and ≤ 1000; defaults to 1.
    weight: Option<f64>,
}

/// Changes to an objective; omitted fields stay as they are, null clears team or cycle.
#[derive(InputObject)]
pub struct UpdateObjectiveInput {
    /// The objective to change.
    id: ID,
    /// Refuse with CONFLICT unless the objective is still at this version.
    expected_version: Option<i32>,
    /// New title.
    title: Option<String>,
    /// New description.
    description: Option<String>,
    /// New status.
    status: Option<ObjectiveStatus>,
    /// New visibility.
    visibility: Option<Visibility>,
    /// New weight.
    weight: Option<f64>,
    /// New owner.
    owner_id: Option<ID>,
    /// New team, or null for none.
    team_id: MaybeUndefined<ID>,
    /// New cycle, or null for none.
    cycle_id: MaybeUndefined<ID>,
}

/// Re-parenting of an objective.
#[derive(InputObject)]
pub struct MoveObjectiveInput {
    /// The objective to move (with its subtree).
    id: ID,
    /// The new parent; null makes it a root.
    new_parent_id: Option<ID>,
    /// Refuse with CONFLICT unless the objective is still at this version.
    expected_version: Option<i32>,
}

/// The objective a mutation created or changed.
#[derive(SimpleObject)]
pub struct ObjectivePayload {
    /// The objective as it is now.
    objective: Objective,
}

fn payload(model: crate::store::pg::entity::objective::Model) -> ObjectivePayload {
    ObjectivePayload {
        objective: Objective(model),
    }
}

fn maybe_id(
    value: &MaybeUndefined<ID>,
    kind: NodeKind,
    field: &'static str,
) -> AppResult<Option<Option<i64>>> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(raw) => Some(Some(decode_id(raw, kind, field)?)),
    })
}

#[derive(Default)]
pub struct ObjectiveMutations;

#[Object]
impl ObjectiveMutations {
    /// Creates an objective, under a parent when one is given.
    async fn create_objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new objective.")] input: CreateObjectiveInput,
    ) -> AppResult<ObjectivePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "create objectives")?;
        let command = NewObjective {
            parent_id: decode_opt(input.parent_id.as_ref(), NodeKind::Objective, "parentId")?,
            team_id: decode_opt(input.team_id.as_ref(), NodeKind::Team, "teamId")?,
            owner_id: decode_opt(input.owner_id.as_ref(), NodeKind::User, "ownerId")?
                .unwrap_or(viewer.user_id),
            cycle_id: decode_opt(input.cycle_id.as_ref(), NodeKind::Cycle, "cycleId")?,
            title: Title::parse("title", &input.title)?.into_inner(),
            description: Description::parse("description", &input.description)?.into_inner(),
            status: input.status.unwrap_or(ObjectiveStatus::Draft).into(),
            visibility: input.visibility.unwrap_or(Visibility::Public).into(),
            weight: weight("weight", input.weight.unwrap_or(1.0))?,
        };
        let created = stores(ctx).objectives.create(&viewer, command).await?;
        stores(ctx).outbox_written.notify_one();
        Ok(payload(created))
    }

    /// Changes an objective's fields.
    async fn update_objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective and what to change (omitted fields stay as they are).")]
        input: UpdateObjectiveInput,
    ) -> AppResult<ObjectivePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "change objectives")?;
        let id = decode_id(&input.id, NodeKind::Objective, "id")?;
        let patch = ObjectivePatch {
            title: input
                .title
                .map(|t| Title::parse("title", &t).map(Title::into_inner))
                .transpose()?,
            description: input
                .description
                .map(|d| Description::parse("description", &d).map(Description::into_inner))
                .transpose()?,
            status: input.status.map(Into::into),
            visibility: input.visibility.map(Into::into),
            weight: input.weight.map(|w| weight("weight", w)).transpose()?,
            owner_id: decode_opt(input.owner_id.as_ref(), NodeKind::User, "ownerId")?,
            team_id: maybe_id(&input.team_id, NodeKind::Team, "teamId")?,
            cycle_id: maybe_id(&input.cycle_id, NodeKind::Cycle, "cycleId")?,
            expected_version: input.expected_version,
        };
        let updated = stores(ctx).objectives.update(&viewer, id, patch).await?;
        stores(ctx).outbox_written.notify_one();
        Ok(payload(updated))
    }

    /// Moves an objective (and its subtree) under another parent, or to the root level.
    /// Refused with BAD_USER_INPUT when the new parent is the objective or lies below it.
    async fn move_objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective and its new parent.")] input: MoveObjectiveInput,
    ) -> AppResult<ObjectivePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "move objectives")?;
        let id = decode_id(&input.id, NodeKind::Objective, "id")?;
        let new_parent = decode_opt(
            input.new_parent_id.as_ref(),
            NodeKind::Objective,
            "newParentId",
        )?;
        let moved = stores(ctx)
            .objectives
            .move_to(&viewer, id, new_parent, input.expected_version)
            .await?;
        stores(ctx).outbox_written.notify_one();
        Ok(payload(moved))
    }

    /// Archives an objective: it leaves lists, tree walks and its parent's roll-up.
    async fn archive_objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of the objective to archive.")] id: ID,
    ) -> AppResult<ObjectivePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "archive objectives")?;
        let id = decode_id(&id, NodeKind::Objective, "id")?;
        let archived = stores(ctx).objectives.archive(&viewer, id).await?;
        stores(ctx).outbox_written.notify_one();
        Ok(payload(archived))
    }

    /// Deletes an objective with its key results, check-ins and milestones. Refused with
    /// CONFLICT while it has children.
    async fn delete_objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of the objective to delete.")] id: ID,
    ) -> AppResult<DeletePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "delete objectives")?;
        let id = decode_id(&id, NodeKind::Objective, "id")?;
        let deleted = stores(ctx).objectives.delete(&viewer, id).await?;
        stores(ctx).outbox_written.notify_one();
        Ok(DeletePayload {
            deleted_id: encode_id(NodeKind::Objective, deleted.id),
        })
    }
}
