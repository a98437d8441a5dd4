//! `schema.graphql` is the exported SDL: it must match the code, document itself, and make no
//! breaking change against the last released schema.

#[test]
fn schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .unwrap_or_default();
    let current = goalgraph::graphql::sdl();
    assert!(
        committed == current,
        "schema.graphql is stale: regenerate it with `cargo run -- schema > schema.graphql`"
    );
}

/// The introspection query of the description walk: every type with its fields, their
/// arguments, input fields and enum values, each with its description.
const DESCRIPTIONS: &str = "{ __schema { types { name kind description
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description } } } }";

/// Every type, field, argument, input field and enum value of the schema has a description
/// (anonymous introspection, as an IDE or a code generator would fetch it).
#[tokio::test]
async fn the_schema_documents_every_type_field_argument_and_value() {
    let app = crate::helpers::spawn_app().await;
    let body = app
        .post_json(None, &serde_json::json!({ "query": DESCRIPTIONS }))
        .await;
    let types = body["data"]["__schema"]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("no types: {body}"));
    let described = |item: &serde_json::Value| {
        item["description"]
            .as_str()
            .is_some_and(|text| !text.trim().is_empty())
    };
    let list = |value: &serde_json::Value| value.as_array().cloned().unwrap_or_default();
    let mut missing = Vec::new();
    for ty in types {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") {
            continue;
        }
        // async-graphql's built-in `ID` scalar is the one type a schema cannot describe.
        if !described(ty) && name != "ID" {
            missing.push(name.to_owned());
        }
        for field in list(&ty["fields"]) {
            let field_name = format!("{name}.{}", field["name"].as_str().unwrap_or_default());
            if !described(&field) {
                missing.push(field_name.clone());
            }
            for arg in list(&field["args"]) {
                if !described(&arg) {
                    missing.push(format!("{field_name}({})", arg["name"]));
                }
            }
        }
        for item in list(&ty["inputFields"])
            .iter()
            .chain(&list(&ty["enumValues"]))
        {
            if !described(item) {
                missing.push(format!(
                    "{name}.{}",
                    item["name"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    assert!(types.len() > 50, "too few types: {}", types.len());
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

#[test]
fn the_root_types_are_query_mutation_and_subscription() {
    let sdl = goalgraph::graphql::sdl();
    for root in [
        "query: Query",
        "mutation: Mutation",
        "subscription: Subscription",
    ] {
        assert!(sdl.contains(root), "{root}");
    }
}

/// No breaking change against the last released schema (`schema.released.graphql`), by
/// GraphQL Inspector (npm, run from `e2e/`): removing or renaming a type, field, argument or
/// enum value, changing a type, or adding a required argument or input field fails here.
/// Releasing copies `schema.graphql` over `schema.released.graphql` (README: "Schema
/// changes and deprecation").
#[test]
fn the_schema_has_no_breaking_change_against_the_last_release() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("node")
        .arg(root.join("e2e").join("schema-diff.mjs"))
        .arg(root.join("schema.released.graphql"))
        .arg(root.join("schema.graphql"))
        .current_dir(root.join("e2e"))
        .output()
        .expect("node (install Node.js; scripts/test installs e2e/node_modules)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the diff did not run:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let breaking: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(r#""criticality":"BREAKING""#))
        .collect();
    assert!(
        breaking.is_empty(),
        "breaking changes against schema.released.graphql (deprecate first, remove after \
         the policy's window):\n{}",
        breaking.join("\n")
    );
}

#[tokio::test]
async fn the_date_scalars_name_their_specification() {
    let app = crate::helpers::spawn_app().await;
    for scalar in ["Date", "DateTime"] {
        let query = format!("{{ __type(name: \"{scalar}\") {{ specifiedByURL }} }}");
        let body = app
            .post_json(None, &serde_json::json!({ "query": query }))
            .await;
        assert_eq!(
            body["data"]["__type"]["specifiedByURL"],
            "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6",
            "{scalar}"
        );
    }
}
