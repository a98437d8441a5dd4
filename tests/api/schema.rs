//! `schema.graphql` is the exported SDL; this fails when it drifts from the code.

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
    let body: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&serde_json::json!({ "query": DESCRIPTIONS }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
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
