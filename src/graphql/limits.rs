//! What one request may ask for: nesting depth, aliases, and operations per batch (what it may
//! cost and return is [`super::cost`]'s). Each rejection carries its own `extensions.code`
//! and says what to change.

use crate::error::code;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult};

/// The deepest nesting of selections.
pub const MAX_DEPTH: usize = 32;
/// The most aliased fields in one document.
pub const MAX_ALIASES: usize = 30;
/// The most operations in one batched request.
pub const MAX_BATCH: usize = 10;

/// A rejection with its own code.
pub fn rejection(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// Gives async-graphql's own limit errors (depth, parser recursion) their code and a message
/// that says what to change; `None` for any other error.
pub fn explain(error: &ServerError) -> Option<(&'static str, String)> {
    // Validation's depth limit, the executor's recursion limit, and the parser's recursion
    // limit (about 64 levels, reached before validation runs) all mean the same thing.
    let too_deep = error.message == "Query is nested too deep."
        || error
            .message
            .starts_with("The recursion depth of the query cannot be greater than")
        || error.message.contains("recursion limit exceeded")
        || error.message.contains("stack limit reached");
    match error.message.as_str() {
        _ if too_deep => Some((
            code::QUERY_TOO_DEEP,
            format!(
                "the query nests selections deeper than {MAX_DEPTH} levels; select fewer levels \
                 (use descendants(maxDepth:) for deep trees)"
            ),
        )),
        _ => None,
    }
}

/// Refuses documents with more than [`MAX_ALIASES`] aliased fields, before validation. It is
/// called where documents are parsed (the HTTP layer's document cache), not installed as a
/// schema extension: any extension makes async-graphql wrap every field and list item of every
/// answer in extension hooks, which cost more than the whole resolution of a plain field.
pub fn check_aliases(document: &ExecutableDocument) -> ServerResult<()> {
    let aliases = count_aliases(document);
    if aliases > MAX_ALIASES {
        return Err(rejection(
            code::TOO_MANY_ALIASES,
            format!(
                "the query uses {aliases} aliases; at most {MAX_ALIASES} are allowed \
                 (use nodes(ids:) to fetch many objects at once)"
            ),
        ));
    }
    Ok(())
}

/// Aliased fields in every operation and fragment of `document`.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = match &document.operations {
        DocumentOperations::Single(operation) => in_set(&operation.node.selection_set.node),
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| in_set(&operation.node.selection_set.node))
            .sum(),
    };
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| in_set(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

fn in_set(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let document = async_graphql::parser::parse_query(
            "query { a: viewer { id } b: viewer { n: name } ...F } \
             fragment F on QueryRoot { c: cycles { id } }",
        )
        .expect("parses");
        assert_eq!(count_aliases(&document), 4);
    }
}
