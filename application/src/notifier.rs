//! `Notifier`: the entry point of both paths.
//!
//! ```text
//! send:    validate -> render -> idempotency replay? -> quota -> idempotency lock
//!          -> insert(pending) -> provider chain -> mark sent | failed
//! enqueue: validate -> render -> idempotency replay? -> quota -> idempotency lock
//!          -> [sensitive body -> ephemeral store] -> insert(pending) -> schedule(id, due)
//! ```
//!
//! Rendering and the idempotency replay come before the quota on purpose: a request that
//! cannot be rendered, or that repeats one already accepted, must not use up quota.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{
    Channel, IdempotencyKey, Locale, Mode, Notification, NotificationId, NotificationKind,
    QuotaRule, Recipient, Region, RenderedMessage, RequestFingerprint, RetryPolicy, Status,
    TenantId, ValidationError,
};
use tracing::Instrument;

use crate::chain::ProviderChain;
use crate::dto::NotificationRequest;
use crate::error::{AdminError, NotifyError};
use crate::ports::{
    Clock, DeadLetterStore, Expected, IdGenerator, IdempotencyClaim, IdempotencyStore, ListQuery,
    NotificationStore, Page, QuotaCheck, QuotaDecision, QuotaStore, RetryQueue, SensitiveBodyStore,
    StatusUpdate, StoreError, TemplateRenderer,
};

/// Every port the use cases need. Built once by the composition root.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn NotificationStore>,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    /// `None` when no retry queue is available: `enqueue` then fails with
    /// "async notification requires redis retry queue".
    pub queue: Option<Arc<dyn RetryQueue>>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub quotas: Arc<dyn QuotaStore>,
    pub sensitive: Arc<dyn SensitiveBodyStore>,
    pub templates: Arc<dyn TemplateRenderer>,
    pub providers: ProviderChain,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// The rules the use cases apply, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default_locale: Locale,
    pub default_region: Region,
    pub retry: RetryPolicy,
    pub quotas: Vec<QuotaRule>,
    /// How long a completed idempotency key is remembered by the idempotency store (the
    /// notification store remembers it for as long as it keeps the record).
    pub idempotency_ttl: Duration,
    /// How long an in-flight idempotency lock lives if its holder dies.
    pub idempotency_lock_ttl: Duration,
    /// The retry worker's lease; sensitive bodies are kept past it.
    pub lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_locale: Locale::ZhTw,
            default_region: Region::default(),
            retry: RetryPolicy::default(),
            quotas: Vec::new(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_lock_ttl: Duration::from_secs(120),
            lease: Duration::from_secs(30),
        }
    }
}

/// What `send` and `enqueue` return.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub notification: Notification,
    /// The request repeated an earlier one (same idempotency key): nothing was sent.
    pub replayed: bool,
}

/// A request that passed validation and rendering.
struct Prepared {
    tenant_id: TenantId,
    kind: NotificationKind,
    channel: Channel,
    recipient: Recipient,
    locale: Locale,
    key: Option<IdempotencyKey>,
    fingerprint: RequestFingerprint,
    withhold_body: bool,
    send_at: Option<DateTime<Utc>>,
    body: RenderedMessage,
    mode: Mode,
}

/// The entry point: `send` (sync) and `enqueue` (async), and reads of records.
#[derive(Clone)]
pub struct Notifier {
    ports: Ports,
    settings: Arc<Settings>,
}

