//! State every API replica must agree on: each tenant's budget of query-cost points (a token
//! bucket) and the registry of persisted queries (hash → text). In Redis when `REDIS_URL` is
//! set, so all replicas share them; in this process otherwise (fine for one replica).
//!
//! Redis failures fail open: a request is let through and a persisted query is not found (the
//! client sends its text again), with a warning, rather than turning a cache outage into an
//! API outage ([`RedisLink`] pauses Redis use for a few seconds after a failure).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use redis::AsyncCommands;

use super::locked;
use super::redis_link::RedisLink;

/// How long a registered persisted query is kept (Redis), in seconds.
const QUERY_TTL_SECONDS: u64 = 7 * 86_400;
/// The most persisted queries kept in process (the registry is emptied when full).
const LOCAL_QUERY_CAPACITY: usize = 10_000;

/// Takes `ARGV[3]` points at once from a bucket of `burst` points refilled at `rate` per
/// second (a negative amount gives points back, up to `burst`), using Redis's own clock so
/// replicas' clocks do not matter. Returns `{taken (1 or 0), points left × 1000}`; nothing is
/// taken unless all of it can be.
const TOKEN_BUCKET: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local taken = 0
if tokens >= wanted then
  tokens = math.min(burst, tokens - wanted)
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {taken, math.floor(tokens * 1000)}
";

/// The token-bucket script, hashed once (Redis runs it by its SHA after the first load).
static TOKEN_BUCKET_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(TOKEN_BUCKET));

/// A per-tenant budget of query cost points: `rate` points per second on average, `burst` at
/// once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub rate: f64,
    pub burst: f64,
}

/// The outcome of taking points from a budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Whether the points were taken (nothing is taken otherwise).
    pub taken: bool,
    /// The points left in the bucket.
    pub remaining: f64,
}

/// Where the shared state lives.
#[derive(Clone)]
pub struct SharedState {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Redis(RedisLink),
    Local(Arc<LocalState>),
}

#[derive(Default)]
struct LocalState {
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
    queries: Mutex<HashMap<String, String>>,
}

impl SharedState {
    /// State kept in this process.
    pub fn local() -> Self {
        Self {
            backend: Backend::Local(Arc::default()),
        }
    }

    /// State kept in the Redis at `url` (connects now, reconnects by itself later).
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            backend: Backend::Redis(RedisLink::connect(url).await?),
        })
    }

    /// The Redis link when the state is kept there (for other shared caches).
    pub fn redis_link(&self) -> Option<RedisLink> {
        match &self.backend {
            Backend::Redis(link) => Some(link.clone()),
            Backend::Local(_) => None,
        }
    }

    /// Takes `points` from `tenant_id`'s budget under `limit`, all or none (a negative amount
    /// gives points back), in one round trip; whether they were taken and what is left.
    pub async fn take_points(&self, tenant_id: i64, points: f64, limit: RateLimit) -> Budget {
        match &self.backend {
            Backend::Local(state) => {
                let mut buckets = locked(&state.buckets);
                let now = Instant::now();
                let (tokens, at) = buckets.entry(tenant_id).or_insert((limit.burst, now));
                *tokens =
                    (*tokens + now.duration_since(*at).as_secs_f64() * limit.rate).min(limit.burst);
                *at = now;
                let taken = *tokens >= points;
                if taken {
                    *tokens = (*tokens - points).min(limit.burst);
                }
                Budget {
                    taken,
                    remaining: *tokens,
                }
            }
            Backend::Redis(link) => {
                let answer = match link.connection() {
                    Some(mut connection) => {
                        let answer = TOKEN_BUCKET_SCRIPT
                            .key(format!("goalgraph:rate:{tenant_id}"))
                            .arg(limit.rate)
                            .arg(limit.burst)
                            .arg(points)
                            .invoke_async::<(i64, i64)>(&mut connection)
                            .await;
                        link.checked(answer, "rate limits let requests through")
                    }
                    None => None,
                };
                match answer {
                    Some((taken, millis)) => Budget {
                        taken: taken == 1,
                        remaining: millis as f64 / 1000.0,
                    },
                    None => Budget {
                        taken: true,
                        remaining: limit.burst,
                    },
                }
            }
        }
    }

    /// The text of the persisted query with this SHA-256 hash, if registered.
    pub async fn persisted_query(&self, hash: &str) -> Option<String> {
        match &self.backend {
            Backend::Local(state) => locked(&state.queries).get(hash).cloned(),
            Backend::Redis(link) => {
                let mut connection = link.connection()?;
                let found = connection.get(format!("goalgraph:apq:{hash}")).await;
                link.checked(found, "persisted queries are not found")
                    .flatten()
            }
        }
    }

    /// Registers `query` under its hash for every replica.
    pub async fn register_query(&self, hash: &str, query: &str) {
        match &self.backend {
            Backend::Local(state) => {
                let mut queries = locked(&state.queries);
                if queries.len() >= LOCAL_QUERY_CAPACITY {
                    queries.clear();
                }
                queries.insert(hash.to_owned(), query.to_owned());
            }
            Backend::Redis(link) => {
                if let Some(mut connection) = link.connection() {
                    let stored: Result<(), _> = connection
                        .set_ex(format!("goalgraph:apq:{hash}"), query, QUERY_TTL_SECONDS)
                        .await;
                    link.checked(stored, "persisted queries are not stored");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_bucket_allows_a_burst_then_refills_at_the_rate() {
        let shared = SharedState::local();
        let limit = RateLimit {
            rate: 20.0,
            burst: 3.0,
        };
        for _ in 0..3 {
            assert!(shared.take_points(1, 1.0, limit).await.taken);
        }
        assert!(!shared.take_points(1, 1.0, limit).await.taken);
        // Another tenant has its own bucket.
        assert!(shared.take_points(2, 1.0, limit).await.taken);
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        assert!(shared.take_points(1, 1.0, limit).await.taken);
    }

    #[tokio::test]
    async fn points_given_back_never_overfill_the_bucket() {
        let shared = SharedState::local();
        let limit = RateLimit {
            rate: 0.001,
            burst: 10.0,
        };
        assert_eq!(
            shared.take_points(1, 8.0, limit).await.remaining.round(),
            2.0
        );
        assert_eq!(
            shared.take_points(1, -5.0, limit).await.remaining.round(),
            7.0
        );
        assert_eq!(
            shared.take_points(1, -50.0, limit).await.remaining.round(),
            10.0
        );
        assert!(!shared.take_points(1, 11.0, limit).await.taken);
    }

    #[tokio::test]
    async fn local_queries_are_found_by_hash() {
        let shared = SharedState::local();
        assert_eq!(shared.persisted_query("abc").await, None);
        shared.register_query("abc", "{ viewer { id } }").await;
        assert_eq!(
            shared.persisted_query("abc").await.as_deref(),
            Some("{ viewer { id } }")
        );
    }
}
