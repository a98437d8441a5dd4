//! The query root: node lookup, objectives with filters and pagination, and the org chart.

use crate::store::pg::entity::objective;
use crate::store::pg::tree::SubtreeRead;
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object};

use super::connection::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ObjectiveConnection, PageRequest, SubObjectiveConnection,
    TeamConnection, UserConnection, page_size,
};
use super::context::{decode_opt, load_many, load_one, loader, stores, viewer};
use super::documents::GoalTemplate;
use super::enums::ObjectiveStatus;
use super::node::{self, Node};
use super::objective::{DEFAULT_TREE_DEPTH, MAX_TREE_DEPTH, Objective, prime, subtree_read};
use super::org::{Cycle, Team, User};
use crate::domain::custom_fields::is_identifier;
use crate::domain::global_id::{GlobalId, NodeKind};
use crate::domain::text::optional_text;
use crate::error::{AppError, AppResult};
use crate::loaders::{ChildrenOf, DescendantsOf, ObjectiveById, SubtreeKey, TeamById, UserById};
use crate::store::pg::objectives::ObjectiveFilter as StoreFilter;

/// The most objectives one `branch` query returns.
const MAX_BRANCH: i32 = 500;

/// Narrows `objectives`; every given filter must hold.
#[derive(InputObject, Default)]
pub struct ObjectiveFilter {
    /// Objectives owned by this team.
    team_id: Option<ID>,
    /// With `teamId`: also objectives of all its sub-teams.
    #[graphql(default)]
    include_sub_teams: bool,
    /// Objectives in this cycle.
    cycle_id: Option<ID>,
    /// Objectives owned by this user.
    owner_id: Option<ID>,
    /// Direct children of this objective.
    parent_id: Option<ID>,
    /// Only objectives without a parent.
    #[graphql(default)]
    roots_only: bool,
    /// Objectives in any of these statuses.
    status: Option<Vec<ObjectiveStatus>>,
    /// Case-insensitive text that the title contains.
    text: Option<String>,
    /// Also archived objectives.
    #[graphql(default)]
    include_archived: bool,
}

/// A condition on a custom field: the field equals this value.
#[derive(InputObject)]
pub struct CustomFieldCondition {
    /// The field's key.
    key: String,
    /// The value it must equal (a string, number or boolean).
    equals: async_graphql::Json<serde_json::Value>,
}

/// The core entry points for reading (merged into the query root).
#[derive(Default)]
pub struct CoreQuery;

