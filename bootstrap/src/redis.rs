//! Redis in the service: the retry queue, idempotency locks, quota counters and sensitive
//! bodies that `Redis.Enable` asks for.
//!
//! `Redis.Url` may hold a password: only the server's `host:port` is ever logged.
//!
//! Redis unreachable at start-up: the service starts anyway, without a retry queue (async
//! requests fail with `async notification requires redis retry queue`, and no worker or
//! reconciler runs), and says so in an error line. Idempotency, quotas and sensitive
//! bodies stay on Redis: their connection retries on every call, so sync sends work as
//! soon as Redis answers (and fail as unavailable until then). Restart the process to get
//! the queue back.

use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

use application::ports::{IdempotencyStore, QuotaStore, RetryQueue, SensitiveBodyStore};

use crate::compose::StartupError;
use crate::config::Config;

/// How long start-up waits for Redis to answer a `PING`.
#[cfg(feature = "redis")]
const STARTUP_PING: Duration = Duration::from_secs(3);

/// The ports on Redis.
pub struct RedisStores {
    /// `None` when Redis did not answer at start-up.
    pub queue: Option<Arc<dyn RetryQueue>>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub quotas: Arc<dyn QuotaStore>,
    pub sensitive: Arc<dyn SensitiveBodyStore>,
}

/// Builds the Redis ports. Fails only on a `Redis.Url` that does not parse.
#[cfg(feature = "redis")]
pub async fn stores(config: &Config) -> Result<RedisStores, StartupError> {
    use adapters::redis::{
        KeySpace, RedisConnection, RedisIdempotencyStore, RedisQuotaStore, RedisRetryQueue,
        RedisSensitiveBodyStore,
    };

    let keys = KeySpace::new(config.redis.key_prefix.clone());
    let connection =
        RedisConnection::lazy(&config.redis.url, keys).map_err(|err| StartupError::Backend {
            key: "Redis.Url".into(),
            reason: err.to_string(),
        })?;
    let queue_key = &config.notification.async_.queue_redis_key;
    let reachable = match tokio::time::timeout(STARTUP_PING, connection.ping()).await {
        Ok(Ok(())) => {
            tracing::info!(redis = %connection.addr(), queue_key = %queue_key, "connected to Redis");
            true
        }
        Ok(Err(err)) => {
            tracing::error!(
                redis = %connection.addr(),
                error = %err,
                "Redis cannot be reached: async notifications are refused (async notification requires redis retry queue) until this process is restarted with Redis up"
            );
            false
        }
        Err(_) => {
            tracing::error!(
                redis = %connection.addr(),
                "Redis did not answer within {}s: async notifications are refused (async notification requires redis retry queue) until this process is restarted with Redis up",
                STARTUP_PING.as_secs()
            );
            false
        }
    };
    let queue = reachable.then(|| {
        Arc::new(RedisRetryQueue::new(&connection, queue_key.clone())) as Arc<dyn RetryQueue>
    });
    Ok(RedisStores {
        queue,
        idempotency: Arc::new(RedisIdempotencyStore::new(&connection)),
        quotas: Arc::new(RedisQuotaStore::new(&connection)),
        sensitive: Arc::new(RedisSensitiveBodyStore::new(&connection)),
    })
}

/// Without the `redis` feature there are no Redis adapters.
#[cfg(not(feature = "redis"))]
pub async fn stores(_config: &Config) -> Result<RedisStores, StartupError> {
    Err(StartupError::Backend {
        key: "Redis.Enable".into(),
        reason: "this build has no Redis adapters; build with the `redis` feature".into(),
    })
}
