//! The scenarios of the async path: enqueue, the retry worker step by step, dead letters,
//! the reconciler and shutdown, with time moved by hand. Each is a function of the storage
//! [`Backend`] it runs on; [`async_scenarios!`](crate::async_scenarios) makes one test per
//! scenario for a backend factory, so the embedded default and Redis run the same ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::world::{Backend, World, WorldOptions};
use adapters::{MockEmailSender, MockSmsSender};
use application::ports::{
    DeadLetterQuery, EmailMessage, EmailSender, Receipt, SendError, SmsSender,
};
use application::{AdminError, WorkerSettings};
use async_trait::async_trait;
use domain::{RetryPolicy, Status};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn policy(max_retry: u32, backoff: &[u64]) -> RetryPolicy {
    RetryPolicy::new(max_retry, backoff.iter().map(|s| secs(*s)).collect(), 0.0).unwrap()
}

pub async fn a_notification_failing_twice_goes_pending_retrying_retrying_sent_with_three_attempts(
    backend: Backend,
) {
    let world = World::with(backend, WorldOptions::default());
    world.email.fail_transiently(2);
    let record = world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(record.status, Status::Pending);

    let mut seen = vec![world.record(record.id).await.status];
    for wait in [0, 1, 5] {
        world.clock.advance(secs(wait));
        let report = world.step().await;
        assert_eq!(report.claimed, 1, "after waiting {wait}s");
        seen.push(world.record(record.id).await.status);
    }
    assert_eq!(
        seen,
        [
            Status::Pending,
            Status::Retrying,
            Status::Retrying,
            Status::Sent
        ]
    );
    let sent = world.record(record.id).await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(sent.provider.as_deref(), Some("mock"));
    assert!(sent.provider_message_id.unwrap().starts_with("mock-"));
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

pub async fn retry_k_waits_the_kth_backoff(backend: Backend) {
    let world = World::with(
        backend,
        WorldOptions {
            retry: policy(5, &[10, 20, 40]),
            ..WorldOptions::default()
        },
    );
    world.email.fail_transiently(4);
    let record = world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(world.step().await.retried, 1);
    // Retry k comes due exactly backoff[min(k-1, len-1)] after attempt k failed.
    for (k, delay) in [(1u32, 10u64), (2, 20), (3, 40), (4, 40)] {
        let due = world.record(record.id).await.next_attempt_at.unwrap();
        assert_eq!(
            due,
            world_now(&world) + chrono::Duration::seconds(delay as i64),
            "retry {k}"
        );
        world.clock.advance(secs(delay - 1));
        assert_eq!(world.step().await.claimed, 0, "retry {k} came early");
        world.clock.advance(secs(1));
        assert_eq!(world.step().await.claimed, 1, "retry {k} did not come due");
    }
    let sent = world.record(record.id).await;
    assert_eq!(sent.status, Status::Sent);
    assert_eq!(sent.attempts, 5);
}

fn world_now(world: &World) -> chrono::DateTime<chrono::Utc> {
    use application::ports::Clock;
    world.clock.now()
}

pub async fn after_max_retry_retries_it_fails_with_a_dead_letter(backend: Backend) {
    let world = World::with(
        backend,
        WorldOptions {
            retry: policy(3, &[1]),
            ..WorldOptions::default()
        },
    );
    world.email.fail_always_transiently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    for _ in 0..10 {
        world.step().await;
        world.clock.advance(secs(1));
    }
    let failed = world.record(record.id).await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.attempts, 4, "1 + MaxRetry attempts");
    assert_eq!(world.email.attempt_count(), 4);
    let letters = world
        .dead_letters
        .list(DeadLetterQuery {
            limit: 10,
            ..DeadLetterQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].notification_id, record.id);
    assert_eq!(letters[0].attempts, 4);
    assert!(!letters[0].sensitive);
    assert_eq!(letters[0].recipient_masked, "a***@example.com");
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

pub async fn a_permanent_error_dead_letters_at_once(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    world.email.fail_permanently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    let report = world.step().await;
    assert_eq!(report.dead_lettered, 1);
    let failed = world.record(record.id).await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(world
        .backend
        .dead_letters
        .get(record.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

pub async fn replay_sends_a_dead_letter_again(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    world.email.fail_permanently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    world.step().await;
    world.email.succeed();

    let replayed = world
        .dead_letters
        .replay(Some(&world.tenant()), &record.id.to_string())
        .await
        .unwrap();
    assert_eq!(replayed.status, Status::Pending);
    assert_eq!(replayed.attempts, 0);
    assert!(world
        .backend
        .dead_letters
        .get(record.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(world.step().await.sent, 1);
    let sent = world.record(record.id).await;
    assert_eq!(sent.status, Status::Sent);
    assert_eq!(sent.attempts, 1);
    assert_eq!(world.email.sent().len(), 1);
}

pub async fn replay_all_replays_what_matches_and_skips_sensitive_letters(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    world.email.fail_permanently();
    world.sms.fail_permanently();
    let a = world.enqueue(World::welcome("a@example.com")).await;
    let b = world.enqueue(World::welcome("b@example.com")).await;
    let otp = world.enqueue(World::otp_sms("0912345678", "493817")).await;
    world.drain().await;
    world.email.succeed();
    let report = world
        .dead_letters
        .replay_all(DeadLetterQuery {
            tenant_id: Some(world.tenant()),
            limit: 100,
            ..DeadLetterQuery::default()
        })
        .await
        .unwrap();
    let mut replayed = report.replayed.clone();
    replayed.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(replayed, expected);
    assert_eq!(report.not_replayable, vec![otp.id]);
    assert_eq!(world.drain().await.sent, 2);
}

pub async fn a_sensitive_dead_letter_cannot_be_replayed_and_says_why(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    world.sms.fail_permanently();
    let record = world.enqueue(World::otp_sms("0912345678", "493817")).await;
    world.step().await;
    let err = world
        .dead_letters
        .replay(None, &record.id.to_string())
        .await
        .unwrap_err();
    match err {
        AdminError::NotReplayable(why) => assert!(why.contains("sensitive"), "{why}"),
        other => panic!("expected NotReplayable, got {other:?}"),
    }
}

pub async fn another_tenant_cannot_replay_a_dead_letter(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    world.email.fail_permanently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    world.step().await;
    let other = domain::TenantId::parse("globex").unwrap();
    let err = world
        .dead_letters
        .replay(Some(&other), &record.id.to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::NotFound(_)), "{err:?}");
}

pub async fn a_sensitive_body_lives_only_in_the_ephemeral_store_until_the_notification_ends(
    backend: Backend,
) {
    let world = World::with(backend, WorldOptions::default());
    let record = world.enqueue(World::otp_sms("0912345678", "493817")).await;
    let stored = world.record(record.id).await;
    assert!(stored.body.is_none());
    assert!(stored.body_withheld);
    let kept = world
        .backend
        .sensitive
        .get(record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept.text.contains("493817"));

    assert_eq!(world.step().await.sent, 1);
    assert!(world.sms.sent()[0].text.contains("493817"));
    assert!(world
        .backend
        .sensitive
        .get(record.id)
        .await
        .unwrap()
        .is_none());
}

pub async fn send_at_holds_the_first_attempt_until_it_comes(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    let mut request = World::welcome("a@example.com");
    request.send_at = Some(world_now(&world) + chrono::Duration::minutes(10));
    let record = world.enqueue(request).await;
    assert_eq!(world.step().await.claimed, 0);
    world.clock.advance(secs(600));
    assert_eq!(world.step().await.sent, 1);
    assert_eq!(world.record(record.id).await.status, Status::Sent);
}

/// An email sender whose first send blocks until let go (`gate.add_permits`); later
/// sends succeed at once.
struct GateSender {
    entered: Notify,
    entries: AtomicUsize,
    gate: Semaphore,
    sent: AtomicUsize,
}

impl GateSender {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            entered: Notify::new(),
            entries: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            sent: AtomicUsize::new(0),
        })
    }

    /// Waits (at most 5 s) until `n` sends have started.
    async fn wait_entered(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.entries.load(Ordering::SeqCst) < n {
            assert!(tokio::time::Instant::now() < deadline, "no send started");
            let _ = tokio::time::timeout(Duration::from_millis(20), self.entered.notified()).await;
        }
    }
}

#[async_trait]
impl EmailSender for GateSender {
    fn name(&self) -> &str {
        "gate"
    }
    fn priority(&self) -> i32 {
        0
    }
    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError> {
        let index = self.entries.fetch_add(1, Ordering::SeqCst);
        self.entered.notify_waiters();
        if index == 0 {
            let permit = self
                .gate
                .acquire()
                .await
                .map_err(|_| SendError::retryable("gate", "closed"))?;
            permit.forget();
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(Receipt {
            provider: "gate".into(),
            provider_message_id: format!("gate-{}", message.notification_id),
        })
    }
}

fn gated_world(backend: Backend, options: WorldOptions) -> (World, Arc<GateSender>) {
    let gate = GateSender::new();
    let world = World::with_senders(
        backend,
        options,
        Arc::new(MockEmailSender::new("mock", 10)),
        Arc::new(MockSmsSender::new("mock", 10)),
        vec![gate.clone() as Arc<dyn EmailSender>],
        Vec::<Arc<dyn SmsSender>>::new(),
    );
    (world, gate)
}

pub async fn a_job_whose_worker_vanished_mid_send_comes_due_after_the_lease_and_is_sent(
    backend: Backend,
) {
    let (world, gate) = gated_world(backend, WorldOptions::default());
    let record = world.enqueue(World::welcome("a@example.com")).await;

    let worker = world.worker.clone();
    let doomed = tokio::spawn(async move { worker.run_once(&CancellationToken::new()).await });
    gate.wait_entered(1).await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());

    // Within the lease nobody takes it.
    world.clock.advance(secs(29));
    assert_eq!(world.step().await.claimed, 0);
    // After the lease it comes due again, and is sent.
    world.clock.advance(secs(1));
    let report = world.step().await;
    assert_eq!((report.claimed, report.sent), (1, 1));
    let sent = world.record(record.id).await;
    assert_eq!(sent.status, Status::Sent);
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.provider.as_deref(), Some("gate"));
}

pub async fn two_workers_racing_over_one_queue_send_each_job_once(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(
            world
                .enqueue(World::welcome(&format!("u{i}@example.com")))
                .await
                .id,
        );
    }
    let (a, b) = (world.worker.clone(), world.worker.clone());
    let cancel = CancellationToken::new();
    let run = |w: application::RetryWorker, c: CancellationToken| async move {
        let mut sent = 0;
        loop {
            let report = w.run_once(&c).await.unwrap();
            sent += report.sent;
            if report.claimed == 0 {
                return sent;
            }
        }
    };
    let (sa, sb) = tokio::join!(
        tokio::spawn(run(a, cancel.clone())),
        tokio::spawn(run(b, cancel.clone()))
    );
    assert_eq!(sa.unwrap() + sb.unwrap(), 200);
    let mut delivered: Vec<_> = world
        .email
        .sent()
        .iter()
        .map(|m| m.notification_id)
        .collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 200);
    assert_eq!(world.email.attempt_count(), 200);
}

