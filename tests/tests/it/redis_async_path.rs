//! The key scenarios of the async path (`async_path.rs`) over the Redis queue, idempotency
//! locks, quotas and sensitive bodies on a real `redis-server`, with the notification store
//! and dead letters in memory. Time is moved by hand; the wake-up test waits for real.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adapters::{MockEmailSender, MockSmsSender};
use application::ports::{Clock, EmailMessage, EmailSender, Receipt, SendError, SmsSender};
use application::WorkerSettings;
use async_trait::async_trait;
use domain::{RetryPolicy, Status};
use tests::harness::redis;
use tests::world::{World, WorldOptions};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn world() -> Option<World> {
    world_with(WorldOptions::default()).await
}

async fn world_with(options: WorldOptions) -> Option<World> {
    Some(World::with(redis::backend().await?, options))
}

#[tokio::test]
async fn a_notification_failing_twice_goes_pending_retrying_retrying_sent_with_three_attempts() {
    let Some(world) = world().await else { return };
    world.email.fail_transiently(2);
    let record = world.enqueue(World::welcome("a@example.com")).await;
    let mut seen = vec![world.record(record.id).await.status];
    for wait in [0, 1, 5] {
        world.clock.advance(secs(wait));
        assert_eq!(world.step().await.claimed, 1, "after waiting {wait}s");
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
    assert_eq!(world.record(record.id).await.attempts, 3);
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

#[tokio::test]
async fn retry_k_waits_the_kth_backoff() {
    let Some(world) = world_with(WorldOptions {
        retry: RetryPolicy::new(5, vec![secs(10), secs(20), secs(40)], 0.0).unwrap(),
        ..WorldOptions::default()
    })
    .await
    else {
        return;
    };
    world.email.fail_transiently(4);
    let record = world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(world.step().await.retried, 1);
    for (k, delay) in [(1u32, 10u64), (2, 20), (3, 40), (4, 40)] {
        let due = world.record(record.id).await.next_attempt_at.unwrap();
        assert_eq!(
            due,
            world.clock.now() + chrono::Duration::seconds(delay as i64)
        );
        world.clock.advance(secs(delay - 1));
        assert_eq!(world.step().await.claimed, 0, "retry {k} came early");
        world.clock.advance(secs(1));
        assert_eq!(world.step().await.claimed, 1, "retry {k} did not come due");
    }
    let sent = world.record(record.id).await;
    assert_eq!((sent.status, sent.attempts), (Status::Sent, 5));
}

#[tokio::test]
async fn after_max_retry_retries_it_fails_with_a_dead_letter() {
    let Some(world) = world_with(WorldOptions {
        retry: RetryPolicy::new(3, vec![secs(1)], 0.0).unwrap(),
        ..WorldOptions::default()
    })
    .await
    else {
        return;
    };
    world.email.fail_always_transiently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    for _ in 0..10 {
        world.step().await;
        world.clock.advance(secs(1));
    }
    let failed = world.record(record.id).await;
    assert_eq!((failed.status, failed.attempts), (Status::Failed, 4));
    assert!(world
        .backend
        .dead_letters
        .get(record.id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

#[tokio::test]
async fn a_permanent_error_dead_letters_at_once_and_replay_sends_it() {
    let Some(world) = world().await else { return };
    world.email.fail_permanently();
    let record = world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(world.step().await.dead_lettered, 1);
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
    world.email.succeed();
    world
        .dead_letters
        .replay(Some(&world.tenant()), &record.id.to_string())
        .await
        .unwrap();
    assert_eq!(world.step().await.sent, 1);
    assert_eq!(world.record(record.id).await.status, Status::Sent);
}

#[tokio::test]
async fn a_sensitive_body_lives_only_in_redis_until_the_notification_ends() {
    let Some(world) = world().await else { return };
    let record = world.enqueue(World::otp_sms("0912345678", "493817")).await;
    let stored = world.record(record.id).await;
    assert!(stored.body.is_none() && stored.body_withheld);
    let kept = world.backend.sensitive.get(record.id).await.unwrap();
    assert!(kept.unwrap().text.contains("493817"));
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

#[tokio::test]
async fn send_at_holds_the_first_attempt_until_it_comes() {
    let Some(world) = world().await else { return };
    let mut request = World::welcome("a@example.com");
    request.send_at = Some(world.clock.now() + chrono::Duration::minutes(10));
    let record = world.enqueue(request).await;
    assert_eq!(world.step().await.claimed, 0);
    world.clock.advance(secs(600));
    assert_eq!(world.step().await.sent, 1);
    assert_eq!(world.record(record.id).await.status, Status::Sent);
}

/// An email sender whose first send blocks until let go; later sends succeed at once.
struct GateSender {
    entries: AtomicUsize,
    gate: Semaphore,
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
        if self.entries.fetch_add(1, Ordering::SeqCst) == 0 {
            let permit = self
                .gate
                .acquire()
                .await
                .map_err(|_| SendError::retryable("gate", "closed"))?;
            permit.forget();
        }
        Ok(Receipt {
            provider: "gate".into(),
            provider_message_id: format!("gate-{}", message.notification_id),
        })
    }
}

async fn gated_world(options: WorldOptions) -> Option<(World, Arc<GateSender>)> {
    let gate = Arc::new(GateSender {
        entries: AtomicUsize::new(0),
        gate: Semaphore::new(0),
    });
    let world = World::with_senders(
        redis::backend().await?,
        options,
        Arc::new(MockEmailSender::new("mock", 10)),
        Arc::new(MockSmsSender::new("mock", 10)),
        vec![gate.clone() as Arc<dyn EmailSender>],
        Vec::<Arc<dyn SmsSender>>::new(),
    );
    Some((world, gate))
}

async fn until_entered(gate: &GateSender, n: usize) {
    tests::contract::eventually(Duration::from_secs(5), "a send started", || async {
        gate.entries.load(Ordering::SeqCst) >= n
    })
    .await;
}

#[tokio::test]
async fn a_job_whose_worker_vanished_mid_send_comes_due_after_the_lease_and_is_sent() {
    let Some((world, gate)) = gated_world(WorldOptions::default()).await else {
        return;
    };
    let record = world.enqueue(World::welcome("a@example.com")).await;
    let worker = world.worker.clone();
    let doomed = tokio::spawn(async move { worker.run_once(&CancellationToken::new()).await });
    until_entered(&gate, 1).await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    world.clock.advance(secs(29));
    assert_eq!(world.step().await.claimed, 0);
    world.clock.advance(secs(1));
    let report = world.step().await;
    assert_eq!((report.claimed, report.sent), (1, 1));
    assert_eq!(world.record(record.id).await.status, Status::Sent);
}

#[tokio::test]
async fn shutdown_finishes_sends_in_flight_and_releases_the_leases_of_unstarted_jobs() {
    let Some((world, gate)) = gated_world(WorldOptions {
        worker: WorkerSettings {
            batch_size: 20,
            concurrency: 1,
            ..WorldOptions::default().worker
        },
        ..WorldOptions::default()
    })
    .await
    else {
        return;
    };
    for i in 0..20 {
        world
            .enqueue(World::welcome(&format!("u{i}@example.com")))
            .await;
    }
    let cancel = CancellationToken::new();
    let worker = world.worker.clone();
    let token = cancel.clone();
    let step = tokio::spawn(async move { worker.run_once(&token).await });
    until_entered(&gate, 1).await;
    cancel.cancel();
    gate.gate.add_permits(1);
    let report = step.await.unwrap().unwrap();
    assert_eq!((report.claimed, report.sent, report.released), (20, 1, 19));
    let again = world.drain().await;
    assert_eq!((again.claimed, again.sent), (19, 19));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_racing_over_one_queue_send_each_job_once() {
    let Some(world) = world().await else { return };
    for i in 0..200 {
        world
            .enqueue(World::welcome(&format!("u{i}@example.com")))
            .await;
    }
    let run = |w: application::RetryWorker| async move {
        let mut sent = 0;
        loop {
            let report = w.run_once(&CancellationToken::new()).await.unwrap();
            sent += report.sent;
            if report.claimed == 0 {
                return sent;
            }
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(run(world.worker.clone())),
        tokio::spawn(run(world.worker.clone()))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 200);
    assert_eq!(world.email.attempt_count(), 200);
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

#[tokio::test]
async fn the_reconciler_schedules_a_record_that_the_queue_lost() {
    let Some(world) = world().await else { return };
    let record = world.enqueue(World::welcome("a@example.com")).await;
    world.backend.queue.complete(&[record.id]).await.unwrap();
    assert_eq!(world.step().await.claimed, 0);
    world.clock.advance(secs(61));
    let sweep = world.reconciler.reconcile_once().await.unwrap();
    assert_eq!((sweep.examined, sweep.rescheduled), (1, 1));
    assert_eq!(world.step().await.sent, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_wakes_within_milliseconds_when_a_job_is_enqueued() {
    let Some(world) = world_with(WorldOptions {
        worker: WorkerSettings {
            poll_interval: Duration::from_secs(3600),
            ..WorldOptions::default().worker
        },
        ..WorldOptions::default()
    })
    .await
    else {
        return;
    };
    let cancel = CancellationToken::new();
    let worker = world.worker.clone();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { worker.run(cancel).await }
    });
    // Several enqueues, each after the worker has gone idle again: each must be picked up
    // by the wake-up, not the (hour-long) poll.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let record = world
            .enqueue(World::welcome(&format!("u{i}@example.com")))
            .await;
        tests::contract::eventually(Duration::from_secs(10), "the idle worker woke", || {
            let world = &world;
            async move { world.record(record.id).await.status == Status::Sent }
        })
        .await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops when cancelled")
        .unwrap();
}

#[tokio::test]
async fn enqueue_with_a_seen_key_returns_the_first_notification_and_queues_nothing() {
    let Some(world) = world().await else { return };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enqueues_with_one_key_accept_one_notification() {
    let Some(world) = world().await else { return };
    let world = Arc::new(world);
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
