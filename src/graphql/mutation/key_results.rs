//! Mutations of key results, check-ins and milestones.

use super::super::scalars::Date;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use super::DeletePayload;
use crate::domain::global_id::NodeKind;
use crate::domain::key_result::{KeyResultPatch, KeyResultRange, NewCheckIn, NewKeyResult};
use crate::domain::role::Role;
use crate::domain::text::{NoteBody, Title, confidence, finite, weight};
use crate::error::AppResult;
use crate::graphql::context::{authorized, decode_id, decode_opt, encode_id, load_one, stores};
use crate::graphql::enums::KeyResultKind;
use crate::graphql::key_result::{CheckIn, KeyResult};
use crate::graphql::milestone::Milestone;
use crate::graphql::objective::Objective;
use crate::loaders::ObjectiveById;
use crate::store::pg::milestones::{MilestonePatch, NewMilestone};

/// A new key result.
#[derive(InputObject)]
pub struct CreateKeyResultInput {
    /// The objective it measures.
    objective_id: ID,
    /// What is measured (1–300 characters).
    title: String,
    /// How it is measured.
    kind: KeyResultKind,
    /// Value at the start (ignored for BOOLEAN and MILESTONE, which run 0..1); defaults to 0.
    start_value: Option<f64>,
    /// Value aimed for (ignored for BOOLEAN and MILESTONE); defaults to 1.
    target_value: Option<f64>,
    /// Weight in the objective's roll-up, > 0 and ≤ 1000; defaults to 1.
    weight: Option<f64>,
    /// Who reports on it.
    owner_id: Option<ID>,
}

/// Changes to a key result; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateKeyResultInput {
    /// The key result to change.
    id: ID,
    /// New title.
    title: Option<String>,
    /// New start value.
    start_value: Option<f64>,
    /// New target value.
    target_value: Option<f64>,
    /// New weight.
    weight: Option<f64>,
    /// New owner, or null for none.
    owner_id: MaybeUndefined<ID>,
}

/// A progress report on a key result.
#[derive(InputObject)]
pub struct CheckInInput {
    /// The key result reported on.
    key_result_id: ID,
    /// Its value now (0 or 1 for BOOLEAN).
    value: f64,
    /// Confidence of reaching the target, 0..1.
    confidence: Option<f64>,
    /// A progress note in markdown (up to 20,000 characters), kept in goal_updates.
    note: Option<String>,
}

/// A new milestone.
#[derive(InputObject)]
pub struct CreateMilestoneInput {
    /// The objective it belongs to.
    objective_id: ID,
    /// A MILESTONE key result of that objective it counts towards.
    key_result_id: Option<ID>,
    /// What is to be done (1–300 characters).
    title: String,
    /// When it is due.
    due_on: Option<Date>,
}

/// Changes to a milestone; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateMilestoneInput {
    /// The milestone to change.
    id: ID,
    /// New title.
    title: Option<String>,
    /// New due date, or null for none.
    due_on: MaybeUndefined<Date>,
    /// Mark done (true) or open again (false).
    done: Option<bool>,
}

/// The key result a mutation created or changed.
#[derive(SimpleObject)]
pub struct KeyResultPayload {
    /// The key result as it is now.
    key_result: KeyResult,
}

/// The result of a check-in.
#[derive(SimpleObject)]
pub struct CheckInPayload {
    /// The recorded check-in.
    check_in: CheckIn,
    /// The key result with its new value and progress.
    key_result: KeyResult,
    /// The key result's objective with its new roll-up.
    objective: Option<Objective>,
}

/// The milestone a mutation created or changed.
#[derive(SimpleObject)]
pub struct MilestonePayload {
    /// The milestone as it is now.
    milestone: Milestone,
}

fn title(raw: &str) -> AppResult<String> {
    Ok(Title::parse("title", raw)?.into_inner())
}

#[derive(Default)]
pub struct KeyResultMutations;

