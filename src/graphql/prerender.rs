//! Pre-rendered lists: a list of row-backed objects (`[TreeEntry!]!`, `[Objective!]!`,
//! `[KeyResult!]!`) whose selection reads only rows — plain fields, `__typename`, and the
//! relations `TreeEntry.objective`, `Objective.owner` and `Objective.keyResults` with plain
//! selections of their own — is written as JSON straight from the rows, in one pass, instead of
//! becoming a value per field in async-graphql's answer tree (an `IndexMap` per object, hashed
//! keys, then serialised and dropped). For an 11,111-objective subtree that tree was about half
//! of the server's CPU per request and a third of its memory above idle.
//!
//! The answer holds a [`Value::Binary`] with a [`Header`]: the list's cost counts, which the
//! cost settlement reads, and its place among the request's [`PendingLists`], which hold the
//! plan, the rows and their related rows. The JSON is written when the HTTP handler writes the
//! answer ([`body::write_response`]): a short list in place, a long one a piece at a time while
//! the body is sent, so a large answer is never in memory whole next to its rows. Only requests
//! carrying [`PreRendering`] (set by the HTTP handler) are pre-rendered: WebSocket answers are
//! serialised by async-graphql and keep the value tree. Anything this module does not know —
//! another field, an argument, a directive, a key selected twice, a failing load — leaves the
//! list to the lean resolution ([`super::lean`]), so answers and errors stay what they were;
//! the differential test (`tests/api/lean.rs`) requires the same JSON written with the same
//! bytes as `--no-pre-rendered-lists` (up to the member order of async-graphql's own
//! containers) and the same JSON as `--plain-resolution`.

pub mod body;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{ContextSelectionSet, Name, Positioned, Value};
use axum::body::Bytes;
use ref_cast::RefCast;

use super::context::distinct;
use super::key_result::KeyResult;
use super::lean::{Plain, PlainFields, Resolution, fragment_applies};
use super::objective::{Objective, TreeEntry};
use super::org::User;
use crate::loaders::{KeyResultsOf, RequestLoader, SharedRows, UserById};
use crate::store::pg::entity::{key_result, objective, user};
use crate::store::pg::tree;

/// Request data: this request's answer is written by [`body::write_response`], so its lists
/// may be pre-rendered, kept in `lists` until then.
pub struct PreRendering {
    /// The fields whose response key is selected more than once on their object (their
    /// answers are merged item by item, as values), found once per request.
    merged: OnceLock<Vec<usize>>,
    lists: Arc<PendingLists>,
}

impl PreRendering {
    /// Pre-rendering for a request whose answer is written with `lists`.
    pub fn new(lists: Arc<PendingLists>) -> Self {
        Self {
            merged: OnceLock::new(),
            lists,
        }
    }

    fn allows(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> bool {
        let merged = self.merged.get_or_init(|| {
            let mut merged = Vec::new();
            let fragments = &ctx.query_env.fragments;
            let operation = &ctx.query_env.operation.node.selection_set.node;
            find_merged(operation, fragments, &mut merged, false);
            merged
        });
        !merged.contains(&field_address(field))
    }
}

fn field_address(field: &Positioned<Field>) -> usize {
    std::ptr::from_ref(field) as usize
}

/// Adds to `merged` every field of `set` (and of the sets below it) whose response key is
/// selected more than once in its set, and every field below such a field (their answers are
/// merged with each other's); fragments are expanded whatever their type condition, so this
/// errs towards leaving lists to the lean path.
fn find_merged(
    set: &SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    merged: &mut Vec<usize>,
    below_merged: bool,
) {
    let mut fields = Vec::new();
    flatten(set, fragments, &mut fields, 0);
    for (index, field) in fields.iter().enumerate() {
        let key = &field.node.response_key().node;
        let repeated = below_merged
            || fields.iter().enumerate().any(|(other, candidate)| {
                other != index && candidate.node.response_key().node == *key
            });
        if repeated {
            merged.push(field_address(field));
        }
        find_merged(&field.node.selection_set.node, fragments, merged, repeated);
    }
}

/// The fields of `set`, its fragments' included (fragment cycles are refused by validation;
/// `depth` stops a runaway anyway).
fn flatten<'a>(
    set: &'a SelectionSet,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    fields: &mut Vec<&'a Positioned<Field>>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => fields.push(field),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                    flatten(
                        &fragment.node.selection_set.node,
                        fragments,
                        fields,
                        depth + 1,
                    );
                }
            }
            Selection::InlineFragment(fragment) => flatten(
                &fragment.node.selection_set.node,
                fragments,
                fields,
                depth + 1,
            ),
        }
    }
}

