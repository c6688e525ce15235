//! The contract of [`IdempotencyStore`]: one holder per `(tenant, key)` under any
//! concurrency, `Held` answers that carry the holder's fingerprint and later its
//! notification id, and keys that come free on release or when their TTL runs out.
//!
//! TTLs are real and short; expiry is awaited by polling, never by a long sleep.

use std::sync::Arc;
use std::time::Duration;

use application::ports::{IdempotencyClaim, IdempotencyStore};
use domain::{IdempotencyKey, RequestFingerprint, TenantId};
use tokio::sync::Barrier;

use crate::contract::{eventually, PATIENCE};
use crate::fixtures::{fingerprint, idempotency_key, new_id, t0, tenant};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __idempotency_store_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            the_first_try_acquire_gets_the_key,
            a_held_key_answers_with_the_holders_fingerprint,
            after_complete_a_held_key_answers_with_the_notification_id,
            release_frees_the_key,
            release_by_another_request_leaves_the_key_held,
            complete_by_another_request_changes_nothing,
            a_key_comes_free_when_its_ttl_runs_out,
            complete_keeps_the_key_for_its_longer_ttl,
            complete_with_a_short_ttl_frees_the_key_when_it_runs_out,
            keys_are_scoped_by_tenant,
            exactly_one_of_many_concurrent_acquires_gets_the_key,
        ]);
    };
}

/// One `#[tokio::test]` per check of the idempotency suite, each on a fresh store from the
/// factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! idempotency_store_contract {
    ($make:expr) => {
        $crate::__idempotency_store_checks!(__contract_tests!(idempotency_store, $make;));
    };
}

crate::__idempotency_store_checks!(__contract_run_all!(IdempotencyStore;));

type Store = Arc<dyn IdempotencyStore>;

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(200);

fn acme() -> TenantId {
    tenant("acme")
}

fn key() -> IdempotencyKey {
    idempotency_key("order-42")
}

async fn acquire(store: &Store, fp: &RequestFingerprint, ttl: Duration) -> IdempotencyClaim {
    store.try_acquire(&acme(), &key(), fp, ttl).await.unwrap()
}

pub async fn the_first_try_acquire_gets_the_key(store: Store) {
    assert_eq!(
        acquire(&store, &fingerprint("a"), LONG).await,
        IdempotencyClaim::Acquired
    );
}

pub async fn a_held_key_answers_with_the_holders_fingerprint(store: Store) {
    acquire(&store, &fingerprint("holder"), LONG).await;
    assert_eq!(
        acquire(&store, &fingerprint("another request"), LONG).await,
        IdempotencyClaim::Held {
            fingerprint: fingerprint("holder"),
            notification_id: None,
        }
    );
}

pub async fn after_complete_a_held_key_answers_with_the_notification_id(store: Store) {
    acquire(&store, &fingerprint("holder"), LONG).await;
    let id = new_id(t0());
    store
        .complete(&acme(), &key(), &fingerprint("holder"), id, LONG)
        .await
        .unwrap();
    assert_eq!(
        acquire(&store, &fingerprint("holder"), LONG).await,
        IdempotencyClaim::Held {
            fingerprint: fingerprint("holder"),
            notification_id: Some(id),
        }
    );
}

pub async fn release_frees_the_key(store: Store) {
    acquire(&store, &fingerprint("first"), LONG).await;
    store
        .release(&acme(), &key(), &fingerprint("first"))
        .await
        .unwrap();
    assert_eq!(
        acquire(&store, &fingerprint("second"), LONG).await,
        IdempotencyClaim::Acquired
    );
}

pub async fn release_by_another_request_leaves_the_key_held(store: Store) {
    acquire(&store, &fingerprint("holder"), LONG).await;
    store
        .release(
            &acme(),
            &key(),
            &fingerprint("a request whose lock expired"),
        )
        .await
        .unwrap();
    assert_eq!(
        acquire(&store, &fingerprint("third"), LONG).await,
        IdempotencyClaim::Held {
            fingerprint: fingerprint("holder"),
            notification_id: None,
        }
    );
}

