//! The users that bearer tokens name, cached per replica so a request needs no SQL statement
//! to learn who is asking. PostgreSQL tells every replica when a user changes: a trigger on
//! `users` sends `NOTIFY goalgraph_users, '<tenant>:<user>'` on every update or delete
//! (whoever makes it, the API or an operator's SQL), and each replica's listener (see
//! `progress_feed`) evicts the entry. While the listener is not connected nothing is served
//! from the cache, and it is emptied whenever the listener (re)connects, so a notification
//! missed during a disconnection can never leave a stale role behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::domain::role::Role;

/// The NOTIFY channel of the `users` trigger.
pub const USERS_CHANNEL: &str = "goalgraph_users";
/// The most users kept; past it the cache starts afresh (cheap, and bounded).
const CAPACITY: usize = 100_000;

/// What a request needs of its token's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedUser {
    pub role: Role,
    pub team_id: Option<i64>,
}

/// This replica's user cache; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct UserCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    users: RwLock<HashMap<(i64, i64), CachedUser>>,
    /// True while the listener is connected and listening: only then can entries be trusted.
    live: AtomicBool,
    /// Bumped by every eviction, so a read that raced with one is not cached.
    generation: AtomicU64,
}

/// Where a lookup started, for [`UserCache::insert`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(u64);

impl UserCache {
    /// The cached user, if the cache is live and holds it.
    pub fn get(&self, tenant_id: i64, user_id: i64) -> Option<CachedUser> {
        if !self.inner.live.load(Ordering::Acquire) {
            return None;
        }
        self.users().get(&(tenant_id, user_id)).copied()
    }

    /// Taken before reading a user from the database.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.inner.generation.load(Ordering::Acquire))
    }

    /// Caches a user read after `ticket` was taken, unless an eviction happened since (the
    /// read may predate the change it announced) or the cache is not live.
    pub fn insert(&self, ticket: ReadTicket, tenant_id: i64, user_id: i64, user: CachedUser) {
        if !self.inner.live.load(Ordering::Acquire) {
            return;
        }
        let mut users = self.inner.users.write().unwrap_or_else(|e| e.into_inner());
        if self.inner.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if users.len() >= CAPACITY {
            users.clear();
        }
        users.insert((tenant_id, user_id), user);
    }

    /// Applies a `goalgraph_users` notification (`<tenant>:<user>`); anything unreadable
    /// empties the cache.
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

    fn users(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(i64, i64), CachedUser>> {
        self.inner.users.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: CachedUser = CachedUser {
        role: Role::Admin,
        team_id: None,
    };

    #[test]
    fn nothing_is_served_or_kept_while_the_listener_is_deaf() {
        let cache = UserCache::default();
        cache.insert(cache.ticket(), 1, 2, ADMIN);
        assert_eq!(cache.get(1, 2), None);
        cache.listening();
        cache.insert(cache.ticket(), 1, 2, ADMIN);
        assert_eq!(cache.get(1, 2), Some(ADMIN));
        cache.deaf();
        assert_eq!(cache.get(1, 2), None);
        cache.listening();
        assert_eq!(cache.get(1, 2), None, "reconnecting empties the cache");
    }

    #[test]
    fn a_notification_evicts_its_user_and_a_racing_read_is_not_cached() {
        let cache = UserCache::default();
        cache.listening();
        cache.insert(cache.ticket(), 1, 2, ADMIN);
        cache.insert(cache.ticket(), 1, 3, ADMIN);
        let before_change = cache.ticket();
        cache.evict_notified("1:2");
        assert_eq!(cache.get(1, 2), None);
        assert_eq!(cache.get(1, 3), Some(ADMIN));
        // A read that started before the change was announced must not be cached.
        cache.insert(before_change, 1, 2, ADMIN);
        assert_eq!(cache.get(1, 2), None);
        cache.evict_notified("garbage");
        assert_eq!(cache.get(1, 3), None);
    }
}
