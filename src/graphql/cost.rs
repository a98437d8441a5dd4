//! What a request costs, before it runs and once answered. Every field counts 1 for each object
//! it is selected on; lists multiply what is selected inside them by how many items they hold.
//! Tree fields (`children`, `descendants`, `childrenConnection`) below an objective named by
//! the request are estimated from that objective's stored subtree sizes; pages by their size;
//! other lists by [`LIST_ESTIMATE`]. The estimate also bounds how many objects (list items) a
//! request may return: [`MAX_NODES`].

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection,
    SelectionSet, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value, Variables};

use crate::domain::global_id::{GlobalId, NodeKind};
use crate::store::pg::subtree_sizes::SubtreeSize;

/// The most objects (list items) one request may return, GitHub's limit.
pub const MAX_NODES: u64 = 500_000;
/// Items of a list with no page size and no stored size to go by.
pub const LIST_ESTIMATE: u64 = 10;
/// The fields whose length a stored subtree size tells.
const TREE_FIELDS: [&str; 3] = ["children", "childrenConnection", "descendants"];
/// Items of a page whose size the request does not give.
pub const DEFAULT_PAGE: u64 = 20;

/// The shape of one field of the schema, as cost needs it.
#[derive(Debug, Clone)]
struct FieldShape {
    /// The named type it returns (inside any list and non-null wrappers).
    ty: String,
    list: bool,
}

/// Every field of every object and interface type of the schema.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    fields: HashMap<(String, String), FieldShape>,
}

impl CostModel {
    /// The model of the schema whose SDL is `sdl`.
    pub fn from_sdl(sdl: &str) -> Self {
        let mut fields = HashMap::new();
        let Ok(ServiceDocument { definitions }) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        for definition in definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let type_name = definition.node.name.node.to_string();
            let defined = match &definition.node.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => continue,
            };
            for field in defined {
                let (ty, list) = named(&field.node.ty.node);
                fields.insert(
                    (type_name.clone(), field.node.name.node.to_string()),
                    FieldShape { ty, list },
                );
            }
        }
        Self { fields }
    }

    fn field(&self, type_name: &str, field: &str) -> Option<&FieldShape> {
        self.fields.get(&(type_name.to_owned(), field.to_owned()))
    }
}

fn named(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(name) => (name.to_string(), false),
        BaseType::List(inner) => (named(inner).0, true),
    }
}

/// What a request is estimated to cost and return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Fields times the objects they are selected on.
    pub cost: u64,
    /// List items (objects and values in lists).
    pub nodes: u64,
}

/// The operation `document` runs for `operation_name`.
fn operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The objectives whose stored sizes the estimate of this request reads: those named by the
/// `id` of a root `objective` or `node` field that selects a tree field below them.
pub fn sized_roots(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Vec<i64> {
    let Some(operation) = operation(document, operation_name) else {
        return Vec::new();
    };
    let (model, sizes) = (CostModel::default(), HashMap::new());
    let walk = Walk::new(&model, document, variables, &sizes);
    let mut roots = Vec::new();
    walk.each_field(&operation.selection_set.node, &mut |field| {
        if matches!(field.name.node.as_str(), "objective" | "node")
            && let Some(id) = walk.objective_argument(field, "id")
            && walk.selects_tree(&field.selection_set.node)
        {
            roots.push(id);
        }
    });
    roots
}

/// The estimate of running `document`'s operation with `variables`, given the stored sizes of
/// the objectives [`sized_roots`] named.
pub fn estimate(
    model: &CostModel,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    sizes: &HashMap<i64, SubtreeSize>,
) -> Estimate {
    let Some(operation) = operation(document, operation_name) else {
        return Estimate::default();
    };
    let root = match operation.ty {
        async_graphql::parser::types::OperationType::Query => "Query",
        async_graphql::parser::types::OperationType::Mutation => "Mutation",
        async_graphql::parser::types::OperationType::Subscription => "Subscription",
    };
    let walk = Walk::new(model, document, variables, sizes);
    let mut estimate = Estimate::default();
    walk.selection(&operation.selection_set.node, root, 1, None, &mut estimate);
    estimate
}

/// The objectives a selection is on, when they sit at a known depth below an objective whose
/// stored sizes are known.
#[derive(Debug, Clone, Copy)]
struct TreeScope {
    root: SubtreeSize,
    depth: u32,
}

impl TreeScope {
    /// Objectives `levels` levels below the scope's (at most all of the root's subtree).
    fn below(&self, levels: u32) -> u64 {
        let children = self.root.child_count.max(0) as u64;
        let all = self.root.descendant_count.max(0) as u64;
        let mut total: u64 = 0;
        let mut level: u64 = 1;
        for _ in 0..self.depth {
            level = level.saturating_mul(children.max(1));
        }
        for _ in 0..levels {
            level = level.saturating_mul(children);
            total = total.saturating_add(level.min(all));
        }
        total.min(all)
    }
}

struct Walk<'a> {
    model: &'a CostModel,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    sizes: &'a HashMap<i64, SubtreeSize>,
    /// The fragments being walked (documents are priced before validation, so a fragment may
    /// spread itself: it is then walked once).
    spreading: std::cell::RefCell<Vec<Name>>,
}

