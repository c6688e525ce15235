//! The reconciler (outbox recovery): finds `pending`/`retrying` async records whose next
//! attempt is overdue by more than a grace period and that the queue does not hold (a crash
//! between insert and schedule, a Redis restart without persistence), and schedules them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::notifier::Ports;
use crate::ports::{RetryQueue, StoreResult};

#[derive(Debug, Clone)]
pub struct ReconcilerSettings {
    /// How overdue a record must be before the sweep looks at it.
    pub grace: Duration,
    /// Time between sweeps.
    pub interval: Duration,
    /// Records examined per sweep.
    pub batch: usize,
}

impl Default for ReconcilerSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(60),
            interval: Duration::from_secs(30),
            batch: 500,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Overdue records examined.
    pub examined: usize,
    /// Of those, scheduled again because the queue did not hold them.
    pub rescheduled: usize,
}

#[derive(Clone)]
pub struct Reconciler {
    ports: Ports,
    queue: Arc<dyn RetryQueue>,
    settings: ReconcilerSettings,
}

impl Reconciler {
    /// `None` when `ports` has no retry queue.
    pub fn new(ports: Ports, settings: ReconcilerSettings) -> Option<Self> {
        let queue = ports.queue.clone()?;
        Some(Self {
            ports,
            queue,
            settings,
        })
    }

    /// One sweep.
    pub async fn reconcile_once(&self) -> StoreResult<SweepReport> {
        let now = self.ports.clock.now();
        let grace = chrono::Duration::from_std(self.settings.grace).unwrap_or_default();
        let stale = self
            .ports
            .store
            .find_stale(now - grace, self.settings.batch)
            .await?;
        let mut report = SweepReport {
            examined: stale.len(),
            ..SweepReport::default()
        };
        for record in stale {
            if !self.queue.contains(record.id).await? {
                self.queue.schedule(record.id, now).await?;
                report.rescheduled += 1;
                tracing::warn!(
                    notification_id = %record.id,
                    status = record.status.as_str(),
                    "overdue notification was missing from the queue; scheduled it again"
                );
            }
        }
        Ok(report)
    }

    /// Sweeps every interval until `cancel` fires.
    pub async fn run(&self, cancel: CancellationToken) {
        tracing::info!(
            interval_s = self.settings.interval.as_secs(),
            grace_s = self.settings.grace.as_secs(),
            "reconciler started"
        );
        loop {
            match self.reconcile_once().await {
                Ok(report) if report.rescheduled > 0 => {
                    tracing::info!(rescheduled = report.rescheduled, "reconciler sweep")
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "reconciler sweep failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        tracing::info!("reconciler stopped");
    }
}
