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
        // Without the `redis` feature this fails, naming Redis.Enable. Redis unreachable
        // at start-up leaves the queue `None` (see `crate::redis`).
        let redis = crate::redis::stores(config).await?;
        storage.queue = redis.queue;
        storage.idempotency = redis.idempotency;
        storage.quotas = redis.quotas;
        storage.sensitive = redis.sensitive;
        storage.queue_backend = if storage.queue.is_some() {
            "redis"
        } else {
            "none (redis unreachable at start-up)"
        };
    }
    if config.mongo.enable {
        // Without the `mongo` feature this fails, naming Mongo.Enable.
        let (store, dead_letters) = crate::mongo::stores(&config.mongo).await?;
        storage.store = store;
        storage.dead_letters = dead_letters;
        storage.store_backend = "mongo";
    }
    let _ = &mut storage;
    Ok(storage)
}
