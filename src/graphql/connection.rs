//! Relay cursor connections: forward pagination by id with an opaque cursor and a page size
//! capped at [`MAX_PAGE_SIZE`].

use crate::error::code;
use async_graphql::connection::{Edge, EmptyFields, PageInfo};
use async_graphql::{Object, OutputType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: i32 = 100;
/// The page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// The one rule for every list argument (`first`, `last`, a list of ids): not negative
/// (BAD_USER_INPUT), at most `max` (PAGE_TOO_LARGE, saying how to get the rest).
pub fn page_size(argument: &'static str, requested: i32, max: i32) -> AppResult<u64> {
    if requested < 0 {
        return Err(AppError::bad_input(
            argument,
            format!("{argument} must not be negative"),
        ));
    }
    if requested > max {
        return Err(AppError::LimitExceeded {
            code: code::PAGE_TOO_LARGE,
            message: format!(
                "{argument} is {requested}; at most {max} items are returned at once, so ask \
                 in pages"
            ),
        });
    }
    Ok(u64::try_from(requested).unwrap_or_default())
}

/// A validated page request: up to `size` items after the row id `after`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRequest {
    pub size: u64,
    pub after: Option<i64>,
}

impl PageRequest {
    pub fn parse(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let size = page_size("first", first.unwrap_or(DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)?;
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self { size, after })
    }

    /// How many rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// The page of up to `fetch_limit()` rows in id order.
    pub fn page<Row, Node: OutputType>(
        &self,
        mut rows: Vec<Row>,
        id: impl Fn(&Row) -> i64,
        node: impl Fn(Row) -> Node,
    ) -> Page<Node> {
        let has_next = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        let edges: Vec<Edge<String, Node, EmptyFields>> = rows
            .into_iter()
            .map(|row| Edge::new(encode_cursor(id(&row)), node(row)))
            .collect();
        Page {
            page_info: PageInfo {
                has_previous_page: self.after.is_some(),
                has_next_page: has_next,
                start_cursor: edges.first().map(|edge| edge.cursor.clone()),
                end_cursor: edges.last().map(|edge| edge.cursor.clone()),
            },
            edges,
            total_count: None,
        }
    }
}

/// One page of a connection: its edges, where it sits, and (when the query asks) how many items
/// all pages hold.
pub struct Page<Node: OutputType> {
    edges: Vec<Edge<String, Node, EmptyFields>>,
    page_info: PageInfo,
    total_count: Option<u64>,
}

impl<Node: OutputType> Page<Node> {
    /// The same page knowing the count of every page's items.
    pub fn with_total(mut self, total_count: Option<u64>) -> Self {
        self.total_count = total_count;
        self
    }
}

/// Declares a Relay connection type over `Page<$node>` with its own description (the
/// connection type async-graphql generates has none).
macro_rules! connection_type {
    ($name:ident, $node:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub Page<$node>);

        #[doc = $doc]
        #[Object]
        impl $name {
            /// A list of edges.
            async fn edges(&self) -> &[Edge<String, $node, EmptyFields>] {
                &self.0.edges
            }

            /// A list of nodes.
            async fn nodes(&self) -> Vec<&$node> {
                self.0.edges.iter().map(|edge| &edge.node).collect()
            }

            /// Information to aid in pagination.
            async fn page_info(&self) -> &PageInfo {
                &self.0.page_info
            }

            /// How many items all the pages hold together (one more statement, run only when
            /// this field is selected).
            async fn total_count(&self) -> AppResult<u64> {
                self.0.total_count.ok_or_else(|| {
                    AppError::Internal("totalCount was selected but not counted".into())
                })
            }
        }
    };
}

connection_type!(
    ObjectiveConnection,
    super::objective::Objective,
    "A page of objectives, in id order, with cursors to the next."
);
connection_type!(
    TeamConnection,
    super::org::Team,
    "A page of teams, in id order, with cursors to the next."
);
connection_type!(
    UserConnection,
    super::org::User,
    "A page of users, in id order, with cursors to the next."
);

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{id}"))
}

fn decode_cursor(raw: &str) -> AppResult<i64> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("cursor:")?.parse::<i64>().ok())
        .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this API"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Ok(42));
    }

    #[test]
    fn oversized_pages_and_foreign_cursors_are_refused() {
        assert!(PageRequest::parse(Some(MAX_PAGE_SIZE + 1), None).is_err());
        assert!(PageRequest::parse(Some(-1), None).is_err());
        assert!(PageRequest::parse(None, Some("nope")).is_err());
    }
}
