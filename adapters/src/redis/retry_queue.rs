//! [`RedisRetryQueue`]: the retry schedule as one sorted set (design §3). Member = the
//! notification id (its 26-character ULID), score = due time in ms since the epoch.
//!
//! - `schedule` = `ZADD`, pipelined with `LPUSH`/`LTRIM` of a small signal list;
//! - `claim_due` = one Lua script ([`super::scripts::CLAIM_DUE`]);
//! - `complete` = one `ZREM` with every id;
//! - `wait` = `BLPOP` on the signal list, on a connection of its own: a blocking command on
//!   the shared multiplexed connection would hold up every other command behind it.

use std::sync::Mutex;
use std::time::Duration;

use application::ports::{RetryQueue, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::NotificationId;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Script};

use super::{scripts, unavailable, RedisConnection};

/// Signals kept in the list at most: enough to wake every idle worker of a burst, few
/// enough that a worker back from a long busy spell only loops a few times.
const SIGNALS_KEPT: isize = 8;
/// Dedicated connections kept for blocking waits.
const WAITERS_KEPT: usize = 16;
/// The shortest block `wait` asks for: Redis reads a `BLPOP` timeout of 0 as "forever".
const MIN_BLOCK: Duration = Duration::from_millis(10);
/// Ids per `ZREM` in `complete`.
const COMPLETE_CHUNK: usize = 1000;

/// [`RetryQueue`] on a Redis sorted set.
pub struct RedisRetryQueue {
    conn: ConnectionManager,
    client: Client,
    queue_key: String,
    signal_key: String,
    claim: Script,
    waiters: Mutex<Vec<MultiplexedConnection>>,
}

impl RedisRetryQueue {
    /// The queue at `queue_key` (`Notification.Async.QueueRedisKey`); its wake-up signal
    /// lives at the connection's `{prefix}retry:signal`.
    pub fn new(connection: &RedisConnection, queue_key: impl Into<String>) -> Self {
        Self {
            conn: connection.manager(),
            client: connection.client().clone(),
            queue_key: queue_key.into(),
            signal_key: connection.keys().signal(),
            claim: Script::new(scripts::CLAIM_DUE),
            waiters: Mutex::new(Vec::new()),
        }
    }

    pub fn queue_key(&self) -> &str {
        &self.queue_key
    }

    async fn waiter(&self) -> StoreResult<MultiplexedConnection> {
        if let Some(conn) = self.lock_waiters().pop() {
            return Ok(conn);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            // The block itself is bounded by `wait`'s own timeout.
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, Vec<MultiplexedConnection>> {
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn time_of(ms: f64) -> StoreResult<DateTime<Utc>> {
    // Scores are whole milliseconds written by this adapter; anything else is corrupt.
    #[allow(clippy::cast_possible_truncation)]
    let whole = ms as i64;
    DateTime::from_timestamp_millis(whole)
        .ok_or_else(|| StoreError::Corrupt(format!("due time {ms} ms is out of range")))
}

fn parse_id(raw: &str) -> StoreResult<NotificationId> {
    NotificationId::parse(raw)
        .map_err(|_| StoreError::Corrupt(format!("queue member {raw:?} is not a notification id")))
}

#[async_trait]
impl RetryQueue for RedisRetryQueue {
    async fn schedule(&self, id: NotificationId, due: DateTime<Utc>) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .zadd(&self.queue_key, id.to_string(), due.timestamp_millis())
            .ignore()
            .lpush(&self.signal_key, 1)
            .ignore()
            .ltrim(&self.signal_key, 0, SIGNALS_KEPT - 1)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        max: usize,
        lease: Duration,
    ) -> StoreResult<Vec<NotificationId>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now_ms = now.timestamp_millis();
        let leased_until = now_ms
            .saturating_add(millis_of(lease))
            .min(DateTime::<Utc>::MAX_UTC.timestamp_millis());
        let mut conn = self.conn.clone();
        let raw: Vec<String> = self
            .claim
            .key(&self.queue_key)
            .arg(now_ms)
            .arg(max)
            .arg(leased_until)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        raw.iter().map(|member| parse_id(member)).collect()
    }

    async fn complete(&self, ids: &[NotificationId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for chunk in ids.chunks(COMPLETE_CHUNK) {
            let members: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            pipe.zrem(&self.queue_key, members).ignore();
        }
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn contains(&self, id: NotificationId) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(&self.queue_key)
            .arg(id.to_string())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(score.is_some())
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let mut conn = self.conn.clone();
        let first: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(&self.queue_key)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        first.first().map(|(_, score)| time_of(*score)).transpose()
    }

    async fn len(&self) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        redis::cmd("ZCARD")
            .arg(&self.queue_key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn wait(&self, timeout: Duration) -> StoreResult<()> {
        let block = timeout.max(MIN_BLOCK);
        let mut conn = self.waiter().await?;
        // Whole milliseconds as seconds: Redis takes a decimal timeout.
        let seconds = block.as_millis() as f64 / 1000.0;
        let popped = tokio::time::timeout(
            block + Duration::from_secs(1),
            redis::cmd("BLPOP")
                .arg(&self.signal_key)
                .arg(seconds)
                .query_async::<Option<(String, String)>>(&mut conn),
        )
        .await;
        match popped {
            Ok(Ok(_)) => {
                let mut waiters = self.lock_waiters();
                if waiters.len() < WAITERS_KEPT {
                    waiters.push(conn);
                }
                Ok(())
            }
            Ok(Err(err)) => {
                // The server may have restarted: every kept connection is suspect.
                self.lock_waiters().clear();
                Err(unavailable(err))
            }
            // The server did not answer in time; drop the connection (it may still hold a
            // block) and let the caller re-check the queue.
            Err(_) => Ok(()),
        }
    }
}
