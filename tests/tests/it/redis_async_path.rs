//! The async-path scenarios (`tests/src/scenarios.rs`) over the Redis queue, idempotency
//! locks, quotas and sensitive bodies on a real `redis-server`, with the notification store
//! and dead letters in memory: the same scenarios as on the embedded default.

use tests::harness::redis;
use tests::world::Backend;

async fn redis() -> Option<Backend> {
    redis::backend().await
}

tests::async_scenarios!(redis);
