//! [`MemoryQuotaStore`]: the fixed-window quota counters of the embedded default
//! (design §6).
//!
//! A counter's window is `floor(now_ms / window_ms)`; a counter left from an earlier window
//! counts as zero. One lock covers a whole `consume`, so checking every counter and
//! incrementing them all is one atomic step. Counters of ended windows are swept whenever
//! the map has doubled since the last sweep.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use application::ports::{QuotaCheck, QuotaDecision, QuotaStore, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;

/// Sweep no more often than when this many counters exist.
const MIN_SWEEP_SIZE: usize = 1024;

/// In-memory [`QuotaStore`].
#[derive(Default)]
pub struct MemoryQuotaStore {
    counters: Mutex<Counters>,
}

impl MemoryQuotaStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Default)]
struct Counters {
    by_key: HashMap<String, Counter>,
    sweep_at: usize,
}

struct Counter {
    window_ms: i64,
    index: i64,
    count: u64,
}

impl Counter {
    fn ends_ms(&self) -> i64 {
        self.index.saturating_add(1).saturating_mul(self.window_ms)
    }
}

/// A check's window length in ms (at least 1) and the index of the window holding `now_ms`.
fn window_of(check: &QuotaCheck, now_ms: i64) -> (i64, i64) {
    let window_ms = i64::try_from(check.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    (window_ms, now_ms.div_euclid(window_ms))
}

impl Counters {
    fn used(&self, key: &str, window_ms: i64, index: i64) -> u64 {
        self.by_key
            .get(key)
            .filter(|c| c.window_ms == window_ms && c.index == index)
            .map_or(0, |c| c.count)
    }

    fn sweep(&mut self, now_ms: i64) {
        if self.by_key.len() < self.sweep_at.max(MIN_SWEEP_SIZE) {
            return;
        }
        self.by_key.retain(|_, counter| counter.ends_ms() > now_ms);
        self.sweep_at = self.by_key.len().saturating_mul(2);
    }
}

#[async_trait]
impl QuotaStore for MemoryQuotaStore {
    async fn consume(
        &self,
        checks: &[QuotaCheck],
        now: DateTime<Utc>,
    ) -> StoreResult<QuotaDecision> {
        let now_ms = now.timestamp_millis();
        let mut counters = lock(&self.counters);
        counters.sweep(now_ms);
        for check in checks {
            let (window_ms, index) = window_of(check, now_ms);
            if counters.used(&check.key, window_ms, index) >= check.limit {
                let ends_ms = index.saturating_add(1).saturating_mul(window_ms);
                let left_ms = u64::try_from(ends_ms.saturating_sub(now_ms)).unwrap_or(0);
                return Ok(QuotaDecision::Exceeded {
                    key: check.key.clone(),
                    retry_after: Duration::from_millis(left_ms),
                });
            }
        }
        for check in checks {
            let (window_ms, index) = window_of(check, now_ms);
            let counter = counters.by_key.entry(check.key.clone()).or_insert(Counter {
                window_ms,
                index,
                count: 0,
            });
            if counter.window_ms != window_ms || counter.index != index {
                *counter = Counter {
                    window_ms,
                    index,
                    count: 0,
                };
            }
            counter.count = counter.count.saturating_add(1);
        }
        Ok(QuotaDecision::Allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ended_windows_are_swept_once_the_map_grows() {
        let store = MemoryQuotaStore::new();
        let t0 = DateTime::from_timestamp_millis(0).unwrap();
        for i in 0..MIN_SWEEP_SIZE {
            let check = QuotaCheck {
                key: format!("k{i}"),
                limit: 1,
                window: Duration::from_secs(1),
            };
            store.consume(&[check], t0).await.unwrap();
        }
        let later = DateTime::from_timestamp_millis(5_000).unwrap();
        let check = QuotaCheck {
            key: "fresh".into(),
            limit: 1,
            window: Duration::from_secs(1),
        };
        store.consume(&[check], later).await.unwrap();
        assert_eq!(store.counters.lock().unwrap().by_key.len(), 1);
    }

    #[tokio::test]
    async fn windows_before_the_epoch_still_end_in_the_future() {
        let store = MemoryQuotaStore::new();
        let now = DateTime::from_timestamp_millis(-1_500).unwrap();
        let check = QuotaCheck {
            key: "k".into(),
            limit: 0,
            window: Duration::from_secs(1),
        };
        assert_eq!(
            store.consume(&[check], now).await.unwrap(),
            QuotaDecision::Exceeded {
                key: "k".into(),
                retry_after: Duration::from_millis(500)
            }
        );
    }
}
