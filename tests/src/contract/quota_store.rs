//! The contract of [`QuotaStore`]: fixed windows (`floor(now / window)`), all counters of a
//! call checked and consumed in one atomic step, never more than `limit` per window.
//!
//! `now` is always passed explicitly: windows start at multiples of their length since the
//! epoch, and [`crate::fixtures::t0`] starts a minute.

use std::sync::Arc;
use std::time::Duration;

use application::ports::{QuotaCheck, QuotaDecision, QuotaStore};
use chrono::{DateTime, Utc};
use tokio::sync::Barrier;

use crate::fixtures::{millis, secs};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __quota_store_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            consume_allows_up_to_the_limit_then_refuses,
            exceeded_carries_the_time_left_in_the_window,
            a_new_window_starts_from_zero,
            counters_of_different_keys_are_independent,
            exceeded_increments_no_counter,
            exceeded_names_the_first_full_counter,
            concurrent_consumes_never_let_more_than_the_limit_through,
            concurrent_multi_counter_consumes_stay_consistent,
        ]);
    };
}

/// One `#[tokio::test]` per check of the quota suite, each on a fresh store from the
/// factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! quota_store_contract {
    ($make:expr) => {
        $crate::__quota_store_checks!(__contract_tests!(quota_store, $make;));
    };
}

crate::__quota_store_checks!(__contract_run_all!(QuotaStore;));

type Store = Arc<dyn QuotaStore>;

const MINUTE: Duration = Duration::from_secs(60);

fn check(key: &str, limit: u64, window: Duration) -> QuotaCheck {
    QuotaCheck {
        key: key.to_owned(),
        limit,
        window,
    }
}

async fn consume(store: &Store, checks: &[QuotaCheck], now: DateTime<Utc>) -> QuotaDecision {
    store.consume(checks, now).await.unwrap()
}

fn exceeded_key(decision: &QuotaDecision) -> Option<&str> {
    match decision {
        QuotaDecision::Exceeded { key, .. } => Some(key),
        QuotaDecision::Allowed => None,
    }
}

pub async fn consume_allows_up_to_the_limit_then_refuses(store: Store) {
    let rule = [check("r0:t:acme:email", 3, MINUTE)];
    for i in 0..3 {
        assert_eq!(
            consume(&store, &rule, secs(i)).await,
            QuotaDecision::Allowed,
            "consume {} of 3",
            i + 1
        );
    }
    let refused = consume(&store, &rule, secs(3)).await;
    assert_eq!(exceeded_key(&refused), Some("r0:t:acme:email"));
}

pub async fn exceeded_carries_the_time_left_in_the_window(store: Store) {
    let rule = [check("r0:t:acme:sms", 1, MINUTE)];
    consume(&store, &rule, secs(15)).await;
    assert_eq!(
        consume(&store, &rule, millis(15_250)).await,
        QuotaDecision::Exceeded {
            key: "r0:t:acme:sms".into(),
            retry_after: Duration::from_millis(44_750),
        },
        "the window [t0, t0 + 60 s) ends 44.75 s after t0 + 15.25 s"
    );
}

pub async fn a_new_window_starts_from_zero(store: Store) {
    let rule = [check("r0:t:acme:email", 2, MINUTE)];
    consume(&store, &rule, secs(0)).await;
    consume(&store, &rule, secs(30)).await;
    assert!(
        exceeded_key(&consume(&store, &rule, millis(59_999)).await).is_some(),
        "the last millisecond still belongs to the full window"
    );
    assert_eq!(
        consume(&store, &rule, secs(60)).await,
        QuotaDecision::Allowed
    );
    assert_eq!(
        consume(&store, &rule, secs(119)).await,
        QuotaDecision::Allowed
    );
    assert!(exceeded_key(&consume(&store, &rule, secs(119)).await).is_some());
}

pub async fn counters_of_different_keys_are_independent(store: Store) {
    let acme = [check("r0:t:acme:email", 1, MINUTE)];
    let globex = [check("r0:t:globex:email", 1, MINUTE)];
    assert_eq!(
        consume(&store, &acme, secs(1)).await,
        QuotaDecision::Allowed
    );
    assert_eq!(
        consume(&store, &globex, secs(1)).await,
        QuotaDecision::Allowed
    );
    assert!(exceeded_key(&consume(&store, &acme, secs(2)).await).is_some());
}

pub async fn exceeded_increments_no_counter(store: Store) {
    let roomy = check("r0:t:acme:email", 5, MINUTE);
    let tight = check("r1:rcpt:acme:email:abc", 1, MINUTE);
    let both = [roomy.clone(), tight.clone()];
    assert_eq!(
        consume(&store, &both, secs(1)).await,
        QuotaDecision::Allowed
    );
    // Refused by `tight`: `roomy` must stay at 1.
    for _ in 0..3 {
        assert_eq!(
            exceeded_key(&consume(&store, &both, secs(2)).await),
            Some(tight.key.as_str())
        );
    }
    let roomy_alone = [roomy.clone()];
    for i in 2..=5 {
        assert_eq!(
            consume(&store, &roomy_alone, secs(3)).await,
            QuotaDecision::Allowed,
            "consume {i} of 5: the refused calls must not have counted"
        );
    }
    assert_eq!(
        exceeded_key(&consume(&store, &roomy_alone, secs(3)).await),
        Some(roomy.key.as_str())
    );
}

pub async fn exceeded_names_the_first_full_counter(store: Store) {
    let a = check("a", 1, MINUTE);
    let b = check("b", 1, MINUTE);
    consume(&store, &[a.clone(), b.clone()], secs(1)).await;
    assert_eq!(
        exceeded_key(&consume(&store, &[b.clone(), a.clone()], secs(2)).await),
        Some("b")
    );
    assert_eq!(
        exceeded_key(&consume(&store, &[a, b], secs(2)).await),
        Some("a")
    );
}

pub async fn concurrent_consumes_never_let_more_than_the_limit_through(store: Store) {
    let rule = vec![check("r0:rcpt:acme:sms:abc", 50, MINUTE)];
    let now = secs(10);
    let callers = 200;
    let start = Arc::new(Barrier::new(callers));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let store = Arc::clone(&store);
            let rule = rule.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                consume(&store, &rule, now).await
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        match task.await.unwrap() {
            QuotaDecision::Allowed => allowed += 1,
            QuotaDecision::Exceeded { key, .. } => assert_eq!(key, rule[0].key),
        }
    }
    assert_eq!(allowed, 50, "exactly the limit gets through one window");
}

pub async fn concurrent_multi_counter_consumes_stay_consistent(store: Store) {
    let tight = check("r0:rcpt:acme:email:abc", 30, MINUTE);
    let roomy = check("r1:t:acme:email", 1_000, MINUTE);
    let both = vec![tight, roomy.clone()];
    let now = secs(10);
    let callers = 100;
    let start = Arc::new(Barrier::new(callers));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let store = Arc::clone(&store);
            let both = both.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                consume(&store, &both, now).await
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() == QuotaDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 30);
    // The roomy counter moved only with the allowed calls: it stands at 30.
    let at_31 = [check(&roomy.key, 31, MINUTE)];
    assert_eq!(consume(&store, &at_31, now).await, QuotaDecision::Allowed);
    assert!(
        exceeded_key(&consume(&store, &at_31, now).await).is_some(),
        "the roomy counter counted a refused call"
    );
}
