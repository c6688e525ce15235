//! The async-path scenarios (`tests/src/scenarios.rs`) on the embedded default: every
//! port in memory.

use tests::world::Backend;

async fn memory() -> Option<Backend> {
    Some(Backend::memory())
}

tests::async_scenarios!(memory);