impl<'a> Walk<'a> {
    fn new(
        model: &'a CostModel,
        document: &'a ExecutableDocument,
        variables: &'a Variables,
        sizes: &'a HashMap<i64, SubtreeSize>,
    ) -> Self {
        Self {
            model,
            document,
            variables,
            sizes,
            spreading: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Runs `walk` on the fragment `name` spreads, unless it is already being walked.
    fn spread(
        &self,
        name: &Name,
        walk: impl FnOnce(&'a async_graphql::parser::types::FragmentDefinition),
    ) {
        let Some(fragment) = self.document.fragments.get(name) else {
            return;
        };
        if self.spreading.borrow().contains(name) {
            return;
        }
        self.spreading.borrow_mut().push(name.clone());
        walk(&fragment.node);
        self.spreading.borrow_mut().pop();
    }
    /// Adds the cost of `set`, selected on `count` objects of type `on`.
    fn selection(
        &self,
        set: &SelectionSet,
        on: &str,
        count: u64,
        scope: Option<TreeScope>,
        estimate: &mut Estimate,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) if self.included(&field.node.directives) => {
                    self.field(&field.node, on, count, scope, estimate);
                }
                Selection::Field(_) => {}
                Selection::InlineFragment(fragment) => {
                    if self.included(&fragment.node.directives) {
                        let on = fragment
                            .node
                            .type_condition
                            .as_ref()
                            .map_or(on, |condition| condition.node.on.node.as_str());
                        self.selection(
                            &fragment.node.selection_set.node,
                            on,
                            count,
                            scope,
                            estimate,
                        );
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if self.included(&spread.node.directives) {
                        self.spread(&spread.node.fragment_name.node, |fragment| {
                            let on = fragment.type_condition.node.on.node.as_str();
                            self.selection(
                                &fragment.selection_set.node,
                                on,
                                count,
                                scope,
                                estimate,
                            );
                        });
                    }
                }
            }
        }
    }

    fn field(
        &self,
        field: &Field,
        on: &str,
        count: u64,
        scope: Option<TreeScope>,
        estimate: &mut Estimate,
    ) {
        estimate.cost = estimate.cost.saturating_add(count);
        let name = field.name.node.as_str();
        let Some(shape) = self.model.field(on, name) else {
            return;
        };
        if field.selection_set.node.items.is_empty() && !shape.list {
            return;
        }
        let (items, inner_scope) = self.items(field, on, &shape.ty, shape.list, count, scope);
        if shape.list || shape.ty.ends_with("Connection") {
            estimate.nodes = estimate.nodes.saturating_add(items);
        }
        // A connection object per parent; its edges and nodes are the page's items.
        if shape.ty.ends_with("Connection") {
            self.connection(
                &field.selection_set.node,
                &shape.ty,
                count,
                items,
                inner_scope,
                estimate,
            );
        } else {
            self.selection(
                &field.selection_set.node,
                &shape.ty,
                items,
                inner_scope,
                estimate,
            );
        }
    }

    /// Adds the cost of a connection's selection: `count` connections holding `items` in all.
    fn connection(
        &self,
        set: &SelectionSet,
        ty: &str,
        count: u64,
        items: u64,
        scope: Option<TreeScope>,
        estimate: &mut Estimate,
    ) {
        self.each_direct_field(set, &mut |field| {
            estimate.cost = estimate.cost.saturating_add(count);
            let Some(shape) = self.model.field(ty, field.name.node.as_str()) else {
                return;
            };
            match field.name.node.as_str() {
                "nodes" => {
                    self.selection(&field.selection_set.node, &shape.ty, items, scope, estimate)
                }
                "edges" => {
                    self.selection(&field.selection_set.node, &shape.ty, items, scope, estimate)
                }
                _ => self.selection(&field.selection_set.node, &shape.ty, count, None, estimate),
            }
        });
    }

    /// How many objects `field` returns in all on `count` parents, and the tree scope of what
    /// it returns.
    fn items(
        &self,
        field: &Field,
        on: &str,
        ty: &str,
        list: bool,
        count: u64,
        scope: Option<TreeScope>,
    ) -> (u64, Option<TreeScope>) {
        let name = field.name.node.as_str();
        let page = self
            .number_argument(field, "first")
            .or_else(|| self.number_argument(field, "last"));
        match (on, name) {
            ("Query", "objective" | "node") => {
                let scope = self
                    .objective_argument(field, "id")
                    .and_then(|id| self.sizes.get(&id))
                    .map(|root| TreeScope {
                        root: *root,
                        depth: 0,
                    });
                (count, scope)
            }
            ("Query", "nodes") => {
                let ids = self
                    .list_argument_len(field, "ids")
                    .unwrap_or(LIST_ESTIMATE);
                (ids, None)
            }
            ("Objective", "children") => match scope {
                Some(scope) => (
                    scope.below(1),
                    Some(TreeScope {
                        depth: scope.depth + 1,
                        ..scope
                    }),
                ),
                None => (count.saturating_mul(LIST_ESTIMATE), None),
            },
            ("Objective", "childrenConnection") => {
                let page = page.unwrap_or(DEFAULT_PAGE);
                match scope {
                    Some(scope) => (
                        scope.below(1).min(count.saturating_mul(page)),
                        Some(TreeScope {
                            depth: scope.depth + 1,
                            ..scope
                        }),
                    ),
                    None => (count.saturating_mul(page), None),
                }
            }
            ("Objective", "descendants") => {
                let depth = self
                    .number_argument(field, "maxDepth")
                    .map_or(u32::MAX, |depth| u32::try_from(depth).unwrap_or(0));
                match scope {
                    Some(scope) => (scope.below(depth.min(64)), None),
                    None => (
                        count
                            .saturating_mul(LIST_ESTIMATE)
                            .saturating_mul(u64::from(depth.clamp(1, 10))),
                        None,
                    ),
                }
            }
            _ if page.is_some() || ty.ends_with("Connection") => {
                (count.saturating_mul(page.unwrap_or(DEFAULT_PAGE)), None)
            }
            _ if list => (count.saturating_mul(LIST_ESTIMATE), None),
            _ => (count, None),
        }
    }

    /// Whether `set` selects a tree field (whose size the stored sizes tell) at any depth.
    fn selects_tree(&self, set: &SelectionSet) -> bool {
        let mut found = false;
        self.each_field(set, &mut |field| {
            found |= TREE_FIELDS.contains(&field.name.node.as_str())
                || self.selects_tree(&field.selection_set.node);
        });
        found
    }

    /// Calls `visit` for every field `set` itself selects (through fragments, whatever their
    /// directives).
    fn each_field(&self, set: &SelectionSet, visit: &mut dyn FnMut(&Field)) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    visit(&field.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.each_field(&fragment.node.selection_set.node, visit);
                }
                Selection::FragmentSpread(spread) => {
                    self.spread(&spread.node.fragment_name.node, |fragment| {
                        self.each_field(&fragment.selection_set.node, visit);
                    });
                }
            }
        }
    }

    /// Calls `visit` for every included field of `set` itself (through fragments).
    fn each_direct_field(&self, set: &SelectionSet, visit: &mut dyn FnMut(&Field)) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) if self.included(&field.node.directives) => {
                    visit(&field.node);
                }
                Selection::Field(_) => {}
                Selection::InlineFragment(fragment) => {
                    if self.included(&fragment.node.directives) {
                        self.each_direct_field(&fragment.node.selection_set.node, visit);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if self.included(&spread.node.directives) {
                        self.spread(&spread.node.fragment_name.node, |fragment| {
                            self.each_direct_field(&fragment.selection_set.node, visit);
                        });
                    }
                }
            }
        }
    }

    /// Whether `@skip`/`@include` keep a selection.
    fn included(
        &self,
        directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> bool {
        directives.iter().all(|directive| {
            let condition = directive
                .node
                .get_argument("if")
                .and_then(|value| self.resolved(&value.node));
            !matches!(
                (directive.node.name.node.as_str(), condition),
                ("skip", Some(Value::Boolean(true))) | ("include", Some(Value::Boolean(false)))
            )
        })
    }

    /// `value` with the request's variables substituted.
    fn resolved(&self, value: &async_graphql_value::Value) -> Option<Value> {
        value
            .clone()
            .into_const_with(|variable: Name| {
                Ok::<_, std::convert::Infallible>(
                    self.variables
                        .get(&variable)
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            })
            .ok()
    }

    /// An argument's value, with variables substituted.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        self.resolved(&field.get_argument(name)?.node)
    }

    fn number_argument(&self, field: &Field, name: &str) -> Option<u64> {
        match self.argument(field, name)? {
            Value::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    fn list_argument_len(&self, field: &Field, name: &str) -> Option<u64> {
        match self.argument(field, name)? {
            Value::List(items) => Some(items.len() as u64),
            _ => None,
        }
    }

    /// The objective an `ID` argument names.
    fn objective_argument(&self, field: &Field, name: &str) -> Option<i64> {
        match self.argument(field, name)? {
            Value::String(id) => GlobalId::decode_as(&id, NodeKind::Objective),
            _ => None,
        }
    }
}

/// What an answer really cost: every field of every object in `data` counts 1; and how many
/// list items it holds.
pub fn actual(data: &Value) -> Estimate {
    let mut estimate = Estimate::default();
    fn walk(value: &Value, estimate: &mut Estimate) {
        match value {
            Value::Object(object) => {
                estimate.cost = estimate.cost.saturating_add(object.len() as u64);
                for field in object.values() {
                    walk(field, estimate);
                }
            }
            Value::List(items) => {
                estimate.nodes = estimate.nodes.saturating_add(items.len() as u64);
                for item in items {
                    walk(item, estimate);
                }
            }
            Value::Binary(bytes) => {
                if let Some(list) = super::prerender::Header::decode(bytes) {
                    estimate.cost = estimate.cost.saturating_add(list.counts.cost);
                    estimate.nodes = estimate.nodes.saturating_add(list.counts.nodes);
                }
            }
            _ => {}
        }
    }
    walk(data, &mut estimate);
    estimate
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        type Query { objective(id: ID!): Objective objectives(first: Int): ObjectiveConnection! nodes(ids: [ID!]!): [Node]! }
        interface Node { id: ID! }
        type Objective implements Node { id: ID! title: String! children: [Objective!]! descendants(maxDepth: Int): [TreeEntry!]! keyResults: [KeyResult!]! owner: User }
        type TreeEntry { depth: Int! objective: Objective! }
        type KeyResult { id: ID! title: String! }
        type User { name: String! }
        type ObjectiveConnection { edges: [ObjectiveEdge!]! nodes: [Objective!]! totalCount: Int! }
        type ObjectiveEdge { cursor: String! node: Objective! }
    "#;

    fn run(query: &str, sizes: &[(i64, i64, i64)]) -> Estimate {
        let model = CostModel::from_sdl(SDL);
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let sizes = sizes
            .iter()
            .map(|&(id, child_count, descendant_count)| {
                (
                    id,
                    SubtreeSize {
                        id,
                        child_count,
                        descendant_count,
                        ..SubtreeSize::default()
                    },
                )
            })
            .collect();
        estimate(&model, &document, None, &Variables::default(), &sizes)
    }

    fn objective(id: i64) -> String {
        GlobalId::new(NodeKind::Objective, id).encode()
    }

    #[test]
    fn tree_fields_are_estimated_from_stored_sizes() {
        let query = format!(
            "{{ objective(id: \"{}\") {{ id children {{ id children {{ id title }} }} }} }}",
            objective(7)
        );
        // 10 children, 110 below in all: 10 on the first level, 100 on the second.
        let known = run(&query, &[(7, 10, 110)]);
        assert_eq!(known.nodes, 110);
        assert_eq!(known.cost, 1 + 1 + 1 + 10 + 10 + 100 + 100);
        // A leaf costs its own fields only.
        let leaf = run(&query, &[(7, 0, 0)]);
        assert_eq!((leaf.nodes, leaf.cost), (0, 3));
        // Unknown: ten per list.
        let unknown = run(&query, &[]);
        assert_eq!(unknown.nodes, 10 + 100);
    }

    #[test]
    fn descendants_cost_the_subtree_pages_their_size_and_skipped_fields_nothing() {
        let query = format!(
            "{{ objective(id: \"{}\") {{ descendants(maxDepth: 3) {{ objective {{ id keyResults {{ id }} }} }} }} }}",
            objective(1)
        );
        let estimate = run(&query, &[(1, 10, 1110)]);
        assert_eq!(estimate.nodes, 1110 + 11_100);
        let paged = run(
            "{ objectives(first: 50) { totalCount nodes { id owner @skip(if: true) { name } } } }",
            &[],
        );
        assert_eq!((paged.nodes, paged.cost), (50, 1 + 1 + 1 + 50));
    }

    #[test]
    fn a_fragment_that_spreads_itself_is_walked_once() {
        let estimate = run(
            "{ ...F } fragment F on Query { objectives { nodes { id } } ...F }",
            &[],
        );
        assert_eq!(estimate.nodes, DEFAULT_PAGE);
    }

    #[test]
    fn the_actual_cost_counts_the_answer() {
        let data = async_graphql::value!({ "a": { "b": [ { "c": 1 }, { "c": 2 } ] } });
        assert_eq!(actual(&data), Estimate { cost: 4, nodes: 2 });
    }
}
