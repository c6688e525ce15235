//! [`MemorySensitiveBodyStore`]: the rendered bodies of sensitive async notifications in
//! the embedded default, each kept until deleted or until its TTL runs out (design §3).
//! Nothing here is written anywhere else.

use std::sync::Mutex;
use std::time::Duration;

use application::ports::{SensitiveBodyStore, StoreResult};
use async_trait::async_trait;
use domain::{NotificationId, RenderedMessage};

use super::expiring::{deadline, ExpiringMap};
use super::{lock, system_monotonic_time, MonotonicTime};

/// In-memory [`SensitiveBodyStore`].
pub struct MemorySensitiveBodyStore {
    bodies: Mutex<ExpiringMap<NotificationId, RenderedMessage>>,
    now: MonotonicTime,
}

impl Default for MemorySensitiveBodyStore {
    fn default() -> Self {
        Self::with_time(system_monotonic_time())
    }
}

impl MemorySensitiveBodyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose TTLs run on `now` instead of `Instant::now` (for tests).
    pub fn with_time(now: MonotonicTime) -> Self {
        Self {
            bodies: Mutex::new(ExpiringMap::new()),
            now,
        }
    }
}

#[async_trait]
impl SensitiveBodyStore for MemorySensitiveBodyStore {
    async fn put(
        &self,
        id: NotificationId,
        body: &RenderedMessage,
        ttl: Duration,
    ) -> StoreResult<()> {
        let now = (self.now)();
        let mut bodies = lock(&self.bodies);
        bodies.purge(now);
        bodies.insert(id, body.clone(), deadline(now, ttl));
        Ok(())
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<RenderedMessage>> {
        let now = (self.now)();
        Ok(lock(&self.bodies).get(&id, now).cloned())
    }

    async fn delete(&self, id: NotificationId) -> StoreResult<()> {
        let now = (self.now)();
        let mut bodies = lock(&self.bodies);
        bodies.purge(now);
        bodies.remove(&id);
        Ok(())
    }
}
