//! The lean resolution of row-backed objects answers exactly what async-graphql's own
//! resolution answers: a corpus of generated selections (aliases, named and inline fragments,
//! `@include`/`@skip`, `__typename`, nested lists, a key selected twice, fields that fail)
//! runs against a lean server, a replica started with `--no-pre-rendered-lists` (the same
//! bytes are required: lists written as JSON from rows change nothing) and one started with
//! `--plain-resolution` (the same JSON) on one database, for an admin and for a member who
//! cannot see the private objectives.

use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, objective_id, spawn_app};
use goalgraph::domain::role::Role;
use goalgraph::graphql::Resolution;

/// Queries generated per viewer.
const CORPUS: usize = 60;

/// A small deterministic generator (xorshift), so a failure names a reproducible query.
struct Generator(u64);

impl Generator {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const OBJECTIVE_SCALARS: &[&str] = &[
    "id",
    "title",
    "description",
    "status",
    "visibility",
    "weight",
    "progress",
    "version",
    "createdAt",
    "updatedAt",
    "archivedAt",
];

const KEY_RESULT_SCALARS: &[&str] = &[
    "id",
    "title",
    "kind",
    "startValue",
    "targetValue",
    "currentValue",
    "weight",
    "confidence",
    "progress",
    "updatedAt",
];

/// A selection set's body on `Objective`, nesting lists while `depth` allows.
fn objective_selection(g: &mut Generator, depth: u32, alias: &mut u32) -> String {
    let mut parts = Vec::new();
    for _ in 0..2 + g.below(6) {
        let part = match g.below(13) {
            0..=4 => {
                let field = g.pick(OBJECTIVE_SCALARS).to_owned();
                aliased(g, alias, field)
            }
            5 => "__typename".to_owned(),
            6 if depth > 0 => {
                let inner = objective_selection(g, depth - 1, alias);
                aliased(g, alias, format!("children {{ {inner} }}"))
            }
            7 => {
                let inner = key_result_selection(g, depth, alias);
                aliased(g, alias, format!("keyResults {{ {inner} }}"))
            }
            8 if depth > 0 => {
                // maxDepth 0 is refused: an error with a path, inside the list it belongs to.
                // Always aliased: one key with two different arguments does not validate.
                let max_depth = [0, 1, 2, 1, 2, 1, 2, 1, 2, 3][g.below(10) as usize];
                let inner = objective_selection(g, depth - 1, alias);
                *alias += 1;
                format!(
                    "d{alias}: descendants(maxDepth: {max_depth}) {{ depth objective {{ {inner} }} }}"
                )
            }
            9 => g
                .pick(&[
                    "owner { id name }",
                    "owner { name email }",
                    "parent { id title }",
                    "ancestors { id progress }",
                    "team { id }",
                    "milestones { id }",
                    "cycle { id name }",
                ])
                .to_owned(),
            10 => {
                let inner = objective_selection(g, depth.saturating_sub(1), alias);
                match g.below(3) {
                    0 => format!("... on Objective {{ {inner} }}"),
                    1 => format!("... {{ {inner} }}"),
                    _ => "... on Node { id }".to_owned(),
                }
            }
            11 => "...ObjectiveParts".to_owned(),
            _ => {
                let field = g.pick(OBJECTIVE_SCALARS);
                let directive = g.pick(&["@include(if: $yes)", "@skip(if: $yes)"]);
                format!("{field} {directive}")
            }
        };
        parts.push(part);
    }
    parts.join(" ")
}

/// `field`, under a fresh alias one time in four.
fn aliased(g: &mut Generator, alias: &mut u32, field: String) -> String {
    if g.below(4) == 0 {
        *alias += 1;
        format!("a{alias}: {field}")
    } else {
        field
    }
}

/// A selection set's body on `KeyResult`.
fn key_result_selection(g: &mut Generator, depth: u32, alias: &mut u32) -> String {
    let mut parts = Vec::new();
    for _ in 0..1 + g.below(5) {
        let part = match g.below(8) {
            0..=4 => g.pick(KEY_RESULT_SCALARS).to_owned(),
            5 => {
                *alias += 1;
                format!("k{alias}: {}", g.pick(KEY_RESULT_SCALARS))
            }
            6 if depth > 0 => {
                let inner = objective_selection(g, depth - 1, alias);
                format!("objective {{ {inner} }}")
            }
            _ => "__typename owner { name }".to_owned(),
        };
        parts.push(part);
    }
    parts.join(" ")
}

/// A whole document: one objective, the same through `node`, and a page of objectives.
fn query(g: &mut Generator) -> String {
    let mut alias = 0;
    let one = objective_selection(g, 2, &mut alias);
    let node = objective_selection(g, 2, &mut alias);
    let page = objective_selection(g, 1, &mut alias);
    let body = format!(
        "query($id: ID!, $yes: Boolean!) {{ skipped: __typename @skip(if: $yes) \
         objective(id: $id) {{ {one} }} \
         node(id: $id) {{ __typename ... on Objective {{ {node} }} }} \
         objectives(first: 4) {{ edges {{ node {{ {page} }} }} }} }}"
    );
    if body.contains("...ObjectiveParts") {
        format!(
            "{body} fragment ObjectiveParts on Objective {{ id title progress \
             keyResults {{ id progress }} owner {{ id }} }}"
        )
    } else {
        body
    }
}

/// `value` with every object's keys sorted and the errors in a stable order: the plain
/// executor emits an object's fields in the order their futures finished (and errors in that
/// order too), so only the content can be compared.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, Value)> =
                object.iter().map(|(k, v)| (k, canonical(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut sorted = serde_json::Map::new();
            for (key, value) in entries {
                if key == "errors" {
                    let mut errors = value.as_array().cloned().unwrap_or_default();
                    errors.sort_by_key(|error| error.to_string());
                    sorted.insert(key.clone(), Value::Array(errors));
                } else {
                    sorted.insert(key.clone(), value);
                }
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON answer")
}

/// `text`'s bytes in order: equal for two texts that differ only in the order of members.
fn sorted_bytes(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.sort_unstable();
    bytes
}

/// The answer text of `query` at `address` (as sent, byte for byte), and how many of its
/// lists were written as JSON from rows.
async fn answer(
    app: &TestApp,
    address: &str,
    viewer: &Actor,
    query: &str,
    id: &str,
) -> (String, u64) {
    let response = app
        .client
        .post(format!("{address}/graphql"))
        .bearer_auth(&viewer.token)
        .json(&json!({ "query": query, "variables": { "id": id, "yes": true } }))
        .send()
        .await
        .expect("request");
    let pre_rendered = response
        .headers()
        .get("x-goalgraph-pre-rendered-lists")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .expect("the pre-rendered lists header");
    (response.text().await.expect("body"), pre_rendered)
}

#[tokio::test]
async fn lean_and_plain_resolution_give_the_same_answers() {
    let app = spawn_app().await;
    let plain = app
        .replica_with(|settings| settings.resolution = Resolution::Plain)
        .await;
    let values = app
        .replica_with(|settings| settings.resolution = Resolution::LeanValues)
        .await;
    let t = app.tenant("lean").await;
    let root = app.bench_tree(&t, 4, 3).await;
    // Private objectives the member cannot see, at several depths; one archived.
    for id in [root + 2, root + 5, root + 13, root + 20] {
        let made_private = app
            .gql(
                Some(&t.admin.token),
                "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
                json!({ "input": { "id": objective_id(id), "visibility": "PRIVATE" } }),
            )
            .await;
        made_private.data("/updateObjective/objective/id");
    }
    app.gql(
        Some(&t.admin.token),
        "mutation($id: ID!) { archiveObjective(id: $id) { objective { id } } }",
        json!({ "id": objective_id(root + 7) }),
    )
    .await
    .data("/archiveObjective/objective/id");
    // Descriptions and a cycle (none in the seeded tree) on objectives below the roots, so a
    // subtree read that left those columns out would answer differently.
    let cycle = app
        .gql(
            Some(&t.admin.token),
            "mutation { createCycle(input: {name: \"Q1\", startsOn: \"2027-01-01\", endsOn: \"2027-03-31\"}) { cycle { id } } }",
            json!({}),
        )
        .await
        .data("/createCycle/cycle/id")
        .clone();
    for id in [root + 3, root + 9, root + 17, root + 30] {
        app.gql(
            Some(&t.admin.token),
            "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
            json!({ "input": { "id": objective_id(id), "description": format!("why {id}"), "cycleId": cycle } }),
        )
        .await
        .data("/updateObjective/objective/id");
    }
    let member = app.user(&t, Role::Member, None).await;

    let mut g = Generator(0x9e37_79b9_7f4a_7c15);
    let (mut with_errors, mut viewers_differ, mut pre_rendered) = (0, 0, 0);
    for n in 0..CORPUS {
        let text = query(&mut g);
        let id = objective_id(root + (n as i64 % 4));
        let mut seen = Vec::new();
        for viewer in [&t.admin, &member] {
            let (lean, lists) = answer(&app, &app.address, viewer, &text, &id).await;
            let (as_values, none) = answer(&app, &values, viewer, &text, &id).await;
            // async-graphql answers the fields of its own containers (the query root,
            // connections) in the order they finish, so the same bytes are required up to the
            // order of object members: the same JSON, written with the same bytes.
            assert_eq!(
                (canonical(&parse(&lean)), sorted_bytes(&lean)),
                (canonical(&parse(&as_values)), sorted_bytes(&as_values)),
                "query {n} for viewer {}: pre-rendered lists changed the answer: {text}",
                viewer.id
            );
            assert_eq!(
                none, 0,
                "lists were pre-rendered with --no-pre-rendered-lists"
            );
            pre_rendered += lists;
            let (reference, _) = answer(&app, &plain, viewer, &text, &id).await;
            let (lean, reference): (Value, Value) = (
                serde_json::from_str(&lean).expect("lean JSON"),
                serde_json::from_str(&reference).expect("plain JSON"),
            );
            assert_eq!(
                canonical(&lean),
                canonical(&reference),
                "query {n} for viewer {}: {text}",
                viewer.id
            );
            with_errors += usize::from(lean.get("errors").is_some());
            seen.push(canonical(&lean));
        }
        viewers_differ += usize::from(seen[0] != seen[1]);
    }
    // The corpus exercises what it claims to: some answers carry errors, most do not.
    assert!(with_errors > 0, "no query produced an error");
    assert!(
        with_errors < CORPUS,
        "half the answers failed: {with_errors}"
    );
    assert!(pre_rendered > 0, "no list of the corpus was pre-rendered");
    assert!(
        viewers_differ > 0,
        "the member never saw less than the admin: the private objectives were not exercised"
    );
}

#[tokio::test]
async fn lean_answers_keep_the_selection_order() {
    let app = spawn_app().await;
    let t = app.tenant("order").await;
    let objective = app.objective(&t.admin, "ordered", None).await;
    app.key_result(&t.admin, &objective, 0.0, 10.0, 1.0).await;
    let (text, _) = answer(
        &app,
        &app.address,
        &t.admin,
        "query($id: ID!) { objective(id: $id) { owner { name } keyResults { title id } id \
         __typename title } }",
        &objective,
    )
    .await;
    let positions: Vec<usize> = [
        "\"owner\"",
        "\"keyResults\"",
        "\"title\":\"kr\"",
        "\"id\":\"S2V5",
        "\"id\":\"T2Jq",
        "\"__typename\"",
        "\"title\":\"ordered\"",
    ]
    .iter()
    .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} in {text}")))
    .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "fields out of selection order: {text}"
    );
}
