//! The contract of [`RetryQueue`]: a set of ids with due times; claims take due ids
//! earliest first under a lease, never handing one id to two callers within it; `wait`
//! wakes on a due schedule.
//!
//! Due times are fixed instants (see [`crate::fixtures`]) passed as `now`; only the `wait`
//! checks use the wall clock, because "not in the future" is measured against it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use application::ports::RetryQueue;
use chrono::{TimeDelta, Utc};
use domain::NotificationId;
use tokio::sync::Barrier;

use crate::fixtures::{millis, new_id, secs, t0};

/// The checks of this suite; hands the list to `$then` (see [`crate::contract`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_queue_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)* [
            a_scheduled_id_is_contained_and_counted,
            scheduling_an_id_twice_keeps_one_entry_at_the_new_due_time,
            claim_due_returns_due_ids_earliest_first,
            claim_due_returns_at_most_max_ids,
            claim_due_includes_ids_due_exactly_now_and_skips_later_ones,
            a_claimed_id_stays_in_the_queue_due_at_the_end_of_its_lease,
            a_claimed_id_is_not_claimed_again_within_its_lease,
            a_claimed_id_comes_due_again_when_its_lease_runs_out,
            rescheduling_a_claimed_id_replaces_its_lease,
            complete_removes_ids_and_ignores_unknown_ones,
            a_completed_id_never_comes_due_again,
            next_due_is_the_earliest_due_time_or_none_when_empty,
            concurrent_claimers_never_get_the_same_id_within_a_lease,
            wait_returns_when_a_due_id_is_scheduled,
            wait_returns_once_its_timeout_passes,
        ]);
    };
}

/// One `#[tokio::test]` per check of the retry-queue suite, each on a fresh queue from the
/// factory `$make` (see [`crate::contract`]).
#[macro_export]
macro_rules! retry_queue_contract {
    ($make:expr) => {
        $crate::__retry_queue_checks!(__contract_tests!(retry_queue, $make;));
    };
}

crate::__retry_queue_checks!(__contract_run_all!(RetryQueue;));

type Queue = Arc<dyn RetryQueue>;

const LEASE: Duration = Duration::from_secs(30);

fn ids(n: usize) -> Vec<NotificationId> {
    (0..n).map(|_| new_id(t0())).collect()
}

pub async fn a_scheduled_id_is_contained_and_counted(queue: Queue) {
    let [a, b, absent] = [new_id(t0()), new_id(t0()), new_id(t0())];
    assert_eq!(queue.len().await.unwrap(), 0);
    queue.schedule(a, secs(1)).await.unwrap();
    queue.schedule(b, secs(2)).await.unwrap();
    assert!(queue.contains(a).await.unwrap());
    assert!(queue.contains(b).await.unwrap());
    assert!(!queue.contains(absent).await.unwrap());
    assert_eq!(queue.len().await.unwrap(), 2);
}

pub async fn scheduling_an_id_twice_keeps_one_entry_at_the_new_due_time(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(10)).await.unwrap();
    queue.schedule(id, secs(60)).await.unwrap();
    assert_eq!(queue.len().await.unwrap(), 1);
    assert_eq!(queue.next_due().await.unwrap(), Some(secs(60)));
    assert!(
        queue
            .claim_due(secs(10), 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "moved later, it is not due at its old time"
    );
    queue.schedule(id, secs(5)).await.unwrap();
    assert_eq!(queue.claim_due(secs(5), 10, LEASE).await.unwrap(), vec![id]);
}

pub async fn claim_due_returns_due_ids_earliest_first(queue: Queue) {
    let ids = ids(5);
    // Scheduled in another order than they are due.
    for (index, due_secs) in [(3, 4), (0, 1), (4, 5), (1, 2), (2, 3)] {
        queue.schedule(ids[index], secs(due_secs)).await.unwrap();
    }
    assert_eq!(queue.claim_due(secs(10), 10, LEASE).await.unwrap(), ids);
}

pub async fn claim_due_returns_at_most_max_ids(queue: Queue) {
    let ids = ids(5);
    for (i, id) in ids.iter().enumerate() {
        queue.schedule(*id, secs(i as i64)).await.unwrap();
    }
    assert_eq!(
        queue.claim_due(secs(10), 2, LEASE).await.unwrap(),
        ids[..2].to_vec()
    );
    assert_eq!(
        queue.claim_due(secs(10), 2, LEASE).await.unwrap(),
        ids[2..4].to_vec()
    );
    assert_eq!(
        queue.claim_due(secs(10), 2, LEASE).await.unwrap(),
        ids[4..].to_vec()
    );
}

pub async fn claim_due_includes_ids_due_exactly_now_and_skips_later_ones(queue: Queue) {
    let [due, later] = [new_id(t0()), new_id(t0())];
    queue.schedule(due, millis(10_000)).await.unwrap();
    queue.schedule(later, millis(10_001)).await.unwrap();
    assert_eq!(
        queue.claim_due(millis(10_000), 10, LEASE).await.unwrap(),
        vec![due]
    );
    assert!(queue.contains(later).await.unwrap());
}