/// The object types a pre-rendered list holds, directly or through a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TreeEntry,
    Objective,
    KeyResult,
    User,
}

impl Kind {
    /// Its GraphQL name (what `__typename` answers).
    fn type_name(self) -> &'static str {
        match self {
            Kind::TreeEntry => "TreeEntry",
            Kind::Objective => "Objective",
            Kind::KeyResult => "KeyResult",
            Kind::User => "User",
        }
    }

    /// The relation `name` of this type, when it can be written from rows the request holds.
    fn relation(self, name: &str) -> Option<Relation> {
        match (self, name) {
            (Kind::TreeEntry, "objective") => Some(Relation::EntryObjective),
            (Kind::Objective, "owner") => Some(Relation::Owner),
            (Kind::Objective, "keyResults") => Some(Relation::KeyResults),
            _ => None,
        }
    }
}

/// The relations a pre-rendered object can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// `TreeEntry.objective`: the objective in the entry's row.
    EntryObjective,
    /// `Objective.owner`, through the request's `UserById` loader.
    Owner,
    /// `Objective.keyResults`, through the request's `KeyResultsOf` loader.
    KeyResults,
}

impl Relation {
    /// The type the relation leads to.
    fn target(self) -> Kind {
        match self {
            Relation::EntryObjective => Kind::Objective,
            Relation::Owner => Kind::User,
            Relation::KeyResults => Kind::KeyResult,
        }
    }
}

/// A row of one of the [`Kind`]s.
#[derive(Clone, Copy)]
pub enum Row<'r> {
    Entry(&'r tree::TreeEntry),
    Objective(&'r objective::Model),
    KeyResult(&'r key_result::Model),
    User(&'r user::Model),
}

impl<'r> Row<'r> {
    /// Field `name` when it reads only the row (what the lean path answers for it).
    fn plain(self, name: &str) -> Option<Plain<'r>> {
        match self {
            Row::Entry(row) => TreeEntry::ref_cast(row).plain_field(name),
            Row::Objective(row) => Objective::ref_cast(row).plain_field(name),
            Row::KeyResult(row) => KeyResult::ref_cast(row).plain_field(name),
            Row::User(row) => User::ref_cast(row).plain_field(name),
        }
    }
}

/// A row type that lists are made of.
pub trait ListRow: Sync {
    /// The GraphQL type of the list's items.
    const KIND: Kind;
    /// This row as a [`Row`].
    fn row(&self) -> Row<'_>;
}

impl ListRow for tree::TreeEntry {
    const KIND: Kind = Kind::TreeEntry;
    fn row(&self) -> Row<'_> {
        Row::Entry(self)
    }
}

impl ListRow for objective::Model {
    const KIND: Kind = Kind::Objective;
    fn row(&self) -> Row<'_> {
        Row::Objective(self)
    }
}

impl ListRow for key_result::Model {
    const KIND: Kind = Kind::KeyResult;
    fn row(&self) -> Row<'_> {
        Row::KeyResult(self)
    }
}

/// What one selected field writes.
enum Part {
    Typename,
    /// A field read from the row (checked on the first row the plan meets: a field that is
    /// not plain stops the pre-rendering).
    Plain(Name),
    Relation(Relation, Plan),
}

/// One selected field of a plan.
struct PlanField {
    key: Name,
    /// What precedes its answer in an object: `"key":`, after a comma unless it is the first
    /// (escaped once per list, not once per object).
    prefix: Vec<u8>,
    part: Part,
}

/// The fields an object of `kind` answers, in selection order, by response key. It owns what
/// it takes from the query (names are shared), so that the list can be written after the
/// execution, while the answer is sent.
struct Plan {
    kind: Kind,
    fields: Vec<PlanField>,
    /// Whether its plain fields were found plain on a row ([`Plan::count_object`]; every row
    /// of a kind answers the same fields).
    checked: bool,
}

