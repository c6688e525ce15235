//! Contract suites: one module per storage port of `application::ports`, each a set of
//! checks that every implementation of the port must pass (in-memory, Redis, MongoDB).
//! Each check asserts one MUST sentence of the port's documentation.
//!
//! # Plugging an implementation in
//!
//! Every check is a `pub async fn check(port: Arc<dyn Port>)`: give it a fresh instance
//! with a namespace of its own (an empty map, a unique key prefix, a new database).
//!
//! A factory is an `async fn() -> Option<Arc<dyn Port>>` (or a closure returning such a
//! future) that makes one such instance per call. `None` skips: the factory prints why
//! (a server that cannot be found) and, under `CI=true`, panics instead.
//!
//! - One `#[tokio::test]` per check: inside a module of a test binary, invoke the suite's
//!   macro with the factory, e.g. `tests::retry_queue_contract!(make_queue);`. The tests
//!   are named after the checks (`retry_queue::claimed_ids_come_due_again_after_the_lease`).
//! - Everything in one test: `tests::contract::retry_queue::run_all(make_queue).await`.
//!
//! # Adding a check
//!
//! Write the `pub async fn` in the suite's file and add its name to the list at the top
//! of that file; every implementation then runs it.

pub mod dead_letter_store;
pub mod idempotency_store;
pub mod notification_store;
pub mod quota_store;
pub mod retry_queue;
pub mod sensitive_body_store;

use std::future::Future;
use std::time::Duration;

/// How long [`eventually`] waits by default for something driven by a short TTL.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Polls `condition` every 10 ms until it holds; panics naming `what` once `within` has
/// passed. For TTL expiry: a short real TTL and this, never a long fixed sleep.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still not true after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Expands to one `#[tokio::test]` per check of a suite, each on a fresh instance from the
/// factory. Used by the suites' `*_contract!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($suite:ident, $make:expr; [$($check:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let Some(port) = ($make)().await else {
                    return;
                };
                $crate::contract::$suite::$check(port).await;
            }
        )*
    };
}

/// Expands to a suite's `run_all`, which runs every check on a fresh instance each.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_run_all {
    ($port:ident; [$($check:ident),* $(,)?]) => {
        /// Runs every check of this suite, each on a fresh instance from `make`; stops at
        /// the first `None` (the backend is unavailable).
        pub async fn run_all<F, Fut>(mut make: F)
        where
            F: FnMut() -> Fut,
            Fut: ::std::future::Future<Output = Option<::std::sync::Arc<dyn $port>>>,
        {
            $(
                let Some(port) = make().await else {
                    return;
                };
                $check(port).await;
            )*
        }
    };
}
