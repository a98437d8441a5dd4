//! Rows of the large reads (subtrees, their key results) decoded by column position: a result
//! set's columns are looked up by name once, then every row is read by index.
//!
//! SeaORM's derived decoding looks every value's column up by name (a hash per value) and, for
//! every NULL it reads into an `Option`, formats the column's name into an error it then
//! discards; on a 11,111-objective subtree with its 33,333 key results that was a tenth of the
//! server's time. The models stay SeaORM's; only how the hot reads fill them differs, and a
//! unit of the integration suite compares both decodings on the same rows.

use sea_orm::QueryResult;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{Column, Row};

use super::entity::{key_result, objective, user};
use super::objective_columns::ObjectiveColumns;
use crate::domain::objective::ObjectiveStatus;
use crate::store::StoreResult;

/// A model readable by position from a result set holding (at least) its columns.
pub trait Positional: Sized {
    /// The columns read, in the order `decode` expects their positions.
    const COLUMNS: &'static [&'static str];

    /// The model from `row`, its columns at `at` (one position per [`Self::COLUMNS`]).
    fn decode(row: &PgRow, at: &[usize]) -> Result<Self, sea_orm::sqlx::Error>;
}

/// Where `names` sit in the result set of `row`.
pub fn positions(row: &PgRow, names: &[&str]) -> StoreResult<Vec<usize>> {
    names
        .iter()
        .map(|name| {
            row.columns()
                .iter()
                .find(|column| column.name() == *name)
                .map(|column| column.ordinal())
                .ok_or_else(|| decode_error(format!("the result has no column {name}")))
        })
        .collect()
}

/// The PostgreSQL row under a SeaORM result.
pub fn pg_row(row: &QueryResult) -> StoreResult<&PgRow> {
    row.try_as_pg_row()
        .ok_or_else(|| decode_error("not a PostgreSQL row".into()))
}

/// Every row of `rows` as `M`.
pub fn decode_all<M: Positional>(rows: &[QueryResult]) -> StoreResult<Vec<M>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let at = positions(pg_row(first)?, M::COLUMNS)?;
    rows.iter()
        .map(|row| M::decode(pg_row(row)?, &at).map_err(sqlx_error))
        .collect()
}

/// A decoding failure as a store error (logged, never shown).
pub fn sqlx_error(error: sea_orm::sqlx::Error) -> crate::store::StoreError {
    decode_error(error.to_string())
}

fn decode_error(message: String) -> crate::store::StoreError {
    crate::store::StoreError::Db(sea_orm::DbErr::Custom(message))
}

/// A text column holding one of a vocabulary's words.
fn word<T: std::str::FromStr>(row: &PgRow, at: usize) -> Result<T, sea_orm::sqlx::Error> {
    let text: &str = row.try_get(at)?;
    text.parse()
        .map_err(|_| sea_orm::sqlx::Error::ColumnDecode {
            index: at.to_string(),
            source: format!("`{text}` is not a known value").into(),
        })
}

impl Positional for objective::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "parent_id",
        "team_id",
        "owner_id",
        "cycle_id",
        "title",
        "description",
        "status",
        "visibility",
        "weight",
        "progress",
        "archived_at",
        "version",
        "created_at",
        "updated_at",
    ];

    fn decode(row: &PgRow, at: &[usize]) -> Result<Self, sea_orm::sqlx::Error> {
        // Every column is read, so the tenant given for filling is never used.
        decode_objective(row, at, ObjectiveColumns::ALL, 0)
    }
}

/// An objective from `row` (its columns at `at`, as [`Positional::decode`] takes them), reading
/// only `columns`: every other field holds its type's default, and `tenant_id` is `tenant_id`.
pub fn decode_objective(
    row: &PgRow,
    at: &[usize],
    columns: ObjectiveColumns,
    tenant_id: i64,
) -> Result<objective::Model, sea_orm::sqlx::Error> {
    let read = |column: usize| columns.has(column);
    /// Column `$column`.
    macro_rules! get {
        ($column:expr) => {
            row.try_get(at[$column])?
        };
    }
    /// Column `$column` when the set holds it, else the default.
    macro_rules! optional {
        ($column:expr) => {
            if read($column) {
                get!($column)
            } else {
                Default::default()
            }
        };
    }
    Ok(objective::Model {
        id: get!(0),
        tenant_id: if read(1) { get!(1) } else { tenant_id },
        parent_id: get!(2),
        team_id: get!(3),
        owner_id: get!(4),
        cycle_id: optional!(5),
        title: optional!(6),
        description: optional!(7),
        status: if read(8) {
            word(row, at[8])?
        } else {
            ObjectiveStatus::Draft
        },
        visibility: word(row, at[9])?,
        weight: optional!(10),
        progress: optional!(11),
        archived_at: optional!(12),
        version: optional!(13),
        created_at: optional!(14),
        updated_at: optional!(15),
    })
}

impl Positional for user::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "team_id",
        "name",
        "email",
        "role",
        "created_at",
    ];

    fn decode(row: &PgRow, at: &[usize]) -> Result<Self, sea_orm::sqlx::Error> {
        Ok(Self {
            id: row.try_get(at[0])?,
            tenant_id: row.try_get(at[1])?,
            team_id: row.try_get(at[2])?,
            name: row.try_get(at[3])?,
            email: row.try_get(at[4])?,
            role: word(row, at[5])?,
            created_at: row.try_get(at[6])?,
        })
    }
}

impl Positional for key_result::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "objective_id",
        "owner_id",
        "title",
        "kind",
        "start_value",
        "target_value",
        "current_value",
        "weight",
        "confidence",
        "progress",
        "created_at",
        "updated_at",
    ];

    fn decode(row: &PgRow, at: &[usize]) -> Result<Self, sea_orm::sqlx::Error> {
        Ok(Self {
            id: row.try_get(at[0])?,
            tenant_id: row.try_get(at[1])?,
            objective_id: row.try_get(at[2])?,
            owner_id: row.try_get(at[3])?,
            title: row.try_get(at[4])?,
            kind: word(row, at[5])?,
            start_value: row.try_get(at[6])?,
            target_value: row.try_get(at[7])?,
            current_value: row.try_get(at[8])?,
            weight: row.try_get(at[9])?,
            confidence: row.try_get(at[10])?,
            progress: row.try_get(at[11])?,
            created_at: row.try_get(at[12])?,
            updated_at: row.try_get(at[13])?,
        })
    }
}
