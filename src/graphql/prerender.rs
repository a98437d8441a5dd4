//! Pre-rendered lists: a list of row-backed objects (`[TreeEntry!]!`, `[Objective!]!`,
//! `[KeyResult!]!`) whose selection reads only rows — plain fields, `__typename`, and the
//! relations `TreeEntry.objective`, `Objective.owner` and `Objective.keyResults` with plain
//! selections of their own — is written as JSON straight from the rows, in one pass, instead of
//! becoming a value per field in async-graphql's answer tree (an `IndexMap` per object, hashed
//! keys, then serialised and dropped). For an 11,111-objective subtree that tree was about half
//! of the server's CPU per request and a third of its memory above idle.
//!
//! The JSON travels inside the answer as a [`Value::Binary`] holding a header (the cost counts)
//! and the text ([`Writer::finish`] / [`decode`]); the HTTP handler's writer ([`write_response`])
//! puts the text in place (a large list as a piece of the body of its own, not copied), and the
//! cost settlement reads the counts from the header. Only requests carrying
//! [`PreRendering`] (set by the HTTP handler) are pre-rendered: WebSocket answers are serialised
//! by async-graphql and keep the value tree. Anything this module does not know — another field,
//! an argument, a directive, a key selected twice, a failing load — leaves the list to the
//! lean resolution ([`super::lean`]), so answers and errors stay what they were; the
//! differential test (`tests/api/lean.rs`) requires the same JSON written with the same bytes as
//! `--no-pre-rendered-lists` (up to the member order of async-graphql's own containers) and the
//! same JSON as `--plain-resolution`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::OnceLock;

use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{BatchResponse, ContextSelectionSet, Name, Positioned, Response, Value};
use axum::body::Bytes;
use ref_cast::RefCast;

use super::key_result::KeyResult;
use super::lean::{Plain, PlainFields, Resolution, fragment_applies};
use super::objective::{Objective, TreeEntry};
use super::org::User;
use crate::loaders::{KeyResultsOf, RequestLoader, SharedRows, UserById};
use crate::store::pg::entity::{key_result, objective, user};
use crate::store::pg::tree;

/// Request data: this request's answer is written by [`write_response`], so its lists may be
/// pre-rendered.
#[derive(Default)]
pub struct PreRendering {
    /// The fields whose response key is selected more than once on their object (their
    /// answers are merged item by item, as values), found once per request.
    merged: OnceLock<Vec<usize>>,
}

impl PreRendering {
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
enum Part<'a> {
    Typename,
    /// A field read from the row (checked when written: a field that is not plain stops the
    /// pre-rendering).
    Plain(&'a str),
    Relation(Relation, Plan<'a>),
}

/// One selected field of a plan.
struct PlanField<'a> {
    key: &'a Name,
    /// What precedes its answer in an object: `"key":`, after a comma unless it is the first
    /// (escaped once per list, not once per object).
    prefix: Vec<u8>,
    part: Part<'a>,
}

/// The fields an object of `kind` answers, in selection order, by response key.
struct Plan<'a> {
    kind: Kind,
    fields: Vec<PlanField<'a>>,
}

impl<'a> Plan<'a> {
    /// The plan of `set` on `kind`, or `None` when this module cannot write it.
    fn of(ctx: &ContextSelectionSet<'a>, set: &'a SelectionSet, kind: Kind) -> Option<Self> {
        let mut plan = Plan {
            kind,
            fields: Vec::new(),
        };
        plan.add(ctx, set)?;
        let mut keys: Vec<&str> = plan.fields.iter().map(|field| field.key.as_str()).collect();
        keys.sort_unstable();
        let distinct = keys.windows(2).all(|pair| pair[0] != pair[1]);
        (distinct && !plan.fields.is_empty()).then_some(plan)
    }

