//! The Redis adapters (feature `redis`): the retry schedule, idempotency locks, quota
//! counters and sensitive bodies of design §3, §5 and §6, over one
//! [`redis::aio::ConnectionManager`] that reconnects by itself.
//!
//! Every key lives under a configurable prefix (`Redis.KeyPrefix`, default `notif:`), so
//! deployments and tests can share one server. The queue's sorted set has a key of its own
//! (`Notification.Async.QueueRedisKey`, default `notif:retry:zset`). `docs/model.md` lists
//! every key, its lifetime and the Lua scripts.

mod idempotency_store;
mod quota_store;
mod retry_queue;
mod scripts;
mod sensitive_body_store;

use std::time::Duration;

use application::ports::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Client;

pub use idempotency_store::RedisIdempotencyStore;
pub use quota_store::RedisQuotaStore;
pub use retry_queue::RedisRetryQueue;
pub use sensitive_body_store::RedisSensitiveBodyStore;

/// The default prefix of every key but the queue's (`Redis.KeyPrefix`).
pub const DEFAULT_KEY_PREFIX: &str = "notif:";

/// The default key of the retry schedule (`Notification.Async.QueueRedisKey`).
pub const DEFAULT_QUEUE_KEY: &str = "notif:retry:zset";

/// How long one command may take before it fails as `Unavailable`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one connection attempt may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// The key names of one deployment (or one test): everything under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}idem:{tenant}:{key}`: a hash with the holder's fingerprint (`f`) and, once
    /// stored, its notification id (`n`).
    pub fn idempotency(&self, tenant: &str, key: &str) -> String {
        format!("{}idem:{tenant}:{key}", self.prefix)
    }

    /// `{prefix}quota:{counter}:{window index}`: one fixed-window counter.
    pub fn quota(&self, counter: &str, window_index: i64) -> String {
        format!("{}quota:{counter}:{window_index}", self.prefix)
    }

    /// `{prefix}body:{notification id}`: a sensitive rendered body.
    pub fn body(&self, id: &str) -> String {
        format!("{}body:{id}", self.prefix)
    }

    /// `{prefix}retry:signal`: the small list `schedule` pushes to and idle workers block on.
    pub fn signal(&self) -> String {
        format!("{}retry:signal", self.prefix)
    }

    /// `{prefix}retry:zset`: the default queue key under this prefix (tests use it).
    pub fn queue(&self) -> String {
        format!("{}retry:zset", self.prefix)
    }
}

impl Default for KeySpace {
    fn default() -> Self {
        Self::new(DEFAULT_KEY_PREFIX)
    }
}

/// One Redis server: a client (to open the dedicated connections of blocking waits), a
/// shared [`ConnectionManager`] for everything else, and the key space.
#[derive(Clone)]
pub struct RedisConnection {
    client: Client,
    manager: ConnectionManager,
    keys: KeySpace,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("addr", &self.addr())
            .field("keys", &self.keys)
            .finish()
    }
}

impl RedisConnection {
    /// Parses `url` and prepares a connection manager without connecting: the first command
    /// connects, and every command after a failure reconnects. Fails only on a URL that
    /// does not parse (the error never repeats the URL, which may hold a password).
    pub fn lazy(url: &str, keys: KeySpace) -> Result<Self, StoreError> {
        let client = Client::open(url)
            .map_err(|err| StoreError::Unavailable(format!("Redis URL is not valid: {err}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(unavailable)?;
        Ok(Self {
            client,
            manager,
            keys,
        })
    }

    /// [`RedisConnection::lazy`], then a `PING`: fails when the server cannot be reached.
    pub async fn connect(url: &str, keys: KeySpace) -> Result<Self, StoreError> {
        let connection = Self::lazy(url, keys)?;
        connection.ping().await?;
        Ok(connection)
    }

    /// Sends a `PING`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.manager.clone();
        let answer: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "unexpected answer to PING: {answer}"
            )))
        }
    }

    /// The server's `host:port` (never the password), for logs.
    pub fn addr(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// A clone of the shared connection manager (cheap).
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

/// A Redis error as a storage error. The driver's messages name no credentials.
pub(crate) fn unavailable(err: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {err}"))
}

/// A TTL as the milliseconds of `PX`/`PEXPIRE`: at least 1, at most about 100 years (Redis
/// refuses larger expiries).
pub(crate) fn ttl_millis(ttl: Duration) -> i64 {
    const MAX_MS: i64 = 100 * 365 * 24 * 3600 * 1000;
    i64::try_from(ttl.as_millis())
        .unwrap_or(MAX_MS)
        .clamp(1, MAX_MS)
}