impl Plan {
    /// The plan of `set` on `kind`, or `None` when this module cannot write it.
    fn of(ctx: &ContextSelectionSet<'_>, set: &SelectionSet, kind: Kind) -> Option<Self> {
        let mut plan = Plan {
            kind,
            fields: Vec::new(),
            checked: false,
        };
        plan.add(ctx, set)?;
        let mut keys: Vec<&str> = plan.fields.iter().map(|field| field.key.as_str()).collect();
        keys.sort_unstable();
        let distinct = keys.windows(2).all(|pair| pair[0] != pair[1]);
        (distinct && !plan.fields.is_empty()).then_some(plan)
    }

    /// Adds the fields of `set`, fragments expanded as the lean path expands them.
    fn add(&mut self, ctx: &ContextSelectionSet<'_>, set: &SelectionSet) -> Option<()> {
        for selection in &set.items {
            let (condition, inner) = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !field.directives.is_empty() || !field.arguments.is_empty() {
                        return None;
                    }
                    let name = &field.name.node;
                    let key = &field.response_key().node;
                    let part = if name == "__typename" {
                        Part::Typename
                    } else if let Some(relation) = self.kind.relation(name) {
                        let inner = Plan::of(ctx, &field.selection_set.node, relation.target())?;
                        Part::Relation(relation, inner)
                    } else if field.selection_set.node.items.is_empty() {
                        Part::Plain(name.clone())
                    } else {
                        return None;
                    };
                    let mut prefix = Vec::with_capacity(key.len() + 4);
                    if !self.fields.is_empty() {
                        prefix.push(b',');
                    }
                    serde_json::to_writer(&mut prefix, key.as_str()).ok()?;
                    prefix.push(b':');
                    self.fields.push(PlanField {
                        key: key.clone(),
                        prefix,
                        part,
                    });
                    continue;
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = ctx
                        .query_env
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    (
                        Some(fragment.node.type_condition.node.on.node.as_str()),
                        &fragment.node.selection_set.node,
                    )
                }
                Selection::InlineFragment(fragment) => (
                    fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map(|condition| condition.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                ),
            };
            if !selection.node.directives().is_empty() {
                return None;
            }
            if fragment_applies(ctx, self.kind.type_name(), condition) {
                self.add(ctx, inner)?;
            }
        }
        Some(())
    }

    /// Whether this plan, or one below it, follows `relation`.
    fn follows(&self, relation: Relation) -> bool {
        self.fields.iter().any(|field| match &field.part {
            Part::Relation(followed, inner) => *followed == relation || inner.follows(relation),
            _ => false,
        })
    }

    /// Adds to `counts` what the list of `rows` answers, checking on the first object of each
    /// plan that its plain fields are plain (so that writing them cannot fail later).
    fn count_list<'r>(
        &mut self,
        rows: impl Iterator<Item = Row<'r>>,
        len: usize,
        related: &'r Related,
        counts: &mut Counts,
    ) -> Option<()> {
        counts.nodes += len as u64;
        for row in rows {
            self.count_object(row, related, counts)?;
        }
        Some(())
    }

    fn count_object<'r>(
        &mut self,
        row: Row<'r>,
        related: &'r Related,
        counts: &mut Counts,
    ) -> Option<()> {
        if !self.checked {
            for field in &self.fields {
                if let Part::Plain(name) = &field.part {
                    row.plain(name)?;
                }
            }
            self.checked = true;
        }
        counts.cost += self.fields.len() as u64;
        for field in &mut self.fields {
            if let Part::Relation(relation, inner) = &mut field.part {
                match related.follow(*relation, row)? {
                    Followed::Null => {}
                    Followed::Object(target) => inner.count_object(target, related, counts)?,
                    Followed::KeyResults(rows) => {
                        let items = rows.iter().map(Row::KeyResult);
                        inner.count_list(items, rows.len(), related, counts)?;
                    }
                }
            }
        }
        Some(())
    }

    /// Appends the object of `row` to `out` as JSON.
    fn write_object(&self, out: &mut Vec<u8>, row: Row<'_>, related: &Related) -> Option<()> {
        out.push(b'{');
        for field in &self.fields {
            out.extend_from_slice(&field.prefix);
            match &field.part {
                Part::Typename => serde_json::to_writer(&mut *out, self.kind.type_name()).ok()?,
                Part::Plain(name) => row.plain(name)?.write_json(out).ok()?,
                Part::Relation(relation, inner) => match related.follow(*relation, row)? {
                    Followed::Null => out.extend_from_slice(b"null"),
                    Followed::Object(target) => inner.write_object(out, target, related)?,
                    Followed::KeyResults(rows) => {
                        out.push(b'[');
                        for (index, row) in rows.iter().enumerate() {
                            if index > 0 {
                                out.push(b',');
                            }
                            inner.write_object(out, Row::KeyResult(row), related)?;
                        }
                        out.push(b']');
                    }
                },
            }
        }
        out.push(b'}');
        Some(())
    }
}