    /// Adds the fields of `set`, fragments expanded as the lean path expands them.
    fn add(&mut self, ctx: &ContextSelectionSet<'a>, set: &'a SelectionSet) -> Option<()> {
        for selection in &set.items {
            let (condition, inner) = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !field.directives.is_empty() || !field.arguments.is_empty() {
                        return None;
                    }
                    let name = field.name.node.as_str();
                    let key = &field.response_key().node;
                    let part = if name == "__typename" {
                        Part::Typename
                    } else if let Some(relation) = self.kind.relation(name) {
                        let inner = Plan::of(ctx, &field.selection_set.node, relation.target())?;
                        Part::Relation(relation, inner)
                    } else if field.selection_set.node.items.is_empty() {
                        Part::Plain(name)
                    } else {
                        return None;
                    };
                    let mut prefix = Vec::with_capacity(key.len() + 4);
                    if !self.fields.is_empty() {
                        prefix.push(b',');
                    }
                    serde_json::to_writer(&mut prefix, key.as_str()).ok()?;
                    prefix.push(b':');
                    self.fields.push(PlanField { key, prefix, part });
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
}

/// The related rows a plan reads, loaded before writing (looked up once per object written,
/// with a hash cheaper than the loaders' SipHash).
#[derive(Default)]
struct Related {
    owners: FastMap<i64, user::Model>,
    key_results: FastMap<i64, SharedRows<key_result::Model>>,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The list `rows` for the selection of `ctx`, pre-rendered, or `None` when it is left to the
/// lean path (see the module's comment).
pub async fn list<R: ListRow>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    rows: &[R],
) -> Option<Value> {
    let allowed = ctx
        .data_opt::<PreRendering>()
        .is_some_and(|pre| pre.allows(ctx, field));
    let resolution = ctx.data_opt::<Resolution>().copied().unwrap_or_default();
    if !allowed || resolution != Resolution::Lean {
        return None;
    }
    let plan = Plan::of(ctx, &ctx.item.node, R::KIND)?;
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
        let owners = objectives.iter().map(|objective| objective.owner_id);
        related.owners = loader.load_many(owners).await.ok()?.into_iter().collect();
    }
    if plan.follows(Relation::KeyResults) {
        let loader = ctx.data_opt::<RequestLoader<KeyResultsOf>>()?;
        let ids = objectives.iter().map(|objective| objective.id);
        related.key_results = loader.load_many(ids).await.ok()?.into_iter().collect();
    }
    let mut writer = Writer::new();
    writer.list(&plan, rows.iter().map(ListRow::row), rows.len(), &related)?;
    crate::store::metrics::record_pre_rendered_list();
    Some(writer.finish())
}

/// JSON written with the cost counts of [`super::cost::actual`]: every field of every object
/// counts 1, every list item 1 node.
struct Writer {
    out: Vec<u8>,
    cost: u64,
    nodes: u64,
}

/// Marks a [`Value::Binary`] holding pre-rendered JSON.
const MAGIC: &[u8; 8] = b"\0ggjson\0";
const HEADER: usize = MAGIC.len() + 16;

impl Writer {
    fn new() -> Self {
        let mut out = Vec::with_capacity(HEADER + 256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0; 16]);
        Self {
            out,
            cost: 0,
            nodes: 0,
        }
    }

    fn finish(mut self) -> Value {
        self.out[MAGIC.len()..MAGIC.len() + 8].copy_from_slice(&self.cost.to_le_bytes());
        self.out[MAGIC.len() + 8..HEADER].copy_from_slice(&self.nodes.to_le_bytes());
        Value::Binary(self.out.into())
    }

