//! The contract suites against the in-memory adapters (the embedded default). Every check
//! of every suite runs as its own test on a fresh adapter.

use std::sync::Arc;

use adapters::memory::{
    MemoryDeadLetterStore, MemoryIdempotencyStore, MemoryNotificationStore, MemoryQuotaStore,
    MemoryRetryQueue, MemorySensitiveBodyStore,
};
use application::ports::{
    DeadLetterStore, IdempotencyStore, NotificationStore, QuotaStore, RetryQueue,
    SensitiveBodyStore,
};

mod notification_store {
    use super::*;

    async fn memory() -> Option<Arc<dyn NotificationStore>> {
        Some(Arc::new(MemoryNotificationStore::new()))
    }

    tests::notification_store_contract!(memory);
}

mod dead_letter_store {
    use super::*;

    async fn memory() -> Option<Arc<dyn DeadLetterStore>> {
        Some(Arc::new(MemoryDeadLetterStore::new()))
    }

    tests::dead_letter_store_contract!(memory);
}

mod retry_queue {
    use super::*;

    async fn memory() -> Option<Arc<dyn RetryQueue>> {
        Some(Arc::new(MemoryRetryQueue::new()))
    }

    tests::retry_queue_contract!(memory);
}

mod idempotency_store {
    use super::*;

    async fn memory() -> Option<Arc<dyn IdempotencyStore>> {
        Some(Arc::new(MemoryIdempotencyStore::new()))
    }

    tests::idempotency_store_contract!(memory);
}

mod quota_store {
    use super::*;

    async fn memory() -> Option<Arc<dyn QuotaStore>> {
        Some(Arc::new(MemoryQuotaStore::new()))
    }

    tests::quota_store_contract!(memory);
}

mod sensitive_body_store {
    use super::*;

    async fn memory() -> Option<Arc<dyn SensitiveBodyStore>> {
        Some(Arc::new(MemorySensitiveBodyStore::new()))
    }

    tests::sensitive_body_store_contract!(memory);
}

/// A suite's `run_all` runs every check on fresh instances from one factory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_all_runs_a_whole_suite_from_one_factory() {
    tests::contract::dead_letter_store::run_all(|| async {
        Some(Arc::new(MemoryDeadLetterStore::new()) as Arc<dyn DeadLetterStore>)
    })
    .await;
}
