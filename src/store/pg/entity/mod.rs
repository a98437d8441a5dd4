//! SeaORM entities, one per table, written by hand to match the `migration` crate. Text
//! vocabularies (status, visibility, kind, role) are the domain's enums (see [`vocabulary`]).

pub mod check_in;
pub mod cycle;
pub mod key_result;
pub mod milestone;
pub mod objective;
pub mod outbox;
pub mod team;
pub mod tenant;
pub mod user;
pub mod vocabulary;