pub async fn a_worker_that_loses_the_race_after_a_lease_ran_out_drops_the_job(backend: Backend) {
    let (world, gate) = gated_world(backend, WorldOptions::default());
    let record = world.enqueue(World::welcome("a@example.com")).await;
    let slow = world.worker.clone();
    let slow = tokio::spawn(async move { slow.run_once(&CancellationToken::new()).await });
    gate.wait_entered(1).await;
    // The slow send outlives its lease; a second worker takes the job and delivers it.
    world.clock.advance(secs(31));
    let fast = world.step().await;
    assert_eq!(fast.sent, 1);
    // The slow worker's send then returns; its conditional update loses.
    gate.gate.add_permits(1);
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.lost_race, 1);
    let sent = world.record(record.id).await;
    assert_eq!((sent.status, sent.attempts), (Status::Sent, 1));
}

pub async fn the_reconciler_schedules_a_record_that_the_queue_lost(backend: Backend) {
    let world = World::with(backend, WorldOptions::default());
    let record = world.enqueue(World::welcome("a@example.com")).await;
    // The queue loses the job (a Redis restart without persistence).
    world.backend.queue.complete(&[record.id]).await.unwrap();
    assert_eq!(world.step().await.claimed, 0);

    // Within the grace period the sweep leaves it alone.
    world.clock.advance(secs(59));
    assert_eq!(
        world.reconciler.reconcile_once().await.unwrap().rescheduled,
        0
    );
    world.clock.advance(secs(2));
    let sweep = world.reconciler.reconcile_once().await.unwrap();
    assert_eq!((sweep.examined, sweep.rescheduled), (1, 1));
    assert_eq!(world.step().await.sent, 1);
    assert_eq!(world.record(record.id).await.status, Status::Sent);
}

