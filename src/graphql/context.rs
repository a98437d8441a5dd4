//! What resolvers read from the request context: the viewer, the stores and the loaders.

use std::collections::HashSet;

use async_graphql::Context;
use async_graphql::dataloader::Loader;

use crate::domain::access::Viewer;
use crate::domain::global_id::{GlobalId, NodeKind};
use crate::error::{AppError, AppResult};
use crate::loaders::{RequestLoader, Stores};

/// The authenticated caller, or UNAUTHENTICATED.
pub fn viewer(ctx: &Context<'_>) -> AppResult<Viewer> {
    if let Some(viewer) = ctx.data_opt::<Viewer>() {
        return Ok(*viewer);
    }
    // HTTP requests without a viewer are answered 401 before execution (anonymous
    // introspection aside), so this is the message of a field that needs one anyway.
    Err(AppError::Unauthenticated(
        "send an Authorization: Bearer <token> header (goalgraph token prints one)".into(),
    ))
}

/// The caller, who must pass `allowed` (a role check), else FORBIDDEN.
pub fn authorized(
    ctx: &Context<'_>,
    allowed: fn(crate::domain::role::Role) -> bool,
    action: &str,
) -> AppResult<Viewer> {
    let viewer = viewer(ctx)?;
    if !allowed(viewer.role) {
        return Err(AppError::Forbidden(format!(
            "the {} role may not {action}",
            viewer.role.as_str()
        )));
    }
    Ok(viewer)
}

pub fn stores<'a>(ctx: &Context<'a>) -> &'a Stores {
    ctx.data_unchecked::<Stores>()
}

/// The request's loader of type `T` (registered by `loaders::register` with the viewer).
pub fn loader<'a, T>(ctx: &Context<'a>) -> AppResult<&'a RequestLoader<T>>
where
    T: Send + Sync + 'static,
{
    viewer(ctx)?;
    // Every authenticated request gets its loaders (`loaders::register`), over HTTP and
    // WebSocket alike.
    ctx.data_opt::<RequestLoader<T>>()
        .ok_or_else(|| AppError::Internal("the request's loaders are not registered".into()))
}

/// Loads many values through loader `T` in one batch (priming its cache).
pub async fn load_many<T, K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> AppResult<std::collections::HashMap<K, T::Value>>
where
    T: Loader<K, Error = AppError>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    loader::<T>(ctx)?.load_many(distinct(keys)).await
}

/// `keys` without repeats, in first-seen order. The loader answers each key once however often
/// it is asked, but it clones the cached value and hashes the key (SipHash) for every one asked:
/// the owners of an 11,111-objective subtree are 11,111 keys for about a thousand users.
pub fn distinct<K: std::hash::Hash + Eq + Clone>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    let keys = keys.into_iter();
    let mut seen: HashSet<K, foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(keys.size_hint().0, Default::default());
    keys.filter(|key| seen.insert(key.clone())).collect()
}

/// Loads one value through loader `T`.
pub async fn load_one<T, K>(ctx: &Context<'_>, key: K) -> AppResult<Option<T::Value>>
where
    T: Loader<K, Error = AppError>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    loader::<T>(ctx)?.load_one(key).await
}

/// Decodes a client-supplied ID that must name a `kind`.
pub fn decode_id(raw: &async_graphql::ID, kind: NodeKind, field: &'static str) -> AppResult<i64> {
    GlobalId::decode_as(raw, kind).ok_or_else(|| {
        AppError::bad_input(
            field,
            format!("{field} is not a valid {} ID", kind.as_str()),
        )
    })
}

/// Decodes an optional ID argument.
pub fn decode_opt(
    raw: Option<&async_graphql::ID>,
    kind: NodeKind,
    field: &'static str,
) -> AppResult<Option<i64>> {
    raw.map(|raw| decode_id(raw, kind, field)).transpose()
}

/// The ID clients see for row `id` of `kind`.
pub fn encode_id(kind: NodeKind, id: i64) -> async_graphql::ID {
    async_graphql::ID(GlobalId::new(kind, id).encode())
}
