//! [`MemoryRetryQueue`]: the retry schedule of the embedded default, with the lease
//! semantics of the Redis sorted set (design §3).
//!
//! `by_due` orders `(due ms, id)` like the sorted set's scores; `due_of` finds an id's
//! entry. A claim walks `by_due` from its start and stops at the first id not yet due, so
//! it costs O(log n) per claimed id whatever the backlog. Claimed ids stay in the queue
//! with their due time pushed to `now + lease`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use application::ports::{RetryQueue, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::NotificationId;
use tokio::sync::Notify;

use super::lock;

/// In-memory [`RetryQueue`].
#[derive(Default)]
pub struct MemoryRetryQueue {
    state: Mutex<State>,
    due_now: Notify,
}

#[derive(Default)]
struct State {
    by_due: BTreeSet<(i64, NotificationId)>,
    due_of: HashMap<NotificationId, i64>,
}

impl State {
    fn set_due(&mut self, id: NotificationId, due_ms: i64) {
        if let Some(old) = self.due_of.insert(id, due_ms) {
            self.by_due.remove(&(old, id));
        }
        self.by_due.insert((due_ms, id));
    }

    fn remove(&mut self, id: NotificationId) {
        if let Some(old) = self.due_of.remove(&id) {
            self.by_due.remove(&(old, id));
        }
    }
}

impl MemoryRetryQueue {
    pub fn new() -> Self {
        Self::default()
    }
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl RetryQueue for MemoryRetryQueue {
    async fn schedule(&self, id: NotificationId, due: DateTime<Utc>) -> StoreResult<()> {
        lock(&self.state).set_due(id, due.timestamp_millis());
        // Wake on every schedule, whatever the due time: a waiting worker re-reads the
        // earliest due time, so a job due sooner than the one it sleeps for is not missed,
        // and no clock (real or a test's) decides who is woken. Wake every worker already
        // waiting, and leave one permit for a worker between its last look at the queue
        // and its next `wait` (spurious wake-ups are allowed; lost ones cost a poll).
        self.due_now.notify_waiters();
        self.due_now.notify_one();
        Ok(())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        max: usize,
        lease: Duration,
    ) -> StoreResult<Vec<NotificationId>> {
        let now_ms = now.timestamp_millis();
        let leased_until = now_ms
            .saturating_add(millis_of(lease))
            .min(DateTime::<Utc>::MAX_UTC.timestamp_millis());
        let mut state = lock(&self.state);
        let claimed: Vec<NotificationId> = state
            .by_due
            .iter()
            .take_while(|(due, _)| *due <= now_ms)
            .take(max)
            .map(|(_, id)| *id)
            .collect();
        for id in &claimed {
            state.set_due(*id, leased_until);
        }
        Ok(claimed)
    }

    async fn complete(&self, ids: &[NotificationId]) -> StoreResult<()> {
        let mut state = lock(&self.state);
        for id in ids {
            state.remove(*id);
        }
        Ok(())
    }

    async fn contains(&self, id: NotificationId) -> StoreResult<bool> {
        Ok(lock(&self.state).due_of.contains_key(&id))
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let first = lock(&self.state).by_due.first().map(|(due, _)| *due);
        first
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| StoreError::Corrupt(format!("due time {ms} ms is out of range")))
            })
            .transpose()
    }

    async fn len(&self) -> StoreResult<u64> {
        Ok(lock(&self.state).due_of.len() as u64)
    }

    async fn wait(&self, timeout: Duration) -> StoreResult<()> {
        // Timing out is a normal outcome.
        let _ = tokio::time::timeout(timeout, self.due_now.notified()).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> NotificationId {
        NotificationId::from_parts(1, n)
    }

    #[tokio::test]
    async fn a_zero_lease_claim_does_not_hand_out_an_id_twice_in_one_call() {
        let queue = MemoryRetryQueue::new();
        let now = Utc::now();
        queue.schedule(id(1), now).await.unwrap();
        let claimed = queue.claim_due(now, 10, Duration::ZERO).await.unwrap();
        assert_eq!(claimed, vec![id(1)]);
    }

    #[tokio::test]
    async fn a_huge_lease_saturates_instead_of_overflowing() {
        let queue = MemoryRetryQueue::new();
        let now = Utc::now();
        queue.schedule(id(1), now).await.unwrap();
        queue.claim_due(now, 1, Duration::MAX).await.unwrap();
        let max_ms = DateTime::<Utc>::MAX_UTC.timestamp_millis();
        assert_eq!(
            queue.next_due().await.unwrap(),
            DateTime::from_timestamp_millis(max_ms)
        );
    }

    #[tokio::test]
    async fn a_schedule_just_before_wait_is_not_lost() {
        let queue = MemoryRetryQueue::new();
        queue.schedule(id(1), Utc::now()).await.unwrap();
        let started = std::time::Instant::now();
        queue.wait(Duration::from_secs(30)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
