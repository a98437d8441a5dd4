//! Every DataLoader of a request, registered in one place ([`register`]). Each batches the
//! keys requested while a level of the query resolves into one repository call, so a query's
//! round trips grow with its depth, never with the number of objects it returns.
//!
//! Loaders are built per request because they carry the viewer: what one caller may see is
//! never cached for another. Imports `store` and `domain`, never `graphql`.

mod objectives;
mod org;

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::DataLoader;

pub use objectives::{
    AncestorsOf, CheckInsKey, CheckInsOf, ChildrenOf, DescendantsOf, KeyResultById, KeyResultsOf,
    MilestoneById, MilestonesOf, ObjectiveById, SubtreeKey,
};
pub use org::{CycleById, SubTeamsOf, TeamById, UserById, UsersOfTeam};

use crate::domain::access::Viewer;
use crate::store::metrics::spawn_in_request;
use crate::store::pg::key_results::KeyResultRepo;
use crate::store::pg::milestones::MilestoneRepo;
use crate::store::pg::objectives::ObjectiveRepo;
use crate::store::pg::org::OrgRepo;

/// The repositories loaders and mutations work through; cheap to clone (pool handles).
#[derive(Clone)]
pub struct Stores {
    pub objectives: ObjectiveRepo,
    pub key_results: KeyResultRepo,
    pub milestones: MilestoneRepo,
    pub org: OrgRepo,
}

impl Stores {
    pub fn new(db: sea_orm::DatabaseConnection) -> Self {
        Self {
            objectives: ObjectiveRepo::new(db.clone()),
            key_results: KeyResultRepo::new(db.clone()),
            milestones: MilestoneRepo::new(db.clone()),
            org: OrgRepo::new(db),
        }
    }
}

/// Adds every loader, scoped to `viewer`, to a request's data.
pub fn register(
    request: async_graphql::Request,
    stores: &Stores,
    viewer: Viewer,
) -> async_graphql::Request {
    fn loader<T>(inner: T) -> DataLoader<T> {
        DataLoader::new(inner, spawn_in_request)
    }
    let s = stores;
    request
        .data(loader(ObjectiveById::new(s, viewer)))
        .data(loader(ChildrenOf::new(s, viewer)))
        .data(loader(DescendantsOf::new(s, viewer)))
        .data(loader(AncestorsOf::new(s, viewer)))
        .data(loader(KeyResultsOf::new(s, viewer)))
        .data(loader(KeyResultById::new(s, viewer)))
        .data(loader(MilestonesOf::new(s, viewer)))
        .data(loader(MilestoneById::new(s, viewer)))
        .data(loader(CheckInsOf::new(s, viewer)))
        .data(loader(TeamById::new(s, viewer)))
        .data(loader(SubTeamsOf::new(s, viewer)))
        .data(loader(UserById::new(s, viewer)))
        .data(loader(UsersOfTeam::new(s, viewer)))
        .data(loader(CycleById::new(s, viewer)))
}

/// Rows keyed by their own id.
fn by_id<V>(rows: Vec<V>, id: impl Fn(&V) -> i64) -> HashMap<i64, V> {
    rows.into_iter().map(|row| (id(&row), row)).collect()
}

/// Rows grouped under the key each belongs to, keeping their order.
fn grouped<K: Hash + Eq, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut groups: HashMap<K, Vec<V>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}
