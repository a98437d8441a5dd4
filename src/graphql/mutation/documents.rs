//! Mutations of MongoDB-held data: the custom-field template, custom-field values, and
//! progress notes.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use mongodb::bson::oid::ObjectId;

use crate::domain::custom_fields::{FieldDefinition, FieldType, check_definitions, validate};
use crate::domain::global_id::NodeKind;
use crate::domain::role::Role;
use crate::domain::text::{NoteBody, Title};
use crate::error::{AppError, AppResult};
use crate::graphql::context::{authorized, decode_id, decode_opt, load_one, stores};
use crate::graphql::documents::{GoalTemplate, GoalUpdate};
use crate::graphql::objective::Objective;
use crate::loaders::{KeyResultById, ObjectiveById};
use crate::store::mongo::goal_templates::{KeyResultShape, to_bson_fields};
use crate::store::mongo::goal_updates::NewNote;

/// A custom field of the template.
#[derive(InputObject)]
pub struct FieldDefinitionInput {
    /// Key in `customFields`: a lowercase identifier (a-z, 0-9, _; at most 64).
    key: String,
    /// string, number, boolean, date (YYYY-MM-DD) or enum.
    #[graphql(name = "type")]
    field_type: String,
    /// Whether every objective must set it.
    #[graphql(default)]
    required: bool,
    /// For enums: the values it may take.
    #[graphql(default)]
    allowed_values: Vec<String>,
}

/// A suggested key result of the template.
#[derive(InputObject)]
pub struct KeyResultShapeInput {
    /// Suggested title.
    title: String,
    /// numeric, percentage, currency, boolean or milestone.
    kind: String,
    /// Suggested start value.
    #[graphql(default)]
    start_value: f64,
    /// Suggested target value.
    #[graphql(default = 1.0)]
    target_value: f64,
}

/// A new version of the tenant's template.
#[derive(InputObject)]
pub struct SetGoalTemplateInput {
    /// The custom fields (at most 100); replaces the previous version's.
    fields: Vec<FieldDefinitionInput>,
    /// Suggested key results.
    #[graphql(default)]
    key_result_shapes: Vec<KeyResultShapeInput>,
}

/// Custom-field values of an objective.
#[derive(InputObject)]
pub struct SetCustomFieldsInput {
    /// The objective.
    objective_id: ID,
    /// An object of field values (strings, numbers, booleans), validated against the
    /// template; it replaces the previous values.
    fields: Json<serde_json::Value>,
}

/// A new progress note.
#[derive(InputObject)]
pub struct AddProgressNoteInput {
    /// The objective it is about (or give a key result).
    objective_id: Option<ID>,
    /// The key result it is about; its objective is implied.
    key_result_id: Option<ID>,
    /// The note, in markdown (1–20,000 characters).
    body: String,
}

/// An edit of a progress note.
#[derive(InputObject)]
pub struct EditProgressNoteInput {
    /// The note.
    id: ID,
    /// The new body; the old one is kept in `edits`.
    body: String,
}

/// The objective whose custom fields were set.
#[derive(SimpleObject)]
pub struct SetCustomFieldsPayload {
    /// The objective, with its new `customFields`.
    objective: Objective,
}

/// The note a mutation created or changed.
#[derive(SimpleObject)]
pub struct ProgressNotePayload {
    /// The note as it is now.
    update: GoalUpdate,
}

#[derive(Default)]
pub struct DocumentMutations;

