//! Fault and concurrency tests against a real `redis-server`: workers that die mid-batch,
//! a Redis that is killed and comes back empty, bursts on one idempotency key and on one
//! quota. Waits are bounded polls, never sleeps that assert speed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adapters::redis::RedisRetryQueue;
use application::ports::{EmailMessage, EmailSender, Receipt, RetryQueue, SendError, SmsSender};
use application::{Notifier, NotifyError, Settings, WorkerSettings};
use async_trait::async_trait;
use domain::{Channel, NotificationId, QuotaRule, QuotaScope, Status};
use tests::contract::eventually;
use tests::harness::redis;
use tests::world::{World, WorldOptions};
use tokio::sync::{Barrier, Semaphore};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(15);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// An email sender that counts sends per notification and blocks every send after the
/// first `free` until let go.
struct CountingSender {
    free: usize,
    started: AtomicUsize,
    gate: Semaphore,
    sends: std::sync::Mutex<HashMap<NotificationId, usize>>,
}

impl CountingSender {
    fn new(free: usize) -> Arc<Self> {
        Arc::new(Self {
            free,
            started: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            sends: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn sends_of(&self, id: NotificationId) -> usize {
        self.sends.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.sends.lock().unwrap().values().sum()
    }
}

#[async_trait]
impl EmailSender for CountingSender {
    fn name(&self) -> &str {
        "counting"
    }
    fn priority(&self) -> i32 {
        0
    }
    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError> {
        if self.started.fetch_add(1, Ordering::SeqCst) >= self.free {
            let permit = self
                .gate
                .acquire()
                .await
                .map_err(|_| SendError::retryable("counting", "closed"))?;
            permit.forget();
        }
        *self
            .sends
            .lock()
            .unwrap()
            .entry(message.notification_id)
            .or_default() += 1;
        Ok(Receipt {
            provider: "counting".into(),
            provider_message_id: format!("c-{}", message.notification_id),
        })
    }
}

fn counting_world(backend: tests::world::Backend, free: usize) -> (World, Arc<CountingSender>) {
    let sender = CountingSender::new(free);
    let world = World::with_senders(
        backend,
        WorldOptions {
            worker: WorkerSettings {
                batch_size: 50,
                concurrency: 4,
                ..WorldOptions::default().worker
            },
            ..WorldOptions::default()
        },
        Arc::new(adapters::MockEmailSender::new("mock", 10)),
        Arc::new(adapters::MockSmsSender::new("mock", 10)),
        vec![sender.clone() as Arc<dyn EmailSender>],
        Vec::<Arc<dyn SmsSender>>::new(),
    );
    (world, sender)
}

async fn enqueue_many(world: &World, n: usize) -> Vec<NotificationId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(
            world
                .enqueue(World::welcome(&format!("u{i}@example.com")))
                .await
                .id,
        );
    }
    ids
}

async fn assert_each_sent_once(world: &World, sender: &CountingSender, ids: &[NotificationId]) {
    for id in ids {
        assert_eq!(world.record(*id).await.status, Status::Sent, "{id}");
        assert_eq!(sender.sends_of(*id), 1, "{id} sent once");
    }
    assert_eq!(sender.total(), ids.len());
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_aborted_mid_batch_loses_nothing() {
    let Some(backend) = redis::backend().await else {
        return;
    };
    // 10 sends go through, then every send hangs: the worker dies holding a claimed batch.
    let (world, sender) = counting_world(backend, 10);
    let ids = enqueue_many(&world, 50).await;
    let worker = world.worker.clone();
    let doomed = tokio::spawn(async move { worker.run_once(&CancellationToken::new()).await });
    eventually(PATIENCE, "the worker is mid-batch", || async {
        sender.started.load(Ordering::SeqCst) > 10
    })
    .await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    sender.gate.add_permits(1_000);

    // Every job stays in the queue, leased: none is due before the lease runs out.
    assert_eq!(world.backend.queue.len().await.unwrap(), 50);
    assert_eq!(world.step().await.claimed, 0);
    world.clock.advance(secs(30));
    let report = world.drain().await;
    assert_eq!(report.claimed, 50);
    assert_eq!(report.sent + report.skipped, 50, "{report:?}");
    assert_each_sent_once(&world, &sender, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_restarted_empty_mid_run_loses_nothing_once_the_reconciler_runs() {
    let Some(mut server) = redis::dedicated_server() else {
        return;
    };
    let connection = redis::connect_to(&server).await;
    let (world, sender) = counting_world(redis::backend_over(&connection), usize::MAX);
    let ids = enqueue_many(&world, 100).await;
    let first = world.step().await;
    assert_eq!(first.sent, 50);

    server.restart();
    // The same connection manager comes back by itself; the queue is empty now.
    eventually(PATIENCE, "the queue answers again", || async {
        world.backend.queue.len().await.is_ok()
    })
    .await;
    assert_eq!(world.backend.queue.len().await.unwrap(), 0);
    assert_eq!(world.step().await.claimed, 0, "Redis lost the schedule");

    world.clock.advance(secs(61));
    let sweep = world.reconciler.reconcile_once().await.unwrap();
    assert_eq!((sweep.examined, sweep.rescheduled), (50, 50));
    assert_eq!(world.drain().await.sent, 50);
    assert_each_sent_once(&world, &sender, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_sends_with_one_idempotency_key_send_once() {
    let Some(backend) = redis::backend().await else {
        return;
    };
    let world = Arc::new(World::with(backend, WorldOptions::default()));
    let mut request = World::welcome("a@example.com");
    request.idempotency_key = Some("checkout-9".into());
    let start = Arc::new(Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (world, request, start) = (world.clone(), request.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                world.notifier.send(&world.tenant(), request).await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(accepted) => {
                ids.insert(accepted.notification.id);
            }
            Err(NotifyError::IdempotencyInProgress) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ids.len(), 1, "every success names the one notification");
    assert_eq!(world.email.attempt_count(), 1, "exactly one provider send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_requests_against_a_quota_of_fifty_let_fifty_through() {
    let Some(backend) = redis::backend().await else {
        return;
    };
    let world = World::with(backend, WorldOptions::default());
    let rule = QuotaRule::new(
        0,
        QuotaScope::Tenant,
        Channel::Email,
        Vec::new(),
        50,
        Duration::from_secs(3600),
    )
    .unwrap();
    let notifier = Arc::new(Notifier::new(
        world.ports.clone(),
        Settings {
            quotas: vec![rule],
            ..world.settings.clone()
        },
    ));
    let tenant = world.tenant();
    let start = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (notifier, tenant, start) = (notifier.clone(), tenant.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                notifier
                    .send(&tenant, World::welcome(&format!("u{i}@example.com")))
                    .await
            })
        })
        .collect();
    let (mut through, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => through += 1,
            Err(NotifyError::QuotaExceeded { .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((through, refused), (50, 150));
    assert_eq!(world.email.attempt_count(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_connection_comes_back_by_itself_after_a_redis_restart() {
    let Some(mut server) = redis::dedicated_server() else {
        return;
    };
    let connection = redis::connect_to(&server).await;
    let queue: Arc<dyn RetryQueue> = redis::queue_over(&connection);
    let world = World::with(
        redis::backend_over(&connection),
        WorldOptions {
            worker: WorkerSettings {
                poll_interval: Duration::from_millis(200),
                ..WorldOptions::default().worker
            },
            ..WorldOptions::default()
        },
    );
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let (worker, cancel) = (world.worker.clone(), cancel.clone());
        async move { worker.run(cancel).await }
    });
    let before = world.enqueue(World::welcome("before@example.com")).await;
    eventually(PATIENCE, "sent before the restart", || async {
        world.record(before.id).await.status == Status::Sent
    })
    .await;

    server.restart();
    eventually(PATIENCE, "the connection manager reconnects", || async {
        connection.ping().await.is_ok()
    })
    .await;
    queue
        .schedule(NotificationId::from_parts(1, 1), fixtures_t0())
        .await
        .unwrap();
    assert_eq!(queue.len().await.unwrap(), 1);
    queue
        .complete(&[NotificationId::from_parts(1, 1)])
        .await
        .unwrap();

    // The running worker (its blocking wait included) carries on without help.
    let after = world.enqueue(World::welcome("after@example.com")).await;
    eventually(PATIENCE, "sent after the restart", || async {
        world.record(after.id).await.status == Status::Sent
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(PATIENCE, running)
        .await
        .unwrap()
        .unwrap();

    // A blocking wait on a fresh connection works too.
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            if queue.wait(Duration::from_millis(50)).await.is_ok() {
                return;
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "wait never worked again after the restart");
    drop(server);
}

fn fixtures_t0() -> chrono::DateTime<chrono::Utc> {
    tests::fixtures::t0()
}

#[tokio::test]
async fn the_queue_key_is_the_configured_one() {
    let Some(connection) = redis::connection().await else {
        return;
    };
    let key = format!("{}custom:zset", connection.keys().prefix());
    let queue = RedisRetryQueue::new(&connection, key.clone());
    queue
        .schedule(NotificationId::from_parts(1, 7), fixtures_t0())
        .await
        .unwrap();
    let mut conn = connection.manager();
    let members: i64 = ::redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(members, 1);
}

#[tokio::test]
async fn redis_unreachable_at_start_up_leaves_no_queue_and_enqueue_says_why() {
    let mut config = bootstrap::Config::default();
    config.redis.enable = true;
    config.redis.url = format!("redis://:secret@127.0.0.1:{}", tests::harness::free_port());
    let app = bootstrap::build(config, &bootstrap::Overrides { force_mock: true })
        .await
        .unwrap();
    assert!(app.ports.queue.is_none());
    assert!(app.worker.is_none());
    assert_ne!(app.backends.queue, "redis");
    let err = app
        .notifier
        .enqueue(&app.checked.default_tenant, World::welcome("a@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "async notification requires redis retry queue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_built_with_redis_enabled_delivers_an_enqueued_notification() {
    let Some(server) = redis::server() else {
        return;
    };
    let mut config = bootstrap::Config::default();
    config.redis.enable = true;
    config.redis.url = server.url.clone();
    config.redis.key_prefix = redis::unique_prefix();
    config.notification.async_.queue_redis_key = format!("{}retry:zset", config.redis.key_prefix);
    let app = bootstrap::build(config, &bootstrap::Overrides { force_mock: true })
        .await
        .unwrap();
    assert_eq!(app.backends.queue, "redis");
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    bootstrap::runtime::spawn_background(&app, &cancel, &mut tasks);
    let accepted = app
        .notifier
        .enqueue(&app.checked.default_tenant, World::welcome("a@example.com"))
        .await
        .unwrap();
    let id = accepted.notification.id;
    eventually(PATIENCE, "the worker delivers it", || async {
        app.ports.store.get(id).await.unwrap().unwrap().status == Status::Sent
    })
    .await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
}