pub async fn the_reconciler_leaves_records_the_queue_still_holds(backend: Backend) {
    let world = World::with(
        backend,
        WorldOptions {
            retry: policy(5, &[600]),
            ..WorldOptions::default()
        },
    );
    world.email.fail_transiently(1);
    world.enqueue(World::welcome("a@example.com")).await;
    world.step().await; // retrying, due in 600 s
    world.clock.advance(secs(3600));
    let sweep = world.reconciler.reconcile_once().await.unwrap();
    assert_eq!((sweep.examined, sweep.rescheduled), (1, 0));
}

pub async fn shutdown_finishes_sends_in_flight_and_releases_the_leases_of_unstarted_jobs(
    backend: Backend,
) {
    let (world, gate) = gated_world(
        backend,
        WorldOptions {
            worker: WorkerSettings {
                batch_size: 20,
                concurrency: 1,
                ..WorldOptions::default().worker
            },
            ..WorldOptions::default()
        },
    );
    for i in 0..20 {
        world
            .enqueue(World::welcome(&format!("u{i}@example.com")))
            .await;
    }
    let cancel = CancellationToken::new();
    let worker = world.worker.clone();
    let token = cancel.clone();
    let step = tokio::spawn(async move { worker.run_once(&token).await });
    gate.wait_entered(1).await;
    cancel.cancel();
    gate.gate.add_permits(1);
    let report = step.await.unwrap().unwrap();
    assert_eq!(report.claimed, 20);
    assert_eq!(report.sent, 1, "the send in flight finished");
    assert_eq!(report.released, 19);

    // No job is stuck in a lease: the 19 are due now, without waiting for the lease.
    let again = world.drain().await;
    assert_eq!((again.claimed, again.sent), (19, 19));
    assert_eq!(gate.sent.load(Ordering::SeqCst), 20);
}

