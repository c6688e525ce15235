//! The retry worker: claims due notifications in batches with a lease, sends them through
//! the provider chain with bounded concurrency, and records the outcome.
//!
//! ```text
//! claim_due(now, batch, lease) -> load -> send via provider chain ->
//!   sent:      mark sent (conditional) -> complete(id)
//!   retryable: attempts <= MaxRetry ? mark retrying + next_attempt_at -> reschedule(id, due)
//!                                   : mark failed -> dead letter -> complete(id)
//!   permanent: mark failed -> dead letter -> complete(id)
//! ```
//!
//! Every status update is conditional on the status and attempt count the worker read; a
//! worker that loses that race drops the job and leaves it to the winner.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{DeadLetter, Notification, NotificationId, RetryDecision, Status};
use futures::StreamExt;
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::notifier::{Ports, Settings};
use crate::ports::{Expected, RetryQueue, SendError, StatusUpdate, StoreResult};

/// How a worker claims and paces its work.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Ids claimed per round trip to the queue.
    pub batch_size: usize,
    /// Sends in flight at once (`Notification.Async.Worker`).
    pub concurrency: usize,
    /// How long a claim holds a job before it comes due again.
    pub lease: Duration,
    /// The longest an idle worker sleeps before looking at the queue again.
    pub poll_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            concurrency: 8,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// What happened to one claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Sent,
    /// A retry is scheduled.
    Retried,
    /// Marked failed and written to the dead-letter queue.
    DeadLettered,
    /// The record was already terminal or missing; the job was removed.
    Skipped,
    /// Another worker changed the record first; this one dropped the job.
    LostRace,
    /// Shutdown began before the job started; its lease was released.
    Released,
    /// A storage error; the job comes due again when its lease runs out.
    Error,
}

/// The outcome of one step (one claimed batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead_lettered: usize,
    pub skipped: usize,
    pub lost_race: usize,
    pub released: usize,
    pub errors: usize,
}

impl StepReport {
    fn add(&mut self, outcome: JobOutcome) {
        match outcome {
            JobOutcome::Sent => self.sent += 1,
            JobOutcome::Retried => self.retried += 1,
            JobOutcome::DeadLettered => self.dead_lettered += 1,
            JobOutcome::Skipped => self.skipped += 1,
            JobOutcome::LostRace => self.lost_race += 1,
            JobOutcome::Released => self.released += 1,
            JobOutcome::Error => self.errors += 1,
        }
    }
}

/// Delivers queued notifications. Cheap to clone; run several on one queue.
#[derive(Clone)]
pub struct RetryWorker {
    ports: Ports,
    queue: Arc<dyn RetryQueue>,
    settings: Arc<Settings>,
    worker: WorkerSettings,
}

/// Whether a job's final queue step is a completion (removal).
enum Finish {
    Complete,
    Keep,
}

impl RetryWorker {
    /// Fails with `None` when `ports` has no retry queue.
    pub fn new(ports: Ports, settings: Settings, worker: WorkerSettings) -> Option<Self> {
        let queue = ports.queue.clone()?;
        Some(Self {
            ports,
            queue,
            settings: Arc::new(settings),
            worker: WorkerSettings {
                batch_size: worker.batch_size.max(1),
                concurrency: worker.concurrency.max(1),
                ..worker
            },
        })
    }

