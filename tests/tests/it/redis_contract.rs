//! The contract suites against the Redis adapters on a real `redis-server` (the harness
//! starts one per test process, or uses `NOTIFY_TEST_REDIS_URL`). Every check runs as its
//! own test under a key prefix of its own.

use tests::harness::redis;

mod retry_queue {
    use super::*;

    tests::retry_queue_contract!(redis::retry_queue);
}

mod idempotency_store {
    use super::*;

    tests::idempotency_store_contract!(redis::idempotency_store);
}

mod quota_store {
    use super::*;

    tests::quota_store_contract!(redis::quota_store);
}

mod sensitive_body_store {
    use super::*;

    tests::sensitive_body_store_contract!(redis::sensitive_body_store);
}
