//! Parsed query documents cached by their text, per replica: clients send the same few query
//! texts over and over, and parsing one costs more than cloning its parsed document. Only
//! documents that parse are cached; validation (which depends on the variables) and every
//! limit still run on each request, since the cached document is handed to async-graphql
//! through `Request::set_parsed_query` before execution.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_graphql::parser::types::ExecutableDocument;

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
    /// Gives `request` its parsed document: from the cache, or parsed now (and cached). A
    /// text that does not parse is left to async-graphql, which reports the error.
    pub fn prepare(&self, mut request: async_graphql::Request) -> async_graphql::Request {
        if request.query.len() > MAX_TEXT {
            return request;
        }
        let cached = self
            .documents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(request.query.as_str())
            .cloned();
        let document = match cached {
            Some(document) => document,
            None => match async_graphql::parser::parse_query(&request.query) {
                Ok(document) => {
                    let mut documents = self.documents.write().unwrap_or_else(|e| e.into_inner());
                    if documents.len() >= CAPACITY {
                        documents.clear();
                    }
                    documents.insert(Arc::from(request.query.as_str()), document.clone());
                    document
                }
                Err(_) => return request,
            },
        };
        request.set_parsed_query(document);
        request
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_a_bad_one_is_left_alone() {
        let cache = ParsedQueries::default();
        let request = cache.prepare(async_graphql::Request::new("{ viewer { id } }"));
        assert_eq!(cache.len(), 1);
        let again = cache.prepare(async_graphql::Request::new("{ viewer { id } }"));
        assert_eq!(cache.len(), 1);
        drop((request, again));
        let bad = cache.prepare(async_graphql::Request::new("{ viewer { "));
        assert_eq!(cache.len(), 1, "unparsable texts are not cached");
        assert_eq!(bad.query, "{ viewer { ");
    }
}
