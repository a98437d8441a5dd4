//! The Redis connection replicas share state through, stepping aside while Redis is away: a
//! command fails within about a second (short connect and response timeouts, two quick
//! reconnection attempts instead of the driver's several seconds of back-off), and after a
//! failure callers do without Redis for [`PAUSE_AFTER_FAILURE`] — rate limits let requests
//! through, reports are computed, persisted queries are looked up in vain — so an outage slows
//! one request per replica and pause rather than every request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::RedisResult;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::locked;

/// How long Redis is left alone after a failed command.
pub const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A shared connection to Redis with its pause; clones share both.
#[derive(Clone)]
pub struct RedisLink {
    manager: ConnectionManager,
    paused_until: Arc<Mutex<Option<Instant>>>,
}

impl RedisLink {
    /// Connects to the Redis at `url` (now; it reconnects by itself later).
    pub async fn connect(url: &str) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        Ok(Self {
            manager: client.get_connection_manager_with_config(config).await?,
            paused_until: Arc::default(),
        })
    }

    /// A connection to send a command on, or `None` while Redis is paused after a failure.
    pub fn connection(&self) -> Option<ConnectionManager> {
        let mut paused = locked(&self.paused_until);
        match *paused {
            Some(until) if Instant::now() < until => None,
            Some(_) => {
                *paused = None;
                Some(self.manager.clone())
            }
            None => Some(self.manager.clone()),
        }
    }

    /// The value of a command's `result`; on failure `None`, with Redis paused and the failure
    /// logged once for the pause (`what` says what went without Redis).
    pub fn checked<T>(&self, result: RedisResult<T>, what: &str) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                let mut paused = locked(&self.paused_until);
                if paused.is_none() {
                    tracing::warn!(
                        %error,
                        "Redis failed ({what}); doing without it for {} s",
                        PAUSE_AFTER_FAILURE.as_secs()
                    );
                }
                *paused = Some(Instant::now() + PAUSE_AFTER_FAILURE);
                None
            }
        }
    }
}