impl Notifier {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings: Arc::new(settings),
        }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sends now through the provider chain and returns the record (`sent`), or the error.
    pub async fn send(
        &self,
        tenant_id: &TenantId,
        request: NotificationRequest,
    ) -> Result<Accepted, NotifyError> {
        let prepared = self.prepare(tenant_id, request, Mode::Sync)?;
        let span = tracing::info_span!(
            "send",
            tenant_id = %prepared.tenant_id,
            kind = prepared.kind.as_str(),
            channel = prepared.channel.as_str(),
            notification_id = tracing::field::Empty,
        );
        self.send_prepared(prepared).instrument(span).await
    }

    /// Accepts for delivery by a retry worker and returns the `pending` record at once.
    pub async fn enqueue(
        &self,
        tenant_id: &TenantId,
        request: NotificationRequest,
    ) -> Result<Accepted, NotifyError> {
        let prepared = self.prepare(tenant_id, request, Mode::Async)?;
        let Some(queue) = self.ports.queue.clone() else {
            return Err(NotifyError::QueueUnavailable);
        };
        let span = tracing::info_span!(
            "enqueue",
            tenant_id = %prepared.tenant_id,
            kind = prepared.kind.as_str(),
            channel = prepared.channel.as_str(),
            notification_id = tracing::field::Empty,
        );
        self.enqueue_prepared(prepared, queue)
            .instrument(span)
            .await
    }

    /// The record with this id, if it belongs to `tenant_id`.
    pub async fn get(&self, tenant_id: &TenantId, id: &str) -> Result<Notification, AdminError> {
        let parsed = NotificationId::parse(id)?;
        match self.ports.store.get(parsed).await? {
            Some(record) if &record.tenant_id == tenant_id => Ok(record),
            _ => Err(AdminError::NotFound(format!("notification {id}"))),
        }
    }

    /// The tenant's records, newest first. `limit` is capped at 200.
    pub async fn list(
        &self,
        tenant_id: &TenantId,
        mut query: ListQuery,
    ) -> Result<Page<Notification>, AdminError> {
        query.tenant_id = Some(tenant_id.clone());
        query.limit = query.limit.clamp(1, 200);
        Ok(self.ports.store.list(&query).await?)
    }

    fn prepare(
        &self,
        tenant_id: &TenantId,
        request: NotificationRequest,
        mode: Mode,
    ) -> Result<Prepared, NotifyError> {
        let kind = NotificationKind::parse(request.kind.trim())?;
        let asked = request.channel.as_deref().map(Channel::parse).transpose()?;
        let channel = kind.resolve_channel(asked)?;
        let recipient = Recipient::parse(channel, &request.to, self.settings.default_region, "to")?;
        let locale = match request.locale.as_deref() {
            Some(raw) if !raw.trim().is_empty() => Locale::parse(raw)?,
            _ => self.settings.default_locale,
        };
        let key = request
            .idempotency_key
            .as_deref()
            .map(IdempotencyKey::parse)
            .transpose()?;
        if !request.data.is_object() {
            return Err(
                ValidationError::new("data", "must be an object of template variables").into(),
            );
        }
        let send_at = match (mode, request.send_at) {
            (Mode::Sync, Some(_)) => {
                return Err(ValidationError::new(
                    "send_at",
                    "only an async notification can be sent later",
                )
                .into())
            }
            (_, send_at) => send_at,
        };
        let body = self
            .ports
            .templates
            .render(kind, channel, locale, &request.data)?;
        let fingerprint =
            RequestFingerprint::of(kind, &recipient, locale, &request.data, mode, send_at);
        Ok(Prepared {
            tenant_id: tenant_id.clone(),
            kind,
            channel,
            recipient,
            locale,
            key,
            fingerprint,
            withhold_body: kind.is_sensitive() || request.do_not_persist_body,
            send_at,
            body,
            mode,
        })
    }

    async fn send_prepared(&self, prepared: Prepared) -> Result<Accepted, NotifyError> {
        if !self.ports.providers.has(prepared.channel) {
            return Err(NotifyError::NoProvider(prepared.channel));
        }
        let record = match self.admit(&prepared).await? {
            Admission::Replay(accepted) => return Ok(accepted),
            Admission::New(record) => record,
        };
        if let Some(replayed) = self.store_new(&prepared, &record).await? {
            return Ok(replayed);
        }
        tracing::Span::current().record("notification_id", tracing::field::display(record.id));

        let outcome = self.ports.providers.deliver(&record, &prepared.body).await;
        let now = self.ports.clock.now();
        let expected = Expected::of(&record);
        let (update, failure) = match outcome {
            Ok(receipt) => (
                StatusUpdate {
                    status: Status::Sent,
                    attempts: 1,
                    provider: Some(receipt.provider),
                    provider_message_id: Some(receipt.provider_message_id),
                    last_error: None,
                    next_attempt_at: None,
                    sent_at: Some(now),
                    updated_at: now,
                },
                None,
            ),
            Err(error) => (
                StatusUpdate {
                    status: Status::Failed,
                    attempts: 1,
                    provider: Some(error.provider.clone()),
                    provider_message_id: None,
                    last_error: Some(error.to_string()),
                    next_attempt_at: None,
                    sent_at: None,
                    updated_at: now,
                },
                Some(error),
            ),
        };
        let updated = self
            .ports
            .store
            .update_status(record.id, expected, update)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "notification {} changed while it was sent",
                    record.id
                ))
            })?;
        match failure {
            None => {
                tracing::info!(provider = ?updated.provider, "notification sent");
                Ok(Accepted {
                    notification: updated,
                    replayed: false,
                })
            }
            Some(error) => {
                tracing::warn!(error = %error, "notification failed");
                Err(NotifyError::DeliveryFailed {
                    error,
                    notification: Box::new(updated),
                })
            }
        }
    }

    async fn enqueue_prepared(
        &self,
        prepared: Prepared,
        queue: Arc<dyn RetryQueue>,
    ) -> Result<Accepted, NotifyError> {
        let record = match self.admit(&prepared).await? {
            Admission::Replay(accepted) => return Ok(accepted),
            Admission::New(record) => record,
        };
        if record.body_withheld {
            // The whole retry horizon, the wait until `send_at`, and a lease of slack.
            let wait = prepared
                .send_at
                .map(|at| (at - record.occurred_at).to_std().unwrap_or_default())
                .unwrap_or_default();
            let ttl = self.settings.retry.horizon()
                + wait
                + self.settings.lease * 2
                + Duration::from_secs(60);
            if let Err(err) = self
                .ports
                .sensitive
                .put(record.id, &prepared.body, ttl)
                .await
            {
                self.release_key(&prepared).await;
                return Err(err.into());
            }
        }
        if let Some(replayed) = self.store_new(&prepared, &record).await? {
            return Ok(replayed);
        }
        tracing::Span::current().record("notification_id", tracing::field::display(record.id));

        let due = record.next_attempt_at.unwrap_or(record.occurred_at);
        match queue.schedule(record.id, due).await {
            Ok(()) => tracing::info!(due = %due, "notification queued"),
            // The record is stored: the reconciler schedules it once the queue is back.
            Err(err) => tracing::warn!(
                error = %err,
                "notification stored but not scheduled; the reconciler will schedule it"
            ),
        }
        Ok(Accepted {
            notification: record,
            replayed: false,
        })
    }

    /// Idempotency replay, quota, idempotency lock. Returns the new record to store, or the
    /// earlier notification for a repeat.
    async fn admit(&self, prepared: &Prepared) -> Result<Admission, NotifyError> {
        if let Some(key) = &prepared.key {
            if let Some(existing) = self
                .ports
                .store
                .find_by_idempotency_key(&prepared.tenant_id, key)
                .await?
            {
                return replay(existing, &prepared.fingerprint).map(Admission::Replay);
            }
        }

        let now = self.ports.clock.now();
        let checks = self.quota_checks(prepared);
        if !checks.is_empty() {
            if let QuotaDecision::Exceeded { retry_after, key } =
                self.ports.quotas.consume(&checks, now).await?
            {
                let dropped = self.dropped(prepared, now, &key, retry_after).await?;
                return Err(NotifyError::QuotaExceeded {
                    retry_after,
                    notification: Box::new(dropped),
                });
            }
        }

        if let Some(key) = &prepared.key {
            match self
                .ports
                .idempotency
                .try_acquire(
                    &prepared.tenant_id,
                    key,
                    &prepared.fingerprint,
                    self.settings.idempotency_lock_ttl,
                )
                .await?
            {
                IdempotencyClaim::Acquired => {}
                IdempotencyClaim::Held { fingerprint, .. }
                    if fingerprint != prepared.fingerprint =>
                {
                    return Err(NotifyError::IdempotencyConflict)
                }
                IdempotencyClaim::Held {
                    notification_id: Some(id),
                    ..
                } => {
                    return match self.ports.store.get(id).await? {
                        Some(existing) => {
                            replay(existing, &prepared.fingerprint).map(Admission::Replay)
                        }
                        None => Err(NotifyError::IdempotencyInProgress),
                    }
                }
                IdempotencyClaim::Held {
                    notification_id: None,
                    ..
                } => return Err(NotifyError::IdempotencyInProgress),
            }
        }

        Ok(Admission::New(self.new_record(prepared, now)))
    }

    /// Inserts the new record and completes its idempotency key. Returns the earlier
    /// notification when the store's unique key shows the request is a repeat.
    async fn store_new(
        &self,
        prepared: &Prepared,
        record: &Notification,
    ) -> Result<Option<Accepted>, NotifyError> {
        if let Err(err) = self.ports.store.insert(record).await {
            self.release_key(prepared).await;
            if record.body_withheld {
                let _ = self.ports.sensitive.delete(record.id).await;
            }
            return match (err, &prepared.key) {
                // The store's unique key caught a repeat the lock did not (an expired lock).
                (StoreError::Conflict(_), Some(key)) => match self
                    .ports
                    .store
                    .find_by_idempotency_key(&prepared.tenant_id, key)
                    .await?
                {
                    Some(existing) => replay(existing, &prepared.fingerprint).map(Some),
                    None => Err(NotifyError::IdempotencyInProgress),
                },
                (err, _) => Err(err.into()),
            };
        }
        if let Some(key) = &prepared.key {
            if let Err(err) = self
                .ports
                .idempotency
                .complete(
                    &prepared.tenant_id,
                    key,
                    &prepared.fingerprint,
                    record.id,
                    self.settings.idempotency_ttl,
                )
                .await
            {
                // The store's unique key still guards the key.
                tracing::warn!(error = %err, "could not record the idempotency key's result");
            }
        }
        Ok(None)
    }

    async fn release_key(&self, prepared: &Prepared) {
        if let Some(key) = &prepared.key {
            if let Err(err) = self
                .ports
                .idempotency
                .release(&prepared.tenant_id, key, &prepared.fingerprint)
                .await
            {
                tracing::warn!(error = %err, "could not release the idempotency key");
            }
        }
    }

    fn quota_checks(&self, prepared: &Prepared) -> Vec<QuotaCheck> {
        self.settings
            .quotas
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.applies_to(prepared.kind, prepared.channel))
            .map(|(index, rule)| QuotaCheck {
                key: rule.counter_key(index, &prepared.tenant_id, &prepared.recipient),
                limit: rule.limit,
                window: rule.window,
            })
            .collect()
    }

    fn new_record(&self, prepared: &Prepared, now: DateTime<Utc>) -> Notification {
        let id = self.ports.ids.next_id(now);
        Notification {
            id,
            tenant_id: prepared.tenant_id.clone(),
            kind: prepared.kind,
            channel: prepared.channel,
            recipient: prepared.recipient.clone(),
            locale: prepared.locale,
            mode: prepared.mode,
            status: Status::Pending,
            attempts: 0,
            provider: None,
            provider_message_id: None,
            last_error: None,
            idempotency_key: prepared.key.clone(),
            fingerprint: prepared.key.as_ref().map(|_| prepared.fingerprint.clone()),
            body: if prepared.withhold_body {
                None
            } else {
                Some(prepared.body.clone())
            },
            body_withheld: prepared.withhold_body,
            occurred_at: now,
            updated_at: now,
            next_attempt_at: match prepared.mode {
                Mode::Async => Some(prepared.send_at.map_or(now, |at| at.max(now))),
                Mode::Sync => None,
            },
            sent_at: None,
        }
    }

    /// Records a refusal by quota as `dropped`. The record carries no idempotency key, so
    /// the caller may repeat the request once the window has passed.
    async fn dropped(
        &self,
        prepared: &Prepared,
        now: DateTime<Utc>,
        rule_key: &str,
        retry_after: Duration,
    ) -> Result<Notification, NotifyError> {
        let mut record = self.new_record(prepared, now);
        record.idempotency_key = None;
        record.fingerprint = None;
        record.body = None;
        record.status = Status::Dropped;
        record.next_attempt_at = None;
        let rule = rule_key.split(':').next().unwrap_or_default();
        record.last_error = Some(format!(
            "quota exceeded (rule {rule}); retry after {}s",
            crate::error::whole_seconds(retry_after)
        ));
        self.ports.store.insert(&record).await?;
        tracing::info!(notification_id = %record.id, "notification dropped: quota exceeded");
        Ok(record)
    }
}

enum Admission {
    Replay(Accepted),
    New(Notification),
}

fn replay(
    existing: Notification,
    fingerprint: &RequestFingerprint,
) -> Result<Accepted, NotifyError> {
    if existing.fingerprint.as_ref() == Some(fingerprint) {
        Ok(Accepted {
            notification: existing,
            replayed: true,
        })
    } else {
        Err(NotifyError::IdempotencyConflict)
    }
}

#[cfg(test)]
#[path = "notifier_tests.rs"]
mod tests;
