//! The `Objective` type and its tree fields.

use super::scalars::Timestamp;
use async_graphql::{Context, ID, Lookahead, Object, SelectionField};
use ref_cast::RefCast;
use std::borrow::Borrow;

use super::connection::{
    GoalUpdateConnection, MAX_PAGE_SIZE, PageRequest, SubObjectiveConnection, page_size,
};
use super::context::{encode_id, load_many, load_one};
use super::documents::{GoalUpdate, ObjectiveActivity};
use super::enums::{ObjectiveStatus, Visibility};
use super::key_result::KeyResult;
use super::lean::{Plain, PlainFields, Resolution, SharedList, enum_name, lean_output, value};
use super::milestone::Milestone;
use super::org::{Cycle, Team, User};
use crate::domain::global_id::NodeKind;
use crate::error::{AppError, AppResult};
use crate::loaders::{
    ActivityOf, AncestorsOf, ChildrenOf, ChildrenPagesOf, CycleById, DescendantsOf, GoalTreeOf,
    KeyResultsOf, LatestUpdateOfKeyResult, MilestonesOf, ObjectiveById, PageKey, SubtreeKey,
    TeamById, UpdatePagesOf, UpdatesKey, UpdatesOf, UserById,
};
use crate::store::pg::entity::objective;
use crate::store::pg::objective_columns::ObjectiveColumns;
use crate::store::pg::tree::{self, SubtreeRead};
use crate::store::window::Window;

