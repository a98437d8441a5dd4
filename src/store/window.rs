//! Which rows of an ordered list a page holds, whatever the store: the cursors it lies between
//! and how many rows to read from which end.

use sea_orm::Order;

/// Which rows of a list a page holds, by cursor: those strictly between `after` and `before`
/// in the list's order, at most `limit` of them taken from the start (or from the end when
/// `from_end`). `limit` is usually one more than the page, to learn whether more follow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window<C> {
    pub after: Option<C>,
    pub before: Option<C>,
    pub limit: u64,
    pub from_end: bool,
}

impl<C> Window<C> {
    /// The first `limit` rows.
    pub fn first(limit: u64) -> Self {
        Self {
            after: None,
            before: None,
            limit,
            from_end: false,
        }
    }

    /// Whether rows are read in the list's order (else in reverse, from the end).
    pub fn read_order(&self, natural: Order) -> Order {
        match (self.from_end, natural) {
            (false, natural) => natural,
            (true, Order::Asc) => Order::Desc,
            (true, _) => Order::Asc,
        }
    }
}
