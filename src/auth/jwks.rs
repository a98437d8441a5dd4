//! An identity provider's RS256 signing keys, read from its JWKS and kept current: re-read
//! when a token names a key id the set does not hold (at most once per `min_refetch`) and when
//! the set is older than `refresh_every`, so a key rotation needs no restart.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};

/// One RSA public key of the set.
#[derive(Clone)]
pub(super) struct RsaKey {
    pub(super) kid: Option<String>,
    pub(super) key: DecodingKey,
}

/// How often the set is re-read.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// The least time between two reads caused by unknown key ids (a flood of forged ids
    /// costs the identity provider one request per this interval).
    pub min_refetch: Duration,
    /// Re-read (in the background, on the next token verified) when the set is this old.
    pub refresh_every: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_refetch: Duration::from_secs(30),
            refresh_every: Duration::from_secs(3600),
        }
    }
}

/// The keys and where they come from. Shared by every request of a replica.
pub(super) struct IdentityProviderKeys {
    /// A file path or an `http(s)://` URL; `None` for a fixed set (never re-read).
    source: Option<String>,
    policy: RefreshPolicy,
    keys: RwLock<Arc<Vec<RsaKey>>>,
    fetched_at: Mutex<Instant>,
    /// Serialises reads of the source so concurrent misses cause one request.
    reading: tokio::sync::Mutex<()>,
    /// A background re-read is on its way (so a busy replica starts one, not one per token).
    background_read: AtomicBool,
    reads: AtomicU64,
}

impl IdentityProviderKeys {
    /// A fixed set (never re-read).
    pub(super) fn fixed(set: &JwkSet) -> Result<Self, String> {
        Ok(Self::holding(
            None,
            RefreshPolicy::default(),
            rsa_keys(set)?,
        ))
    }

    /// The set read from `source` now, re-read as `policy` says.
    pub(super) async fn load(source: &str, policy: RefreshPolicy) -> Result<Self, String> {
        let keys = rsa_keys(&load_jwks(source).await?)?;
        let loaded = Self::holding(Some(source.to_owned()), policy, keys);
        loaded.reads.store(1, Ordering::Relaxed);
        Ok(loaded)
    }

    fn holding(source: Option<String>, policy: RefreshPolicy, keys: Vec<RsaKey>) -> Self {
        Self {
            source,
            policy,
            keys: RwLock::new(Arc::new(keys)),
            fetched_at: Mutex::new(Instant::now()),
            reading: tokio::sync::Mutex::new(()),
            background_read: AtomicBool::new(false),
            reads: AtomicU64::new(0),
        }
    }

    /// How many times the source has been read (start-up included).
    pub(super) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub(super) fn len(&self) -> usize {
        self.current().len()
    }

    fn current(&self) -> Arc<Vec<RsaKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn age(&self) -> Duration {
        self.fetched_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// The keys a token with key id `kid` may be signed by: the one with that id, or every key
    /// when the token names none. An id the set does not hold re-reads the set first (rate
    /// limited); a set older than the refresh interval is re-read in the background.
    pub(super) async fn candidates(self: &Arc<Self>, kid: Option<&str>) -> Vec<RsaKey> {
        if self.source.is_some()
            && self.age() >= self.policy.refresh_every
            && !self.background_read.swap(true, Ordering::AcqRel)
        {
            let keys = Arc::clone(self);
            tokio::spawn(async move {
                keys.refresh(keys.policy.refresh_every).await;
                keys.background_read.store(false, Ordering::Release);
            });
        }
        let matching = |keys: &[RsaKey]| -> Vec<RsaKey> {
            keys.iter()
                .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
                .cloned()
                .collect()
        };
        let found = matching(&self.current());
        if !found.is_empty() || kid.is_none() || self.source.is_none() {
            return found;
        }
        self.refresh(self.policy.min_refetch).await;
        matching(&self.current())
    }

    /// Re-reads the source unless it was read less than `unless_younger_than` ago. A failed
    /// read keeps the keys held and counts as a read for the rate limit.
    async fn refresh(&self, unless_younger_than: Duration) {
        let Some(source) = &self.source else { return };
        let _reading = self.reading.lock().await;
        if self.age() < unless_younger_than {
            return;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let read = load_jwks(source).await.and_then(|set| rsa_keys(&set));
        *self.fetched_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        match read {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "re-read the identity provider's JWKS");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
            }
            Err(err) => tracing::warn!(%err, "cannot re-read the JWKS; keeping the keys held"),
        }
    }
}

/// The RSA keys of `set` (others are skipped); an error when it holds none.
fn rsa_keys(set: &JwkSet) -> Result<Vec<RsaKey>, String> {
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("bad JWKS key: {err}"))?;
        keys.push(RsaKey {
            kid: jwk.common.key_id.clone(),
            key,
        });
    }
    if keys.is_empty() {
        return Err("the JWKS holds no RSA key".into());
    }
    Ok(keys)
}

/// Reads a JWKS from a file path or an `http(s)://` URL.
pub async fn load_jwks(source: &str) -> Result<JwkSet, String> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| format!("cannot fetch the JWKS: {err}"))?
            .get(source)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| format!("cannot fetch the JWKS: {err}"))?
            .text()
            .await
            .map_err(|err| format!("cannot read the JWKS: {err}"))?
    } else {
        tokio::fs::read_to_string(source)
            .await
            .map_err(|err| format!("cannot read {source}: {err}"))?
    };
    serde_json::from_str(&text).map_err(|err| format!("the JWKS is not valid: {err}"))
}
