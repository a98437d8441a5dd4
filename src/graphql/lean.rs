//! Lean output resolution for the row-backed types every tree answer is made of (`Objective`,
//! `KeyResult`, `TreeEntry`): fields that only read the row are written into the answer as
//! they are met, and only the fields that load something get a future, as in async-graphql.
//!
//! async-graphql resolves every selected field of every object through its own boxed future,
//! which dominated the cost of large answers (11,111 objectives × 5 fields). What stays the
//! same: fragments (named and inline, with the same type-condition rule), `__typename`,
//! aliases, a response key selected twice (sub-selections merged the same way), errors with
//! their paths, and the empty-selection answer (`null`). `@skip`/`@include` are applied to the
//! document before execution, so they need nothing here. What differs: fields come out in the
//! order they were selected (async-graphql's executor emits them in the order their futures
//! finished, so a field behind a DataLoader moved to the end of its object), as the GraphQL
//! specification asks. The schema has no extensions (see [`super::build_schema`]), whose
//! per-field hooks this path does not call; [`Resolution::Plain`] turns the lean path off.
//!
//! It reads async-graphql's documented-hidden execution context (`ContextBase::item`,
//! `query_env`, `schema_env`), which is stable within a minor version; Cargo.lock pins it, and
//! the differential test (`tests/api/lean.rs`) compares both paths' answers.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{EnumType, resolve_list};
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult,
    Value,
};
use ref_cast::RefCast;
use std::borrow::Cow;

use super::prerender::{self, ListRow};
use crate::domain::global_id::{GlobalId, NodeKind};
use crate::loaders::SharedRows;
use futures::future::join_all;
use std::future::Future;
use std::pin::Pin;

/// How the schema resolves row-backed objects; schema data, [`Resolution::Lean`] unless the
/// configuration says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resolution {
    /// Plain fields written directly, and lists whose selection reads only rows written as
    /// JSON from them ([`super::prerender`]); the default.
    #[default]
    Lean,
    /// Plain fields written directly, every list answered as values.
    LeanValues,
    /// Every field through async-graphql's own resolution, as before the lean path existed,
    /// and subtrees read as whole rows (`objective::subtree_read`).
    Plain,
}

/// A type whose row-only fields can be answered without a resolver.
pub trait PlainFields: ContainerType {
    /// The answer of field `name` when it reads only the row, or `None` when the field needs
    /// its resolver (relations, fields with arguments).
    fn plain_field(&self, name: &str) -> Option<Plain<'_>>;
}

/// A plain field's answer, borrowed from the row where it can be: a pre-rendered list writes
/// it as JSON with no value of its own ([`Plain::write_json`]), the lean path makes it the
/// value async-graphql's resolver would have answered ([`Plain::into_value`]).
#[derive(Debug)]
pub enum Plain<'r> {
    /// A `String!`.
    Text(&'r str),
    /// An `ID!`: a global ID.
    Id(NodeKind, i64),
    /// An `Int!`.
    Int(i32),
    /// A `Float!`.
    Float(f64),
    /// An enum value, by its GraphQL name ([`enum_name`]).
    Enum(&'static str),
    /// Anything else (timestamps, nullable fields), as its value.
    Value(Value),
}

impl Plain<'_> {
    /// The answer as async-graphql's resolver gives it.
    pub fn into_value(self) -> Value {
        match self {
            Plain::Text(text) => Value::String(text.to_owned()),
            Plain::Id(kind, id) => Value::String(GlobalId::new(kind, id).encode()),
            Plain::Int(number) => value(&number),
            Plain::Float(number) => value(&number),
            Plain::Enum(name) => Value::Enum(Name::new(name)),
            Plain::Value(value) => value,
        }
    }

    /// Appends the answer to `out` as JSON, the bytes `serde_json` writes for
    /// [`Self::into_value`].
    pub fn write_json(self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Plain::Text(text) | Plain::Enum(text) => {
                write_json_string(out, text);
                Ok(())
            }
            // Base64url needs no escaping in JSON.
            Plain::Id(kind, id) => {
                out.push(b'"');
                GlobalId::new(kind, id).encode_into(out);
                out.push(b'"');
                Ok(())
            }
            Plain::Int(number) => serde_json::to_writer(out, &number),
            Plain::Float(number) if is_small_whole(number) => {
                // What `serde_json` writes for a whole number, without its float formatter
                // (weights are whole numbers mostly).
                out.extend_from_slice(itoa::Buffer::new().format(number as i64).as_bytes());
                out.extend_from_slice(b".0");
                Ok(())
            }
            Plain::Float(number) if number.is_finite() => serde_json::to_writer(out, &number),
            other => serde_json::to_writer(out, &other.into_value()),
        }
    }
}