/// What [`super::cost::actual`] counts for an answer: 1 for every field of every object, 1
/// node for every list item.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub cost: u64,
    pub nodes: u64,
}

/// Where a relation leads from one row.
enum Followed<'r> {
    /// To nothing (an owner the loader did not find).
    Null,
    /// To one row.
    Object(Row<'r>),
    /// To a list of key results (the only list relation).
    KeyResults(&'r [key_result::Model]),
}

/// The related rows a plan reads, loaded before writing (looked up once per object written,
/// with a hash cheaper than the loaders' SipHash).
#[derive(Default)]
struct Related {
    owners: FastMap<i64, user::Model>,
    key_results: FastMap<i64, SharedRows<key_result::Model>>,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl Related {
    /// Where `relation` leads from `row`, or `None` when it does not start at such a row.
    fn follow<'r>(&'r self, relation: Relation, row: Row<'r>) -> Option<Followed<'r>> {
        Some(match (relation, row) {
            (Relation::EntryObjective, Row::Entry(entry)) => {
                Followed::Object(Row::Objective(&entry.objective))
            }
            (Relation::Owner, Row::Objective(objective)) => {
                match self.owners.get(&objective.owner_id) {
                    Some(owner) => Followed::Object(Row::User(owner)),
                    None => Followed::Null,
                }
            }
            (Relation::KeyResults, Row::Objective(objective)) => Followed::KeyResults(
                self.key_results
                    .get(&objective.id)
                    .map(|rows| rows.as_slice())
                    .unwrap_or_default(),
            ),
            _ => return None,
        })
    }
}

/// The list `rows` for the selection of `ctx`, pre-rendered, or `None` when it is left to the
/// lean path (see the module's comment). The answer holds the list's cost counts and its
/// place among the request's [`PendingLists`]; the JSON is written when the answer is sent.
pub async fn list<R: ListRow + Send + 'static>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    rows: &SharedRows<R>,
) -> Option<Value> {
    let pre = ctx.data_opt::<PreRendering>()?;
    let resolution = ctx.data_opt::<Resolution>().copied().unwrap_or_default();
    if !pre.allows(ctx, field) || resolution != Resolution::Lean {
        return None;
    }
    let mut plan = Plan::of(ctx, &ctx.item.node, R::KIND)?;
    let objectives: Vec<&objective::Model> = rows
        .iter()
        .filter_map(|row| match row.row() {
            Row::Entry(entry) => Some(&entry.objective),
            Row::Objective(objective) => Some(objective),
            _ => None,
        })
        .collect();
    let mut related = Related::default();
    if plan.follows(Relation::Owner) {
        let loader = ctx.data_opt::<RequestLoader<UserById>>()?;
        let owners = distinct(objectives.iter().map(|objective| objective.owner_id));
        related.owners = loader.load_many(owners).await.ok()?.into_iter().collect();
    }
    if plan.follows(Relation::KeyResults) {
        let loader = ctx.data_opt::<RequestLoader<KeyResultsOf>>()?;
        let ids = objectives.iter().map(|objective| objective.id);
        related.key_results = loader.load_many(ids).await.ok()?.into_iter().collect();
    }
    let mut counts = Counts::default();
    let items = rows.iter().map(ListRow::row);
    plan.count_list(items, rows.len(), &related, &mut counts)?;
    let place = pre.lists.push(PendingList {
        plan,
        rows: Box::new(Arc::clone(rows)),
        related,
    });
    crate::store::metrics::record_pre_rendered_list();
    Some(Header { counts, place }.encode())
}

/// The rows of a pending list, whatever their kind.
trait ListRows: Send + Sync {
    fn len(&self) -> usize;
    fn row(&self, index: usize) -> Row<'_>;
}

impl<R: ListRow + Send> ListRows for SharedRows<R> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn row(&self, index: usize) -> Row<'_> {
        self[index].row()
    }
}

