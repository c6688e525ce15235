//! `make bench`: the Redis retry queue under load (method and results in
//! `docs/benchmarks.md`). Starts a private `redis-server` (or uses `NOTIFY_TEST_REDIS_URL`)
//! and measures:
//!
//! 1. drain: N queued notifications through claim → mock send → complete, with the
//!    in-memory store, in 1 and 2 worker processes (this binary, spawned as children);
//! 2. latency: enqueue → `sent` at a steady rate (default 1,000/s for 15 s);
//! 3. Redis CPU per notification (`INFO` `used_cpu_sys` + `used_cpu_user`);
//! 4. Redis commands per second of one idle worker (`total_commands_processed`).
//!
//! Knobs (environment): `BENCH_SIZES` (default `20000,200000`), `BENCH_PROCS` (`1,2`),
//! `BENCH_WORKERS` (worker tasks per process, 2), `BENCH_BATCH` (500), `BENCH_CONCURRENCY`
//! (sends in flight per worker, 128), `BENCH_RATE` (1000), `BENCH_SECONDS` (15),
//! `BENCH_IDLE_SECONDS` (5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::redis::{KeySpace, RedisConnection, RedisRetryQueue};
use adapters::{
    MemoryDeadLetterStore, MemoryIdempotencyStore, MemoryNotificationStore, MemoryQuotaStore,
    MemorySensitiveBodyStore, MiniJinjaTemplates, MockEmailSender, MockSmsSender, SystemClock,
    UlidGenerator,
};
use application::ports::{
    EmailSender, Expected, ListQuery, NotificationStore, Page, RetryQueue, SmsSender, StatusUpdate,
    StoreResult,
};
use application::{Notifier, Ports, ProviderChain, RetryWorker, Settings, WorkerSettings};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{IdempotencyKey, Notification, NotificationId, Status, TenantId};
use tokio_util::sync::CancellationToken;

const ID_BASE_MS: u64 = 1_700_000_000_000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn id(i: usize) -> NotificationId {
    NotificationId::from_parts(ID_BASE_MS, i as u128)
}

fn worker_settings() -> WorkerSettings {
    WorkerSettings {
        batch_size: env_or("BENCH_BATCH", 500),
        concurrency: env_or("BENCH_CONCURRENCY", 128),
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_secs(1),
    }
}

