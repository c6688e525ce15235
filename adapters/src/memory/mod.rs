//! The in-memory adapters: the embedded default (design §1). One process, no service to
//! install; everything is lost when the process stops.
//!
//! Every adapter keeps its state behind a `std::sync` lock held only for short,
//! non-async critical sections (never across an `.await`). A poisoned lock is recovered:
//! each critical section leaves the state consistent before anything can panic, so the
//! data behind a poisoned lock is still sound.

mod dead_letter_store;
mod expiring;
mod idempotency_store;
mod notification_store;
mod quota_store;
mod retry_queue;
mod sensitive_body_store;

use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

pub use dead_letter_store::MemoryDeadLetterStore;
pub use idempotency_store::MemoryIdempotencyStore;
pub use notification_store::MemoryNotificationStore;
pub use quota_store::MemoryQuotaStore;
pub use retry_queue::MemoryRetryQueue;
pub use sensitive_body_store::MemorySensitiveBodyStore;

/// The monotonic time the TTL-based stores read. `Instant::now` unless a test injects
/// another source.
pub type MonotonicTime = Arc<dyn Fn() -> Instant + Send + Sync>;

fn system_monotonic_time() -> MonotonicTime {
    Arc::new(Instant::now)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
