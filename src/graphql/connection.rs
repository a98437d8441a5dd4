//! Relay cursor connections: opaque cursors, forward (`first`/`after`) and backward
//! (`last`/`before`) pages of a size capped per list, and the connection types.

use crate::error::code;
use async_graphql::connection::{Edge, EmptyFields, PageInfo};
use async_graphql::{Object, OutputType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};
use crate::loaders::PageKey;
use crate::store::window::Window;

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

/// A value that places an item in its list, handed to clients as an opaque cursor: base64url
/// of `KIND:text`.
pub trait Cursor: Sized + Clone {
    /// What the cursor is of (`cursor` for row ids, the format earlier releases issued).
    const KIND: &'static str;
    /// The value as text (inside the encoding).
    fn to_text(&self) -> String;
    /// The value back from its text; `None` for anything else.
    fn from_text(text: &str) -> Option<Self>;
}

impl Cursor for i64 {
    const KIND: &'static str = "cursor";
    fn to_text(&self) -> String {
        self.to_string()
    }
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl Cursor for crate::loaders::CheckInCursor {
    const KIND: &'static str = "checkin";
    fn to_text(&self) -> String {
        format!("{}:{}", self.0.timestamp_micros(), self.1)
    }
    fn from_text(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once(':')?;
        let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some((at, id.parse().ok()?))
    }
}

impl Cursor for mongodb::bson::oid::ObjectId {
    const KIND: &'static str = "update";
    fn to_text(&self) -> String {
        self.to_hex()
    }
    fn from_text(text: &str) -> Option<Self> {
        Self::parse_str(text).ok()
    }
}

/// A place in the tree order of a branch (a materialised path).
impl Cursor for String {
    const KIND: &'static str = "branch";
    fn to_text(&self) -> String {
        self.clone()
    }
    fn from_text(text: &str) -> Option<Self> {
        let valid = text.starts_with(',')
            && text.ends_with(',')
            && text.bytes().all(|b| b == b',' || b.is_ascii_digit());
        valid.then(|| text.to_owned())
    }
}

/// The opaque text of `cursor`.
pub fn encode_cursor<C: Cursor>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", C::KIND, cursor.to_text()))
}

/// The cursor a client sent as argument `argument`, which must be one of this list's.
fn decode_cursor<C: Cursor>(argument: &'static str, raw: &str) -> AppResult<C> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| C::from_text(text.strip_prefix(C::KIND)?.strip_prefix(':')?))
        .ok_or_else(|| {
            AppError::bad_input(
                argument,
                format!("{argument} is not a cursor of this list (use a cursor it returned)"),
            )
        })
}

/// A validated page request (Relay's `first`/`after` forward, `last`/`before` backward): up
/// to `size` items of the list's window.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<C> {
    pub size: u64,
    /// The rows to read: one more than the page, to learn whether more follow.
    pub window: Window<C>,
}

