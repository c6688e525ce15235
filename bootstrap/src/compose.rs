//! The composition root: the one place that picks adapters from configuration and wires
//! the use cases. Binaries and tests call [`build`]; nothing else constructs adapters.

use std::sync::Arc;
use std::time::Duration;

use adapters::{MiniJinjaTemplates, MockEmailSender, MockSmsSender, SystemClock, UlidGenerator};
use application::{
    DeadLetterAdmin, Notifier, Ports, ProviderChain, Reconciler, ReconcilerSettings, RetryWorker,
    Settings, WorkerSettings,
};

use crate::config::{Checked, Config, ConfigError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("templates: {0}")]
    Templates(#[from] adapters::TemplateSetError),
    #[error("{key}: {reason}")]
    Backend { key: String, reason: String },
}

/// Start-up choices that do not come from the config file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Use only the mock providers, whatever the config enables (`--mock`, `MOCK=1`).
    pub force_mock: bool,
}

/// The mock providers in use, for tests and the CLI to steer and inspect.
#[derive(Debug, Clone, Default)]
pub struct MockHandles {
    pub email: Option<Arc<MockEmailSender>>,
    pub sms: Option<Arc<MockSmsSender>>,
}

/// Which backend serves each port, for start-up logs and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backends {
    pub store: &'static str,
    pub queue: &'static str,
    pub email: Vec<String>,
    pub sms: Vec<String>,
}

/// The wired service.
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub checked: Checked,
    pub ports: Ports,
    pub notifier: Notifier,
    pub dead_letters: DeadLetterAdmin,
    pub worker: Option<RetryWorker>,
    pub reconciler: Option<Reconciler>,
    pub mocks: MockHandles,
    pub backends: Backends,
    pub worker_count: usize,
}

/// Builds every adapter the configuration asks for and wires the use cases.
pub async fn build(config: Config, overrides: &Overrides) -> Result<App, StartupError> {
    let checked = config.validate()?;
    let templates = Arc::new(MiniJinjaTemplates::new(checked.template_dir.clone())?);

    let senders = crate::providers::build_senders(&config, &checked, overrides).await?;
    let providers =
        ProviderChain::new(senders.email, senders.sms).with_timeout(checked.provider_timeout);
    let storage = crate::storage::build_storage(&config).await?;
    let ports = Ports {
        store: storage.store,
        dead_letters: storage.dead_letters,
        queue: storage.queue,
        idempotency: storage.idempotency,
        quotas: storage.quotas,
        sensitive: storage.sensitive,
        templates,
        providers: providers.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UlidGenerator::new()),
    };
    let backends = Backends {
        store: storage.store_backend,
        queue: storage.queue_backend,
        email: providers.names(domain::Channel::Email),
        sms: providers.names(domain::Channel::Sms),
    };
    let mocks = senders.mocks;
    Ok(wire(config, checked, ports, mocks, backends))
}

/// Wires the use cases over ready ports (also used by tests that bring their own ports).
pub fn wire(
    config: Config,
    checked: Checked,
    ports: Ports,
    mocks: MockHandles,
    backends: Backends,
) -> App {
    let a = &config.notification.async_;
    let settings = Settings {
        default_locale: checked.default_locale,
        default_region: checked.default_region,
        retry: checked.retry.clone(),
        quotas: checked.quotas.clone(),
        idempotency_ttl: Duration::from_secs(config.notification.idempotency.ttl_seconds),
        idempotency_lock_ttl: Duration::from_secs(config.notification.idempotency.lock_ttl_seconds),
        lease: checked.lease,
    };
    let worker_settings = WorkerSettings {
        batch_size: a.batch_size,
        concurrency: a.worker,
        lease: checked.lease,
        poll_interval: Duration::from_millis(a.poll_interval_ms.max(1)),
    };
    let reconcile = &a.reconcile;
    let reconciler_settings = ReconcilerSettings {
        grace: Duration::from_secs(reconcile.grace_seconds),
        interval: Duration::from_secs(reconcile.interval_seconds.max(1)),
        batch: reconcile.batch.max(1),
    };
    let notifier = Notifier::new(ports.clone(), settings.clone());
    let worker = RetryWorker::new(ports.clone(), settings, worker_settings);
    let reconciler = if reconcile.enable {
        Reconciler::new(ports.clone(), reconciler_settings)
    } else {
        None
    };
    App {
        worker_count: a.workers,
        dead_letters: DeadLetterAdmin::new(ports.clone()),
        config,
        checked,
        ports,
        notifier,
        worker,
        reconciler,
        mocks,
        backends,
    }
}