/// The core entry points for reading (merged into the query root).
#[Object]
impl CoreQuery {
    /// Any object by its global ID; null when it does not exist or is hidden from you.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID.")] id: ID,
    ) -> AppResult<Option<Node>> {
        viewer(ctx)?;
        Ok(node::resolve(ctx, &id).await?)
    }

    /// Several objects by global ID, in the order asked (at most 100).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs (at most 100).")] ids: Vec<ID>,
    ) -> AppResult<Vec<Option<Node>>> {
        viewer(ctx)?;
        page_size(
            "ids",
            i32::try_from(ids.len()).unwrap_or(i32::MAX),
            MAX_PAGE_SIZE,
        )?;
        let lookups = ids.iter().map(|id| node::resolve(ctx, id));
        let found = futures::future::try_join_all(lookups).await?;
        Ok(found)
    }

    /// The caller.
    async fn viewer(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let viewer = viewer(ctx)?;
        Ok(load_one::<UserById, _>(ctx, viewer.user_id)
            .await?
            .map(User))
    }

    /// One objective; null when it does not exist or is hidden from you.
    async fn objective(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective's global ID.")] id: ID,
    ) -> AppResult<Option<Objective>> {
        viewer(ctx)?;
        let Some(id) = GlobalId::decode_as(&id, NodeKind::Objective) else {
            return Ok(None);
        };
        let viewer = viewer(ctx)?;
        // The objective and the tree below it in one round trip when the query asks for both;
        // `descendants` or `children` then read them from their loader's cache.
        let objectives = &stores(ctx).objectives;
        if let Some(read) = sole_descendants_read(ctx) {
            let key = SubtreeKey { root_id: id, read };
            let fetched = objectives
                .visible_with_descendants(&viewer, id, read)
                .await?;
            return prefetched::<DescendantsOf, _, _>(ctx, key, fetched).await;
        }
        if ctx.look_ahead().field("children").exists() {
            let fetched = objectives.visible_with_children(&viewer, id).await?;
            return prefetched::<ChildrenOf, _, _>(ctx, id, fetched).await;
        }
        Ok(load_one::<ObjectiveById, _>(ctx, id).await?.map(Objective))
    }

    /// Objectives visible to you, by id, a page at a time (`first` at most 100).
    async fn objectives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which objectives (every visible one when omitted).")] filter: Option<
            ObjectiveFilter,
        >,
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
    ) -> AppResult<ObjectiveConnection> {
        let viewer = viewer(ctx)?;
        let page = PageRequest::standard(first, after, last, before)?;
        let filter = filter.unwrap_or_default();
        let store_filter = into_store_filter(ctx, viewer.tenant_id, filter).await?;
        let objectives = &stores(ctx).objectives;
        let (rows, total) = futures::try_join!(
            objectives.page(&viewer, &store_filter, &page.window),
            when_selected(ctx, objectives.count(&viewer, &store_filter)),
        )?;
        prime(ctx, ctx.look_ahead().field("edges").field("node"), &rows).await?;
        Ok(ObjectiveConnection(
            page.page(rows, |o| o.id, Objective).with_total(total),
        ))
    }

    /// One team.
    async fn team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team's global ID.")] id: ID,
    ) -> AppResult<Option<Team>> {
        viewer(ctx)?;
        let Some(id) = GlobalId::decode_as(&id, NodeKind::Team) else {
            return Ok(None);
        };
        Ok(load_one::<TeamById, _>(ctx, id).await?.map(Team))
    }

    /// The tenant's teams by id, a page at a time; `rootsOnly` keeps top-level units.
    async fn teams(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only top-level units.")] roots_only: bool,
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
    ) -> AppResult<TeamConnection> {
        let viewer = viewer(ctx)?;
        let page = PageRequest::standard(first, after, last, before)?;
        let org = &stores(ctx).org;
        let (rows, total) = futures::try_join!(
            org.teams_page(viewer.tenant_id, roots_only, &page.window),
            when_selected(ctx, org.teams_count(viewer.tenant_id, roots_only)),
        )?;
        Ok(TeamConnection(
            page.page(rows, |t| t.id, Team).with_total(total),
        ))
    }

    /// The tenant's users by id, a page at a time.
    async fn users(
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
    ) -> AppResult<UserConnection> {
        let viewer = viewer(ctx)?;
        let page = PageRequest::standard(first, after, last, before)?;
        let org = &stores(ctx).org;
        let (rows, total) = futures::try_join!(
            org.users_page(viewer.tenant_id, &page.window),
            when_selected(ctx, org.users_count(viewer.tenant_id)),
        )?;
        Ok(UserConnection(
            page.page(rows, |u| u.id, User).with_total(total),
        ))
    }

    /// The tenant's current custom-field template, if it has one.
    async fn goal_template(&self, ctx: &Context<'_>) -> AppResult<Option<GoalTemplate>> {
        let viewer = viewer(ctx)?;
        Ok(stores(ctx)
            .templates
            .current(viewer.tenant_id)
            .await?
            .map(GoalTemplate))
    }

    /// Objectives anywhere below `under` whose custom fields match every condition (from
    /// MongoDB's goal_trees by materialised-path prefix), in tree order, a page at a time.
    /// Objectives you may not see are left out, so a page may hold fewer than asked.
    /// Reflects the relay's latest state of the tree.
    // Each argument is a GraphQL argument of the field: the API's shape, not a code smell.
    #[allow(clippy::too_many_arguments)]
    async fn branch_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective whose subtree is searched.")] under: ID,
        #[graphql(
            name = "where",
            default,
            desc = "Custom-field conditions, every one of which must hold."
        )]
        conditions: Vec<CustomFieldCondition>,
        #[graphql(
            desc = "The page size reading forward (20 when neither `first` nor `last` is given, at most 500)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Items after this cursor (an `endCursor` of a previous page).")]
        after: Option<String>,
        #[graphql(desc = "The page size reading backward from the end (at most 500).")]
        last: Option<i32>,
        #[graphql(desc = "Items before this cursor (a `startCursor` of a previous page).")]
        before: Option<String>,
    ) -> AppResult<SubObjectiveConnection> {
        let viewer = viewer(ctx)?;
        let request = PageRequest::<String>::parse(
            first,
            after.as_deref(),
            last,
            before.as_deref(),
            DEFAULT_PAGE_SIZE,
            MAX_BRANCH,
        )?;
        let conditions = field_conditions(conditions)?;
        let rows = match visible_tree_path(ctx, &under).await? {
            Some(root_path) => {
                stores(ctx)
                    .trees
                    .branch_window(viewer.tenant_id, &root_path, &conditions, &request.window)
                    .await?
            }
            None => Vec::new(),
        };
        let page = request.page(rows, |(path, _)| path.clone(), |(_, id)| id);
        let found = load_many::<ObjectiveById, _>(ctx, page.nodes().copied()).await?;
        let objectives: Vec<_> = page
            .nodes()
            .filter_map(|id| found.get(id).cloned())
            .collect();
        for selection in [
            ctx.look_ahead().field("edges").field("node"),
            ctx.look_ahead().field("nodes"),
        ] {
            prime(ctx, selection, &objectives).await?;
        }
        Ok(SubObjectiveConnection(
            page.filter_map(|id| found.get(&id).cloned().map(Objective)),
        ))
    }

    /// Objectives anywhere below `under` whose custom fields match every condition (from
    /// MongoDB's goal_trees by materialised-path prefix), in tree order, at most `first`
    /// (≤ 500). Reflects the relay's latest state of the tree.
    #[graphql(deprecation = "Use branchConnection: cursors to page through a large branch.")]
    async fn branch(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective whose subtree is searched.")] under: ID,
        #[graphql(
            name = "where",
            default,
            desc = "Custom-field conditions, every one of which must hold."
        )]
        conditions: Vec<CustomFieldCondition>,
        #[graphql(default = 100, desc = "At most this many objectives (at most 500).")] first: i32,
    ) -> AppResult<Vec<Objective>> {
        let viewer = viewer(ctx)?;
        page_size("first", first, MAX_BRANCH)?;
        let conditions = field_conditions(conditions)?;
        let Some(root_path) = visible_tree_path(ctx, &under).await? else {
            return Ok(Vec::new());
        };
        let ids = stores(ctx)
            .trees
            .branch(viewer.tenant_id, &root_path, &conditions, i64::from(first))
            .await?;
        let found = load_many::<ObjectiveById, _>(ctx, ids.iter().copied()).await?;
        let objectives: Vec<_> = ids.iter().filter_map(|id| found.get(id).cloned()).collect();
        prime(ctx, ctx.look_ahead(), &objectives).await?;
        Ok(objectives.into_iter().map(Objective).collect())
    }

    /// The tenant's planning cycles, latest first (at most 100).
    async fn cycles(&self, ctx: &Context<'_>) -> AppResult<Vec<Cycle>> {
        let viewer = viewer(ctx)?;
        let rows = stores(ctx)
            .org
            .cycles(viewer.tenant_id, MAX_PAGE_SIZE as u64)
            .await?;
        Ok(rows.into_iter().map(Cycle).collect())
    }
}