pub async fn complete_by_another_request_changes_nothing(store: Store) {
    acquire(&store, &fingerprint("holder"), LONG).await;
    store
        .complete(
            &acme(),
            &key(),
            &fingerprint("a request whose lock expired"),
            new_id(t0()),
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(
        acquire(&store, &fingerprint("third"), LONG).await,
        IdempotencyClaim::Held {
            fingerprint: fingerprint("holder"),
            notification_id: None,
        }
    );
}

pub async fn a_key_comes_free_when_its_ttl_runs_out(store: Store) {
    assert_eq!(
        acquire(&store, &fingerprint("first"), SHORT).await,
        IdempotencyClaim::Acquired
    );
    assert!(
        matches!(
            acquire(&store, &fingerprint("second"), SHORT).await,
            IdempotencyClaim::Held { .. }
        ),
        "held until the TTL runs out"
    );
    eventually(PATIENCE, "the key comes free after its TTL", || {
        let store = Arc::clone(&store);
        async move { acquire(&store, &fingerprint("second"), LONG).await == IdempotencyClaim::Acquired }
    })
    .await;
}

pub async fn complete_keeps_the_key_for_its_longer_ttl(store: Store) {
    acquire(&store, &fingerprint("holder"), SHORT).await;
    let id = new_id(t0());
    store
        .complete(&acme(), &key(), &fingerprint("holder"), id, LONG)
        .await
        .unwrap();
    // Well past the first TTL.
    tokio::time::sleep(SHORT * 3).await;
    assert_eq!(
        acquire(&store, &fingerprint("later"), LONG).await,
        IdempotencyClaim::Held {
            fingerprint: fingerprint("holder"),
            notification_id: Some(id),
        }
    );
}

pub async fn complete_with_a_short_ttl_frees_the_key_when_it_runs_out(store: Store) {
    acquire(&store, &fingerprint("holder"), LONG).await;
    store
        .complete(&acme(), &key(), &fingerprint("holder"), new_id(t0()), SHORT)
        .await
        .unwrap();
    eventually(
        PATIENCE,
        "the key comes free after the TTL of complete",
        || {
            let store = Arc::clone(&store);
            async move {
                acquire(&store, &fingerprint("later"), LONG).await == IdempotencyClaim::Acquired
            }
        },
    )
    .await;
}

pub async fn keys_are_scoped_by_tenant(store: Store) {
    let fp = fingerprint("same request");
    for tenant_id in [tenant("acme"), tenant("globex")] {
        assert_eq!(
            store
                .try_acquire(&tenant_id, &key(), &fp, LONG)
                .await
                .unwrap(),
            IdempotencyClaim::Acquired,
            "{tenant_id} has a key space of its own"
        );
    }
}

pub async fn exactly_one_of_many_concurrent_acquires_gets_the_key(store: Store) {
    // Several rounds on fresh keys: a race that a single round may miss.
    for round in 0..10 {
        let key = idempotency_key(&format!("race-{round}"));
        let callers = 100;
        let start = Arc::new(Barrier::new(callers));
        let tasks: Vec<_> = (0..callers)
            .map(|i| {
                let store = Arc::clone(&store);
                let start = Arc::clone(&start);
                let key = key.clone();
                tokio::spawn(async move {
                    let fp = fingerprint(&format!("request-{i}"));
                    start.wait().await;
                    let claim = store.try_acquire(&acme(), &key, &fp, LONG).await.unwrap();
                    (fp, claim)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(_, claim)| *claim == IdempotencyClaim::Acquired)
            .map(|(fp, _)| fp.clone())
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one caller may acquire the key"
        );
        let held = IdempotencyClaim::Held {
            fingerprint: winners[0].clone(),
            notification_id: None,
        };
        for (fp, claim) in &outcomes {
            if *fp != winners[0] {
                assert_eq!(
                    claim, &held,
                    "round {round}: every other caller sees the winner's fingerprint"
                );
            }
        }
    }
}
