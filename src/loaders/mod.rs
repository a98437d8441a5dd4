//! Every DataLoader of a request, registered in one place ([`register`]). Each batches the
//! keys requested while a level of the query resolves into one repository call, so a query's
//! round trips grow with its depth, never with the number of objects it returns.
//!
//! Loaders are built per request because they carry the viewer: what one caller may see is
//! never cached for another. Imports `store` and `domain`, never `graphql`.

mod documents;
mod objectives;
mod org;
mod pages;

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, HashMapCache};

/// The most keys one batch carries (an `= ANY($1)` array or a `$in` list).
pub const MAX_BATCH: usize = 50_000;

/// The hashing of the loaders' caches: keys are ids, and SipHash showed in tree reads' profiles.
type CacheHasher = foldhash::fast::RandomState;

/// The loader type registered for `T`.
pub type RequestLoader<T> = DataLoader<T, HashMapCache<CacheHasher>>;

pub use documents::{
    ActivityOf, GoalTreeOf, LatestUpdateOfKeyResult, UpdateById, UpdatesKey, UpdatesOf,
};
pub use objectives::{
    AncestorsOf, CheckInById, CheckInsKey, CheckInsOf, ChildrenOf, DescendantsOf, KeyResultById,
    KeyResultsOf, MilestoneById, MilestonesOf, ObjectiveById, SubtreeKey,
};
pub use org::{CycleById, DataVersionOf, SubTeamsOf, TeamById, UserById, UsersOfTeam};
pub use pages::{CheckInCursor, CheckInPagesOf, ChildrenPagesOf, PageKey, UpdatePagesOf};

use crate::domain::access::Viewer;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::store::metrics::spawn_in_request;
use crate::store::mongo::MongoStore;
use crate::store::mongo::goal_templates::GoalTemplates;
use crate::store::mongo::goal_trees::GoalTrees;
use crate::store::mongo::goal_updates::GoalUpdates;
use crate::store::pg::activity::ActivityRepo;
use crate::store::pg::key_results::KeyResultRepo;
use crate::store::pg::milestones::MilestoneRepo;
use crate::store::pg::objectives::ObjectiveRepo;
use crate::store::pg::org::OrgRepo;
use crate::store::pg::user_cache::UserCache;

/// The repositories loaders and mutations work through; cheap to clone (pool handles).
#[derive(Clone)]
pub struct Stores {
    pub objectives: ObjectiveRepo,
    pub key_results: KeyResultRepo,
    pub milestones: MilestoneRepo,
    pub org: OrgRepo,
    pub activity: ActivityRepo,
    pub trees: GoalTrees,
    pub templates: GoalTemplates,
    pub updates: GoalUpdates,
    /// Notified after a write commits outbox events, so the relay runs at once.
    pub outbox_written: Arc<Notify>,
    /// Answers of dashboard reports by tenant data version.
    pub reports: crate::store::report_cache::ReportCache,
}

impl Stores {
    pub fn new(db: crate::store::pg::Db, mongo: &MongoStore) -> Self {
        let documents = mongo.database().clone();
        Self {
            objectives: ObjectiveRepo::new(db.clone()),
            key_results: KeyResultRepo::new(db.clone()),
            milestones: MilestoneRepo::new(db.clone()),
            activity: ActivityRepo::new(db.clone()),
            org: OrgRepo::new(db),
            trees: GoalTrees::new(documents.clone()),
            templates: GoalTemplates::new(documents.clone()),
            updates: GoalUpdates::new(documents),
            outbox_written: Arc::new(Notify::new()),
            reports: Default::default(),
        }
    }

    /// The same stores reading users through `users`, the replica's user cache.
    pub fn with_user_cache(mut self, users: UserCache) -> Self {
        self.org = self.org.with_user_cache(users);
        self
    }
}

/// Whether a request's loaders keep what they load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderCache {
    /// For the request's lifetime (loaders are built per request, so the cache never serves
    /// one viewer's rows to another); it lets list fields prime their items' relations.
    PerRequest,
    /// Not at all: a subscription lives for many events, each of which must read what is
    /// current (loads are still batched).
    Off,
}

