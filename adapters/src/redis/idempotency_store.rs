//! [`RedisIdempotencyStore`]: idempotency locks as hashes with a TTL (design §5).
//!
//! Key `{prefix}idem:{tenant}:{key}`, fields `f` (the holder's request fingerprint) and `n`
//! (its notification id, once stored). Taking the key is `HSETNX` + `PEXPIRE` in one script,
//! so exactly one of any number of concurrent callers gets it, and the others read the
//! holder in the same atomic step.

use std::time::Duration;

use application::ports::{IdempotencyClaim, IdempotencyStore, StoreError, StoreResult};
use async_trait::async_trait;
use domain::{IdempotencyKey, NotificationId, RequestFingerprint, TenantId};
use redis::aio::ConnectionManager;
use redis::Script;

use super::{scripts, ttl_millis, unavailable, KeySpace, RedisConnection};

/// [`IdempotencyStore`] on Redis.
pub struct RedisIdempotencyStore {
    conn: ConnectionManager,
    keys: KeySpace,
    acquire: Script,
    complete: Script,
    release: Script,
}

impl RedisIdempotencyStore {
    pub fn new(connection: &RedisConnection) -> Self {
        Self {
            conn: connection.manager(),
            keys: connection.keys().clone(),
            acquire: Script::new(scripts::IDEMPOTENCY_ACQUIRE),
            complete: Script::new(scripts::IDEMPOTENCY_COMPLETE),
            release: Script::new(scripts::IDEMPOTENCY_RELEASE),
        }
    }

    fn key(&self, tenant_id: &TenantId, key: &IdempotencyKey) -> String {
        self.keys.idempotency(tenant_id.as_str(), key.as_str())
    }
}

#[async_trait]
impl IdempotencyStore for RedisIdempotencyStore {
    async fn try_acquire(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        ttl: Duration,
    ) -> StoreResult<IdempotencyClaim> {
        let mut conn = self.conn.clone();
        let holder: Option<(Option<String>, Option<String>)> = self
            .acquire
            .key(self.key(tenant_id, key))
            .arg(fingerprint.as_str())
            .arg(ttl_millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some((held_by, notification_id)) = holder else {
            return Ok(IdempotencyClaim::Acquired);
        };
        let fingerprint = held_by.ok_or_else(|| {
            StoreError::Corrupt("an idempotency key holds no fingerprint".to_owned())
        })?;
        let notification_id = notification_id
            .map(|raw| {
                NotificationId::parse(&raw).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "an idempotency key holds {raw:?}, not a notification id"
                    ))
                })
            })
            .transpose()?;
        Ok(IdempotencyClaim::Held {
            fingerprint: RequestFingerprint::from_stored(fingerprint),
            notification_id,
        })
    }

    async fn complete(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        notification_id: NotificationId,
        ttl: Duration,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        self.complete
            .key(self.key(tenant_id, key))
            .arg(notification_id.to_string())
            .arg(ttl_millis(ttl))
            .arg(fingerprint.as_str())
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        self.release
            .key(self.key(tenant_id, key))
            .arg(fingerprint.as_str())
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