/// Whether `number` is a whole number `serde_json` writes as its digits and `.0` (not in
/// exponent notation, not negative zero).
fn is_small_whole(number: f64) -> bool {
    number.fract() == 0.0 && number.abs() < 1e9 && !(number == 0.0 && number.is_sign_negative())
}

/// Appends `text` as a JSON string, byte for byte as `serde_json` writes it: text with nothing
/// to escape (a title, a name) is copied whole instead of going through its escaper.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let escaped = |byte: &u8| *byte < 0x20 || *byte == b'"' || *byte == b'\\';
    if text.as_bytes().iter().any(escaped) {
        // Writing to a vector cannot fail.
        let _ = serde_json::to_writer(out, text);
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// A field's answer on its way (type-erased: the future of an object's relation contains the
/// resolution of objects of the same type).
type FieldFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<(Name, Value)>> + Send + 'a>>;

/// One selected field in selection order: answered already, or waiting on its resolver.
enum Answer<'a> {
    Ready(Name, Value),
    Pending(&'a Positioned<Field>),
}

/// Resolves `root` for the selection set of `ctx` (what `OutputType::resolve` does).
pub async fn resolve_object<T: PlainFields + Sync>(
    ctx: &ContextSelectionSet<'_>,
    root: &T,
) -> ServerResult<Value> {
    if ctx.data_opt::<Resolution>() == Some(&Resolution::Plain) {
        return async_graphql::resolver_utils::resolve_container(ctx, root).await;
    }
    let mut answers = Vec::new();
    collect(ctx, root, &mut answers)?;
    // Boxed, as async-graphql boxes them: a relation's answer resolves objects of this same
    // type again, and a recursive future needs an indirection.
    let pending = answers.iter().filter_map(|answer| match answer {
        Answer::Pending(field) => {
            Some(Box::pin(resolve_field(ctx, root, field)) as FieldFuture<'_>)
        }
        Answer::Ready(..) => None,
    });
    let mut resolved = join_all(pending).await.into_iter();
    let mut object = IndexMap::with_capacity(answers.len());
    for answer in answers {
        let (name, value) = match answer {
            Answer::Ready(name, value) => (name, value),
            Answer::Pending(_) => match resolved.next() {
                Some(Ok(pair)) => pair,
                Some(Err(error)) => {
                    ctx.add_error(error);
                    continue;
                }
                None => continue,
            },
        };
        insert_value(&mut object, name, value);
    }
    Ok(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

async fn resolve_field<'a, T: PlainFields + Sync>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    field: &'a Positioned<Field>,
) -> ServerResult<(Name, Value)> {
    let ctx_field = ctx.with_field(field);
    let value = root.resolve_field(&ctx_field).await?.unwrap_or_default();
    Ok((field.node.response_key().node.clone(), value))
}

/// The selected fields of `root` in `ctx`'s selection set, fragments expanded as
/// async-graphql's `Fields::add_set` expands them.
fn collect<'a, T: PlainFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    answers: &mut Vec<Answer<'a>>,
) -> ServerResult<()> {
    for selection in &ctx.item.node.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                let key = || field.node.response_key().node.clone();
                if name == "__typename" {
                    let typename = root.introspection_type_name().into_owned();
                    answers.push(Answer::Ready(key(), Value::String(typename)));
                } else if let Some(value) = field
                    .node
                    .directives
                    .is_empty()
                    .then(|| root.plain_field(name))
                    .flatten()
                    .map(Plain::into_value)
                {
                    answers.push(Answer::Ready(key(), value));
                } else {
                    answers.push(Answer::Pending(field));
                }
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                };
                (
                    Some(&fragment.node.type_condition),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref(),
                &fragment.node.selection_set,
            ),
        };
        let condition = condition.map(|c| c.node.on.node.as_str());
        if fragment_applies(ctx, &root.introspection_type_name(), condition) {
            collect(&ctx.with_selection_set(selection_set), root, answers)?;
        }
    }
    Ok(())
}

/// Whether a fragment with type condition `condition` (none: an inline fragment without one)
/// applies to an object of type `own`: the same type, or an interface it implements.
pub fn fragment_applies(ctx: &ContextSelectionSet<'_>, own: &str, condition: Option<&str>) -> bool {
    condition.is_none_or(|condition| {
        own == condition
            || ctx
                .schema_env
                .registry
                .implements
                .get(own)
                .is_some_and(|interfaces| interfaces.contains(condition))
    })
}

