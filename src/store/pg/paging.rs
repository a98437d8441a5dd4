//! Keyset pages: the rows after and/or before a cursor, read from the start or from the end of
//! a list's order, for one list or for each of many lists (one per parent) in one statement.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Statement,
};

use super::Db;
use crate::store::StoreResult;
pub use crate::store::window::Window;

/// `query` narrowed to `window` of a list ordered by the unique column `id` ascending; rows
/// come in read order (reversed when the window is read from the end).
pub fn by_id<E: EntityTrait>(
    mut query: Select<E>,
    id: E::Column,
    window: &Window<i64>,
) -> Select<E> {
    if let Some(after) = window.after {
        query = query.filter(id.gt(after));
    }
    if let Some(before) = window.before {
        query = query.filter(id.lt(before));
    }
    query
        .order_by(id, window.read_order(Order::Asc))
        .limit(window.limit)
}

/// A cursor's column values, in the order of a [`KeysetOrder`]'s columns.
pub trait KeyValues: Clone {
    fn values(&self) -> Vec<sea_orm::Value>;
}

impl KeyValues for i64 {
    fn values(&self) -> Vec<sea_orm::Value> {
        vec![(*self).into()]
    }
}

impl KeyValues for (chrono::DateTime<chrono::Utc>, i64) {
    fn values(&self) -> Vec<sea_orm::Value> {
        vec![self.0.into(), self.1.into()]
    }
}

/// A list's order over one or more columns, each in the same direction, whose values together
/// are unique, and a cursor: those values of one row.
pub struct KeysetOrder<'a> {
    /// The columns, qualified as the query names them (`check_ins.created_at`).
    pub columns: &'a [&'a str],
    pub natural: Order,
}

impl KeysetOrder<'_> {
    /// `query` narrowed to `window` (cursors given as the columns' values), ordered and
    /// limited for it; rows come in read order.
    pub fn apply<E: EntityTrait, V>(&self, query: Select<E>, window: &Window<V>) -> Select<E>
    where
        V: KeyValues,
    {
        let mut query = self.narrow(query, window);
        let order = window.read_order(self.natural.clone());
        for column in self.columns {
            query = query.order_by(Expr::cust(column.to_string()), order.clone());
        }
        query.limit(window.limit)
    }

    /// `query` keeping the rows strictly between the window's cursors.
    fn narrow<E: EntityTrait, V>(&self, mut query: Select<E>, window: &Window<V>) -> Select<E>
    where
        V: KeyValues,
    {
        let tuple = format!("({})", self.columns.join(", "));
        // After a cursor means further along the order: greater when ascending.
        let (past, short) = match self.natural {
            Order::Asc => (">", "<"),
            _ => ("<", ">"),
        };
        for (cursor, comparison) in [(&window.after, past), (&window.before, short)] {
            if let Some(cursor) = cursor {
                let values = cursor.values();
                let holes = (1..=values.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let condition: SimpleExpr =
                    Expr::cust_with_values(format!("{tuple} {comparison} ({holes})"), values);
                query = query.filter(condition);
            }
        }
        query
    }

    /// The `ORDER BY` list of the window's read order, for a window function.
    fn over(&self, window: &Window<impl Sized>) -> String {
        let direction = match window.read_order(self.natural.clone()) {
            Order::Asc => "ASC",
            _ => "DESC",
        };
        self.columns
            .iter()
            .map(|column| format!("{column} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The window of each group's list (groups by the column `group`, e.g. each parent's
/// children) in one statement: `query` holds every group's candidate rows (filtered, not yet
/// windowed by cursor), `order` is each list's order. Rows come grouped, in read order.
pub async fn per_group<E, V>(
    db: &Db,
    query: Select<E>,
    group: &str,
    order: &KeysetOrder<'_>,
    window: &Window<V>,
) -> StoreResult<Vec<E::Model>>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
    V: KeyValues,
{
    let limit = window.limit;
    let ranked = order
        .narrow(query, window)
        .expr_as(
            Expr::cust(format!(
                "row_number() OVER (PARTITION BY {group} ORDER BY {})",
                order.over(window)
            )),
            "window_rank",
        )
        .build(DbBackend::Postgres);
    // The rank is compared with a number this code chose, never with client text.
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT * FROM ({}) ranked WHERE window_rank <= {limit} ORDER BY {group}, window_rank",
            ranked.sql
        ),
        ranked.values.map(|values| values.0).unwrap_or_default(),
    );
    Ok(E::Model::find_by_statement(statement).all(db).await?)
}