/// Adds every loader, scoped to `viewer`, to a request's data.
pub fn register(
    request: async_graphql::Request,
    stores: &Stores,
    viewer: Viewer,
    cache: LoaderCache,
) -> async_graphql::Request {
    let keep = cache == LoaderCache::PerRequest;
    fn loader<T>(inner: T, keep: bool) -> RequestLoader<T> {
        // No batching window: a batch starts when its task is first polled. The task is
        // spawned from the request's own task into its worker's next-task slot, so it
        // normally runs once that task has gone as far as it can — every resolver ready in
        // that pass has added its keys by then (a second spawn in the same pass moves the
        // first to the worker's queue, where another worker may take it sooner); lists prime
        // their items' relations with whole key sets anyway.
        // async-graphql's default 1 ms window put a millisecond and a timer thread's wake-up
        // on the critical path of every batch: one connection, Q2 over 111 objectives, p50
        // 2.34 → 1.24 ms, the nested Q1 4.62 → 2.91 ms; statements per request unchanged,
        // under load too (BENCHMARKS.md, issue 12, session 9).
        let loader = DataLoader::with_cache(inner, spawn_in_request, HashMapCache::new())
            .max_batch_size(MAX_BATCH)
            .delay(std::time::Duration::ZERO);
        loader.enable_all_cache(keep);
        loader
    }
    let s = stores;
    request
        .data(loader(ObjectiveById::new(s, viewer), keep))
        .data(loader(ChildrenOf::new(s, viewer), keep))
        .data(loader(DescendantsOf::new(s, viewer), keep))
        .data(loader(AncestorsOf::new(s, viewer), keep))
        .data(loader(CheckInById::new(s, viewer), keep))
        .data(loader(KeyResultsOf::new(s, viewer), keep))
        .data(loader(KeyResultById::new(s, viewer), keep))
        .data(loader(MilestonesOf::new(s, viewer), keep))
        .data(loader(MilestoneById::new(s, viewer), keep))
        .data(loader(CheckInsOf::new(s, viewer), keep))
        .data(loader(TeamById::new(s, viewer), keep))
        .data(loader(SubTeamsOf::new(s, viewer), keep))
        .data(loader(UserById::new(s, viewer), keep))
        .data(loader(UsersOfTeam::new(s, viewer), keep))
        .data(loader(CycleById::new(s, viewer), keep))
        .data(loader(DataVersionOf::new(s), keep))
        .data(loader(GoalTreeOf::new(s, viewer), keep))
        .data(loader(UpdatesOf::new(s, viewer), keep))
        .data(loader(LatestUpdateOfKeyResult::new(s, viewer), keep))
        .data(loader(ActivityOf::new(s, viewer), keep))
        .data(loader(UpdateById::new(s, viewer), keep))
        .data(loader(ChildrenPagesOf::new(s, viewer), keep))
        .data(loader(CheckInPagesOf::new(s, viewer), keep))
        .data(loader(UpdatePagesOf::new(s, viewer), keep))
}

/// Rows keyed by their own id.
fn by_id<V>(rows: Vec<V>, id: impl Fn(&V) -> i64) -> HashMap<i64, V> {
    rows.into_iter().map(|row| (id(&row), row)).collect()
}

/// Rows a loader shares with every field that reads them: the request cache hands out the same
/// rows to each (a reference count, not a copy of every row).
pub type SharedRows<T> = std::sync::Arc<Vec<T>>;

/// Each group of rows made shareable.
fn shared<K: Hash + Eq, V>(groups: HashMap<K, Vec<V>>) -> HashMap<K, SharedRows<V>> {
    groups
        .into_iter()
        .map(|(key, rows)| (key, SharedRows::new(rows)))
        .collect()
}

/// Rows grouped under the key each belongs to, keeping their order.
fn grouped<K: Hash + Eq, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut groups: HashMap<K, Vec<V>> = HashMap::new();
    // One group (one subtree, one parent's children) keeps the rows' own vector: regrouping a
    // whole tree's entries one by one held two copies of it at once.
    if let Some(only) = rows.first().map(&key)
        && rows.iter().all(|row| key(row) == only)
    {
        groups.insert(only, rows);
        return groups;
    }
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

/// `found` with an entry for every requested key (`V::default()`, e.g. an empty list or
/// `None`, where nothing was found), so the request cache also remembers absences.
fn every_key<K: Hash + Eq + Clone, V: Default>(
    keys: &[K],
    mut found: HashMap<K, V>,
) -> HashMap<K, V> {
    for key in keys {
        found.entry(key.clone()).or_default();
    }
    found
}
