//! Builds the storage ports from configuration: in memory (the embedded default), MongoDB
//! for notifications and dead letters (`Mongo.Enable`), Redis for the retry queue,
//! idempotency locks, quota counters and sensitive bodies (`Redis.Enable`).

use std::sync::Arc;

use adapters::{
    MemoryDeadLetterStore, MemoryIdempotencyStore, MemoryNotificationStore, MemoryQuotaStore,
    MemoryRetryQueue, MemorySensitiveBodyStore,
};
use application::ports::{
    DeadLetterStore, IdempotencyStore, NotificationStore, QuotaStore, RetryQueue,
    SensitiveBodyStore,
};

use crate::compose::StartupError;
use crate::config::Config;

/// The storage ports, and which backend serves them.
pub struct Storage {
    pub store: Arc<dyn NotificationStore>,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    /// `None` when the configuration asks for Redis and Redis cannot be reached.
    pub queue: Option<Arc<dyn RetryQueue>>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub quotas: Arc<dyn QuotaStore>,
    pub sensitive: Arc<dyn SensitiveBodyStore>,
    pub store_backend: &'static str,
    pub queue_backend: &'static str,
}

pub async fn build_storage(config: &Config) -> Result<Storage, StartupError> {
    let mut storage = Storage {
        store: Arc::new(MemoryNotificationStore::new()),
        dead_letters: Arc::new(MemoryDeadLetterStore::new()),
        queue: Some(Arc::new(MemoryRetryQueue::new())),
        idempotency: Arc::new(MemoryIdempotencyStore::new()),
        quotas: Arc::new(MemoryQuotaStore::new()),
        sensitive: Arc::new(MemorySensitiveBodyStore::new()),
        store_backend: "memory",
        queue_backend: "memory",
    };
    if config.redis.enable {
        return Err(StartupError::Backend {
            key: "Redis.Enable".into(),
            reason: "this build has no Redis adapters; build with the `redis` feature".into(),
        });
    }
    if config.mongo.enable {
        return Err(StartupError::Backend {
            key: "Mongo.Enable".into(),
            reason: "this build has no MongoDB adapters; build with the `mongo` feature".into(),
        });
    }
    let _ = &mut storage;
    Ok(storage)
}