/// The goal_trees path of objective `id` when it is one you can see.
async fn visible_tree_path(ctx: &Context<'_>, id: &ID) -> AppResult<Option<String>> {
    let Some(root) = GlobalId::decode_as(id, NodeKind::Objective) else {
        return Ok(None);
    };
    if load_one::<ObjectiveById, _>(ctx, root).await?.is_none() {
        return Ok(None);
    }
    Ok(stores(ctx)
        .trees
        .by_objectives(viewer(ctx)?.tenant_id, &[root])
        .await?
        .remove(&root)
        .map(|tree| tree.path))
}

async fn into_store_filter(
    ctx: &Context<'_>,
    tenant_id: i64,
    filter: ObjectiveFilter,
) -> AppResult<StoreFilter> {
    let team_id = decode_opt(filter.team_id.as_ref(), NodeKind::Team, "teamId")?;
    let team_ids = match team_id {
        Some(team) if filter.include_sub_teams => {
            Some(stores(ctx).org.team_subtree_ids(tenant_id, team).await?)
        }
        Some(team) => Some(vec![team]),
        None => None,
    };
    let text = filter
        .text
        .map(|text| optional_text("text", &text, 200))
        .transpose()?
        .filter(|text| !text.is_empty());
    Ok(StoreFilter {
        team_ids,
        cycle_id: decode_opt(filter.cycle_id.as_ref(), NodeKind::Cycle, "cycleId")?,
        owner_id: decode_opt(filter.owner_id.as_ref(), NodeKind::User, "ownerId")?,
        parent_id: decode_opt(filter.parent_id.as_ref(), NodeKind::Objective, "parentId")?,
        roots_only: filter.roots_only,
        statuses: filter
            .status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        text,
        include_archived: filter.include_archived,
    })
}