    fn list<'r>(
        &mut self,
        plan: &Plan<'_>,
        rows: impl Iterator<Item = Row<'r>>,
        len: usize,
        related: &Related,
    ) -> Option<()> {
        self.nodes += len as u64;
        let outermost = self.out.len() == HEADER;
        self.out.push(b'[');
        for (index, row) in rows.enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            let start = self.out.len();
            self.object(plan, row, related)?;
            if outermost && index == 0 {
                // Room for the rest at the first item's size and half as much again, so a
                // large answer is not copied by the buffer doubling on its way (later items
                // can be longer: deeper ids). Room never written to is address space, not
                // memory: its pages are never touched.
                let first = self.out.len() - start + 1;
                self.out.reserve(first.saturating_mul(len) / 2 * 3);
            }
        }
        self.out.push(b']');
        Some(())
    }

    fn object(&mut self, plan: &Plan<'_>, row: Row<'_>, related: &Related) -> Option<()> {
        self.cost += plan.fields.len() as u64;
        self.out.push(b'{');
        for field in &plan.fields {
            self.out.extend_from_slice(&field.prefix);
            match &field.part {
                Part::Typename => {
                    serde_json::to_writer(&mut self.out, plan.kind.type_name()).ok()?
                }
                Part::Plain(name) => row.plain(name)?.write_json(&mut self.out).ok()?,
                Part::Relation(relation, inner) => self.relation(*relation, inner, row, related)?,
            }
        }
        self.out.push(b'}');
        Some(())
    }

    fn relation(
        &mut self,
        relation: Relation,
        plan: &Plan<'_>,
        row: Row<'_>,
        related: &Related,
    ) -> Option<()> {
        match (relation, row) {
            (Relation::EntryObjective, Row::Entry(entry)) => {
                self.object(plan, Row::Objective(&entry.objective), related)
            }
            (Relation::Owner, Row::Objective(objective)) => {
                match related.owners.get(&objective.owner_id) {
                    Some(owner) => self.object(plan, Row::User(owner), related),
                    None => {
                        self.out.extend_from_slice(b"null");
                        Some(())
                    }
                }
            }
            (Relation::KeyResults, Row::Objective(objective)) => {
                let rows = related
                    .key_results
                    .get(&objective.id)
                    .map(|rows| rows.as_slice())
                    .unwrap_or_default();
                self.list(plan, rows.iter().map(Row::KeyResult), rows.len(), related)
            }
            _ => None,
        }
    }
}

/// The cost counts and the JSON text of a pre-rendered list, or `None` for other binary data.
pub fn decode(bytes: &[u8]) -> Option<(u64, u64, &[u8])> {
    if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let count = |at: usize| {
        let mut le = [0; 8];
        le.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(le)
    };
    Some((count(MAGIC.len()), count(MAGIC.len() + 8), &bytes[HEADER..]))
}

/// `response` as JSON, as `serde_json` writes async-graphql's responses, with pre-rendered
/// lists put in place: in pieces, each pre-rendered list of 64 KiB or more a piece of its own
/// sharing the list's buffer, so the largest part of a large answer is not copied again on its
/// way out.
pub fn write_response(response: &BatchResponse) -> std::io::Result<Vec<Bytes>> {
    let mut out = Pieces::default();
    match response {
        BatchResponse::Single(single) => write_single(&mut out, single)?,
        BatchResponse::Batch(all) => {
            out.push(b'[');
            for (index, single) in all.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_single(&mut out, single)?;
            }
            out.push(b']');
        }
    }
    Ok(out.finish())
}

/// An answer being written: the pieces so far and the text after the last of them.
#[derive(Default)]
struct Pieces {
    done: Vec<Bytes>,
    text: Vec<u8>,
}

impl Pieces {
    fn push(&mut self, byte: u8) {
        self.text.push(byte);
    }

    /// Puts `bytes` next: as a piece of its own (not copied) when it is large, else copied.
    fn splice(&mut self, bytes: Bytes) {
        /// Below this, a copy costs less than a write of its own.
        const PIECE_OF_ITS_OWN: usize = 64 * 1024;
        if bytes.len() < PIECE_OF_ITS_OWN {
            self.text.extend_from_slice(&bytes);
            return;
        }
        if !self.text.is_empty() {
            self.done.push(std::mem::take(&mut self.text).into());
        }
        self.done.push(bytes);
    }

    fn finish(mut self) -> Vec<Bytes> {
        if !self.text.is_empty() {
            self.done.push(self.text.into());
        }
        self.done
    }
}

impl std::io::Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `{"data":…,"extensions":…,"errors":…}`, the last two when not empty (async-graphql's order).
fn write_single(out: &mut Pieces, response: &Response) -> std::io::Result<()> {
    out.write_all(b"{\"data\":")?;
    write_value(out, &response.data)?;
    if !response.extensions.is_empty() {
        out.write_all(b",\"extensions\":")?;
        serde_json::to_writer(&mut *out, &response.extensions as &BTreeMap<String, Value>)?;
    }
    if !response.errors.is_empty() {
        out.write_all(b",\"errors\":")?;
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Pieces, value: &Value) -> std::io::Result<()> {
    match value {
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            for (index, (key, item)) in object.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key.as_str())?;
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        Value::Binary(bytes) => match decode(bytes) {
            Some(_) => out.splice(bytes.slice(HEADER..)),
            None => serde_json::to_writer(&mut *out, value)?,
        },
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}
