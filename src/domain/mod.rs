//! Pure business rules: identifiers, objective and key-result vocabularies, validation and the
//! roll-up formula. Nothing here performs I/O or imports sea_orm, mongodb or async_graphql.

/// Declares a vocabulary: a fieldless enum whose text form (stored in the databases) is its
/// variant names in snake_case, derived both ways by strum, with `as_str()`. Attributes given
/// before `pub enum` (docs, extra derives) are kept.
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            strum::Display,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::EnumIter,
        )]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// The stored text form.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

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