/// Adds `value` under `name`, merging it into an object (or the objects of a list) already
/// answered under that key — async-graphql's rule for a key selected twice.
fn insert_value(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    let Some(previous) = target.get_mut(&name) else {
        target.insert(name, value);
        return;
    };
    match (previous, value) {
        (Value::Object(previous), Value::Object(object)) => {
            for (key, value) in object {
                insert_value(previous, key, value);
            }
        }
        (Value::List(previous), Value::List(list)) => {
            for (item, value) in previous.iter_mut().zip(list) {
                if let (Value::Object(previous), Value::Object(object)) = (item, value) {
                    for (key, value) in object {
                        insert_value(previous, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Gives a row-backed type the lean resolution: `$lean` (the public type, holding the row as
/// `.0`) answers as the `#[Object]` type `$fields` (`#[repr(transparent)]` over the same row,
/// with `RefCast`) does, with [`PlainFields`] for its row-only fields.
macro_rules! lean_output {
    ($lean:ty => $fields:ty) => {
        impl async_graphql::OutputType for $lean {
            fn type_name() -> std::borrow::Cow<'static, str> {
                <$fields as async_graphql::OutputType>::type_name()
            }

            fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                <$fields as async_graphql::OutputType>::create_type_info(registry)
            }

            async fn resolve(
                &self,
                ctx: &async_graphql::ContextSelectionSet<'_>,
                _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
            ) -> async_graphql::ServerResult<async_graphql::Value> {
                $crate::graphql::lean::resolve_object(ctx, self).await
            }
        }

        impl async_graphql::ContainerType for $lean {
            async fn resolve_field(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
                use ref_cast::RefCast;
                <$fields>::ref_cast(&self.0).resolve_field(ctx).await
            }
        }

        impl async_graphql::ObjectType for $lean {}
    };
}

pub(crate) use lean_output;

/// A list answer over rows the request's loaders share ([`SharedRows`]): each item is resolved
/// as `T` seen over its row in place (`T` is `#[repr(transparent)]` over the row), so a list
/// field hands out no copy of the rows it lists. Its GraphQL type is `[T!]!`, as `Vec<T>`'s.
pub struct SharedList<T: RefCast>(SharedRows<T::From>)
where
    T::From: Sized;

impl<T: RefCast> SharedList<T>
where
    T::From: Sized,
{
    /// The list of `rows`.
    pub fn new(rows: SharedRows<T::From>) -> Self {
        Self(rows)
    }
}

impl<T> OutputType for SharedList<T>
where
    T: RefCast + OutputType,
    T::From: Sized + Send + Sync + ListRow + 'static,
{
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(answer) = prerender::list(ctx, field, &self.0).await {
            return Ok(answer);
        }
        let items = self.0.iter().map(T::ref_cast);
        resolve_list(ctx, field, items, Some(self.0.len())).await
    }
}

/// The GraphQL name of enum value `value` (what its `OutputType` answers), with no value of
/// its own.
pub fn enum_name<T: EnumType>(value: T) -> &'static str {
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map_or("", |item| item.name)
}

/// A scalar or enum as its answer value (what its `OutputType` produces).
pub fn value<T: async_graphql::InputType>(value: &T) -> Value {
    value.to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::enums::ObjectiveStatus;

    #[test]
    fn a_plain_answer_is_written_as_the_bytes_of_its_value() {
        let answers = || {
            [
                Plain::Text("quoted \"and\" \\ escaped\n é"),
                Plain::Text("Objective 12: ship ünïcödé / 日本 \u{7f} as is"),
                Plain::Text("a tab\tand \u{1} control"),
                Plain::Text(""),
                Plain::Id(NodeKind::Objective, i64::MAX),
                Plain::Id(NodeKind::KeyResult, 7),
                Plain::Int(-42),
                Plain::Float(0.1 + 0.2),
                Plain::Float(1.0),
                Plain::Float(0.0),
                Plain::Float(-0.0),
                Plain::Float(-7.0),
                Plain::Float(123_456_789.0),
                Plain::Float(999_999_999.0),
                Plain::Float(1e9),
                Plain::Float(1e17),
                Plain::Float(2.5),
                Plain::Float(f64::NAN),
                Plain::Enum(enum_name(ObjectiveStatus::OnTrack)),
                Plain::Value(Value::Null),
            ]
        };
        for (written, valued) in answers().into_iter().zip(answers()) {
            let mut json = Vec::new();
            written.write_json(&mut json).expect("written");
            let expected = serde_json::to_vec(&valued.into_value()).expect("serialised");
            assert_eq!(
                String::from_utf8_lossy(&json),
                String::from_utf8_lossy(&expected)
            );
        }
        assert_eq!(enum_name(ObjectiveStatus::OnTrack), "ON_TRACK");
    }
}
