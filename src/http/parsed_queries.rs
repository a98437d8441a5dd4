//! Parsed query documents cached by their text, per replica: clients send the same few query
//! texts over and over, and parsing one costs more than cloning its parsed document. Every
//! document is parsed here (cached or not) and held to the alias limit before async-graphql
//! sees it; only documents that parse and pass are cached. Validation (which depends on the
//! variables) and the other limits still run on each request, since the document is handed to
//! async-graphql through `Request::set_parsed_query` before execution.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_graphql::ServerError;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

use crate::graphql::limits::check_aliases;

/// The most documents kept; past it the cache starts afresh (bounded, and cheap to refill).
const CAPACITY: usize = 1_000;
/// Longer query texts are parsed every time (rare, and they would crowd the cache).
const MAX_TEXT: usize = 16 * 1024;

/// Parsed documents by query text; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ParsedQueries {
    documents: Arc<RwLock<HashMap<Arc<str>, ExecutableDocument>>>,
}

impl ParsedQueries {
    /// Gives `request` its parsed document, from the cache or parsed now (and cached when it
    /// passes), or refuses it for too many aliases. A text that does not parse is left to
    /// async-graphql, which reports the error.
    pub fn prepare(
        &self,
        mut request: async_graphql::Request,
    ) -> Result<async_graphql::Request, ServerError> {
        let cached = self.cached(&request.query, ExecutableDocument::clone);
        let document = match cached {
            Some(document) => document,
            None => {
                let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
                    return Ok(request);
                };
                check_aliases(&document)?;
                self.remember(&request.query, &document);
                document
            }
        };
        request.set_parsed_query(document);
        Ok(request)
    }

    /// The type of the operation `request` would run (`None` when its text does not parse or
    /// names no operation it holds: execution reports those).
    pub fn operation_type(&self, request: &async_graphql::Request) -> Option<OperationType> {
        self.with_document(&request.query, |document| {
            selected(document, request.operation_name.as_deref()).map(|operation| operation.ty)
        })
        .flatten()
    }

    /// The name of the operation `request` would run: its `operationName`, else the name of
    /// the document's only operation, if named.
    pub fn operation_name(&self, request: &async_graphql::Request) -> Option<String> {
        if let Some(name) = &request.operation_name {
            return Some(name.clone());
        }
        self.with_document(&request.query, |document| match &document.operations {
            DocumentOperations::Multiple(operations) if operations.len() == 1 => {
                operations.keys().next().map(ToString::to_string)
            }
            _ => None,
        })
        .flatten()
    }

    /// `read` of `request`'s parsed document (cached, or parsed now); `None` when it does not
    /// parse.
    pub fn read<T>(
        &self,
        request: &async_graphql::Request,
        read: impl Fn(&ExecutableDocument) -> T,
    ) -> Option<T> {
        self.with_document(&request.query, read)
    }

    /// Whether `request` only introspects the schema: every root field of the operation it
    /// runs is `__schema`, `__type` or `__typename` (what anonymous callers may ask).
    pub fn is_introspection(&self, request: &async_graphql::Request) -> bool {
        self.with_document(&request.query, |document| {
            selected(document, request.operation_name.as_deref()).is_some_and(|operation| {
                operation.ty == OperationType::Query
                    && only_introspection(document, &operation.selection_set.node)
            })
        })
        .unwrap_or(false)
    }

    /// `read` of the parsed document of `text`: the cached one, or parsed now (and cached when
    /// it passes the alias limit, so [`Self::prepare`] finds it); `None` when it does not parse.
    fn with_document<T>(&self, text: &str, read: impl Fn(&ExecutableDocument) -> T) -> Option<T> {
        if let Some(found) = self.cached(text, &read) {
            return Some(found);
        }
        let document = async_graphql::parser::parse_query(text).ok()?;
        if check_aliases(&document).is_ok() {
            self.remember(text, &document);
        }
        Some(read(&document))
    }

    /// `read` of the cached document of `text`, if there is one.
    fn cached<T>(&self, text: &str, read: impl FnOnce(&ExecutableDocument) -> T) -> Option<T> {
        self.documents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(text)
            .map(read)
    }

    /// Caches `document` as the parse of `text` (unless the text is too long to keep).
    fn remember(&self, text: &str, document: &ExecutableDocument) {
        if text.len() > MAX_TEXT {
            return;
        }
        let mut documents = self.documents.write().unwrap_or_else(|e| e.into_inner());
        if documents.len() >= CAPACITY {
            documents.clear();
        }
        documents.insert(Arc::from(text), document.clone());
    }

    /// How many documents are cached.
    pub fn len(&self) -> usize {
        self.documents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The operation of `document` that `name` selects (the only one when unnamed).
fn selected<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(key, _)| key.as_str() == name)
            .map(|(_, operation)| &operation.node),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether every field `set` selects at the root (through fragments too) is an introspection
/// field.
fn only_introspection(document: &ExecutableDocument, set: &SelectionSet) -> bool {
    set.items.iter().all(|selection| match &selection.node {
        Selection::Field(field) => matches!(
            field.node.name.node.as_str(),
            "__schema" | "__type" | "__typename"
        ),
        Selection::InlineFragment(fragment) => {
            only_introspection(document, &fragment.node.selection_set.node)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|fragment| {
                only_introspection(document, &fragment.node.selection_set.node)
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_a_bad_one_is_left_alone() {
        let cache = ParsedQueries::default();
        let prepare = |text: &str| cache.prepare(async_graphql::Request::new(text));
        prepare("{ viewer { id } }").expect("accepted");
        assert_eq!(cache.len(), 1);
        prepare("{ viewer { id } }").expect("accepted");
        assert_eq!(cache.len(), 1);
        let bad = prepare("{ viewer { ").expect("left to async-graphql");
        assert_eq!(cache.len(), 1, "unparsable texts are not cached");
        assert_eq!(bad.query, "{ viewer { ");
    }

    #[test]
    fn a_document_with_too_many_aliases_is_refused_every_time() {
        let cache = ParsedQueries::default();
        let aliased: String = (0..31).map(|n| format!("a{n}: viewer {{ id }} ")).collect();
        let text = format!("{{ {aliased} }}");
        for _ in 0..2 {
            let refused = cache
                .prepare(async_graphql::Request::new(text.as_str()))
                .expect_err("refused");
            assert!(
                refused.message.contains("31 aliases"),
                "{}",
                refused.message
            );
        }
        assert!(cache.is_empty(), "refused documents are not cached");
    }
}