/// A pre-rendered list planned, counted and checked, its JSON not yet written: it holds the
/// rows (shared with the request's loaders while they live) instead of their text, so a large
/// list is never in memory twice.
pub struct PendingList {
    plan: Plan,
    rows: Box<dyn ListRows>,
    related: Related,
}

impl PendingList {
    /// The list's JSON in pieces of about [`ListChunks::SIZE`] bytes, each written when it is
    /// asked for.
    pub fn into_chunks(self) -> ListChunks {
        ListChunks {
            list: self,
            next: 0,
            done: false,
        }
    }
}

/// The pre-rendered lists of one HTTP request's answer (all of a batch's), shared by the
/// requests' [`PreRendering`] and the handler that writes the answer.
#[derive(Default)]
pub struct PendingLists(Mutex<Vec<Option<PendingList>>>);

impl PendingLists {
    /// Keeps `list`, answering its place.
    fn push(&self, list: PendingList) -> u64 {
        let mut lists = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lists.push(Some(list));
        lists.len() as u64 - 1
    }

    /// The list at `place`, once.
    pub fn take(&self, place: u64) -> Option<PendingList> {
        let mut lists = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lists.get_mut(usize::try_from(place).ok()?)?.take()
    }
}

/// A pending list's JSON, a piece at a time: `[`, whole objects until the piece holds
/// [`Self::SIZE`] bytes or more, and `]` after the last.
pub struct ListChunks {
    list: PendingList,
    next: usize,
    done: bool,
}

impl ListChunks {
    /// The size a piece is written up to (it ends with the object that reaches it).
    pub const SIZE: usize = 64 * 1024;

    /// Whether every piece has been written.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Iterator for ListChunks {
    type Item = std::io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let ListChunks { list, next, done } = self;
        let len = list.rows.len();
        let mut out = Vec::with_capacity(Self::SIZE + Self::SIZE / 4);
        if *next == 0 {
            out.push(b'[');
        }
        while *next < len && out.len() < Self::SIZE {
            if *next > 0 {
                out.push(b',');
            }
            let row = list.rows.row(*next);
            if list
                .plan
                .write_object(&mut out, row, &list.related)
                .is_none()
            {
                // Not expected: counting checked every field this writes.
                *done = true;
                return Some(Err(std::io::Error::other("a pre-rendered list failed")));
            }
            *next += 1;
        }
        if *next == len {
            out.push(b']');
            *done = true;
        }
        Some(Ok(out.into()))
    }
}

/// What a pre-rendered list's [`Value::Binary`] holds: its cost counts and its place among
/// the request's [`PendingLists`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub counts: Counts,
    pub place: u64,
}

/// Marks a [`Value::Binary`] holding a [`Header`].
const MAGIC: &[u8; 8] = b"\0gglist\0";

impl Header {
    fn encode(self) -> Value {
        let mut bytes = Vec::with_capacity(MAGIC.len() + 24);
        bytes.extend_from_slice(MAGIC);
        for number in [self.counts.cost, self.counts.nodes, self.place] {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        Value::Binary(bytes.into())
    }

    /// The header `bytes` hold, or `None` for other binary data.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let numbers = bytes.strip_prefix(MAGIC.as_slice())?;
        if numbers.len() != 24 {
            return None;
        }
        let number = |at: usize| {
            let mut le = [0; 8];
            le.copy_from_slice(&numbers[at..at + 8]);
            u64::from_le_bytes(le)
        };
        Some(Header {
            counts: Counts {
                cost: number(0),
                nodes: number(8),
            },
            place: number(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written_and_other_binary_data_is_not_a_header() {
        let header = Header {
            counts: Counts {
                cost: 55_556,
                nodes: 11_110,
            },
            place: 3,
        };
        let Value::Binary(bytes) = header.encode() else {
            panic!("binary");
        };
        assert_eq!(Header::decode(&bytes), Some(header));
        assert_eq!(Header::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Header::decode(b"\0gglist\0 but not numbers"), None);
        assert_eq!(Header::decode(b"plain bytes of a scalar's own"), None);
    }
}