impl<C: Cursor> PageRequest<C> {
    /// Validates the four connection arguments; `default_size` when neither `first` nor
    /// `last` is given, `max` at most.
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
        default_size: i32,
        max: i32,
    ) -> AppResult<Self> {
        let size = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "last",
                    "pass first (to page forward) or last (to page backward), not both",
                ));
            }
            (Some(first), None) => page_size("first", first, max)?,
            (None, Some(last)) => page_size("last", last, max)?,
            (None, None) => page_size("first", default_size, max)?,
        };
        Ok(Self {
            size,
            window: Window {
                after: after.map(|raw| decode_cursor("after", raw)).transpose()?,
                before: before.map(|raw| decode_cursor("before", raw)).transpose()?,
                limit: size + 1,
                from_end: last.is_some(),
            },
        })
    }

    /// The four connection arguments of a list paged by [`DEFAULT_PAGE_SIZE`], at most
    /// [`MAX_PAGE_SIZE`] at once.
    pub fn standard(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<Self> {
        Self::parse(
            first,
            after.as_deref(),
            last,
            before.as_deref(),
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
        )
    }

    /// The page of the list of `owner_id` (an objective's children, a key result's
    /// check-ins …) through loader `L`, which batches the owners of a query level.
    pub async fn load_page<L, Row, Node>(
        &self,
        ctx: &async_graphql::Context<'_>,
        owner_id: i64,
        cursor: impl Fn(&Row) -> C,
        node: impl Fn(Row) -> Node,
    ) -> AppResult<Page<Node>>
    where
        L: async_graphql::dataloader::Loader<PageKey<C>, Value = Vec<Row>, Error = AppError>,
        C: std::hash::Hash + Eq + Send + Sync + 'static,
        Node: OutputType,
    {
        let key = PageKey {
            owner_id,
            window: self.window.clone(),
        };
        let rows = super::context::load_one::<L, _>(ctx, key)
            .await?
            .unwrap_or_default();
        Ok(self.page(rows, cursor, node))
    }

    /// The page of rows read for this request's window (in read order: reversed when read
    /// from the end), each with its cursor and node.
    pub fn page<Row, Node: OutputType>(
        &self,
        mut rows: Vec<Row>,
        cursor: impl Fn(&Row) -> C,
        node: impl Fn(Row) -> Node,
    ) -> Page<Node> {
        let more = rows.len() as u64 > self.size;
        rows.truncate(usize::try_from(self.size).unwrap_or(usize::MAX));
        if self.window.from_end {
            rows.reverse();
        }
        let edges: Vec<Edge<String, Node, EmptyFields>> = rows
            .into_iter()
            .map(|row| Edge::new(encode_cursor(&cursor(&row)), node(row)))
            .collect();
        let (has_previous_page, has_next_page) = if self.window.from_end {
            (more, self.window.before.is_some())
        } else {
            (self.window.after.is_some(), more)
        };
        Page {
            page_info: PageInfo {
                has_previous_page,
                has_next_page,
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
    /// The page with each node mapped, dropping those `map` drops (e.g. objectives the viewer
    /// may not see); the page's cursors stay those of the rows read.
    pub fn filter_map<Other: OutputType>(self, map: impl Fn(Node) -> Option<Other>) -> Page<Other> {
        Page {
            edges: self
                .edges
                .into_iter()
                .filter_map(|edge| Some(Edge::new(edge.cursor, map(edge.node)?)))
                .collect(),
            page_info: self.page_info,
            total_count: self.total_count,
        }
    }

    /// The nodes of the page.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.edges.iter().map(|edge| &edge.node)
    }

    /// The same page knowing the count of every page's items.
    pub fn with_total(mut self, total_count: Option<u64>) -> Self {
        self.total_count = total_count;
        self
    }
}

/// Declares a Relay connection type over `Page<$node>` with its own description (the
/// connection type async-graphql generates has none); `counted` ones have `totalCount`.
macro_rules! connection_type {
    ($name:ident, $node:ty, $doc:literal, counted) => {
        connection_type!($name, $node, $doc, {
            /// How many items all the pages hold together (one more statement, run only when
            /// this field is selected).
            async fn total_count(&self) -> AppResult<u64> {
                self.0.total_count.ok_or_else(|| {
                    AppError::Internal("totalCount was selected but not counted".into())
                })
            }
        });
    };
    ($name:ident, $node:ty, $doc:literal, { $($extra:tt)* }) => {
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

            $($extra)*
        }
    };
}

connection_type!(
    ObjectiveConnection,
    super::objective::Objective,
    "A page of objectives, in id order, with cursors to the next.",
    counted
);
connection_type!(
    TeamConnection,
    super::org::Team,
    "A page of teams, in id order, with cursors to the next.",
    counted
);
connection_type!(
    UserConnection,
    super::org::User,
    "A page of users, in id order, with cursors to the next.",
    counted
);
connection_type!(
    SubObjectiveConnection,
    super::objective::Objective,
    "A page of objectives beneath another (its children in id order, or a branch in tree \
     order), with cursors to either side.",
    {}
);
connection_type!(
    CheckInConnection,
    super::key_result::CheckIn,
    "A page of a key result's check-ins, newest first, with cursors to either side.",
    {}
);
connection_type!(
    GoalUpdateConnection,
    super::documents::GoalUpdate,
    "A page of progress notes, newest first, with cursors to either side.",
    {}
);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> AppResult<PageRequest<i64>> {
        PageRequest::parse(first, after, last, before, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    }

    #[test]
    fn a_cursor_round_trips_and_keeps_the_released_format() {
        assert_eq!(decode_cursor::<i64>("after", &encode_cursor(&42)), Ok(42));
        assert_eq!(encode_cursor(&42_i64), URL_SAFE_NO_PAD.encode("cursor:42"));
    }

    #[test]
    fn oversized_pages_foreign_cursors_and_both_directions_are_refused() {
        assert!(request(Some(MAX_PAGE_SIZE + 1), None, None, None).is_err());
        assert!(request(Some(-1), None, None, None).is_err());
        assert!(request(None, None, Some(-1), None).is_err());
        assert!(request(None, Some("nope"), None, None).is_err());
        assert!(request(None, None, None, Some("nope")).is_err());
        assert!(request(Some(1), None, Some(1), None).is_err());
    }

    #[test]
    fn a_backward_page_comes_in_list_order_and_knows_what_precedes_it() {
        let before = encode_cursor(&10_i64);
        let backward = request(None, None, Some(3), Some(&before)).expect("valid");
        assert_eq!((backward.window.limit, backward.window.from_end), (4, true));
        // Read from the end: 9, 8, 7, 6 (one more than the page).
        let page = backward.page(vec![9_i64, 8, 7, 6], |id| *id, |id| id);
        let nodes: Vec<i64> = page.edges.iter().map(|edge| edge.node).collect();
        assert_eq!(nodes, [7, 8, 9]);
        assert!(page.page_info.has_previous_page && page.page_info.has_next_page);
        let last_items = request(None, None, Some(3), None).expect("valid");
        let page = last_items.page(vec![3_i64, 2, 1], |id| *id, |id| id);
        assert!(!page.page_info.has_previous_page && !page.page_info.has_next_page);
    }
}
