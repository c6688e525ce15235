//! The contract of [`NotificationStore`]: unique ids and idempotency keys, conditional
//! status updates, newest-first pages, and the reconciler's stale query.

use std::collections::HashSet;
use std::sync::Arc;

use application::ports::{Expected, ListQuery, NotificationStore, StatusUpdate, StoreError};
use domain::{Mode, Notification, NotificationId, NotificationKind, Status};
use tokio::sync::Barrier;

use crate::fixtures::{idempotency_key, notification, secs, tenant};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __notification_store_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            insert_then_get_returns_the_record,
            get_of_an_unknown_id_returns_none,
            insert_of_a_duplicate_id_is_a_conflict_and_writes_nothing,
            insert_of_a_duplicate_idempotency_key_in_one_tenant_is_a_conflict,
            the_same_idempotency_key_in_another_tenant_is_accepted,
            records_without_an_idempotency_key_never_conflict_on_it,
            find_by_idempotency_key_returns_the_tenants_record,
            find_by_idempotency_key_of_an_unknown_key_returns_none,
            update_status_applies_when_status_and_attempts_match,
            update_status_writes_every_field_as_given_and_none_clears,
            update_status_expecting_another_status_returns_none_and_writes_nothing,
            update_status_expecting_other_attempts_returns_none_and_writes_nothing,
            update_status_of_a_missing_record_returns_none,
            only_one_of_many_concurrent_conditional_updates_wins,
            list_returns_newest_first,
            list_filters_by_tenant,
            list_filters_by_status,
            list_filters_by_kind,
            list_filters_by_occurred_at_since_inclusive_until_exclusive,
            list_applies_every_filter_at_once,
            list_returns_at_most_limit_with_a_cursor_when_more_follow,
            list_gives_no_cursor_on_a_short_last_page,
            list_pages_visit_every_matching_record_exactly_once,
            find_stale_returns_pending_and_retrying_async_records,
            find_stale_skips_sync_records,
            find_stale_skips_terminal_records,
            find_stale_skips_records_without_next_attempt_at,
            find_stale_takes_only_records_due_strictly_before_the_cutoff,
            find_stale_returns_oldest_due_first_up_to_limit,
            find_stale_follows_status_updates,
        ]);
    };
}

/// One `#[tokio::test]` per check of the notification-store suite, each on a fresh store
/// from the factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! notification_store_contract {
    ($make:expr) => {
        $crate::__notification_store_checks!(__contract_tests!(notification_store, $make;));
    };
}

crate::__notification_store_checks!(__contract_run_all!(NotificationStore;));

type Store = Arc<dyn NotificationStore>;

async fn insert_all(store: &Store, records: &[Notification]) {
    for record in records {
        store.insert(record).await.unwrap();
    }
}

async fn list_ids(store: &Store, query: ListQuery) -> Vec<NotificationId> {
    let page = store.list(&query).await.unwrap();
    page.items.iter().map(|record| record.id).collect()
}