    /// One step: claim a batch of due jobs and process it. Jobs not yet started when
    /// `cancel` fires are released (scheduled due now) instead of sent.
    pub async fn run_once(&self, cancel: &CancellationToken) -> StoreResult<StepReport> {
        let now = self.ports.clock.now();
        let ids = self
            .queue
            .claim_due(now, self.worker.batch_size, self.worker.lease)
            .await?;
        let mut report = StepReport {
            claimed: ids.len(),
            ..StepReport::default()
        };
        if ids.is_empty() {
            return Ok(report);
        }
        let results: Vec<(NotificationId, JobOutcome, Finish)> = futures::stream::iter(ids)
            .map(|id| async move {
                if cancel.is_cancelled() {
                    return (id, self.release(id).await, Finish::Keep);
                }
                let span = tracing::info_span!("deliver", notification_id = %id);
                let (outcome, finish) = self.process(id).instrument(span).await;
                (id, outcome, finish)
            })
            .buffer_unordered(self.worker.concurrency)
            .collect()
            .await;
        let mut done = Vec::with_capacity(results.len());
        for (id, outcome, finish) in results {
            report.add(outcome);
            if matches!(finish, Finish::Complete) {
                done.push(id);
            }
        }
        if !done.is_empty() {
            if let Err(err) = self.queue.complete(&done).await {
                // The jobs come due again after the lease; their records are terminal, so
                // the next claim only removes them.
                tracing::warn!(error = %err, jobs = done.len(), "could not complete jobs");
            }
        }
        Ok(report)
    }