fn ports(store: Arc<dyn NotificationStore>, queue: Arc<dyn RetryQueue>) -> Ports {
    let email = Arc::new(MockEmailSender::new("mock", 10).with_history_limit(0));
    let sms = Arc::new(MockSmsSender::new("mock", 10).with_history_limit(0));
    Ports {
        store,
        dead_letters: Arc::new(MemoryDeadLetterStore::new()),
        queue: Some(queue),
        idempotency: Arc::new(MemoryIdempotencyStore::new()),
        quotas: Arc::new(MemoryQuotaStore::new()),
        sensitive: Arc::new(MemorySensitiveBodyStore::new()),
        templates: Arc::new(MiniJinjaTemplates::new(None).unwrap()),
        providers: ProviderChain::new(
            vec![email as Arc<dyn EmailSender>],
            vec![sms as Arc<dyn SmsSender>],
        ),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UlidGenerator::new()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child-drain") {
        let url = args[pos + 1].clone();
        let prefix = args[pos + 2].clone();
        let n: usize = args[pos + 3].parse().unwrap();
        runtime().block_on(child_drain(url, prefix, n));
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let (_server, url) = match std::env::var("NOTIFY_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => (None, url),
        _ => match tests::harness::redis::RedisServer::start_local() {
            Ok(server) => {
                let url = server.url.clone();
                (Some(server), url)
            }
            Err(why) => {
                eprintln!("bench: no Redis: {why}; run `make test-deps`");
                std::process::exit(2);
            }
        },
    };
    println!("# notify bench: Redis retry queue");
    println!(
        "machine: {} cores; redis: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        redis_version(&url)
    );
    let ws = worker_settings();
    println!(
        "worker: {} tasks/process, batch {}, {} sends in flight per task, lease {}s",
        env_or("BENCH_WORKERS", 2usize),
        ws.batch_size,
        ws.concurrency,
        ws.lease.as_secs()
    );
    println!();
    println!("## drain (claim -> mock send -> complete, in-memory store)");
    println!("| queued | processes | seconds | notifications/s | Redis CPU µs/notification |");
    println!("|---:|---:|---:|---:|---:|");
    for n in env_list("BENCH_SIZES", "20000,200000") {
        for procs in env_list("BENCH_PROCS", "1,2") {
            drain(&url, n, procs);
        }
    }
    println!();
    runtime().block_on(async {
        latency(&url).await;
        idle(&url).await;
    });
}

fn redis_version(url: &str) -> String {
    runtime().block_on(async {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim()
            .to_owned()
    })
}

async fn redis_cpu(url: &str) -> f64 {
    let user = tests::harness::redis::info_field(url, "used_cpu_user")
        .await
        .unwrap_or(0.0);
    let sys = tests::harness::redis::info_field(url, "used_cpu_sys")
        .await
        .unwrap_or(0.0);
    user + sys
}

fn drain(url: &str, n: usize, procs: usize) {
    let prefix = format!("bench:{}:{n}:{procs}:", std::process::id());
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..procs)
        .map(|_| {
            Command::new(&exe)
                .arg("--child-drain")
                .arg(url)
                .arg(&prefix)
                .arg(n.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    for reader in &mut readers {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "child failed to start");
    }
    let rt = runtime();
    let cpu_before = rt.block_on(async {
        // The backlog, due now, earliest first.
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let key = KeySpace::new(prefix.clone()).queue();
        let now = Utc::now().timestamp_millis();
        for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
            let mut pipe = redis::pipe();
            for part in chunk.chunks(500) {
                let items: Vec<(i64, String)> = part
                    .iter()
                    .map(|i| (now - (n - i) as i64, id(*i).to_string()))
                    .collect();
                pipe.zadd_multiple(&key, &items).ignore();
            }
            pipe.query_async::<()>(&mut conn).await.unwrap();
        }
        redis_cpu(url).await
    });
    let started = Instant::now();
    for child in &mut children {
        writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut sent = 0usize;
    for reader in &mut readers {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        sent += line
            .trim()
            .strip_prefix("done sent=")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("child answered {line:?}"));
    }
    let elapsed = started.elapsed();
    let cpu_after = rt.block_on(redis_cpu(url));
    for mut child in children {
        let _ = child.wait();
    }
    assert_eq!(sent, n, "every queued notification is sent once");
    println!(
        "| {n} | {procs} | {:.2} | {:.0} | {:.2} |",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        (cpu_after - cpu_before) * 1e6 / n as f64
    );
}

async fn child_drain(url: String, prefix: String, n: usize) {
    let keys = KeySpace::new(prefix);
    let connection = RedisConnection::connect(&url, keys.clone()).await.unwrap();
    let queue: Arc<dyn RetryQueue> = Arc::new(RedisRetryQueue::new(&connection, keys.queue()));
    let store = Arc::new(MemoryNotificationStore::new());
    for i in 0..n {
        let record = tests::fixtures::notification().id(id(i)).build();
        store.insert(&record).await.unwrap();
    }
    let worker = RetryWorker::new(
        ports(store, queue.clone()),
        Settings::default(),
        worker_settings(),
    )
    .unwrap();
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let tasks: Vec<_> = (0..env_or("BENCH_WORKERS", 2usize))
        .map(|_| {
            let (worker, queue) = (worker.clone(), queue.clone());
            tokio::spawn(async move {
                let cancel = CancellationToken::new();
                let mut sent = 0;
                loop {
                    let report = worker.run_once(&cancel).await.unwrap();
                    sent += report.sent;
                    if report.claimed == 0 {
                        if queue.len().await.unwrap() == 0 {
                            return sent;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    println!("done sent={sent}");
}

/// The in-memory store, noting when each record turns `sent`.
struct TimingStore {
    inner: MemoryNotificationStore,
    sent: Mutex<HashMap<NotificationId, Instant>>,
}

#[async_trait]
impl NotificationStore for TimingStore {
    async fn insert(&self, record: &Notification) -> StoreResult<()> {
        self.inner.insert(record).await
    }
    async fn get(&self, id: NotificationId) -> StoreResult<Option<Notification>> {
        self.inner.get(id).await
    }
    async fn find_by_idempotency_key(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Notification>> {
        self.inner.find_by_idempotency_key(tenant_id, key).await
    }
    async fn update_status(
        &self,
        id: NotificationId,
        expected: Expected,
        update: StatusUpdate,
    ) -> StoreResult<Option<Notification>> {
        let sent = update.status == Status::Sent;
        let result = self.inner.update_status(id, expected, update).await?;
        if sent && result.is_some() {
            self.sent.lock().unwrap().insert(id, Instant::now());
        }
        Ok(result)
    }
    async fn list(&self, query: &ListQuery) -> StoreResult<Page<Notification>> {
        self.inner.list(query).await
    }
    async fn find_stale(
        &self,
        due_before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        self.inner.find_stale(due_before, limit).await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn latency(url: &str) {
    let rate: u64 = env_or("BENCH_RATE", 1000);
    let seconds: u64 = env_or("BENCH_SECONDS", 15);
    let keys = KeySpace::new(format!("bench:{}:latency:", std::process::id()));
    let connection = RedisConnection::connect(url, keys.clone()).await.unwrap();
    let queue: Arc<dyn RetryQueue> = Arc::new(RedisRetryQueue::new(&connection, keys.queue()));
    let store = Arc::new(TimingStore {
        inner: MemoryNotificationStore::new(),
        sent: Mutex::new(HashMap::new()),
    });
    let ports = ports(store.clone(), queue.clone());
    // The defaults of `Notification.Async`: one worker task, batch 100, 8 in flight.
    let worker = RetryWorker::new(
        ports.clone(),
        Settings::default(),
        WorkerSettings::default(),
    )
    .unwrap();
    let notifier = Notifier::new(ports, Settings::default());
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { worker.run(cancel).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tenant = TenantId::parse("bench").unwrap();
    let total = rate * seconds;
    let mut started = Vec::with_capacity(total as usize);
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let cpu_before = redis_cpu(url).await;
    let began = Instant::now();
    for i in 0..total {
        ticker.tick().await;
        let at = Instant::now();
        let request = application::NotificationRequest {
            kind: "tenant_welcome".into(),
            to: format!("u{i}@example.com"),
            data: serde_json::json!({"tenant_name": "Acme", "login_url": "https://acme.example.com/login"}),
            ..application::NotificationRequest::default()
        };
        let accepted = notifier.enqueue(&tenant, request).await.unwrap();
        started.push((accepted.notification.id, at));
    }
    let offered = began.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.sent.lock().unwrap().len() < total as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu_after = redis_cpu(url).await;
    cancel.cancel();
    let _ = running.await;
    let sent = store.sent.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = started
        .iter()
        .filter_map(|(id, at)| sent.get(id).map(|done| done.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    println!("## latency (enqueue -> sent, Notification.Async defaults: 1 worker task, batch 100, 8 in flight)");
    println!(
        "offered {total} at {rate}/s over {:.1}s; sent {}",
        offered.as_secs_f64(),
        latencies.len()
    );
    if !latencies.is_empty() {
        println!(
            "p50 {:.3} ms | p95 {:.3} ms | p99 {:.3} ms | max {:.3} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.95).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies[latencies.len() - 1].as_secs_f64() * 1e3
        );
    }
    println!(
        "Redis CPU per notification (enqueue + wake-up + claim + complete): {:.2} µs",
        (cpu_after - cpu_before) * 1e6 / total as f64
    );
    println!();
}

async fn idle(url: &str) {
    let seconds: u64 = env_or("BENCH_IDLE_SECONDS", 5);
    let keys = KeySpace::new(format!("bench:{}:idle:", std::process::id()));
    let connection = RedisConnection::connect(url, keys.clone()).await.unwrap();
    let queue: Arc<dyn RetryQueue> = Arc::new(RedisRetryQueue::new(&connection, keys.queue()));
    let store = Arc::new(MemoryNotificationStore::new());
    let worker = RetryWorker::new(
        ports(store, queue),
        Settings::default(),
        WorkerSettings::default(),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { worker.run(cancel).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let field = "total_commands_processed";
    let before = tests::harness::redis::info_field(url, field)
        .await
        .unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = tests::harness::redis::info_field(url, field)
        .await
        .unwrap_or(0.0);
    cancel.cancel();
    let _ = running.await;
    // The first INFO is counted in `after`.
    let commands = (after - before - 1.0).max(0.0);
    println!("## idle worker (Notification.Async.PollIntervalMs = 1000)");
    println!(
        "{commands:.0} Redis commands in {seconds}s: {:.1} commands/s",
        commands / seconds as f64
    );
}
