//! SeaORM entities, one per table, written by hand to match the `migration` crate. Text
//! vocabularies (status, kind, role) stay strings here and become domain enums at the edges.

pub mod check_in;
pub mod cycle;
pub mod key_result;
pub mod milestone;
pub mod objective;
pub mod outbox;
pub mod team;
pub mod tenant;
pub mod user;