fn all(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

fn newest_first(records: &[&Notification]) -> Vec<NotificationId> {
    let mut ids: Vec<_> = records.iter().map(|record| record.id).collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

fn sent_update(attempts: u32) -> StatusUpdate {
    StatusUpdate {
        status: Status::Sent,
        attempts,
        provider: Some("mock".into()),
        provider_message_id: Some("mock-1".into()),
        last_error: None,
        next_attempt_at: None,
        sent_at: Some(secs(5)),
        updated_at: secs(5),
    }
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

// --- insert, get, idempotency keys ---------------------------------------------------

pub async fn insert_then_get_returns_the_record(store: Store) {
    let record = notification()
        .idempotency_key("welcome-1")
        .provider("smtp", "queued-7")
        .last_error("earlier timeout")
        .build();
    store.insert(&record).await.unwrap();
    assert_eq!(store.get(record.id).await.unwrap(), Some(record));
}

pub async fn get_of_an_unknown_id_returns_none(store: Store) {
    store.insert(&notification().build()).await.unwrap();
    assert_eq!(store.get(notification().build().id).await.unwrap(), None);
}

pub async fn insert_of_a_duplicate_id_is_a_conflict_and_writes_nothing(store: Store) {
    let first = notification().build();
    store.insert(&first).await.unwrap();
    let second = notification()
        .id(first.id)
        .tenant("globex")
        .attempts(3)
        .idempotency_key("only-on-the-second")
        .build();
    assert!(
        is_conflict(store.insert(&second).await),
        "a second record with the same id must be a conflict"
    );
    assert_eq!(store.get(first.id).await.unwrap(), Some(first));
    assert_eq!(
        store
            .find_by_idempotency_key(&tenant("globex"), &idempotency_key("only-on-the-second"))
            .await
            .unwrap(),
        None,
        "the refused record's idempotency key must not be stored"
    );
}

pub async fn insert_of_a_duplicate_idempotency_key_in_one_tenant_is_a_conflict(store: Store) {
    let first = notification().idempotency_key("order-42").build();
    store.insert(&first).await.unwrap();
    let second = notification().idempotency_key("order-42").build();
    assert!(
        is_conflict(store.insert(&second).await),
        "a second record with the same (tenant, idempotency key) must be a conflict"
    );
    assert_eq!(store.get(second.id).await.unwrap(), None);
}

pub async fn the_same_idempotency_key_in_another_tenant_is_accepted(store: Store) {
    let acme = notification()
        .tenant("acme")
        .idempotency_key("order-42")
        .build();
    let globex = notification()
        .tenant("globex")
        .idempotency_key("order-42")
        .build();
    store.insert(&acme).await.unwrap();
    store.insert(&globex).await.unwrap();
    assert_eq!(store.get(globex.id).await.unwrap(), Some(globex));
}

pub async fn records_without_an_idempotency_key_never_conflict_on_it(store: Store) {
    for _ in 0..3 {
        let record = notification().build();
        assert!(record.idempotency_key.is_none());
        store.insert(&record).await.unwrap();
    }
    assert_eq!(store.list(&all(10)).await.unwrap().items.len(), 3);
}

pub async fn find_by_idempotency_key_returns_the_tenants_record(store: Store) {
    let acme = notification().tenant("acme").idempotency_key("k-1").build();
    let globex = notification()
        .tenant("globex")
        .idempotency_key("k-1")
        .build();
    insert_all(&store, &[acme.clone(), globex.clone()]).await;
    let key = idempotency_key("k-1");
    assert_eq!(
        store
            .find_by_idempotency_key(&tenant("acme"), &key)
            .await
            .unwrap(),
        Some(acme)
    );
    assert_eq!(
        store
            .find_by_idempotency_key(&tenant("globex"), &key)
            .await
            .unwrap(),
        Some(globex)
    );
}

pub async fn find_by_idempotency_key_of_an_unknown_key_returns_none(store: Store) {
    store
        .insert(&notification().tenant("acme").idempotency_key("k-1").build())
        .await
        .unwrap();
    assert_eq!(
        store
            .find_by_idempotency_key(&tenant("acme"), &idempotency_key("never-seen"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_by_idempotency_key(&tenant("globex"), &idempotency_key("k-1"))
            .await
            .unwrap(),
        None,
        "another tenant's key is unknown to this tenant"
    );
}

// --- conditional status updates ------------------------------------------------------

pub async fn update_status_applies_when_status_and_attempts_match(store: Store) {
    let record = notification().build();
    store.insert(&record).await.unwrap();
    let update = sent_update(1);
    let mut expected = record.clone();
    update.apply_to(&mut expected);

    let updated = store
        .update_status(record.id, Expected::of(&record), update)
        .await
        .unwrap();
    assert_eq!(updated, Some(expected.clone()));
    assert_eq!(store.get(record.id).await.unwrap(), Some(expected));
}

pub async fn update_status_writes_every_field_as_given_and_none_clears(store: Store) {
    let record = notification()
        .status(Status::Retrying)
        .attempts(1)
        .provider("smtp", "queued-1")
        .last_error("timeout")
        .next_attempt_at(Some(secs(30)))
        .build();
    store.insert(&record).await.unwrap();
    let update = StatusUpdate {
        status: Status::Failed,
        attempts: 2,
        provider: None,
        provider_message_id: None,
        last_error: None,
        next_attempt_at: None,
        sent_at: None,
        updated_at: secs(40),
    };
    store
        .update_status(record.id, Expected::of(&record), update)
        .await
        .unwrap();
    let stored = store.get(record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Failed);
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.provider, None);
    assert_eq!(stored.provider_message_id, None);
    assert_eq!(stored.last_error, None);
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(stored.updated_at, secs(40));
}

pub async fn update_status_expecting_another_status_returns_none_and_writes_nothing(store: Store) {
    let record = notification().status(Status::Pending).attempts(0).build();
    store.insert(&record).await.unwrap();
    let stale = Expected {
        status: Status::Retrying,
        attempts: 0,
    };
    assert_eq!(
        store
            .update_status(record.id, stale, sent_update(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(record.id).await.unwrap(), Some(record));
}

pub async fn update_status_expecting_other_attempts_returns_none_and_writes_nothing(store: Store) {
    let record = notification().status(Status::Retrying).attempts(2).build();
    store.insert(&record).await.unwrap();
    let stale = Expected {
        status: Status::Retrying,
        attempts: 1,
    };
    assert_eq!(
        store
            .update_status(record.id, stale, sent_update(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(record.id).await.unwrap(), Some(record));
}

pub async fn update_status_of_a_missing_record_returns_none(store: Store) {
    let missing = notification().build();
    assert_eq!(
        store
            .update_status(missing.id, Expected::of(&missing), sent_update(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(missing.id).await.unwrap(), None);
}

pub async fn only_one_of_many_concurrent_conditional_updates_wins(store: Store) {
    let record = notification().build();
    store.insert(&record).await.unwrap();
    let expected = Expected::of(&record);
    let workers = 16;
    let start = Arc::new(Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let update = StatusUpdate {
                    status: Status::Retrying,
                    attempts: 1,
                    provider: Some(format!("worker-{worker}")),
                    provider_message_id: None,
                    last_error: Some("timeout".into()),
                    next_attempt_at: Some(secs(60)),
                    sent_at: None,
                    updated_at: secs(1),
                };
                store
                    .update_status(record.id, expected, update)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(updated) = task.await.unwrap() {
            winners.push(updated);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one conditional update may match");
    assert_eq!(
        store.get(record.id).await.unwrap().as_ref(),
        winners.first()
    );
}

// --- list ----------------------------------------------------------------------------

pub async fn list_returns_newest_first(store: Store) {
    let records: Vec<_> = [3, 1, 5, 2, 4]
        .into_iter()
        .map(|s| notification().at(secs(s)).build())
        .collect();
    insert_all(&store, &records).await;
    let page = store.list(&all(10)).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|record| record.id).collect();
    assert_eq!(ids, newest_first(&records.iter().collect::<Vec<_>>()));
    assert_eq!(page.next_cursor, None);
}

pub async fn list_filters_by_tenant(store: Store) {
    let acme = notification().tenant("acme").at(secs(1)).build();
    let globex = notification().tenant("globex").at(secs(2)).build();
    let acme_later = notification().tenant("acme").at(secs(3)).build();
    insert_all(&store, &[acme.clone(), globex, acme_later.clone()]).await;
    let query = ListQuery {
        tenant_id: Some(tenant("acme")),
        ..all(10)
    };
    assert_eq!(
        list_ids(&store, query).await,
        newest_first(&[&acme, &acme_later])
    );
}

pub async fn list_filters_by_status(store: Store) {
    let pending = notification().status(Status::Pending).at(secs(1)).build();
    let sent = notification().status(Status::Sent).at(secs(2)).build();
    let failed = notification().status(Status::Failed).at(secs(3)).build();
    let sent_later = notification().status(Status::Sent).at(secs(4)).build();
    insert_all(&store, &[pending, sent.clone(), failed, sent_later.clone()]).await;
    let query = ListQuery {
        status: Some(Status::Sent),
        ..all(10)
    };
    assert_eq!(
        list_ids(&store, query).await,
        newest_first(&[&sent, &sent_later])
    );
}

pub async fn list_filters_by_kind(store: Store) {
    let welcome = notification()
        .kind(NotificationKind::TenantWelcome)
        .at(secs(1))
        .build();
    let otp = notification()
        .kind(NotificationKind::Otp)
        .at(secs(2))
        .build();
    let invite = notification()
        .kind(NotificationKind::MemberInvite)
        .at(secs(3))
        .build();
    insert_all(&store, &[welcome, otp.clone(), invite]).await;
    let query = ListQuery {
        kind: Some(NotificationKind::Otp),
        ..all(10)
    };
    assert_eq!(list_ids(&store, query).await, vec![otp.id]);
}

pub async fn list_filters_by_occurred_at_since_inclusive_until_exclusive(store: Store) {
    let records: Vec<_> = [10, 20, 30, 40]
        .into_iter()
        .map(|s| notification().at(secs(s)).build())
        .collect();
    insert_all(&store, &records).await;
    let query = ListQuery {
        since: Some(secs(20)),
        until: Some(secs(40)),
        ..all(10)
    };
    assert_eq!(
        list_ids(&store, query).await,
        newest_first(&[&records[1], &records[2]]),
        "since is inclusive and until exclusive"
    );
}

pub async fn list_applies_every_filter_at_once(store: Store) {
    let hit = notification()
        .tenant("acme")
        .status(Status::Sent)
        .kind(NotificationKind::Otp)
        .at(secs(20))
        .build();
    let misses = [
        notification()
            .tenant("globex")
            .status(Status::Sent)
            .kind(NotificationKind::Otp)
            .at(secs(21)),
        notification()
            .tenant("acme")
            .status(Status::Failed)
            .kind(NotificationKind::Otp)
            .at(secs(22)),
        notification()
            .tenant("acme")
            .status(Status::Sent)
            .kind(NotificationKind::TenantWelcome)
            .at(secs(23)),
        notification()
            .tenant("acme")
            .status(Status::Sent)
            .kind(NotificationKind::Otp)
            .at(secs(5)),
        notification()
            .tenant("acme")
            .status(Status::Sent)
            .kind(NotificationKind::Otp)
            .at(secs(50)),
    ];
    store.insert(&hit).await.unwrap();
    for miss in misses {
        store.insert(&miss.build()).await.unwrap();
    }
    let query = ListQuery {
        tenant_id: Some(tenant("acme")),
        status: Some(Status::Sent),
        kind: Some(NotificationKind::Otp),
        since: Some(secs(10)),
        until: Some(secs(40)),
        ..all(10)
    };
    assert_eq!(list_ids(&store, query).await, vec![hit.id]);
}

pub async fn list_returns_at_most_limit_with_a_cursor_when_more_follow(store: Store) {
    let records: Vec<_> = (1..=5)
        .map(|s| notification().at(secs(s)).build())
        .collect();
    insert_all(&store, &records).await;
    let page = store.list(&all(2)).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|record| record.id).collect();
    assert_eq!(ids, vec![records[4].id, records[3].id]);
    assert!(
        page.next_cursor.is_some(),
        "more records follow, so a cursor is due"
    );
}

pub async fn list_gives_no_cursor_on_a_short_last_page(store: Store) {
    let records: Vec<_> = (1..=3)
        .map(|s| notification().at(secs(s)).build())
        .collect();
    insert_all(&store, &records).await;
    let page = store.list(&all(5)).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next_cursor, None);
}

pub async fn list_pages_visit_every_matching_record_exactly_once(store: Store) {
    let mut expected = Vec::new();
    for s in 0..33 {
        // Two records per second of acme, one of globex in between: ids of one second
        // are ordered too.
        let tenant = if s % 3 == 2 { "globex" } else { "acme" };
        let record = notification().tenant(tenant).at(secs(s / 2)).build();
        store.insert(&record).await.unwrap();
        if tenant == "acme" {
            expected.push(record.id);
        }
    }
    expected.sort_unstable_by(|a, b| b.cmp(a));

    let limit = 5;
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..=expected.len() {
        let page = store
            .list(&ListQuery {
                tenant_id: Some(tenant("acme")),
                limit,
                cursor,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert!(
            page.items.len() <= limit,
            "a page holds at most limit items"
        );
        seen.extend(page.items.iter().map(|record| record.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(cursor, None, "paging must end");
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no record may appear twice");
    assert_eq!(seen, expected, "every record, newest first, across pages");
}

// --- find_stale ----------------------------------------------------------------------

fn stale_ids(records: &[Notification]) -> HashSet<NotificationId> {
    records.iter().map(|record| record.id).collect()
}

async fn find_stale_ids(store: &Store, due_before_secs: i64) -> Vec<NotificationId> {
    let found = store.find_stale(secs(due_before_secs), 10).await.unwrap();
    found.iter().map(|record| record.id).collect()
}

pub async fn find_stale_returns_pending_and_retrying_async_records(store: Store) {
    let pending = notification()
        .status(Status::Pending)
        .next_attempt_at(Some(secs(10)))
        .build();
    let retrying = notification()
        .status(Status::Retrying)
        .attempts(1)
        .next_attempt_at(Some(secs(20)))
        .build();
    insert_all(&store, &[pending.clone(), retrying.clone()]).await;
    let found = store.find_stale(secs(100), 10).await.unwrap();
    assert_eq!(stale_ids(&found), stale_ids(&[pending, retrying]));
}

pub async fn find_stale_skips_sync_records(store: Store) {
    let sync = notification()
        .mode(Mode::Sync)
        .next_attempt_at(Some(secs(10)))
        .build();
    let due = notification().next_attempt_at(Some(secs(10))).build();
    insert_all(&store, &[sync, due.clone()]).await;
    assert_eq!(find_stale_ids(&store, 100).await, vec![due.id]);
}

pub async fn find_stale_skips_terminal_records(store: Store) {
    for status in [Status::Sent, Status::Failed, Status::Dropped] {
        store
            .insert(
                &notification()
                    .status(status)
                    .next_attempt_at(Some(secs(10)))
                    .build(),
            )
            .await
            .unwrap();
    }
    let due = notification().next_attempt_at(Some(secs(10))).build();
    store.insert(&due).await.unwrap();
    assert_eq!(find_stale_ids(&store, 100).await, vec![due.id]);
}

pub async fn find_stale_skips_records_without_next_attempt_at(store: Store) {
    let unscheduled = notification().next_attempt_at(None).build();
    let due = notification().next_attempt_at(Some(secs(10))).build();
    insert_all(&store, &[unscheduled, due.clone()]).await;
    assert_eq!(find_stale_ids(&store, 100).await, vec![due.id]);
}

pub async fn find_stale_takes_only_records_due_strictly_before_the_cutoff(store: Store) {
    let before = notification().next_attempt_at(Some(secs(99))).build();
    let at_cutoff = notification().next_attempt_at(Some(secs(100))).build();
    let after = notification().next_attempt_at(Some(secs(150))).build();
    insert_all(&store, &[before.clone(), at_cutoff, after]).await;
    assert_eq!(find_stale_ids(&store, 100).await, vec![before.id]);
}

pub async fn find_stale_returns_oldest_due_first_up_to_limit(store: Store) {
    // Made in one order, due in another: the order is by due time, not by id.
    let records: Vec<_> = [30, 10, 40, 20]
        .into_iter()
        .map(|s| notification().next_attempt_at(Some(secs(s))).build())
        .collect();
    insert_all(&store, &records).await;
    let found = store.find_stale(secs(100), 3).await.unwrap();
    let due: Vec<_> = found.iter().map(|record| record.next_attempt_at).collect();
    assert_eq!(due, vec![Some(secs(10)), Some(secs(20)), Some(secs(30))]);
}

pub async fn find_stale_follows_status_updates(store: Store) {
    let record = notification().next_attempt_at(Some(secs(3))).build();
    let other = notification().next_attempt_at(Some(secs(20))).build();
    insert_all(&store, &[record.clone(), other.clone()]).await;
    store
        .update_status(record.id, Expected::of(&record), sent_update(1))
        .await
        .unwrap();
    let retried = StatusUpdate {
        status: Status::Retrying,
        attempts: 1,
        provider: None,
        provider_message_id: None,
        last_error: Some("timeout".into()),
        next_attempt_at: Some(secs(5)),
        sent_at: None,
        updated_at: secs(1),
    };
    store
        .update_status(other.id, Expected::of(&other), retried)
        .await
        .unwrap();
    assert_eq!(
        find_stale_ids(&store, 8).await,
        vec![other.id],
        "a sent record is no longer stale; a retried one is due at its new time"
    );
}
