//! Pure business rules: identifiers, objective and key-result vocabularies, validation and the
//! roll-up formula. Nothing here performs I/O or imports sea_orm, mongodb or async_graphql.

pub mod access;
pub mod custom_fields;
pub mod error;
pub mod global_id;
pub mod history;
pub mod key_result;
pub mod objective;
pub mod role;
pub mod rollup;
pub mod team;
pub mod text;

pub use error::DomainError;