#[Object]
impl DocumentMutations {
    /// Publishes a new version of the tenant's custom-field template (managers and admins).
    async fn set_goal_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template's fields.")] input: SetGoalTemplateInput,
    ) -> AppResult<GoalTemplate> {
        let viewer = authorized(ctx, Role::can_manage_org, "change the template")?;
        let definitions = input
            .fields
            .into_iter()
            .map(|f| {
                Ok(FieldDefinition {
                    field_type: FieldType::parse(&f.field_type).ok_or_else(|| {
                        AppError::bad_input(
                            "fields",
                            format!("field {:?}: unknown type {:?}", f.key, f.field_type),
                        )
                    })?,
                    key: f.key,
                    required: f.required,
                    allowed_values: f.allowed_values,
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        check_definitions(&definitions)?;
        let shapes = input
            .key_result_shapes
            .into_iter()
            .map(|s| {
                crate::domain::key_result::KeyResultKind::parse_input("keyResultShapes", &s.kind)?;
                Ok(KeyResultShape {
                    title: Title::parse("keyResultShapes", &s.title)?.into_inner(),
                    kind: s.kind,
                    start_value: crate::domain::text::finite("keyResultShapes", s.start_value)?,
                    target_value: crate::domain::text::finite("keyResultShapes", s.target_value)?,
                })
            })
            .collect::<Result<Vec<_>, crate::domain::DomainError>>()?;
        let template = stores(ctx)
            .templates
            .publish(viewer.tenant_id, viewer.user_id, &definitions, shapes)
            .await
            .map_err(|err| match err.is_duplicate_key() {
                true => AppError::Conflict("the template changed meanwhile; retry".into()),
                false => err.into(),
            })?;
        Ok(GoalTemplate(template))
    }

    /// Sets an objective's custom fields, validated against the template; every bad field is
    /// named in `extensions.fields`.
    async fn set_custom_fields(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective and its field values.")] input: SetCustomFieldsInput,
    ) -> AppResult<SetCustomFieldsPayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "set custom fields")?;
        let objective_id = decode_id(&input.objective_id, NodeKind::Objective, "objectiveId")?;
        let objective = load_one::<ObjectiveById, _>(ctx, objective_id)
            .await?
            .ok_or(AppError::NotFound {
                what: "objectiveId",
            })?;
        let template = stores(ctx).templates.current(viewer.tenant_id).await?;
        let definitions = template.map(|t| t.definitions()).unwrap_or_default();
        let values = validate(&definitions, &input.fields.0).map_err(AppError::InvalidFields)?;
        stores(ctx)
            .trees
            .set_fields(viewer.tenant_id, objective_id, to_bson_fields(&values))
            .await?;
        // Reports filter on custom fields: answers cached before this change must not be
        // served after it is acknowledged.
        crate::store::pg::data_version::bump(stores(ctx).objectives.db(), &[viewer.tenant_id])
            .await?;
        Ok(SetCustomFieldsPayload {
            objective: Objective(objective),
        })
    }

    /// Adds a progress note to an objective or key result.
    async fn add_progress_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The note and what it is about.")] input: AddProgressNoteInput,
    ) -> AppResult<ProgressNotePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "write progress notes")?;
        let body = NoteBody::parse("body", &input.body)?.into_inner();
        let key_result_id = decode_opt(
            input.key_result_id.as_ref(),
            NodeKind::KeyResult,
            "keyResultId",
        )?;
        let objective_id = match (
            decode_opt(
                input.objective_id.as_ref(),
                NodeKind::Objective,
                "objectiveId",
            )?,
            key_result_id,
        ) {
            (_, Some(kr)) => {
                load_one::<KeyResultById, _>(ctx, kr)
                    .await?
                    .ok_or(AppError::NotFound {
                        what: "keyResultId",
                    })?
                    .objective_id
            }
            (Some(objective), None) => {
                load_one::<ObjectiveById, _>(ctx, objective)
                    .await?
                    .ok_or(AppError::NotFound {
                        what: "objectiveId",
                    })?
                    .id
            }
            (None, None) => {
                return Err(AppError::bad_input(
                    "objectiveId",
                    "give objectiveId or keyResultId",
                ));
            }
        };
        let update = stores(ctx)
            .updates
            .add(NewNote {
                tenant_id: viewer.tenant_id,
                objective_id,
                key_result_id,
                kind: "note",
                body,
                author_id: viewer.user_id,
                source_outbox_id: None,
            })
            .await?;
        Ok(ProgressNotePayload {
            update: GoalUpdate(update),
        })
    }

    /// Edits a progress note (its author, or an admin); the old body is kept in `edits`.
    async fn edit_progress_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The note and its new text.")] input: EditProgressNoteInput,
    ) -> AppResult<ProgressNotePayload> {
        let viewer = authorized(ctx, Role::can_write_goals, "edit progress notes")?;
        let body = NoteBody::parse("body", &input.body)?.into_inner();
        let id = crate::domain::global_id::decode_note(input.id.as_str())
            .and_then(|hex| ObjectId::parse_str(hex).ok())
            .ok_or_else(|| AppError::bad_input("id", "id is not a progress note ID"))?;
        let updates = &stores(ctx).updates;
        let existing = updates
            .by_id(viewer.tenant_id, id)
            .await?
            .ok_or(AppError::NotFound { what: "id" })?;
        // The note's objective must be visible, as for reading it.
        load_one::<ObjectiveById, _>(ctx, existing.objective_id)
            .await?
            .ok_or(AppError::NotFound { what: "id" })?;
        if existing.author_id != viewer.user_id && viewer.role != Role::Admin {
            return Err(AppError::Forbidden(
                "only its author or an admin may edit a note".into(),
            ));
        }
        let edited = updates
            .edit(viewer.tenant_id, id, body)
            .await?
            .ok_or(AppError::NotFound { what: "id" })?;
        Ok(ProgressNotePayload {
            update: GoalUpdate(edited),
        })
    }
}
