//! [`MemoryIdempotencyStore`]: the in-flight idempotency locks of the embedded default,
//! like Redis `SET NX PX` (design §5).
//!
//! The TTL runs on the monotonic clock (`Instant`), not on the service's `Clock`: a lock
//! protects real time in flight. Expired keys are purged on every call.

use std::sync::Mutex;
use std::time::Duration;

use application::ports::{IdempotencyClaim, IdempotencyStore, StoreResult};
use async_trait::async_trait;
use domain::{IdempotencyKey, NotificationId, RequestFingerprint, TenantId};

use super::expiring::{deadline, ExpiringMap};
use super::{lock, system_monotonic_time, MonotonicTime};

/// In-memory [`IdempotencyStore`].
pub struct MemoryIdempotencyStore {
    keys: Mutex<ExpiringMap<(String, String), Holder>>,
    now: MonotonicTime,
}

struct Holder {
    fingerprint: RequestFingerprint,
    notification_id: Option<NotificationId>,
}

impl Default for MemoryIdempotencyStore {
    fn default() -> Self {
        Self::with_time(system_monotonic_time())
    }
}

impl MemoryIdempotencyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose TTLs run on `now` instead of `Instant::now` (for tests).
    pub fn with_time(now: MonotonicTime) -> Self {
        Self {
            keys: Mutex::new(ExpiringMap::new()),
            now,
        }
    }
}

fn scope(tenant_id: &TenantId, key: &IdempotencyKey) -> (String, String) {
    (tenant_id.as_str().to_owned(), key.as_str().to_owned())
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn try_acquire(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        ttl: Duration,
    ) -> StoreResult<IdempotencyClaim> {
        let now = (self.now)();
        let scope = scope(tenant_id, key);
        let mut keys = lock(&self.keys);
        keys.purge(now);
        if let Some(holder) = keys.get(&scope, now) {
            return Ok(IdempotencyClaim::Held {
                fingerprint: holder.fingerprint.clone(),
                notification_id: holder.notification_id,
            });
        }
        keys.insert(
            scope,
            Holder {
                fingerprint: fingerprint.clone(),
                notification_id: None,
            },
            deadline(now, ttl),
        );
        Ok(IdempotencyClaim::Acquired)
    }

    async fn complete(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        notification_id: NotificationId,
        ttl: Duration,
    ) -> StoreResult<()> {
        let now = (self.now)();
        let scope = scope(tenant_id, key);
        let mut keys = lock(&self.keys);
        keys.purge(now);
        // A key that expired, was released, or is held by another request meanwhile is
        // left alone: the notification store's unique key still guards the repeat.
        let ours = match keys.get_mut(&scope, now) {
            Some(holder) if holder.fingerprint == *fingerprint => {
                holder.notification_id = Some(notification_id);
                true
            }
            _ => false,
        };
        if ours {
            keys.set_deadline(&scope, now, deadline(now, ttl));
        }
        Ok(())
    }

    async fn release(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
    ) -> StoreResult<()> {
        let now = (self.now)();
        let scope = scope(tenant_id, key);
        let mut keys = lock(&self.keys);
        keys.purge(now);
        if keys
            .get(&scope, now)
            .is_some_and(|holder| holder.fingerprint == *fingerprint)
        {
            keys.remove(&scope);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn keys_expire_on_the_injected_time() {
        let start = Instant::now();
        let offset_ms = Arc::new(AtomicU64::new(0));
        let clock = Arc::clone(&offset_ms);
        let store = MemoryIdempotencyStore::with_time(Arc::new(move || {
            start + Duration::from_millis(clock.load(Ordering::SeqCst))
        }));
        let tenant = TenantId::parse("acme").unwrap();
        let key = IdempotencyKey::parse("k").unwrap();
        let fp = RequestFingerprint::from_stored("fp".into());
        let ttl = Duration::from_secs(60);

        assert_eq!(
            store.try_acquire(&tenant, &key, &fp, ttl).await.unwrap(),
            IdempotencyClaim::Acquired
        );
        offset_ms.store(59_999, Ordering::SeqCst);
        assert!(matches!(
            store.try_acquire(&tenant, &key, &fp, ttl).await.unwrap(),
            IdempotencyClaim::Held { .. }
        ));
        offset_ms.store(60_000, Ordering::SeqCst);
        assert_eq!(
            store.try_acquire(&tenant, &key, &fp, ttl).await.unwrap(),
            IdempotencyClaim::Acquired
        );
        assert_eq!(store.keys.lock().unwrap().stored(), 1);
    }
}
