//! Users, cached per replica: a request needs no SQL statement to learn who is asking (the
//! user its token names), nor to read the owners and authors of what it lists (a subtree's
//! owners were a statement per tree read: a thousand rows for 11,111 objectives). The API
//! creates users but never changes them. PostgreSQL tells every replica when a user changes:
//! a trigger on `users` sends `NOTIFY goalgraph_users, '<tenant>:<user>'` on every update or
//! delete (whoever makes it: an operator's SQL, a future mutation), and each replica's
//! listener (see `progress_feed`) evicts the entry; a `TRUNCATE` sends `'*'`, which empties
//! the cache. While the listener is not connected nothing is served from the cache, and it is
//! emptied whenever the listener (re)connects, so a notification missed during a
//! disconnection can never leave a stale user (role, team, name) behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::entity::user;

/// The NOTIFY channel of the `users` trigger.
pub const USERS_CHANNEL: &str = "goalgraph_users";
/// The most users kept; past it the cache starts afresh (cheap, and bounded).
const CAPACITY: usize = 100_000;

/// This replica's user cache; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct UserCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    users: RwLock<HashMap<(i64, i64), user::Model>>,
    /// True while the listener is connected and listening: only then can entries be trusted.
    live: AtomicBool,
    /// Bumped by every eviction, so a read that raced with one is not cached.
    generation: AtomicU64,
}

/// Where a lookup started, for [`UserCache::insert`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(u64);

impl UserCache {
    /// The users of `tenant_id` among `ids` that the cache holds (none unless it is live), and
    /// the ids it does not hold.
    pub fn get_many(&self, tenant_id: i64, ids: &[i64]) -> (Vec<user::Model>, Vec<i64>) {
        if !self.inner.live.load(Ordering::Acquire) {
            return (Vec::new(), ids.to_vec());
        }
        let users = self.users();
        let mut missing = Vec::new();
        let found = ids
            .iter()
            .filter_map(|&id| {
                let cached = users.get(&(tenant_id, id)).cloned();
                if cached.is_none() {
                    missing.push(id);
                }
                cached
            })
            .collect();
        (found, missing)
    }

    /// Taken before reading a user from the database.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.inner.generation.load(Ordering::Acquire))
    }

    /// Caches users read after `ticket` was taken, unless an eviction happened since (the
    /// read may predate the change it announced) or the cache is not live.
    pub fn insert(&self, ticket: ReadTicket, read: &[user::Model]) {
        if read.is_empty() || !self.inner.live.load(Ordering::Acquire) {
            return;
        }
        let mut users = self.inner.users.write().unwrap_or_else(|e| e.into_inner());
        if self.inner.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if users.len() + read.len() > CAPACITY {
            users.clear();
        }
        for user in read.iter().take(CAPACITY) {
            users.insert((user.tenant_id, user.id), user.clone());
        }
    }

    /// Applies a `goalgraph_users` notification (`<tenant>:<user>`); anything else (`*` after
    /// a `TRUNCATE`) empties the cache.
    pub fn evict_notified(&self, payload: &str) {
        let key = payload.split_once(':').and_then(|(tenant, user)| {
            Some((
                tenant.trim().parse::<i64>().ok()?,
                user.trim().parse::<i64>().ok()?,
            ))
        });
        let mut users = self.inner.users.write().unwrap_or_else(|e| e.into_inner());
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        match key {
            Some(key) => {
                users.remove(&key);
            }
            None => users.clear(),
        }
    }

    /// The listener is listening again: forget everything (notifications may have been
    /// missed) and start caching.
    pub fn listening(&self) {
        let mut users = self.inner.users.write().unwrap_or_else(|e| e.into_inner());
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        users.clear();
        self.inner.live.store(true, Ordering::Release);
    }

    /// The listener lost its connection: stop serving from the cache until it is back.
    pub fn deaf(&self) {
        self.inner.live.store(false, Ordering::Release);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn users(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(i64, i64), user::Model>> {
        self.inner.users.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Role;

    fn user(tenant_id: i64, id: i64) -> user::Model {
        user::Model {
            id,
            tenant_id,
            team_id: None,
            name: format!("user {id}"),
            email: format!("{id}@example.com"),
            role: Role::Admin,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn cached(cache: &UserCache, tenant_id: i64, id: i64) -> Option<user::Model> {
        cache.get_many(tenant_id, &[id]).0.pop()
    }

    #[test]
    fn nothing_is_served_or_kept_while_the_listener_is_deaf() {
        let cache = UserCache::default();
        cache.insert(cache.ticket(), &[user(1, 2)]);
        assert_eq!(cached(&cache, 1, 2), None);
        cache.listening();
        cache.insert(cache.ticket(), &[user(1, 2)]);
        assert_eq!(cached(&cache, 1, 2), Some(user(1, 2)));
        cache.deaf();
        assert_eq!(cached(&cache, 1, 2), None);
        cache.listening();
        assert_eq!(cached(&cache, 1, 2), None, "reconnecting empties the cache");
    }

    #[test]
    fn a_notification_evicts_its_user_and_a_racing_read_is_not_cached() {
        let cache = UserCache::default();
        cache.listening();
        cache.insert(cache.ticket(), &[user(1, 2), user(1, 3)]);
        let before_change = cache.ticket();
        cache.evict_notified("1:2");
        assert_eq!(cached(&cache, 1, 2), None);
        assert_eq!(cached(&cache, 1, 3), Some(user(1, 3)));
        // A read that started before the change was announced must not be cached.
        cache.insert(before_change, &[user(1, 2)]);
        assert_eq!(cached(&cache, 1, 2), None);
        cache.evict_notified("garbage");
        assert_eq!(cached(&cache, 1, 3), None);
    }

    #[test]
    fn users_are_kept_per_tenant_and_misses_are_reported_in_order() {
        let cache = UserCache::default();
        cache.listening();
        cache.insert(cache.ticket(), &[user(1, 2), user(7, 3)]);
        let (found, missing) = cache.get_many(1, &[4, 2, 3, 5]);
        assert_eq!(found, vec![user(1, 2)]);
        assert_eq!(missing, vec![4, 3, 5], "user 3 is another tenant's");
    }
}