/// Loads, for a whole list of objectives at once, every relation the query selects on them,
/// so each item's field then reads the loaders' request cache.
///
/// A DataLoader alone batches only what is requested before its batch starts (at the first
/// pause of the request's task: `loaders::register`); a long list is
/// resolved in slices (the executor yields between them), which would split one batch into
/// many. Priming from the list field makes it one round trip per relation, whatever the
/// list's length.
pub async fn prime<O: Borrow<objective::Model>>(
    ctx: &Context<'_>,
    selection: Lookahead<'_>,
    objectives: &[O],
) -> AppResult<()> {
    if objectives.is_empty() {
        return Ok(());
    }
    let objectives = || objectives.iter().map(Borrow::borrow);
    let ids: Vec<i64> = objectives().map(|o: &objective::Model| o.id).collect();
    let key_results = async {
        let wanted = selection.field("keyResults");
        if !wanted.exists() {
            return Ok(());
        }
        let by_objective = load_many::<KeyResultsOf, _>(ctx, ids.clone()).await?;
        let kr_ids: Vec<i64> = by_objective
            .values()
            .flat_map(|rows| rows.iter())
            .map(|kr| kr.id)
            .collect();
        let owners: Vec<i64> = by_objective
            .values()
            .flat_map(|rows| rows.iter())
            .filter_map(|kr| kr.owner_id)
            .collect();
        let latest = async {
            if wanted.field("latestUpdate").exists() {
                load_many::<LatestUpdateOfKeyResult, _>(ctx, kr_ids.clone()).await?;
            }
            Ok::<_, AppError>(())
        };
        let owned = async {
            if wanted.field("owner").exists() {
                load_many::<UserById, _>(ctx, owners).await?;
            }
            Ok::<_, AppError>(())
        };
        futures::try_join!(latest, owned)?;
        Ok::<_, AppError>(())
    };
    let when = |field: &str| selection.field(field).exists();
    let owners: Vec<i64> = objectives().map(|o| o.owner_id).collect();
    let teams: Vec<i64> = objectives().filter_map(|o| o.team_id).collect();
    let cycles: Vec<i64> = objectives().filter_map(|o| o.cycle_id).collect();
    let latest_keys: Vec<UpdatesKey> = ids
        .iter()
        .map(|&objective_id| UpdatesKey {
            objective_id,
            limit: 1,
        })
        .collect();
    futures::try_join!(
        key_results,
        async {
            if when("customFields") {
                load_many::<GoalTreeOf, _>(ctx, ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if when("latestUpdate") {
                load_many::<UpdatesOf, _>(ctx, latest_keys).await?;
            }
            Ok(())
        },
        async {
            if when("activity") {
                load_many::<ActivityOf, _>(ctx, ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if when("milestones") {
                load_many::<MilestonesOf, _>(ctx, ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if when("owner") {
                load_many::<UserById, _>(ctx, owners).await?;
            }
            Ok(())
        },
        async {
            if when("team") {
                load_many::<TeamById, _>(ctx, teams).await?;
            }
            Ok(())
        },
        async {
            if when("cycle") {
                load_many::<CycleById, _>(ctx, cycles).await?;
            }
            Ok(())
        },
        async {
            if when("children") {
                load_many::<ChildrenOf, _>(ctx, ids.clone()).await?;
            }
            Ok::<_, AppError>(())
        },
    )?;
    Ok(())
}

/// What a `descendants` field (`field`, listing `max_depth` levels) reads: the columns its
/// entries' `objective` selections read from their rows.
///
/// The plain resolution reads whole rows, so the differential test (`tests/api/lean.rs`)
/// compares these reads with whole-row reads too.
pub fn subtree_read(ctx: &Context<'_>, field: SelectionField<'_>, max_depth: i32) -> SubtreeRead {
    if ctx.data_opt::<Resolution>() == Some(&Resolution::Plain) {
        let columns = ObjectiveColumns::ALL;
        return SubtreeRead { max_depth, columns };
    }
    let mut columns = ObjectiveColumns::required();
    for entry_field in field.selection_set() {
        match entry_field.name() {
            "objective" => columns = columns.union(columns_read_by(entry_field.selection_set())),
            "depth" | "__typename" => {}
            _ => columns = ObjectiveColumns::ALL,
        }
    }
    SubtreeRead { max_depth, columns }
}

/// The columns that `fields`, selected on an objective, read from its row, beyond those every
/// tree read holds (id, parent, team, owner, visibility). A field not named here reads every
/// column, so a field added to `Objective` is read correctly before it is listed.
fn columns_read_by<'a>(fields: impl Iterator<Item = SelectionField<'a>>) -> ObjectiveColumns {
    let mut columns = ObjectiveColumns::required();
    for field in fields {
        let column = match field.name() {
            "title" => "title",
            "description" => "description",
            "status" => "status",
            "weight" => "weight",
            "progress" => "progress",
            "version" => "version",
            "createdAt" => "created_at",
            "updatedAt" => "updated_at",
            "cycle" => "cycle_id",
            // The relations read the id, the parent, the team or the owner; `archivedAt` is
            // NULL below a tree's root (archived objectives and their subtrees leave trees).
            "__typename" | "id" | "visibility" | "archivedAt" | "parent" | "children"
            | "childrenConnection" | "descendants" | "ancestors" | "keyResults" | "milestones"
            | "team" | "owner" | "customFields" | "updatesConnection" | "updates"
            | "latestUpdate" | "activity" => continue,
            _ => return ObjectiveColumns::ALL,
        };
        columns = columns.with(column);
    }
    columns
}

/// The deepest `maxDepth` a tree field accepts.
pub const MAX_TREE_DEPTH: i32 = 1000;
/// The `maxDepth` of `descendants` when none is given.
pub const DEFAULT_TREE_DEPTH: i32 = 100;

/// An objective: a goal in the alignment tree, measured by key results and by its children.
#[derive(Clone, RefCast)]
#[repr(transparent)]
pub struct Objective(pub objective::Model);

lean_output!(Objective => ObjectiveFields);

impl Objective {
    /// The global ID, as the `Node` interface asks for it.
    pub async fn id(&self, _ctx: &Context<'_>) -> async_graphql::Result<ID> {
        Ok(encode_id(NodeKind::Objective, self.0.id))
    }
}

impl PlainFields for Objective {
    fn plain_field(&self, name: &str) -> Option<Plain<'_>> {
        let row = &self.0;
        Some(match name {
            "id" => Plain::Id(NodeKind::Objective, row.id),
            "title" => Plain::Text(&row.title),
            "description" => Plain::Text(&row.description),
            "status" => Plain::Enum(enum_name(ObjectiveStatus::from(row.status))),
            "visibility" => Plain::Enum(enum_name(Visibility::from(row.visibility))),
            "weight" => Plain::Float(row.weight),
            "progress" => Plain::Float(row.progress),
            "version" => Plain::Int(row.version),
            "createdAt" => Plain::Value(value(&Timestamp(row.created_at))),
            "updatedAt" => Plain::Value(value(&Timestamp(row.updated_at))),
            "archivedAt" => Plain::Value(value(&row.archived_at.map(Timestamp))),
            _ => return None,
        })
    }
}

/// The resolvers of [`Objective`] (the row, seen as the GraphQL type).
#[derive(RefCast)]
#[repr(transparent)]
pub struct ObjectiveFields(objective::Model);

/// An objective: a goal in the alignment tree, measured by key results and by its children.
#[Object(name = "Objective")]
impl ObjectiveFields {
    /// The global ID.
    async fn id(&self) -> ID {
        encode_id(NodeKind::Objective, self.0.id)
    }

    /// What the objective aims for.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Why and how, in markdown.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Where it stands.
    async fn status(&self) -> AppResult<ObjectiveStatus> {
        Ok(self.0.status.into())
    }

    /// Who may see it.
    async fn visibility(&self) -> AppResult<Visibility> {
        Ok(self.0.visibility.into())
    }

    /// Its weight in its parent's roll-up (> 0).
    async fn weight(&self) -> f64 {
        self.0.weight
    }

    /// Rolled-up progress in 0..1: the weighted mean of its key results and its children that
    /// are neither cancelled nor archived. Stored and kept current by every write.
    async fn progress(&self) -> f64 {
        self.0.progress
    }

    /// Incremented by every change; pass it as `expectedVersion` to refuse lost updates.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When it was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }

    /// When it last changed (progress changes excepted: those are derived).
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }

    /// When it was archived; archived objectives leave lists, trees and roll-ups.
    async fn archived_at(&self) -> Option<Timestamp> {
        self.0.archived_at.map(Timestamp)
    }

    /// The objective it aligns to (null for a root, or when the parent is hidden from you).
    async fn parent(&self, ctx: &Context<'_>) -> AppResult<Option<Objective>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(load_one::<ObjectiveById, _>(ctx, parent_id)
            .await?
            .map(Objective))
    }

    /// The objectives aligned directly to this one (unarchived, visible to you), a page at a
    /// time in id order: for an objective with very many children (`children` returns them
    /// all).
    async fn children_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The page size reading forward (20 when neither `first` nor `last` is given, at most 100)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Items after this cursor (an `endCursor` of a previous page).")]
        after: Option<String>,
        #[graphql(desc = "The page size reading backward from the end (at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "Items before this cursor (a `startCursor` of a previous page).")]
        before: Option<String>,
    ) -> AppResult<SubObjectiveConnection> {
        let request = PageRequest::standard(first, after, last, before)?;
        let page = request
            .load_page::<ChildrenPagesOf, _, _>(ctx, self.0.id, |row| row.id, Objective)
            .await?;
        Ok(SubObjectiveConnection(page))
    }

    /// The objectives aligned directly to this one (unarchived, visible to you), by id.
    async fn children(&self, ctx: &Context<'_>) -> AppResult<SharedList<Objective>> {
        let children = load_one::<ChildrenOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default();
        prime(ctx, ctx.look_ahead(), &children).await?;
        Ok(SharedList::new(children))
    }

    /// The whole subtree below this objective as a flat list in pre-order (each objective
    /// followed by its own subtree, siblings by id), down to `maxDepth` levels (1 = children).
    async fn descendants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "DEFAULT_TREE_DEPTH",
            desc = "How many levels below to list (1 = the children; at most 1000)."
        )]
        max_depth: i32,
    ) -> AppResult<SharedList<TreeEntry>> {
        if !(1..=MAX_TREE_DEPTH).contains(&max_depth) {
            return Err(AppError::bad_input(
                "maxDepth",
                format!("maxDepth must be between 1 and {MAX_TREE_DEPTH}"),
            ));
        }
        let key = SubtreeKey {
            root_id: self.0.id,
            read: subtree_read(ctx, ctx.field(), max_depth),
        };
        let entries = load_one::<DescendantsOf, _>(ctx, key)
            .await?
            .unwrap_or_default();
        let objectives: Vec<&objective::Model> = entries.iter().map(|e| &e.objective).collect();
        prime(ctx, ctx.look_ahead().field("objective"), &objectives).await?;
        Ok(SharedList::new(entries))
    }

    /// The path from the root down to this objective's parent (root first).
    async fn ancestors(&self, ctx: &Context<'_>) -> AppResult<Vec<Objective>> {
        let ancestors = load_one::<AncestorsOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default();
        prime(ctx, ctx.look_ahead(), &ancestors).await?;
        Ok(ancestors.into_iter().map(Objective).collect())
    }

    /// The key results measuring this objective, by id.
    async fn key_results(&self, ctx: &Context<'_>) -> AppResult<SharedList<KeyResult>> {
        Ok(SharedList::new(
            load_one::<KeyResultsOf, _>(ctx, self.0.id)
                .await?
                .unwrap_or_default(),
        ))
    }

    /// Dated steps towards this objective, by id.
    async fn milestones(&self, ctx: &Context<'_>) -> AppResult<Vec<Milestone>> {
        Ok(load_one::<MilestonesOf, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Milestone)
            .collect())
    }

    /// The org unit that owns it.
    async fn team(&self, ctx: &Context<'_>) -> AppResult<Option<Team>> {
        let Some(team_id) = self.0.team_id else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, team_id).await?.map(Team))
    }

    /// The person accountable for it.
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        Ok(load_one::<UserById, _>(ctx, self.0.owner_id)
            .await?
            .map(User))
    }

    /// The tenant-defined custom fields (see `goalTemplate`), from MongoDB's goal_trees.
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<async_graphql::Json<serde_json::Value>> {
        let tree = load_one::<GoalTreeOf, _>(ctx, self.0.id).await?.flatten();
        let fields = tree
            .map(|t| mongodb::bson::Bson::Document(t.fields).into_relaxed_extjson())
            .unwrap_or_else(|| serde_json::json!({}));
        Ok(async_graphql::Json(fields))
    }

    /// Progress notes and comments, newest first, a page at a time.
    async fn updates_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The page size reading forward (20 when neither `first` nor `last` is given, at most 100)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Items after this cursor (an `endCursor` of a previous page).")]
        after: Option<String>,
        #[graphql(desc = "The page size reading backward from the end (at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "Items before this cursor (a `startCursor` of a previous page).")]
        before: Option<String>,
    ) -> AppResult<GoalUpdateConnection> {
        let request = PageRequest::standard(first, after, last, before)?;
        let page = request
            .load_page::<UpdatePagesOf, _, _>(ctx, self.0.id, |note| note.id, GoalUpdate)
            .await?;
        Ok(GoalUpdateConnection(page))
    }

    /// Progress notes and comments, newest first (`first` at most 100).
    #[graphql(
        deprecation = "Use updatesConnection: opaque cursors in both directions, and pageInfo."
    )]
    async fn updates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many notes (at most 100).")] first: i32,
        #[graphql(desc = "The ID of the last note of the previous page.")] after: Option<String>,
    ) -> AppResult<Vec<GoalUpdate>> {
        let limit = page_size("first", first, MAX_PAGE_SIZE)?;
        let updates = match after {
            None => load_one::<UpdatesOf, _>(
                ctx,
                UpdatesKey {
                    objective_id: self.0.id,
                    limit: i64::from(first),
                },
            )
            .await?
            .unwrap_or_default(),
            Some(after) => {
                // A note's global ID, or the bare ObjectId earlier releases returned.
                let after = crate::domain::global_id::decode_note(&after)
                    .and_then(|hex| mongodb::bson::oid::ObjectId::parse_str(hex).ok())
                    .ok_or_else(|| AppError::bad_input("after", "after is not a note ID"))?;
                // The connection's window loader: one command per query level, not per object.
                let key = PageKey {
                    owner_id: self.0.id,
                    window: Window {
                        after: Some(after),
                        ..Window::first(limit)
                    },
                };
                load_one::<UpdatePagesOf, _>(ctx, key)
                    .await?
                    .unwrap_or_default()
            }
        };
        Ok(updates.into_iter().map(GoalUpdate).collect())
    }

    /// The newest progress note.
    async fn latest_update(&self, ctx: &Context<'_>) -> AppResult<Option<GoalUpdate>> {
        let key = UpdatesKey {
            objective_id: self.0.id,
            limit: 1,
        };
        Ok(load_one::<UpdatesOf, _>(ctx, key)
            .await?
            .and_then(|mut updates| updates.drain(..).next())
            .map(GoalUpdate))
    }

    /// How active the objective is (note count, newest note), as summarised in PostgreSQL.
    async fn activity(&self, ctx: &Context<'_>) -> AppResult<Option<ObjectiveActivity>> {
        Ok(load_one::<ActivityOf, _>(ctx, self.0.id)
            .await?
            .flatten()
            .map(ObjectiveActivity))
    }

    /// The planning period it belongs to.
    async fn cycle(&self, ctx: &Context<'_>) -> AppResult<Option<Cycle>> {
        let Some(cycle_id) = self.0.cycle_id else {
            return Ok(None);
        };
        Ok(load_one::<CycleById, _>(ctx, cycle_id).await?.map(Cycle))
    }
}

/// One objective of a subtree listing, with its distance below the objective asked about.
#[derive(RefCast)]
#[repr(transparent)]
pub struct TreeEntry(tree::TreeEntry);

lean_output!(TreeEntry => TreeEntryFields);

impl PlainFields for TreeEntry {
    fn plain_field(&self, name: &str) -> Option<Plain<'_>> {
        (name == "depth").then_some(Plain::Int(self.0.depth))
    }
}

/// The resolvers of [`TreeEntry`].
#[derive(RefCast)]
#[repr(transparent)]
pub struct TreeEntryFields(tree::TreeEntry);

/// One objective of a subtree listing, with its distance below the objective asked about.
#[Object(name = "TreeEntry")]
impl TreeEntryFields {
    /// Levels below the starting objective (1 = a child).
    async fn depth(&self) -> i32 {
        self.0.depth
    }

    /// The objective.
    async fn objective(&self) -> &Objective {
        Objective::ref_cast(&self.0.objective)
    }
}
