//! The contract of [`SensitiveBodyStore`]: a body is there until deleted, replaced or
//! expired. TTLs are real and short; expiry is awaited by polling.

use std::sync::Arc;
use std::time::Duration;

use application::ports::SensitiveBodyStore;

use crate::contract::{eventually, PATIENCE};
use crate::fixtures::{body, new_id, t0};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __sensitive_body_store_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            put_then_get_returns_the_body,
            get_of_a_body_never_stored_returns_none,
            put_replaces_an_earlier_body,
            delete_removes_the_body,
            delete_of_a_missing_body_is_not_an_error,
            a_body_expires_after_its_ttl,
        ]);
    };
}

/// One `#[tokio::test]` per check of the sensitive-body suite, each on a fresh store from
/// the factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! sensitive_body_store_contract {
    ($make:expr) => {
        $crate::__sensitive_body_store_checks!(__contract_tests!(sensitive_body_store, $make;));
    };
}

crate::__sensitive_body_store_checks!(__contract_run_all!(SensitiveBodyStore;));

type Store = Arc<dyn SensitiveBodyStore>;

const LONG: Duration = Duration::from_secs(60);

pub async fn put_then_get_returns_the_body(store: Store) {
    let id = new_id(t0());
    let otp = body("Your code is 123456");
    store.put(id, &otp, LONG).await.unwrap();
    assert_eq!(store.get(id).await.unwrap(), Some(otp));
}

pub async fn get_of_a_body_never_stored_returns_none(store: Store) {
    store.put(new_id(t0()), &body("other"), LONG).await.unwrap();
    assert_eq!(store.get(new_id(t0())).await.unwrap(), None);
}

pub async fn put_replaces_an_earlier_body(store: Store) {
    let id = new_id(t0());
    store.put(id, &body("first"), LONG).await.unwrap();
    store.put(id, &body("second"), LONG).await.unwrap();
    assert_eq!(store.get(id).await.unwrap(), Some(body("second")));
}

pub async fn delete_removes_the_body(store: Store) {
    let [id, kept] = [new_id(t0()), new_id(t0())];
    store.put(id, &body("gone"), LONG).await.unwrap();
    store.put(kept, &body("kept"), LONG).await.unwrap();
    store.delete(id).await.unwrap();
    assert_eq!(store.get(id).await.unwrap(), None);
    assert_eq!(store.get(kept).await.unwrap(), Some(body("kept")));
}

pub async fn delete_of_a_missing_body_is_not_an_error(store: Store) {
    store.delete(new_id(t0())).await.unwrap();
}

pub async fn a_body_expires_after_its_ttl(store: Store) {
    let id = new_id(t0());
    store
        .put(id, &body("short-lived"), Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        store.get(id).await.unwrap().is_some(),
        "kept until the TTL runs out"
    );
    eventually(PATIENCE, "the body expires after its TTL", || {
        let store = Arc::clone(&store);
        async move { store.get(id).await.unwrap().is_none() }
    })
    .await;
}
