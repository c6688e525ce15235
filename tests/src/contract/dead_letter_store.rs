//! The contract of [`DeadLetterStore`]: one letter per notification, replaced on a second
//! `put`; filtered, newest-first lists; removal that says whether it removed.

use std::sync::Arc;

use application::ports::{DeadLetterQuery, DeadLetterStore};
use domain::{DeadLetter, NotificationId, NotificationKind};

use crate::fixtures::{dead_letter, secs, tenant};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __dead_letter_store_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            put_then_get_returns_the_letter,
            get_of_an_unknown_id_returns_none,
            put_replaces_the_letter_of_the_same_notification,
            list_returns_newest_failure_first,
            list_filters_by_tenant,
            list_filters_by_kind,
            list_filters_by_failed_at_since_inclusive_until_exclusive,
            list_returns_at_most_limit_newest_first,
            remove_deletes_the_letter_and_returns_true,
            remove_of_a_missing_letter_returns_false,
        ]);
    };
}

/// One `#[tokio::test]` per check of the dead-letter suite, each on a fresh store from the
/// factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! dead_letter_store_contract {
    ($make:expr) => {
        $crate::__dead_letter_store_checks!(__contract_tests!(dead_letter_store, $make;));
    };
}

crate::__dead_letter_store_checks!(__contract_run_all!(DeadLetterStore;));

type Store = Arc<dyn DeadLetterStore>;

fn all(limit: usize) -> DeadLetterQuery {
    DeadLetterQuery {
        limit,
        ..DeadLetterQuery::default()
    }
}

async fn put_all(store: &Store, letters: &[DeadLetter]) {
    for letter in letters {
        store.put(letter).await.unwrap();
    }
}

async fn listed(store: &Store, query: DeadLetterQuery) -> Vec<NotificationId> {
    let letters = store.list(&query).await.unwrap();
    letters
        .iter()
        .map(|letter| letter.notification_id)
        .collect()
}

fn welcome(tenant: &str, failed_at_secs: i64) -> DeadLetter {
    dead_letter(
        tenant,
        NotificationKind::TenantWelcome,
        secs(failed_at_secs),
    )
}

pub async fn put_then_get_returns_the_letter(store: Store) {
    let letter = dead_letter("acme", NotificationKind::Otp, secs(60));
    store.put(&letter).await.unwrap();
    assert_eq!(
        store.get(letter.notification_id).await.unwrap(),
        Some(letter)
    );
}

pub async fn get_of_an_unknown_id_returns_none(store: Store) {
    store.put(&welcome("acme", 1)).await.unwrap();
    let unknown = welcome("acme", 2).notification_id;
    assert_eq!(store.get(unknown).await.unwrap(), None);
}

pub async fn put_replaces_the_letter_of_the_same_notification(store: Store) {
    let first = welcome("acme", 10);
    store.put(&first).await.unwrap();
    let again = DeadLetter {
        attempts: first.attempts + 6,
        last_error: "failed again after a replay".into(),
        failed_at: secs(500),
        ..first.clone()
    };
    store.put(&again).await.unwrap();
    assert_eq!(
        store.get(first.notification_id).await.unwrap(),
        Some(again.clone())
    );
    assert_eq!(
        store.list(&all(10)).await.unwrap(),
        vec![again],
        "one letter per notification"
    );
}

pub async fn list_returns_newest_failure_first(store: Store) {
    // Ids made in one order, failed and put in another: the order is by failure time.
    let letters: Vec<_> = [30, 10, 50, 20, 40]
        .into_iter()
        .map(|s| DeadLetter {
            failed_at: secs(s),
            ..welcome("acme", 0)
        })
        .collect();
    put_all(&store, &letters).await;
    let failed_at: Vec<_> = store
        .list(&all(10))
        .await
        .unwrap()
        .iter()
        .map(|letter| letter.failed_at)
        .collect();
    assert_eq!(
        failed_at,
        vec![secs(50), secs(40), secs(30), secs(20), secs(10)]
    );
}

pub async fn list_filters_by_tenant(store: Store) {
    let acme = welcome("acme", 1);
    let globex = welcome("globex", 2);
    let acme_later = welcome("acme", 3);
    put_all(&store, &[acme.clone(), globex, acme_later.clone()]).await;
    let query = DeadLetterQuery {
        tenant_id: Some(tenant("acme")),
        ..all(10)
    };
    assert_eq!(
        listed(&store, query).await,
        vec![acme_later.notification_id, acme.notification_id]
    );
}

pub async fn list_filters_by_kind(store: Store) {
    let welcome_letter = welcome("acme", 1);
    let otp = dead_letter("acme", NotificationKind::Otp, secs(2));
    let invite = dead_letter("acme", NotificationKind::MemberInvite, secs(3));
    put_all(&store, &[welcome_letter, otp.clone(), invite]).await;
    let query = DeadLetterQuery {
        kind: Some(NotificationKind::Otp),
        ..all(10)
    };
    assert_eq!(listed(&store, query).await, vec![otp.notification_id]);
}

pub async fn list_filters_by_failed_at_since_inclusive_until_exclusive(store: Store) {
    let letters: Vec<_> = [10, 20, 30, 40]
        .into_iter()
        .map(|s| welcome("acme", s))
        .collect();
    put_all(&store, &letters).await;
    let query = DeadLetterQuery {
        since: Some(secs(20)),
        until: Some(secs(40)),
        ..all(10)
    };
    assert_eq!(
        listed(&store, query).await,
        vec![letters[2].notification_id, letters[1].notification_id],
        "since is inclusive and until exclusive"
    );
}

pub async fn list_returns_at_most_limit_newest_first(store: Store) {
    let letters: Vec<_> = (1..=5).map(|s| welcome("acme", s)).collect();
    put_all(&store, &letters).await;
    assert_eq!(
        listed(&store, all(2)).await,
        vec![letters[4].notification_id, letters[3].notification_id]
    );
}

pub async fn remove_deletes_the_letter_and_returns_true(store: Store) {
    let letter = welcome("acme", 1);
    let kept = welcome("acme", 2);
    put_all(&store, &[letter.clone(), kept.clone()]).await;
    assert!(store.remove(letter.notification_id).await.unwrap());
    assert_eq!(store.get(letter.notification_id).await.unwrap(), None);
    assert_eq!(store.get(kept.notification_id).await.unwrap(), Some(kept));
}

pub async fn remove_of_a_missing_letter_returns_false(store: Store) {
    let letter = welcome("acme", 1);
    assert!(!store.remove(letter.notification_id).await.unwrap());
    store.put(&letter).await.unwrap();
    assert!(store.remove(letter.notification_id).await.unwrap());
    assert!(
        !store.remove(letter.notification_id).await.unwrap(),
        "a second remove finds nothing"
    );
}