    /// Repeats [`RetryWorker::run_once`] until `cancel` fires. An idle worker sleeps until
    /// the earliest due job, a wake-up from the queue, or the poll interval.
    pub async fn run(&self, cancel: CancellationToken) {
        tracing::info!(
            batch = self.worker.batch_size,
            concurrency = self.worker.concurrency,
            "retry worker started"
        );
        while !cancel.is_cancelled() {
            match self.run_once(&cancel).await {
                // Work was found: look again at once, there may be more.
                Ok(report) if report.claimed > 0 => continue,
                Ok(_) => self.idle(&cancel).await,
                Err(err) => {
                    tracing::error!(error = %err, "retry queue unavailable; backing off");
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        () = tokio::time::sleep(self.worker.poll_interval) => {}
                    }
                }
            }
        }
        tracing::info!("retry worker stopped");
    }

    async fn idle(&self, cancel: &CancellationToken) {
        let now = self.ports.clock.now();
        let mut timeout = self.worker.poll_interval;
        match self.queue.next_due().await {
            Ok(Some(due)) => {
                let until = (due - now).to_std().unwrap_or_default();
                timeout = timeout.min(until);
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "could not read the next due time"),
        }
        if timeout.is_zero() {
            return;
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            result = self.queue.wait(timeout) => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "waiting on the retry queue failed");
                    tokio::time::sleep(timeout).await;
                }
            }
        }
    }

    async fn release(&self, id: NotificationId) -> JobOutcome {
        match self.queue.schedule(id, self.ports.clock.now()).await {
            Ok(()) => JobOutcome::Released,
            Err(err) => {
                tracing::warn!(error = %err, "could not release a job; it comes due after its lease");
                JobOutcome::Error
            }
        }
    }

    async fn process(&self, id: NotificationId) -> (JobOutcome, Finish) {
        match self.try_process(id).await {
            Ok(result) => result,
            Err(err) => {
                tracing::error!(error = %err, "job failed on storage; it comes due again after its lease");
                (JobOutcome::Error, Finish::Keep)
            }
        }
    }

    async fn try_process(&self, id: NotificationId) -> StoreResult<(JobOutcome, Finish)> {
        let Some(record) = self.ports.store.get(id).await? else {
            tracing::warn!("queued notification has no record; removing the job");
            return Ok((JobOutcome::Skipped, Finish::Complete));
        };
        match record.status {
            Status::Pending | Status::Retrying => {}
            Status::Sent | Status::Failed | Status::Dropped => {
                return Ok((JobOutcome::Skipped, Finish::Complete));
            }
        }
        if record
            .next_attempt_at
            .is_some_and(|due| due > self.ports.clock.now())
        {
            // Rescheduled elsewhere (a replay, another worker); honour the record.
            if let Some(due) = record.next_attempt_at {
                self.queue.schedule(id, due).await?;
            }
            return Ok((JobOutcome::LostRace, Finish::Keep));
        }

        let body = if record.body_withheld {
            self.ports.sensitive.get(id).await?
        } else {
            record.body.clone()
        };
        let Some(body) = body else {
            let error = SendError::permanent(
                "none",
                if record.body_withheld {
                    "the sensitive body expired before delivery"
                } else {
                    "the record holds no body"
                },
            );
            return self.give_up(record, error).await;
        };

        let outcome = self.ports.providers.deliver(&record, &body).await;
        let now = self.ports.clock.now();
        let attempts = record.attempts + 1;
        match outcome {
            Ok(receipt) => {
                let update = StatusUpdate {
                    status: Status::Sent,
                    attempts,
                    provider: Some(receipt.provider),
                    provider_message_id: Some(receipt.provider_message_id),
                    last_error: None,
                    next_attempt_at: None,
                    sent_at: Some(now),
                    updated_at: now,
                };
                match self
                    .ports
                    .store
                    .update_status(id, Expected::of(&record), update)
                    .await?
                {
                    Some(updated) => {
                        tracing::info!(attempts, provider = ?updated.provider, "notification sent");
                        self.forget_body(&updated).await;
                        Ok((JobOutcome::Sent, Finish::Complete))
                    }
                    None => Ok((JobOutcome::LostRace, Finish::Keep)),
                }
            }
            Err(error) if error.is_retryable() => {
                match self.settings.retry.after_retryable_failure(attempts) {
                    RetryDecision::RetryAfter(delay) => {
                        let unit: f64 = rand::thread_rng().gen();
                        let delay = self.settings.retry.with_jitter(delay, unit);
                        let due = now + chrono::Duration::from_std(delay).unwrap_or_default();
                        self.retry_later(record, error, due, now).await
                    }
                    RetryDecision::GiveUp => self.give_up(record, error).await,
                }
            }
            Err(error) => self.give_up(record, error).await,
        }
    }

    async fn retry_later(
        &self,
        record: Notification,
        error: SendError,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(JobOutcome, Finish)> {
        let update = StatusUpdate {
            status: Status::Retrying,
            attempts: record.attempts + 1,
            provider: Some(error.provider.clone()),
            provider_message_id: None,
            last_error: Some(error.to_string()),
            next_attempt_at: Some(due),
            sent_at: None,
            updated_at: now,
        };
        match self
            .ports
            .store
            .update_status(record.id, Expected::of(&record), update)
            .await?
        {
            Some(_) => {
                self.queue.schedule(record.id, due).await?;
                tracing::info!(attempts = record.attempts + 1, due = %due, error = %error, "notification will be retried");
                Ok((JobOutcome::Retried, Finish::Keep))
            }
            None => Ok((JobOutcome::LostRace, Finish::Keep)),
        }
    }

    async fn give_up(
        &self,
        record: Notification,
        error: SendError,
    ) -> StoreResult<(JobOutcome, Finish)> {
        let now = self.ports.clock.now();
        let update = StatusUpdate {
            status: Status::Failed,
            attempts: record.attempts + 1,
            provider: Some(error.provider.clone()),
            provider_message_id: None,
            last_error: Some(error.to_string()),
            next_attempt_at: None,
            sent_at: None,
            updated_at: now,
        };
        let Some(updated) = self
            .ports
            .store
            .update_status(record.id, Expected::of(&record), update)
            .await?
        else {
            return Ok((JobOutcome::LostRace, Finish::Keep));
        };
        self.ports
            .dead_letters
            .put(&DeadLetter::of(&updated, now))
            .await?;
        self.forget_body(&updated).await;
        tracing::warn!(attempts = updated.attempts, error = %error, "notification failed; dead-lettered");
        Ok((JobOutcome::DeadLettered, Finish::Complete))
    }

    async fn forget_body(&self, record: &Notification) {
        if record.body_withheld {
            if let Err(err) = self.ports.sensitive.delete(record.id).await {
                tracing::warn!(error = %err, "could not delete a sensitive body; it expires by itself");
            }
        }
    }
}
