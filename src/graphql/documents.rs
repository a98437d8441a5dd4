//! Types backed by MongoDB documents and their PostgreSQL summary: progress notes
//! (`GoalUpdate`), the tenant's custom-field template, and an objective's activity.

use super::scalars::Timestamp;
use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::load_one;
use super::org::User;
use crate::error::AppResult;
use crate::loaders::UserById;
use crate::store::mongo::goal_templates;
use crate::store::mongo::goal_updates;
use crate::store::pg::activity::Activity;
use crate::sync::activity::to_chrono;

/// A progress note or comment on an objective or key result (markdown).
#[derive(Clone)]
pub struct GoalUpdate(pub goal_updates::GoalUpdate);

/// A progress note or comment on an objective or key result (markdown).
#[Object]
impl GoalUpdate {
    /// The note's global ID (`node(id:)` refetches it). Inputs also accept the bare
    /// ObjectId that earlier releases returned here.
    pub async fn id(&self) -> ID {
        ID(crate::domain::global_id::encode_note(&self.0.id.to_hex()))
    }

    /// `note`, or `check_in` for a note given with a check-in.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The text, in markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When it was written.
    async fn created_at(&self) -> Timestamp {
        Timestamp(to_chrono(self.0.created_at))
    }

    /// Earlier versions of the body, oldest first.
    async fn edits(&self) -> Vec<NoteEdit> {
        self.0
            .edits
            .iter()
            .map(|e| NoteEdit {
                body: e.body.clone(),
                edited_at: Timestamp(to_chrono(e.edited_at)),
            })
            .collect()
    }

    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        Ok(load_one::<UserById, _>(ctx, self.0.author_id)
            .await?
            .map(User))
    }
}

/// A previous version of an edited note.
#[derive(SimpleObject)]
pub struct NoteEdit {
    /// The body before the edit.
    body: String,
    /// When it was replaced.
    edited_at: Timestamp,
}

/// MongoDB activity on an objective, as summarised in PostgreSQL by the change-stream consumer.
pub struct ObjectiveActivity(pub Activity);

/// MongoDB activity on an objective, as summarised in PostgreSQL by the change-stream consumer.
#[Object]
impl ObjectiveActivity {
    /// How many progress notes the objective has.
    async fn update_count(&self) -> i64 {
        self.0.update_count
    }

    /// When the newest note was written.
    async fn last_update_at(&self) -> Option<Timestamp> {
        self.0.last_update_at.map(Timestamp)
    }

    /// Who wrote the newest note.
    async fn last_author(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let Some(author) = self.0.last_author_id else {
            return Ok(None);
        };
        Ok(load_one::<UserById, _>(ctx, author).await?.map(User))
    }

    /// When its custom fields last changed.
    async fn custom_fields_changed_at(&self) -> Option<Timestamp> {
        self.0.custom_fields_changed_at.map(Timestamp)
    }
}

/// A version of the tenant's custom-field template.
pub struct GoalTemplate(pub goal_templates::GoalTemplate);

/// A version of the tenant's custom-field template.
#[Object]
impl GoalTemplate {
    /// Increases with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The custom fields objectives carry.
    async fn fields(&self) -> Vec<TemplateField> {
        self.0
            .fields
            .iter()
            .map(|f| TemplateField {
                key: f.key.clone(),
                field_type: f.field_type.clone(),
                required: f.required,
                allowed_values: f.allowed_values.clone(),
            })
            .collect()
    }

    /// Key results suggested for new objectives.
    async fn key_result_shapes(&self) -> Vec<KeyResultShape> {
        self.0
            .key_result_shapes
            .iter()
            .map(|s| KeyResultShape {
                title: s.title.clone(),
                kind: s.kind.clone(),
                start_value: s.start_value,
                target_value: s.target_value,
            })
            .collect()
    }

    /// When this version was published.
    async fn created_at(&self) -> Timestamp {
        Timestamp(to_chrono(self.0.created_at))
    }
}

/// One custom field of a template.
#[derive(SimpleObject)]
pub struct TemplateField {
    /// The field's key in `customFields`.
    key: String,
    /// string, number, boolean, date or enum.
    #[graphql(name = "type")]
    field_type: String,
    /// Whether every objective must set it.
    required: bool,
    /// For enums: the values it may take.
    allowed_values: Vec<String>,
}

/// A suggested key result.
#[derive(SimpleObject)]
pub struct KeyResultShape {
    /// Suggested title.
    title: String,
    /// Suggested kind (numeric, percentage, currency, boolean, milestone).
    kind: String,
    /// Suggested start value.
    start_value: f64,
    /// Suggested target value.
    target_value: f64,
}
