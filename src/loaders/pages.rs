//! Loaders for pages of lists that hang off an object (an objective's children and notes, a
//! key result's check-ins): the keys of one query level that ask for the same window are
//! answered by one statement or command.

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;

use super::{Stores, every_key, grouped};
use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::store::mongo::goal_updates::{GoalUpdate, GoalUpdates};
use crate::store::pg::entity::{check_in, objective};
use crate::store::pg::key_results::KeyResultRepo;
use crate::store::pg::objectives::ObjectiveRepo;
use crate::store::window::Window;

/// A page of the list of `owner_id` (the objective or key result it hangs off).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey<C> {
    pub owner_id: i64,
    pub window: Window<C>,
}

/// The keys' pages: one fetch per distinct window, for every owner asking for it.
async fn by_window<C, V, F, Fut>(
    keys: &[PageKey<C>],
    fetch: F,
) -> Result<HashMap<PageKey<C>, Vec<V>>, AppError>
where
    C: Clone + Hash + Eq,
    F: Fn(Vec<i64>, Window<C>) -> Fut,
    Fut: Future<Output = Result<HashMap<i64, Vec<V>>, AppError>>,
{
    let mut out = HashMap::new();
    for (window, keys) in grouped(keys.to_vec(), |key| key.window.clone()) {
        let owners = keys.iter().map(|key| key.owner_id).collect();
        for (owner_id, rows) in fetch(owners, window.clone()).await? {
            let window = window.clone();
            out.insert(PageKey { owner_id, window }, rows);
        }
    }
    Ok(every_key(keys, out))
}

/// Pages of visible, unarchived children by parent id.
pub struct ChildrenPagesOf {
    repo: ObjectiveRepo,
    viewer: Viewer,
}

impl ChildrenPagesOf {
    pub fn new(stores: &Stores, viewer: Viewer) -> Self {
        Self {
            repo: stores.objectives.clone(),
            viewer,
        }
    }
}

impl Loader<PageKey<i64>> for ChildrenPagesOf {
    type Value = Vec<objective::Model>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[PageKey<i64>],
    ) -> Result<HashMap<PageKey<i64>, Self::Value>, Self::Error> {
        by_window(keys, |parents, window| async move {
            let rows = self
                .repo
                .visible_children_pages(&self.viewer, &parents, &window)
                .await?;
            Ok(grouped(rows, |row| row.parent_id.unwrap_or_default()))
        })
        .await
    }
}

/// The cursor of a check-in: its time and id (newest first).
pub type CheckInCursor = (DateTime<Utc>, i64);

/// Pages of check-ins by key result id (the key result is visible: it was resolved first).
pub struct CheckInPagesOf {
    repo: KeyResultRepo,
    viewer: Viewer,
}

impl CheckInPagesOf {
    pub fn new(stores: &Stores, viewer: Viewer) -> Self {
        Self {
            repo: stores.key_results.clone(),
            viewer,
        }
    }
}

impl Loader<PageKey<CheckInCursor>> for CheckInPagesOf {
    type Value = Vec<check_in::Model>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[PageKey<CheckInCursor>],
    ) -> Result<HashMap<PageKey<CheckInCursor>, Self::Value>, Self::Error> {
        by_window(keys, |key_results, window| async move {
            let rows = self
                .repo
                .check_in_pages(self.viewer.tenant_id, &key_results, &window)
                .await?;
            Ok(grouped(rows, |row| row.key_result_id))
        })
        .await
    }
}

/// Pages of progress notes by objective id (the objective is visible: it was resolved first).
pub struct UpdatePagesOf {
    repo: GoalUpdates,
    viewer: Viewer,
}

impl UpdatePagesOf {
    pub fn new(stores: &Stores, viewer: Viewer) -> Self {
        Self {
            repo: stores.updates.clone(),
            viewer,
        }
    }
}

impl Loader<PageKey<ObjectId>> for UpdatePagesOf {
    type Value = Vec<GoalUpdate>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[PageKey<ObjectId>],
    ) -> Result<HashMap<PageKey<ObjectId>, Self::Value>, Self::Error> {
        by_window(keys, |objectives, window| async move {
            Ok(self
                .repo
                .pages(self.viewer.tenant_id, &objectives, &window)
                .await?)
        })
        .await
    }
}
