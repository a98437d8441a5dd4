//! Live progress changes across API replicas through PostgreSQL LISTEN/NOTIFY: a write
//! announces the objectives whose progress or status it changed inside its own transaction
//! (so subscribers hear of committed changes only, in commit order), and every replica's one
//! listener fans the notices out to its subscriptions. The same connection also hears the
//! `users` trigger's notifications and keeps the replica's user cache fresh (`user_cache`).

use std::sync::Arc;
use std::time::Duration;

use super::Db;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::PgListener;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::scoped::sql;
use super::tree::{self, ChainLink};
use super::user_cache::{USERS_CHANNEL, UserCache};
use crate::domain::access::Viewer;
use crate::domain::objective::ObjectiveStatus;
use crate::store::StoreResult;

/// The NOTIFY channel.
pub const CHANNEL: &str = "goalgraph_progress";
/// NOTIFY payloads must stay under 8,000 bytes; notices are packed into chunks below this.
const MAX_PAYLOAD_BYTES: usize = 7_000;
/// Notices a slow subscriber may fall behind by before it skips some.
const BUFFER: usize = 4_096;

/// An objective's progress or status as a write left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressNotice {
    pub tenant_id: i64,
    pub objective_id: i64,
    /// Its ancestors, root first: a subscription under any of them hears of it.
    pub ancestors: Vec<i64>,
    /// Those of its ancestors that are private, with what decides who may see them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_ancestors: Vec<PrivateAncestor>,
    pub progress: f64,
    pub status: ObjectiveStatus,
    pub private: bool,
    pub owner_id: i64,
    pub team_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// A private ancestor of a notice's objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateAncestor {
    pub id: i64,
    pub owner_id: i64,
    pub team_id: Option<i64>,
}

impl ProgressNotice {
    /// Whether a subscription of `viewer` to the objective `under` should deliver this.
    pub fn concerns(&self, viewer: &Viewer, under: i64) -> bool {
        self.tenant_id == viewer.tenant_id
            && (self.objective_id == under || self.ancestors.contains(&under))
            && viewer.can_see(self.private, self.owner_id, self.team_id)
    }

    /// Its ancestors `viewer` may see, root first (queries hide the others, and so do events).
    pub fn ancestors_visible_to<'a>(
        &'a self,
        viewer: &'a Viewer,
    ) -> impl Iterator<Item = i64> + 'a {
        self.ancestors.iter().copied().filter(move |id| {
            self.private_ancestors
                .iter()
                .find(|ancestor| ancestor.id == *id)
                .is_none_or(|ancestor| viewer.can_see(true, ancestor.owner_id, ancestor.team_id))
        })
    }
}

/// Notices for the chain links `changed` (ids with their new progress), deepest first (a
/// check-in's objective before the ancestors it rolls up into); their ancestors are taken from
/// `chain`, which holds every ancestor of every changed link.
pub fn notices_from_chain(
    tenant_id: i64,
    chain: &[ChainLink],
    changed: &[(i64, f64)],
) -> Vec<ProgressNotice> {
    let by_id: std::collections::HashMap<i64, &ChainLink> =
        chain.iter().map(|link| (link.id, link)).collect();
    let at = Utc::now();
    let mut notices = changed
        .iter()
        .filter_map(|&(id, progress)| {
            let link = by_id.get(&id)?;
            let mut ancestors = Vec::new();
            let mut private_ancestors = Vec::new();
            let mut parent = link.parent_id;
            while let Some(parent_id) = parent {
                ancestors.push(parent_id);
                let ancestor = by_id.get(&parent_id);
                if let Some(ancestor) = ancestor.filter(|a| a.visibility.is_private()) {
                    private_ancestors.push(PrivateAncestor {
                        id: ancestor.id,
                        owner_id: ancestor.owner_id,
                        team_id: ancestor.team_id,
                    });
                }
                parent = ancestor.and_then(|p| p.parent_id);
            }
            ancestors.reverse();
            Some(ProgressNotice {
                tenant_id,
                objective_id: id,
                ancestors,
                private_ancestors,
                progress,
                status: link.status,
                private: link.visibility.is_private(),
                owner_id: link.owner_id,
                team_id: link.team_id,
                at,
            })
        })
        .collect::<Vec<_>>();
    notices.sort_by_key(|notice| {
        (
            std::cmp::Reverse(notice.ancestors.len()),
            notice.objective_id,
        )
    });
    notices
}

/// Announces the current progress and status of `ids` (after a status change, say).
pub async fn announce_current(
    txn: &impl ConnectionTrait,
    tenant_id: i64,
    ids: &[i64],
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let chain = tree::chain(txn, tenant_id, ids).await?;
    let current: Vec<(i64, f64)> = chain
        .iter()
        .filter(|link| ids.contains(&link.id))
        .map(|link| (link.id, link.progress))
        .collect();
    announce(txn, &notices_from_chain(tenant_id, &chain, &current)).await
}

/// Queues `notices` on the writer's transaction: PostgreSQL delivers them at commit, in order,
/// and drops them on rollback. One statement whatever their number.
pub async fn announce(txn: &impl ConnectionTrait, notices: &[ProgressNotice]) -> StoreResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let payloads = pack(notices)?;
    txn.execute_raw(sql(
        r#"
            SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS p(payload, n)
            ORDER BY n
        "#,
        [CHANNEL.into(), payloads.into()],
    ))
    .await?;
    Ok(())
}