pub async fn an_idle_worker_wakes_when_a_job_is_enqueued_not_at_its_poll_interval(
    backend: Backend,
) {
    let world = World::with(
        backend,
        WorldOptions {
            worker: WorkerSettings {
                poll_interval: Duration::from_secs(3600),
                ..WorldOptions::default().worker
            },
            ..WorldOptions::default()
        },
    );
    let cancel = CancellationToken::new();
    let worker = world.worker.clone();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { worker.run(cancel).await }
    });
    // Let it go idle on the empty queue.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let record = world.enqueue(World::welcome("a@example.com")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while world.record(record.id).await.status != Status::Sent {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle worker never woke"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cancel.cancel();
    running.await.unwrap();
}

pub async fn enqueue_with_a_seen_key_returns_the_first_notification_and_queues_nothing(
    backend: Backend,
) {
    let world = World::with(backend, WorldOptions::default());
    let mut request = World::welcome("a@example.com");
    request.idempotency_key = Some("signup-7".into());
    let first = world
        .notifier
        .enqueue(&world.tenant(), request.clone())
        .await
        .unwrap();
    let again = world
        .notifier
        .enqueue(&world.tenant(), request)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.notification.id, first.notification.id);
    assert_eq!(world.backend.queue.len().await.unwrap(), 1);
    world.drain().await;
    assert_eq!(world.email.attempt_count(), 1);
}

pub async fn concurrent_enqueues_with_one_key_accept_one_notification(backend: Backend) {
    let world = Arc::new(World::with(backend, WorldOptions::default()));
    let mut request = World::welcome("a@example.com");
    request.idempotency_key = Some("burst-1".into());
    let mut handles = Vec::new();
    for _ in 0..50 {
        let world = world.clone();
        let request = request.clone();
        handles.push(tokio::spawn(async move {
            world.notifier.enqueue(&world.tenant(), request).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for handle in handles {
        match handle.await.unwrap() {
            Ok(accepted) => {
                ids.insert(accepted.notification.id);
            }
            Err(application::NotifyError::IdempotencyInProgress) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ids.len(), 1);
    world.drain().await;
    assert_eq!(world.email.attempt_count(), 1);
}

/// One `#[tokio::test]` per scenario, each on a fresh backend from `$factory`
/// (`async fn() -> Option<Backend>`; `None` skips, after saying why).
#[macro_export]
macro_rules! async_scenarios {
    ($factory:path) => {
        $crate::async_scenarios!(@each $factory; a_notification_failing_twice_goes_pending_retrying_retrying_sent_with_three_attempts, retry_k_waits_the_kth_backoff, after_max_retry_retries_it_fails_with_a_dead_letter, a_permanent_error_dead_letters_at_once, replay_sends_a_dead_letter_again, replay_all_replays_what_matches_and_skips_sensitive_letters, a_sensitive_dead_letter_cannot_be_replayed_and_says_why, another_tenant_cannot_replay_a_dead_letter, a_sensitive_body_lives_only_in_the_ephemeral_store_until_the_notification_ends, send_at_holds_the_first_attempt_until_it_comes, a_job_whose_worker_vanished_mid_send_comes_due_after_the_lease_and_is_sent, two_workers_racing_over_one_queue_send_each_job_once, a_worker_that_loses_the_race_after_a_lease_ran_out_drops_the_job, the_reconciler_schedules_a_record_that_the_queue_lost, the_reconciler_leaves_records_the_queue_still_holds, shutdown_finishes_sends_in_flight_and_releases_the_leases_of_unstarted_jobs, an_idle_worker_wakes_when_a_job_is_enqueued_not_at_its_poll_interval, enqueue_with_a_seen_key_returns_the_first_notification_and_queues_nothing, concurrent_enqueues_with_one_key_accept_one_notification);
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(backend) = $factory().await else { return };
                $crate::scenarios::$name(backend).await;
            }
        )*
    };
}
