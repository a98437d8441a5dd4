//! The domain's text vocabularies as column types: each enum's text form is derived by strum
//! in `domain` (which stays free of sea_orm); this module gives them the value-type traits
//! SeaORM needs, exactly as `#[derive(DeriveValueType)] #[sea_orm(value_type = "String")]`
//! would if it could be applied outside the enum's own module. A stored value the enum does
//! not know fails the read with a type error (INTERNAL), never a silent default.

use crate::domain::key_result::KeyResultKind;
use crate::domain::objective::{ObjectiveStatus, Visibility};
use crate::domain::role::Role;
use crate::domain::team::TeamKind;

macro_rules! text_column {
    ($($name:ident),+ $(,)?) => {$(
        impl From<$name> for sea_orm::Value {
            fn from(source: $name) -> Self {
                <&'static str>::from(source).into()
            }
        }

        impl sea_orm::TryGetable for $name {
            fn try_get_by<I: sea_orm::ColIdx>(
                res: &sea_orm::QueryResult,
                idx: I,
            ) -> Result<Self, sea_orm::TryGetError> {
                let text = String::try_get_by(res, idx)?;
                text.parse().map_err(|err| {
                    sea_orm::TryGetError::DbErr(sea_orm::DbErr::TryIntoErr {
                        from: "String",
                        into: stringify!($name),
                        source: std::sync::Arc::new(err),
                    })
                })
            }
        }

        impl sea_orm::sea_query::ValueType for $name {
            fn try_from(
                value: sea_orm::Value,
            ) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                let text = <String as sea_orm::sea_query::ValueType>::try_from(value)?;
                text.parse().map_err(|_| sea_orm::sea_query::ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                sea_orm::sea_query::ArrayType::String
            }

            fn column_type() -> sea_orm::sea_query::ColumnType {
                sea_orm::sea_query::ColumnType::Text
            }
        }

        impl sea_orm::sea_query::Nullable for $name {
            fn null() -> sea_orm::Value {
                sea_orm::Value::String(None)
            }
        }

        impl sea_orm::IntoActiveValue<$name> for $name {
            fn into_active_value(self) -> sea_orm::ActiveValue<$name> {
                sea_orm::ActiveValue::Set(self)
            }
        }

        impl sea_orm::sea_query::postgres_array::NotU8 for $name {}
    )+};
}

text_column!(ObjectiveStatus, Visibility, KeyResultKind, Role, TeamKind);