/// JSON arrays of notices, each under the payload limit.
fn pack(notices: &[ProgressNotice]) -> StoreResult<Vec<String>> {
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for notice in notices {
        let json = serde_json::to_string(notice)
            .map_err(|e| sea_orm::DbErr::Custom(format!("progress notice: {e}")))?;
        if !current.is_empty() && size + json.len() + 1 > MAX_PAYLOAD_BYTES {
            payloads.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += json.len() + 1;
        current.push(json);
    }
    if !current.is_empty() {
        payloads.push(format!("[{}]", current.join(",")));
    }
    Ok(payloads)
}

/// This replica's LISTEN connection: progress notices fanned out to subscribers, and user
/// changes applied to the replica's [`UserCache`].
#[derive(Clone)]
pub struct ProgressFeed {
    sender: broadcast::Sender<Arc<ProgressNotice>>,
    users: UserCache,
    listening: watch::Receiver<bool>,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ProgressFeed {
    /// Starts listening on a connection of `db`'s pool; the listener stops when the last
    /// clone of the feed is dropped. Reconnects by itself; notices sent while it is
    /// disconnected are not delivered (subscribers re-read current values on reconnect).
    pub fn start(db: &Db, users: UserCache) -> Self {
        Self::listening_on(
            db.connection().get_postgres_connection_pool().clone(),
            users,
        )
    }

    /// Like [`ProgressFeed::start`], listening on a connection of its own to `url`: LISTEN
    /// needs a session, so when `db` goes through a transaction pooler this URL must reach
    /// PostgreSQL directly (or through a session pooler).
    pub fn start_at(url: &str, users: UserCache) -> StoreResult<Self> {
        let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy(url)
            .map_err(|err| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())))?;
        Ok(Self::listening_on(pool, users))
    }

    fn listening_on(pool: sea_orm::sqlx::PgPool, users: UserCache) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        let (ready, listening) = watch::channel(false);
        let task = tokio::spawn(listen(pool, sender.clone(), users.clone(), ready));
        Self {
            sender,
            users,
            listening,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Waits up to `wait` for the listener to be listening; whether it is.
    pub async fn wait_listening(&self, wait: Duration) -> bool {
        let mut listening = self.listening.clone();
        tokio::time::timeout(wait, listening.wait_for(|ready| *ready))
            .await
            .is_ok()
    }

    /// The user cache this listener keeps fresh.
    pub fn users(&self) -> &UserCache {
        &self.users
    }

    /// A receiver of every notice from now on, once the listener is listening (at most
    /// `wait` later; after that the receiver hears what arrives once it is).
    pub async fn subscribe(&self, wait: Duration) -> broadcast::Receiver<Arc<ProgressNotice>> {
        let receiver = self.sender.subscribe();
        let mut listening = self.listening.clone();
        let _ = tokio::time::timeout(wait, listening.wait_for(|ready| *ready)).await;
        receiver
    }
}

async fn listen(
    pool: sea_orm::sqlx::PgPool,
    sender: broadcast::Sender<Arc<ProgressNotice>>,
    users: UserCache,
    ready: watch::Sender<bool>,
) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                tracing::warn!(%error, "progress feed: cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen_all([CHANNEL, USERS_CHANNEL]).await {
            tracing::warn!(%error, "progress feed: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        users.listening();
        ready.send_replace(true);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == USERS_CHANNEL => {
                    users.evict_notified(notification.payload());
                }
                Ok(Some(notification)) => {
                    match serde_json::from_str::<Vec<ProgressNotice>>(notification.payload()) {
                        Ok(notices) => {
                            for notice in notices {
                                // No receivers is fine: nobody is subscribed on this replica.
                                let _ = sender.send(Arc::new(notice));
                            }
                        }
                        Err(error) => tracing::warn!(%error, "progress feed: bad payload"),
                    }
                }
                // The connection dropped: notifications may be lost until it is back, so the
                // user cache stops serving, and the listener reconnects from scratch.
                Ok(None) => {
                    tracing::warn!("progress feed: connection lost; reconnecting");
                    users.deaf();
                    ready.send_replace(false);
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "progress feed: receive failed; reconnecting");
                    users.deaf();
                    ready.send_replace(false);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Role;

    fn notice(objective_id: i64, ancestors: Vec<i64>, private: bool) -> ProgressNotice {
        ProgressNotice {
            tenant_id: 1,
            objective_id,
            ancestors,
            private_ancestors: Vec::new(),
            progress: 0.5,
            status: ObjectiveStatus::OnTrack,
            private,
            owner_id: 7,
            team_id: Some(3),
            at: Utc::now(),
        }
    }

    fn member(tenant_id: i64) -> Viewer {
        Viewer {
            tenant_id,
            user_id: 10,
            role: Role::Member,
            team_id: None,
        }
    }

    #[test]
    fn a_notice_concerns_subscribers_to_it_and_its_ancestors_only() {
        let n = notice(9, vec![1, 4], false);
        assert!(n.concerns(&member(1), 9));
        assert!(n.concerns(&member(1), 1));
        assert!(n.concerns(&member(1), 4));
        assert!(!n.concerns(&member(1), 5));
    }

    #[test]
    fn a_notice_never_crosses_tenants_or_shows_a_private_objective() {
        assert!(!notice(9, vec![1], false).concerns(&member(2), 1));
        assert!(!notice(9, vec![1], true).concerns(&member(1), 1));
    }

    #[test]
    fn payloads_stay_under_the_notify_limit_and_keep_order() {
        let notices: Vec<ProgressNotice> = (0..200)
            .map(|i| notice(i, (0..20).collect(), false))
            .collect();
        let payloads = pack(&notices).expect("packs");
        assert!(payloads.len() > 1);
        let mut seen = Vec::new();
        for payload in &payloads {
            assert!(payload.len() < 8_000);
            let chunk: Vec<ProgressNotice> = serde_json::from_str(payload).expect("json");
            seen.extend(chunk.into_iter().map(|n| n.objective_id));
        }
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }
}
