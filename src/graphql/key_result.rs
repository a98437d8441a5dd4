//! The `KeyResult` and `CheckIn` types.

use super::connection::{CheckInConnection, PageRequest, page_size};
use super::scalars::Timestamp;
use async_graphql::{Context, ID, Object};
use ref_cast::RefCast;

use super::context::{encode_id, load_one};
use super::documents::GoalUpdate;
use super::enums::KeyResultKind;
use super::lean::{Plain, PlainFields, enum_name, lean_output, value};
use super::objective::Objective;
use super::org::User;
use crate::domain::global_id::NodeKind;
use crate::error::AppResult;
use crate::loaders::{
    CheckInPagesOf, CheckInsKey, CheckInsOf, LatestUpdateOfKeyResult, ObjectiveById, UserById,
};
use crate::store::pg::entity::{check_in, key_result};

/// The most check-ins one `checkIns` field returns.
pub const MAX_CHECK_INS: i32 = 500;

/// A measurable result of an objective.
#[derive(Clone, RefCast)]
#[repr(transparent)]
pub struct KeyResult(pub key_result::Model);

lean_output!(KeyResult => KeyResultFields);

impl KeyResult {
    /// The global ID, as the `Node` interface asks for it.
    pub async fn id(&self, _ctx: &Context<'_>) -> async_graphql::Result<ID> {
        Ok(encode_id(NodeKind::KeyResult, self.0.id))
    }
}

impl PlainFields for KeyResult {
    fn plain_field(&self, name: &str) -> Option<Plain<'_>> {
        let row = &self.0;
        Some(match name {
            "id" => Plain::Id(NodeKind::KeyResult, row.id),
            "title" => Plain::Text(&row.title),
            "kind" => Plain::Enum(enum_name(KeyResultKind::from(row.kind))),
            "startValue" => Plain::Float(row.start_value),
            "targetValue" => Plain::Float(row.target_value),
            "currentValue" => Plain::Value(value(&row.current_value)),
            "weight" => Plain::Float(row.weight),
            "confidence" => Plain::Value(value(&row.confidence)),
            "progress" => Plain::Float(row.progress),
            "updatedAt" => Plain::Value(value(&Timestamp(row.updated_at))),
            _ => return None,
        })
    }
}

/// The resolvers of [`KeyResult`] (the row, seen as the GraphQL type).
#[derive(RefCast)]
#[repr(transparent)]
pub struct KeyResultFields(key_result::Model);

/// A measurable result of an objective.
#[Object(name = "KeyResult")]
impl KeyResultFields {
    /// The global ID.
    async fn id(&self) -> ID {
        encode_id(NodeKind::KeyResult, self.0.id)
    }

    /// What is measured.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// How it is measured.
    async fn kind(&self) -> AppResult<KeyResultKind> {
        Ok(self.0.kind.into())
    }

    /// The value at the start of the period.
    async fn start_value(&self) -> f64 {
        self.0.start_value
    }

    /// The value aimed for (may be below the start, for reductions).
    async fn target_value(&self) -> f64 {
        self.0.target_value
    }

    /// The latest checked-in value; null before the first check-in.
    async fn current_value(&self) -> Option<f64> {
        self.0.current_value
    }

    /// Its weight in the objective's roll-up (> 0).
    async fn weight(&self) -> f64 {
        self.0.weight
    }

    /// The latest confidence of reaching the target, 0..1.
    async fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }

    /// Progress in 0..1: (current − start) / (target − start), clamped.
    async fn progress(&self) -> f64 {
        self.0.progress
    }

    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }

    /// The objective it measures.
    async fn objective(&self, ctx: &Context<'_>) -> AppResult<Option<Objective>> {
        Ok(load_one::<ObjectiveById, _>(ctx, self.0.objective_id)
            .await?
            .map(Objective))
    }

    /// Who reports on it.
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let Some(owner_id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(load_one::<UserById, _>(ctx, owner_id).await?.map(User))
    }

    /// The newest progress note about this key result.
    async fn latest_update(&self, ctx: &Context<'_>) -> AppResult<Option<GoalUpdate>> {
        Ok(load_one::<LatestUpdateOfKeyResult, _>(ctx, self.0.id)
            .await?
            .flatten()
            .map(GoalUpdate))
    }

    /// The check-ins, newest first, a page at a time (`first: 5` is the latest five).
    async fn check_ins_connection(
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
    ) -> AppResult<CheckInConnection> {
        let request = PageRequest::standard(first, after, last, before)?;
        let page = request
            .load_page::<CheckInPagesOf, _, _>(
                ctx,
                self.0.id,
                |check_in| (check_in.created_at, check_in.id),
                CheckIn,
            )
            .await?;
        Ok(CheckInConnection(page))
    }

    /// The latest check-ins, newest first.
    #[graphql(deprecation = "Use checkInsConnection: cursors to page through the whole history.")]
    async fn check_ins(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many of the latest check-ins (at most 500).")]
        last: i32,
    ) -> AppResult<Vec<CheckIn>> {
        page_size("last", last, MAX_CHECK_INS)?;
        let key = CheckInsKey {
            key_result_id: self.0.id,
            limit: i64::from(last),
        };
        Ok(load_one::<CheckInsOf, _>(ctx, key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(CheckIn)
            .collect())
    }
}

/// One reported value of a key result.
#[derive(Clone)]
pub struct CheckIn(pub check_in::Model);

/// One reported value of a key result.
#[Object]
impl CheckIn {
    /// The global ID.
    pub async fn id(&self) -> ID {
        encode_id(NodeKind::CheckIn, self.0.id)
    }

    /// The reported value.
    async fn value(&self) -> f64 {
        self.0.value
    }

    /// The reported confidence, 0..1.
    async fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }

    /// When it was reported.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }

    /// Who reported it.
    async fn author(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        Ok(load_one::<UserById, _>(ctx, self.0.author_id)
            .await?
            .map(User))
    }
}
