//! The MongoDB side of the benchmark data set: a template with two custom fields, a goal_trees
//! document per objective carrying deterministic values for them, and progress notes on every
//! fifth objective (BENCHMARKS.md "The org-shaped data set"), with the activity summaries
//! PostgreSQL keeps of them.

use mongodb::bson::{DateTime, doc, oid::ObjectId};

use super::goal_templates::GoalTemplates;
use super::goal_trees::{GoalTree, GoalTrees, depth_of, document_id};
use super::goal_updates::{GoalUpdate, GoalUpdates};
use super::{MongoResult, MongoStore};
use crate::domain::custom_fields::{FieldDefinition, FieldType};
use crate::store::pg::activity::Summary;
use crate::store::pg::tree::PlacedObjective;

/// The values of the `theme` custom field; spec objective `i` gets `THEMES[i mod 3]`.
pub const THEMES: [&str; 3] = ["growth", "quality", "efficiency"];

/// How the spec numbers objectives and users: objective `i` has id `base + i` and is owned by
/// user `first_user + i mod users`.
#[derive(Debug, Clone, Copy)]
pub struct Numbering {
    pub base: i64,
    pub first_user: i64,
    pub users: i64,
}

/// Loads the documents of `objectives` (every objective of `tenant_id`, with its path) and
/// returns the activity summary of each note written (for `objective_activity`: no
/// change-stream consumer sees a bulk load).
pub async fn bench_documents(
    mongo: &MongoStore,
    tenant_id: i64,
    admin_id: i64,
    numbering: Numbering,
    objectives: Vec<PlacedObjective>,
) -> MongoResult<Vec<Summary>> {
    mongo.ensure_indexes().await?;
    let definitions = [
        FieldDefinition {
            key: "theme".into(),
            field_type: FieldType::Enum,
            required: false,
            allowed_values: THEMES.iter().map(|t| (*t).to_owned()).collect(),
        },
        FieldDefinition {
            key: "priority".into(),
            field_type: FieldType::Number,
            required: false,
            allowed_values: Vec::new(),
        },
    ];
    GoalTemplates::new(mongo.database().clone())
        .publish(tenant_id, admin_id, &definitions, Vec::new())
        .await?;
    // Mondays of the third quarter of 2026 at 17:00 UTC, as milliseconds.
    let first_monday = 1_783_357_200_000_i64; // 2026-07-06T17:00:00Z
    let week = 7 * 86_400_000_i64;
    let mut notes = Vec::new();
    let trees: Vec<GoalTree> = objectives
        .into_iter()
        .map(|o| {
            let i = o.id - numbering.base;
            if i % 5 == 0 {
                notes.push(GoalUpdate {
                    id: ObjectId::new(),
                    tenant_id,
                    objective_id: o.id,
                    key_result_id: None,
                    kind: "note".into(),
                    body: format!(
                        "Week {}: objective {i} is moving; next step agreed.",
                        i % 13
                    ),
                    author_id: numbering.first_user + i % numbering.users,
                    created_at: DateTime::from_millis(first_monday + (i % 13) * week),
                    edits: Vec::new(),
                    source_outbox_id: None,
                });
            }
            GoalTree {
                id: document_id(tenant_id, o.id),
                tenant_id,
                objective_id: o.id,
                depth: depth_of(&o.path),
                path: o.path,
                title: o.title,
                status: o.status.as_str().to_owned(),
                archived: o.archived,
                fields: doc! {
                    "theme": THEMES[usize::try_from(i % 3).unwrap_or(0)],
                    "priority": f64::from(u8::try_from(1 + i % 5).unwrap_or(1)),
                },
                outbox_id: 0,
            }
        })
        .collect();
    GoalTrees::new(mongo.database().clone())
        .insert_many(&trees)
        .await?;
    GoalUpdates::new(mongo.database().clone())
        .insert_many(&notes)
        .await?;
    Ok(notes
        .iter()
        .map(|note| Summary {
            objective_id: note.objective_id,
            update_count: 1,
            last_update_at: chrono::DateTime::from_timestamp_millis(
                note.created_at.timestamp_millis(),
            ),
            last_author_id: Some(note.author_id),
        })
        .collect())
}