/// Custom-field conditions as (key, BSON value) pairs: keys must be identifiers, values
/// scalars (finite numbers), so nothing a client sends is ever read as a MongoDB operator.
pub(super) fn field_conditions(
    conditions: Vec<CustomFieldCondition>,
) -> AppResult<Vec<(String, mongodb::bson::Bson)>> {
    conditions
        .into_iter()
        .map(|c| {
            let value = match c.equals.0 {
                serde_json::Value::String(s) => mongodb::bson::Bson::String(s),
                serde_json::Value::Bool(b) => mongodb::bson::Bson::Boolean(b),
                serde_json::Value::Number(n) => n
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(mongodb::bson::Bson::Double)
                    .ok_or_else(|| AppError::bad_input("where", "numbers must be finite"))?,
                _ => {
                    return Err(AppError::bad_input(
                        "where",
                        "equals takes a string, number or boolean",
                    ));
                }
            };
            if !is_identifier(&c.key) {
                return Err(AppError::bad_input(
                    "where",
                    format!("{:?} is not a custom-field key", c.key),
                ));
            }
            Ok((c.key, value))
        })
        .collect()
}

/// What the `descendants` selected below this field read, when every selection of it asks
/// for the same valid depth and the same columns (aliases that differ, or an invalid depth,
/// are left to the loader and the field's own validation).
fn sole_descendants_read(ctx: &Context<'_>) -> Option<SubtreeRead> {
    let field = ctx.field();
    let mut reads = field
        .selection_set()
        .filter(|field| field.name() == "descendants")
        .map(|field| {
            let arguments = field.arguments().ok()?;
            let max_depth = match arguments
                .iter()
                .find(|(name, _)| name.as_str() == "maxDepth")
            {
                None => DEFAULT_TREE_DEPTH,
                Some((_, async_graphql::Value::Number(n))) => {
                    n.as_i64().and_then(|n| i32::try_from(n).ok())?
                }
                Some(_) => return None,
            };
            (1..=MAX_TREE_DEPTH)
                .contains(&max_depth)
                .then(|| subtree_read(ctx, field, max_depth))
        });
    let first = reads.next()??;
    reads.all(|read| read == Some(first)).then_some(first)
}

/// The count of a connection's items when the query selects its `totalCount`, else `None`
/// without running the statement.
async fn when_selected(
    ctx: &Context<'_>,
    count: impl std::future::Future<Output = crate::store::StoreResult<u64>>,
) -> crate::store::StoreResult<Option<u64>> {
    if ctx.look_ahead().field("totalCount").exists() {
        count.await.map(Some)
    } else {
        Ok(None)
    }
}

/// Hands an objective fetched together with part of its tree to the loaders its fields read
/// (`ObjectiveById`, and loader `T` under `key`); `None` when it is not visible.
async fn prefetched<T, K, V>(
    ctx: &Context<'_>,
    key: K,
    fetched: Option<(objective::Model, V)>,
) -> AppResult<Option<Objective>>
where
    T: Loader<K, Error = AppError>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    V: Into<T::Value>,
{
    let Some((objective, part)) = fetched else {
        return Ok(None);
    };
    loader::<ObjectiveById>(ctx)?
        .feed_one(objective.id, objective.clone())
        .await;
    loader::<T>(ctx)?.feed_one(key, part.into()).await;
    Ok(Some(Objective(objective)))
}
