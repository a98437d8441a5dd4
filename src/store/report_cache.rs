//! Answers of dashboard reports, kept for every replica in Redis (or in this process without
//! `REDIS_URL`) and never stale: an answer is stored under its tenant's data version
//! ([`crate::store::pg::data_version`]), which the commit of every change to a report's inputs
//! bumps, and a reader looks it up under the version it has just read. A report read after a
//! write's commit therefore misses the answers computed before it; old versions' answers are
//! never read again and expire.
//!
//! Within a replica, concurrent requests for an answer not cached yet wait for the first of
//! them to compute it (200 dashboards opening at once cost one computation per replica).
//!
//! Keys also carry the viewer's visibility class (everyone who sees every objective shares
//! one; anyone else has their own), the report and its arguments. Redis failures fall back to
//! computing the report ([`RedisLink`] pauses Redis use for a few seconds after one).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use redis::AsyncCommands;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::access::Viewer;
use crate::store::locked;
use crate::store::pg::data_version::DataVersion;
use crate::store::redis_link::RedisLink;

/// How long an answer is kept in Redis, in seconds (a newer version makes it unreachable
/// sooner).
const REDIS_TTL_SECONDS: u64 = 600;
/// The most answers kept in process per tenant (its entries are dropped when full).
const LOCAL_ANSWERS_PER_TENANT: usize = 1_000;
/// The most tenants with answers kept in process (every entry is dropped when full).
const LOCAL_TENANTS: usize = 10_000;

/// What identifies one cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKey {
    pub tenant_id: i64,
    /// The tenant's data version read for this request.
    pub version: DataVersion,
    /// Who may see what: `all`, or the viewer's own class.
    pub visibility: String,
    /// The report's field name.
    pub report: &'static str,
    /// Its arguments, canonically written.
    pub arguments: String,
}

impl ReportKey {
    /// The key of `report` with `arguments` for `viewer` at data `version`.
    pub fn new(
        viewer: &Viewer,
        version: DataVersion,
        report: &'static str,
        arguments: String,
    ) -> Self {
        Self {
            tenant_id: viewer.tenant_id,
            version,
            visibility: visibility_class(viewer),
            report,
            arguments,
        }
    }

    fn redis_key(&self) -> String {
        format!(
            "goalgraph:report:{}:{}:{}:{}:{}:{}",
            self.tenant_id,
            self.version.epoch,
            self.version.counter,
            self.visibility,
            self.report,
            self.arguments
        )
    }

    fn local_key(&self) -> String {
        format!("{}:{}:{}", self.visibility, self.report, self.arguments)
    }
}

/// Viewers who see every private objective share answers; anyone else sees public objectives
/// plus their own and (managers) their team's, so their answers are theirs alone.
fn visibility_class(viewer: &Viewer) -> String {
    if viewer.sees_all_private() {
        "all".into()
    } else {
        format!(
            "user{}-team{}",
            viewer.user_id,
            viewer.managed_team().unwrap_or(0)
        )
    }
}

/// Answers of one tenant at its latest version seen.
struct TenantAnswers {
    version: DataVersion,
    answers: HashMap<String, Arc<[u8]>>,
}