pub async fn a_claimed_id_stays_in_the_queue_due_at_the_end_of_its_lease(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(1)).await.unwrap();
    queue.claim_due(secs(2), 10, LEASE).await.unwrap();
    assert!(queue.contains(id).await.unwrap());
    assert_eq!(queue.len().await.unwrap(), 1);
    assert_eq!(queue.next_due().await.unwrap(), Some(secs(32)));
}

pub async fn a_claimed_id_is_not_claimed_again_within_its_lease(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(0)).await.unwrap();
    assert_eq!(queue.claim_due(secs(0), 10, LEASE).await.unwrap(), vec![id]);
    for now in [secs(0), secs(15), millis(29_999)] {
        assert!(
            queue.claim_due(now, 10, LEASE).await.unwrap().is_empty(),
            "claimed again {now} within the lease"
        );
    }
}

pub async fn a_claimed_id_comes_due_again_when_its_lease_runs_out(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(0)).await.unwrap();
    assert_eq!(queue.claim_due(secs(0), 10, LEASE).await.unwrap(), vec![id]);
    assert_eq!(
        queue.claim_due(secs(30), 10, LEASE).await.unwrap(),
        vec![id]
    );
}

pub async fn rescheduling_a_claimed_id_replaces_its_lease(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(0)).await.unwrap();
    queue.claim_due(secs(0), 10, LEASE).await.unwrap();
    queue.schedule(id, secs(5)).await.unwrap();
    assert_eq!(queue.next_due().await.unwrap(), Some(secs(5)));
    assert_eq!(queue.claim_due(secs(5), 10, LEASE).await.unwrap(), vec![id]);
}

pub async fn complete_removes_ids_and_ignores_unknown_ones(queue: Queue) {
    let [a, b, c, never] = [new_id(t0()), new_id(t0()), new_id(t0()), new_id(t0())];
    for id in [a, b, c] {
        queue.schedule(id, secs(1)).await.unwrap();
    }
    queue.complete(&[a, never, c]).await.unwrap();
    assert!(!queue.contains(a).await.unwrap());
    assert!(!queue.contains(c).await.unwrap());
    assert!(queue.contains(b).await.unwrap());
    assert_eq!(queue.len().await.unwrap(), 1);
    queue.complete(&[]).await.unwrap();
    assert_eq!(queue.len().await.unwrap(), 1);
}

pub async fn a_completed_id_never_comes_due_again(queue: Queue) {
    let id = new_id(t0());
    queue.schedule(id, secs(0)).await.unwrap();
    queue.claim_due(secs(0), 10, LEASE).await.unwrap();
    queue.complete(&[id]).await.unwrap();
    assert!(queue
        .claim_due(secs(3600), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queue.len().await.unwrap(), 0);
}

pub async fn next_due_is_the_earliest_due_time_or_none_when_empty(queue: Queue) {
    assert_eq!(queue.next_due().await.unwrap(), None);
    let [a, b] = [new_id(t0()), new_id(t0())];
    queue.schedule(a, millis(20_500)).await.unwrap();
    queue.schedule(b, millis(7_250)).await.unwrap();
    assert_eq!(queue.next_due().await.unwrap(), Some(millis(7_250)));
    queue.complete(&[b]).await.unwrap();
    assert_eq!(queue.next_due().await.unwrap(), Some(millis(20_500)));
    queue.complete(&[a]).await.unwrap();
    assert_eq!(queue.next_due().await.unwrap(), None);
}

pub async fn concurrent_claimers_never_get_the_same_id_within_a_lease(queue: Queue) {
    let ids = ids(500);
    for (i, id) in ids.iter().enumerate() {
        queue.schedule(*id, millis(i as i64)).await.unwrap();
    }
    let now = secs(1);
    let ids_len = ids.len();
    let claimer_count = 8;
    let start = Arc::new(Barrier::new(claimer_count));
    let claimers: Vec<_> = (0..claimer_count)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                // Bounded: a queue that hands ids out again must fail, not spin.
                for _ in 0..ids_len {
                    let claimed = queue
                        .claim_due(now, 7, Duration::from_secs(3600))
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        break;
                    }
                    mine.extend(claimed);
                    tokio::task::yield_now().await;
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "an id was handed to two claimers"
    );
    assert_eq!(distinct, ids.into_iter().collect::<HashSet<_>>());
}

pub async fn wait_returns_when_a_due_id_is_scheduled(queue: Queue) {
    let waiter = {
        let queue = Arc::clone(&queue);
        tokio::spawn(async move {
            let started = Instant::now();
            queue.wait(Duration::from_secs(60)).await.unwrap();
            started.elapsed()
        })
    };
    // Let the waiter start waiting.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let due = Utc::now() - TimeDelta::seconds(1);
    queue.schedule(new_id(due), due).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("wait did not return after a due schedule")
        .unwrap();
    assert!(waited < Duration::from_secs(5));
}

pub async fn wait_returns_once_its_timeout_passes(queue: Queue) {
    queue
        .schedule(new_id(t0()), Utc::now() + TimeDelta::hours(1))
        .await
        .unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(5),
        queue.wait(Duration::from_millis(200)),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Ok(()))),
        "wait must return Ok once its timeout passes"
    );
}