#[Object]
impl KeyResultMutations {
    /// Adds a key result to an objective.
    async fn create_key_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new key result.")] input: CreateKeyResultInput,
    ) -> AppResult<KeyResultPayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "create key results")?;
        let kind = input.kind.into();
        let command = NewKeyResult {
            objective_id: decode_id(&input.objective_id, NodeKind::Objective, "objectiveId")?,
            owner_id: decode_opt(input.owner_id.as_ref(), NodeKind::User, "ownerId")?,
            title: title(&input.title)?,
            kind,
            range: KeyResultRange::parse(
                kind,
                input.start_value.unwrap_or(0.0),
                input.target_value.unwrap_or(1.0),
            )?,
            weight: weight("weight", input.weight.unwrap_or(1.0))?,
        };
        let created = stores(ctx).key_results.create(&viewer, command).await?;
        Ok(KeyResultPayload {
            key_result: KeyResult(created),
        })
    }

    /// Changes a key result's title, range, weight or owner.
    async fn update_key_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key result and what to change (omitted fields stay as they are).")]
        input: UpdateKeyResultInput,
    ) -> AppResult<KeyResultPayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "change key results")?;
        let id = decode_id(&input.id, NodeKind::KeyResult, "id")?;
        let patch = KeyResultPatch {
            title: input.title.as_deref().map(title).transpose()?,
            owner_id: match &input.owner_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(raw) => {
                    Some(Some(decode_id(raw, NodeKind::User, "ownerId")?))
                }
            },
            start: input
                .start_value
                .map(|v| finite("startValue", v))
                .transpose()?,
            target: input
                .target_value
                .map(|v| finite("targetValue", v))
                .transpose()?,
            weight: input.weight.map(|w| weight("weight", w)).transpose()?,
        };
        let updated = stores(ctx).key_results.update(&viewer, id, patch).await?;
        Ok(KeyResultPayload {
            key_result: KeyResult(updated),
        })
    }

    /// Deletes a key result with its check-ins.
    async fn delete_key_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of the key result to delete.")] id: ID,
    ) -> AppResult<DeletePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "delete key results")?;
        let id = decode_id(&id, NodeKind::KeyResult, "id")?;
        let deleted = stores(ctx).key_results.delete(&viewer, id).await?;
        Ok(DeletePayload {
            deleted_id: encode_id(NodeKind::KeyResult, deleted.id),
        })
    }

    /// Reports a key result's current value: appends a check-in, updates the key result and
    /// the roll-ups of every objective above it, in one transaction.
    async fn check_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key result and the value reported.")] input: CheckInInput,
    ) -> AppResult<CheckInPayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "check in")?;
        let command = NewCheckIn {
            key_result_id: decode_id(&input.key_result_id, NodeKind::KeyResult, "keyResultId")?,
            value: finite("value", input.value)?,
            confidence: input
                .confidence
                .map(|c| confidence("confidence", c))
                .transpose()?,
            note: input
                .note
                .as_deref()
                .map(|n| NoteBody::parse("note", n).map(NoteBody::into_inner))
                .transpose()?,
        };
        let has_note = command.note.is_some();
        let (recorded, key_result) = stores(ctx).key_results.check_in(&viewer, command).await?;
        if has_note {
            stores(ctx).outbox_written.notify_one();
        }
        let objective = load_one::<ObjectiveById, _>(ctx, key_result.objective_id)
            .await?
            .map(Objective);
        Ok(CheckInPayload {
            check_in: CheckIn(recorded),
            key_result: KeyResult(key_result),
            objective,
        })
    }

    /// Adds a milestone to an objective.
    async fn create_milestone(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new milestone.")] input: CreateMilestoneInput,
    ) -> AppResult<MilestonePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "create milestones")?;
        let command = NewMilestone {
            objective_id: decode_id(&input.objective_id, NodeKind::Objective, "objectiveId")?,
            key_result_id: decode_opt(
                input.key_result_id.as_ref(),
                NodeKind::KeyResult,
                "keyResultId",
            )?,
            title: title(&input.title)?,
            due_on: input.due_on.map(|date| date.0),
        };
        let created = stores(ctx).milestones.create(&viewer, command).await?;
        Ok(MilestonePayload {
            milestone: Milestone(created),
        })
    }

    /// Renames, re-dates, completes or re-opens a milestone.
    async fn update_milestone(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The milestone and what to change (omitted fields stay as they are).")]
        input: UpdateMilestoneInput,
    ) -> AppResult<MilestonePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "change milestones")?;
        let id = decode_id(&input.id, NodeKind::Milestone, "id")?;
        let patch = MilestonePatch {
            title: input.title.as_deref().map(title).transpose()?,
            due_on: match input.due_on {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(date) => Some(Some(date.0)),
            },
            done: input.done,
        };
        let updated = stores(ctx).milestones.update(&viewer, id, patch).await?;
        Ok(MilestonePayload {
            milestone: Milestone(updated),
        })
    }

    /// Deletes a milestone.
    async fn delete_milestone(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of the milestone to delete.")] id: ID,
    ) -> AppResult<DeletePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "delete milestones")?;
        let id = decode_id(&id, NodeKind::Milestone, "id")?;
        let deleted = stores(ctx).milestones.delete(&viewer, id).await?;
        Ok(DeletePayload {
            deleted_id: encode_id(NodeKind::Milestone, deleted.id),
        })
    }
}
