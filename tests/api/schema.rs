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
