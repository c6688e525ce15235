//! [`RedisQuotaStore`]: fixed-window quota counters (design §6).
//!
//! A counter of window length `w` at time `now` is the key
//! `{prefix}quota:{counter}:{floor(now / w)}`; a new window is a new key, so nothing needs
//! resetting. One Lua script ([`super::scripts::QUOTA_CONSUME`]) reads every counter of a
//! call and increments them all only when each has room: no request gets past a full
//! window under any concurrency. Each counter expires a second after its window ends.
//!
//! The window is **fixed**, not sliding: up to `2 × limit` can pass around a window
//! boundary (the end of one window and the start of the next).

use std::time::Duration;

use application::ports::{QuotaCheck, QuotaDecision, QuotaStore, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::Script;

use super::{scripts, unavailable, KeySpace, RedisConnection};

/// Kept past the end of its window, so gateways whose clocks differ a little still read it.
const EXPIRY_MARGIN_MS: i64 = 1_000;

/// [`QuotaStore`] on Redis.
pub struct RedisQuotaStore {
    conn: ConnectionManager,
    keys: KeySpace,
    consume: Script,
}

impl RedisQuotaStore {
    pub fn new(connection: &RedisConnection) -> Self {
        Self {
            conn: connection.manager(),
            keys: connection.keys().clone(),
            consume: Script::new(scripts::QUOTA_CONSUME),
        }
    }
}

/// A check's window length (ms, at least 1), the window holding `now_ms`, and the ms left
/// in it.
fn window_of(check: &QuotaCheck, now_ms: i64) -> (i64, i64, i64) {
    let window_ms = i64::try_from(check.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let index = now_ms.div_euclid(window_ms);
    let ends_ms = index.saturating_add(1).saturating_mul(window_ms);
    (window_ms, index, ends_ms.saturating_sub(now_ms).max(0))
}

#[async_trait]
impl QuotaStore for RedisQuotaStore {
    async fn consume(
        &self,
        checks: &[QuotaCheck],
        now: DateTime<Utc>,
    ) -> StoreResult<QuotaDecision> {
        if checks.is_empty() {
            return Ok(QuotaDecision::Allowed);
        }
        let now_ms = now.timestamp_millis();
        let mut invocation = self.consume.prepare_invoke();
        let mut left = Vec::with_capacity(checks.len());
        for check in checks {
            let (_, index, left_ms) = window_of(check, now_ms);
            left.push(left_ms);
            invocation
                .key(self.keys.quota(&check.key, index))
                .arg(check.limit)
                .arg(left_ms.saturating_add(EXPIRY_MARGIN_MS).max(1));
        }
        let mut conn = self.conn.clone();
        let full: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if full == 0 {
            return Ok(QuotaDecision::Allowed);
        }
        let index = usize::try_from(full - 1)
            .ok()
            .filter(|i| *i < checks.len())
            .ok_or_else(|| StoreError::Corrupt(format!("quota script answered {full}")))?;
        Ok(QuotaDecision::Exceeded {
            key: checks[index].key.clone(),
            retry_after: Duration::from_millis(u64::try_from(left[index]).unwrap_or(0)),
        })
    }
}
