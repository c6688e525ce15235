//! [`RedisSensitiveBodyStore`]: rendered bodies of sensitive async notifications as JSON
//! strings at `{prefix}body:{notification id}`, set with `PX` (design §3). The worker
//! deletes the key when the notification ends; the TTL removes what it misses.

use std::time::Duration;

use application::ports::{SensitiveBodyStore, StoreError, StoreResult};
use async_trait::async_trait;
use domain::{NotificationId, RenderedMessage};
use redis::aio::ConnectionManager;

use super::{ttl_millis, unavailable, KeySpace, RedisConnection};

/// [`SensitiveBodyStore`] on Redis.
pub struct RedisSensitiveBodyStore {
    conn: ConnectionManager,
    keys: KeySpace,
}

impl RedisSensitiveBodyStore {
    pub fn new(connection: &RedisConnection) -> Self {
        Self {
            conn: connection.manager(),
            keys: connection.keys().clone(),
        }
    }

    fn key(&self, id: NotificationId) -> String {
        self.keys.body(&id.to_string())
    }
}

#[async_trait]
impl SensitiveBodyStore for RedisSensitiveBodyStore {
    async fn put(
        &self,
        id: NotificationId,
        body: &RenderedMessage,
        ttl: Duration,
    ) -> StoreResult<()> {
        // The error's text is left out: it could quote the content.
        let json = serde_json::to_string(body)
            .map_err(|_| StoreError::Corrupt("cannot encode a body".to_owned()))?;
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(json)
            .arg("PX")
            .arg(ttl_millis(ttl))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<RenderedMessage>> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|err| {
                // Position only: the error's text could quote the content.
                StoreError::Corrupt(format!(
                    "a stored body cannot be read ({:?} error at line {}, column {})",
                    err.classify(),
                    err.line(),
                    err.column()
                ))
            })
        })
        .transpose()
    }

    async fn delete(&self, id: NotificationId) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(id))
            .query_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
