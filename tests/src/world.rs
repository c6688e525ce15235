//! A wired service over chosen ports with a clock moved by hand: the use cases of the async
//! path driven one step at a time, with no sleeping.
//!
//! [`World::memory`] uses the in-memory adapters; the Redis and MongoDB suites build the
//! same world over their adapters with [`World::with`], so every scenario runs on each.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::{
    MemoryDeadLetterStore, MemoryIdempotencyStore, MemoryNotificationStore, MemoryQuotaStore,
    MemoryRetryQueue, MemorySensitiveBodyStore, MiniJinjaTemplates, MockEmailSender, MockSmsSender,
    UlidGenerator,
};
use application::ports::{
    Clock, DeadLetterStore, EmailSender, IdempotencyStore, NotificationStore, QuotaStore,
    RetryQueue, SensitiveBodyStore, SmsSender,
};
use application::{
    DeadLetterAdmin, NotificationRequest, Notifier, Ports, ProviderChain, Reconciler,
    ReconcilerSettings, RetryWorker, Settings, StepReport, WorkerSettings,
};
use chrono::{DateTime, TimeDelta, Utc};
use domain::{Notification, NotificationId, RetryPolicy, TenantId};
use tokio_util::sync::CancellationToken;

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += TimeDelta::from_std(by).unwrap();
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The storage ports of one backend.
#[derive(Clone)]
pub struct Backend {
    pub store: Arc<dyn NotificationStore>,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    pub queue: Arc<dyn RetryQueue>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub quotas: Arc<dyn QuotaStore>,
    pub sensitive: Arc<dyn SensitiveBodyStore>,
}

impl Backend {
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryNotificationStore::new()),
            dead_letters: Arc::new(MemoryDeadLetterStore::new()),
            queue: Arc::new(MemoryRetryQueue::new()),
            idempotency: Arc::new(MemoryIdempotencyStore::new()),
            quotas: Arc::new(MemoryQuotaStore::new()),
            sensitive: Arc::new(MemorySensitiveBodyStore::new()),
        }
    }
}

/// Knobs of a world.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    pub retry: RetryPolicy,
    pub worker: WorkerSettings,
    pub reconcile_grace: Duration,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::new(
                5,
                [1, 5, 30, 300, 1800]
                    .into_iter()
                    .map(Duration::from_secs)
                    .collect(),
                0.0,
            )
            .unwrap(),
            worker: WorkerSettings {
                batch_size: 100,
                concurrency: 8,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_millis(50),
            },
            reconcile_grace: Duration::from_secs(60),
        }
    }
}

/// The service wired over a backend, mock providers and a manual clock.
pub struct World {
    pub clock: ManualClock,
    pub backend: Backend,
    pub email: Arc<MockEmailSender>,
    pub sms: Arc<MockSmsSender>,
    pub ports: Ports,
    pub notifier: Notifier,
    pub worker: RetryWorker,
    pub reconciler: Reconciler,
    pub dead_letters: DeadLetterAdmin,
    pub settings: Settings,
    pub options: WorldOptions,
}

impl World {
    pub fn memory() -> Self {
        Self::with(Backend::memory(), WorldOptions::default())
    }

    pub fn memory_with(options: WorldOptions) -> Self {
        Self::with(Backend::memory(), options)
    }

    pub fn with(backend: Backend, options: WorldOptions) -> Self {
        let email = Arc::new(MockEmailSender::new("mock", 10));
        let sms = Arc::new(MockSmsSender::new("mock", 10));
        Self::with_senders(
            backend,
            options,
            email.clone(),
            sms.clone(),
            vec![email as Arc<dyn EmailSender>],
            vec![sms as Arc<dyn SmsSender>],
        )
    }

    /// A world whose chains hold `email_chain` / `sms_chain` (the mocks are still handed
    /// back for inspection).
    pub fn with_senders(
        backend: Backend,
        options: WorldOptions,
        email: Arc<MockEmailSender>,
        sms: Arc<MockSmsSender>,
        email_chain: Vec<Arc<dyn EmailSender>>,
        sms_chain: Vec<Arc<dyn SmsSender>>,
    ) -> Self {
        let clock = ManualClock::at(crate::fixtures::t0());
        let ports = Ports {
            store: backend.store.clone(),
            dead_letters: backend.dead_letters.clone(),
            queue: Some(backend.queue.clone()),
            idempotency: backend.idempotency.clone(),
            quotas: backend.quotas.clone(),
            sensitive: backend.sensitive.clone(),
            templates: Arc::new(MiniJinjaTemplates::new(None).unwrap()),
            providers: ProviderChain::new(email_chain, sms_chain),
            clock: Arc::new(clock.clone()),
            ids: Arc::new(UlidGenerator::new()),
        };
        let settings = Settings {
            retry: options.retry.clone(),
            lease: options.worker.lease,
            ..Settings::default()
        };
        let notifier = Notifier::new(ports.clone(), settings.clone());
        let worker =
            RetryWorker::new(ports.clone(), settings.clone(), options.worker.clone()).unwrap();
        let reconciler = Reconciler::new(
            ports.clone(),
            ReconcilerSettings {
                grace: options.reconcile_grace,
                interval: Duration::from_secs(3600),
                batch: 500,
            },
        )
        .unwrap();
        Self {
            dead_letters: DeadLetterAdmin::new(ports.clone()),
            clock,
            backend,
            email,
            sms,
            ports,
            notifier,
            worker,
            reconciler,
            settings,
            options,
        }
    }

    pub fn tenant(&self) -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    /// A tenant_welcome email to `to`.
    pub fn welcome(to: &str) -> NotificationRequest {
        NotificationRequest {
            kind: "tenant_welcome".into(),
            to: to.into(),
            data: serde_json::json!({"tenant_name": "Acme", "login_url": "https://acme.example.com/login"}),
            ..NotificationRequest::default()
        }
    }

    /// An OTP by SMS (a sensitive kind).
    pub fn otp_sms(phone: &str, code: &str) -> NotificationRequest {
        NotificationRequest {
            kind: "otp".into(),
            channel: Some("sms".into()),
            to: phone.into(),
            data: serde_json::json!({"code": code, "ttl_minutes": 5}),
            ..NotificationRequest::default()
        }
    }

    pub async fn enqueue(&self, request: NotificationRequest) -> Notification {
        self.notifier
            .enqueue(&self.tenant(), request)
            .await
            .unwrap()
            .notification
    }

    pub async fn record(&self, id: NotificationId) -> Notification {
        self.backend.store.get(id).await.unwrap().unwrap()
    }

    /// One worker step at the current clock.
    pub async fn step(&self) -> StepReport {
        self.worker
            .run_once(&CancellationToken::new())
            .await
            .unwrap()
    }

    /// Steps until a step claims nothing.
    pub async fn drain(&self) -> StepReport {
        let mut total = StepReport::default();
        loop {
            let report = self.step().await;
            if report.claimed == 0 {
                return total;
            }
            total.claimed += report.claimed;
            total.sent += report.sent;
            total.retried += report.retried;
            total.dead_lettered += report.dead_lettered;
            total.skipped += report.skipped;
            total.lost_race += report.lost_race;
            total.released += report.released;
            total.errors += report.errors;
        }
    }
}