/// The cache; clones share it.
#[derive(Clone, Default)]
pub struct ReportCache {
    redis: Arc<OnceLock<RedisLink>>,
    local: Arc<Mutex<HashMap<i64, TenantAnswers>>>,
    /// Set when the operator turned caching off: every report is computed.
    off: Arc<AtomicBool>,
    /// Answers being computed in this process, by key: latecomers wait on its lock.
    computing: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl ReportCache {
    /// From now on, computes every report (`serve --no-report-cache`).
    pub fn turn_off(&self) {
        self.off.store(true, Ordering::Relaxed);
    }

    /// Whether answers are cached (the data version need not be read otherwise).
    pub fn is_on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    /// From now on, keeps answers in the Redis behind `link` (shared by replicas); set once,
    /// when the server is assembled.
    pub fn share_through(&self, link: RedisLink) {
        let _ = self.redis.set(link);
    }

    /// The answer under `key`, or `compute`'s (stored under `key` when it succeeds).
    pub async fn get_or_compute<T, E, F>(&self, key: ReportKey, compute: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, E>>,
    {
        if !self.is_on() {
            return compute.await;
        }
        if let Some(answer) = self.cached::<T>(&key).await {
            record(key.report, "hit");
            return Ok(answer);
        }
        // Miss: compute, unless another request of this process is computing it already — then
        // wait for it and take its answer.
        let redis_key = key.redis_key();
        let turn = locked(&self.computing)
            .entry(redis_key.clone())
            .or_default()
            .clone();
        let guard = turn.lock().await;
        let result = match self.cached::<T>(&key).await {
            Some(answer) => {
                record(key.report, "hit");
                Ok(answer)
            }
            None => {
                record(key.report, "miss");
                let computed = compute.await;
                if let Ok(answer) = &computed
                    && let Ok(bytes) = serde_json::to_vec(answer)
                {
                    self.put(&key, bytes).await;
                }
                computed
            }
        };
        drop(guard);
        let mut computing = locked(&self.computing);
        // The map's entry and ours: nobody else waits.
        if Arc::strong_count(&turn) <= 2 {
            computing.remove(&redis_key);
        }
        result
    }

    /// The answer under `key`, decoded, if cached.
    async fn cached<T: DeserializeOwned>(&self, key: &ReportKey) -> Option<T> {
        let bytes = self.get(key).await?;
        serde_json::from_slice(&bytes).ok()
    }

    fn redis(&self) -> Option<&RedisLink> {
        self.redis.get()
    }

    async fn get(&self, key: &ReportKey) -> Option<Arc<[u8]>> {
        if let Some(link) = self.redis() {
            let mut connection = link.connection()?;
            let found: Result<Option<Vec<u8>>, _> = connection.get(key.redis_key()).await;
            return link
                .checked(found, "reports are computed")
                .flatten()
                .map(Arc::from);
        }
        let local = locked(&self.local);
        let tenant = local.get(&key.tenant_id)?;
        (tenant.version == key.version)
            .then(|| tenant.answers.get(&key.local_key()).cloned())
            .flatten()
    }

    async fn put(&self, key: &ReportKey, bytes: Vec<u8>) {
        if let Some(link) = self.redis() {
            if let Some(mut connection) = link.connection() {
                let stored: Result<(), _> = connection
                    .set_ex(key.redis_key(), bytes, REDIS_TTL_SECONDS)
                    .await;
                link.checked(stored, "reports are computed");
            }
            return;
        }
        let mut local = locked(&self.local);
        if local.len() >= LOCAL_TENANTS && !local.contains_key(&key.tenant_id) {
            local.clear();
        }
        let tenant = local.entry(key.tenant_id).or_insert_with(|| TenantAnswers {
            version: key.version.clone(),
            answers: HashMap::new(),
        });
        if key.version.epoch == tenant.version.epoch && key.version.counter < tenant.version.counter
        {
            // Computed by a request that read an older version: never served again.
            return;
        }
        if key.version != tenant.version || tenant.answers.len() >= LOCAL_ANSWERS_PER_TENANT {
            tenant.version = key.version.clone();
            tenant.answers.clear();
        }
        tenant.answers.insert(key.local_key(), Arc::from(bytes));
    }
}

/// Counts a lookup in `goalgraph_report_cache_total{report, outcome}`.
fn record(report: &'static str, outcome: &'static str) {
    metrics::counter!("goalgraph_report_cache_total", "report" => report, "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Role;

    fn viewer(user_id: i64, role: Role, team_id: Option<i64>) -> Viewer {
        Viewer {
            tenant_id: 1,
            user_id,
            role,
            team_id,
        }
    }

    fn admin() -> Viewer {
        viewer(7, Role::Admin, None)
    }

    async fn read(cache: &ReportCache, counter: i64, computed: i64) -> i64 {
        let version = DataVersion {
            epoch: "e".into(),
            counter,
        };
        let key = ReportKey::new(&admin(), version, "teamRollup", "team=3".into());
        cache
            .get_or_compute(key, async { Ok::<_, ()>(computed) })
            .await
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn an_answer_is_served_only_at_the_version_it_was_computed_for() {
        let cache = ReportCache::default();
        assert_eq!(read(&cache, 1, 10).await, 10);
        assert_eq!(read(&cache, 1, 11).await, 10, "a hit at the same version");
        assert_eq!(read(&cache, 2, 12).await, 12, "a newer version misses");
        assert_eq!(
            read(&cache, 1, 13).await,
            13,
            "an older version is not kept"
        );
        assert_eq!(read(&cache, 2, 14).await, 12);
    }

    #[tokio::test]
    async fn concurrent_misses_compute_once() {
        let cache = ReportCache::default();
        let computations = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reads = (0..8).map(|_| {
            let (cache, computations) = (cache.clone(), computations.clone());
            tokio::spawn(async move {
                let version = DataVersion {
                    epoch: "e".into(),
                    counter: 1,
                };
                let key = ReportKey::new(&admin(), version, "departmentRanking", String::new());
                cache
                    .get_or_compute(key, async {
                        computations.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Ok::<_, ()>(42)
                    })
                    .await
            })
        });
        for read in futures::future::join_all(reads).await {
            assert_eq!(read.ok(), Some(Ok(42)));
        }
        assert_eq!(computations.load(Ordering::SeqCst), 1);
        assert!(locked(&cache.computing).is_empty());
    }

    #[test]
    fn viewers_who_see_different_objectives_never_share_an_answer() {
        let manager = viewer(8, Role::Manager, Some(4));
        let member = viewer(9, Role::Member, Some(4));
        let classes = [admin(), manager, member].map(|v| visibility_class(&v));
        assert_eq!(classes[0], "all");
        assert_ne!(classes[1], classes[2]);
        assert_ne!(classes[1], "all");
    }
}
