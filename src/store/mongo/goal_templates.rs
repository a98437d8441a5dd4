//! `goal_templates`: per-tenant, versioned definitions of custom fields and default
//! key-result shapes. Each change writes a new version; the highest version is current.

use futures::TryStreamExt;
use mongodb::bson::{self, DateTime, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

use super::MongoResult;
use crate::domain::custom_fields::{FieldDefinition, FieldType};

pub const COLLECTION: &str = "goal_templates";

/// A custom field as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredField {
    pub key: String,
    #[serde(rename = "type")]
    pub field_type: String,
    pub required: bool,
    #[serde(default)]
    pub allowed_values: Vec<String>,
}

/// A default key-result shape offered when creating objectives from the template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyResultShape {
    pub title: String,
    pub kind: String,
    pub start_value: f64,
    pub target_value: f64,
}

/// One version of a tenant's template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalTemplate {
    pub tenant_id: i64,
    pub version: i32,
    pub fields: Vec<StoredField>,
    #[serde(default)]
    pub key_result_shapes: Vec<KeyResultShape>,
    pub created_by: i64,
    pub created_at: DateTime,
}

impl GoalTemplate {
    /// The field definitions in domain form (unknown stored types are skipped).
    pub fn definitions(&self) -> Vec<FieldDefinition> {
        self.fields
            .iter()
            .filter_map(|f| {
                Some(FieldDefinition {
                    key: f.key.clone(),
                    field_type: FieldType::parse(&f.field_type)?,
                    required: f.required,
                    allowed_values: f.allowed_values.clone(),
                })
            })
            .collect()
    }
}

fn collection(db: &Database) -> Collection<GoalTemplate> {
    db.collection(COLLECTION)
}

pub(super) async fn ensure_indexes(db: &Database) -> MongoResult<()> {
    collection(db)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "tenant_id": 1, "version": -1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await?;
    Ok(())
}

/// Reads and writes `goal_templates`.
#[derive(Clone)]
pub struct GoalTemplates {
    db: Database,
}

impl GoalTemplates {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The tenant's current template, if it has one.
    pub async fn current(&self, tenant_id: i64) -> MongoResult<Option<GoalTemplate>> {
        Ok(collection(&self.db)
            .find_one(doc! { "tenant_id": tenant_id })
            .sort(doc! { "version": -1 })
            .await?)
    }

    /// Every version of the tenant's template, newest first.
    pub async fn history(&self, tenant_id: i64) -> MongoResult<Vec<GoalTemplate>> {
        let cursor = collection(&self.db)
            .find(doc! { "tenant_id": tenant_id })
            .sort(doc! { "version": -1 })
            .await?;
        Ok(cursor.try_collect().await?)
    }

    /// Stores a new version (one above the current); a concurrent writer of the same version
    /// loses on the unique index and is told to retry.
    pub async fn publish(
        &self,
        tenant_id: i64,
        author_id: i64,
        definitions: &[FieldDefinition],
        key_result_shapes: Vec<KeyResultShape>,
    ) -> MongoResult<GoalTemplate> {
        let version = self.current(tenant_id).await?.map_or(1, |t| t.version + 1);
        let template = GoalTemplate {
            tenant_id,
            version,
            fields: definitions
                .iter()
                .map(|d| StoredField {
                    key: d.key.clone(),
                    field_type: d.field_type.as_str().into(),
                    required: d.required,
                    allowed_values: d.allowed_values.clone(),
                })
                .collect(),
            key_result_shapes,
            created_by: author_id,
            created_at: DateTime::now(),
        };
        collection(&self.db).insert_one(&template).await?;
        Ok(template)
    }
}

/// Converts validated values into the BSON stored under `fields`.
pub fn to_bson_fields(
    values: &std::collections::BTreeMap<String, crate::domain::custom_fields::FieldValue>,
) -> bson::Document {
    use crate::domain::custom_fields::FieldValue;
    values
        .iter()
        .map(|(key, value)| {
            let bson = match value {
                FieldValue::String(s) => bson::Bson::String(s.clone()),
                FieldValue::Number(n) => bson::Bson::Double(*n),
                FieldValue::Boolean(b) => bson::Bson::Boolean(*b),
            };
            (key.clone(), bson)
        })
        .collect()
}
