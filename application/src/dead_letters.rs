//! Dead-letter administration: list, replay one, replay all matching.

use domain::{NotificationId, Status, TenantId};

use crate::error::AdminError;
use crate::notifier::Ports;
use crate::ports::{DeadLetterQuery, Expected, StatusUpdate};

/// The result of a bulk replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<NotificationId>,
    /// Sensitive letters, which cannot be replayed.
    pub not_replayable: Vec<NotificationId>,
    pub failed: Vec<(NotificationId, String)>,
}

#[derive(Clone)]
pub struct DeadLetterAdmin {
    ports: Ports,
}

/// Why a sensitive dead letter cannot be replayed.
pub const NOT_REPLAYABLE: &str = "this notification is sensitive: its body was never stored and \
     has been deleted, so it cannot be sent again; send a new notification instead";

impl DeadLetterAdmin {
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Letters matching the query, newest first. `limit` is capped at 500.
    pub async fn list(
        &self,
        mut query: DeadLetterQuery,
    ) -> Result<Vec<domain::DeadLetter>, AdminError> {
        query.limit = query.limit.clamp(1, 500);
        Ok(self.ports.dead_letters.list(&query).await?)
    }

    /// Resets the notification to `pending` with no attempts, schedules it now and removes
    /// its letter. With `tenant_id`, a letter of another tenant is `NotFound`.
    pub async fn replay(
        &self,
        tenant_id: Option<&TenantId>,
        id: &str,
    ) -> Result<domain::Notification, AdminError> {
        let parsed = NotificationId::parse(id)?;
        let Some(queue) = self.ports.queue.clone() else {
            return Err(AdminError::QueueUnavailable);
        };
        let letter = match self.ports.dead_letters.get(parsed).await? {
            Some(letter) if tenant_id.is_none_or(|t| *t == letter.tenant_id) => letter,
            _ => return Err(AdminError::NotFound(format!("dead letter {id}"))),
        };
        if letter.sensitive {
            return Err(AdminError::NotReplayable(NOT_REPLAYABLE.to_owned()));
        }
        let Some(record) = self.ports.store.get(parsed).await? else {
            return Err(AdminError::NotFound(format!("notification {id}")));
        };
        if record.body_withheld {
            return Err(AdminError::NotReplayable(NOT_REPLAYABLE.to_owned()));
        }
        if record.status != Status::Failed {
            return Err(AdminError::StateChanged(format!(
                "notification {id} is {}, not failed; only a failed notification can be replayed",
                record.status
            )));
        }
        let now = self.ports.clock.now();
        let update = StatusUpdate {
            status: Status::Failed
                .transition(Status::Pending)
                .map_err(|e| AdminError::StateChanged(e.to_string()))?,
            attempts: 0,
            provider: None,
            provider_message_id: None,
            last_error: record.last_error.clone(),
            next_attempt_at: Some(now),
            sent_at: None,
            updated_at: now,
        };
        let Some(updated) = self
            .ports
            .store
            .update_status(parsed, Expected::of(&record), update)
            .await?
        else {
            return Err(AdminError::StateChanged(format!(
                "notification {id} changed while it was replayed"
            )));
        };
        // The record is pending from here on: a failure below leaves it to the reconciler,
        // which schedules overdue pending records, so the replay still stands.
        if let Err(err) = self.ports.dead_letters.remove(parsed).await {
            tracing::warn!(notification_id = %parsed, error = %err, "replayed, but the dead letter could not be removed");
        }
        if let Err(err) = queue.schedule(parsed, now).await {
            tracing::warn!(notification_id = %parsed, error = %err, "replayed, but not scheduled; the reconciler will schedule it");
        }
        tracing::info!(notification_id = %parsed, "dead letter replayed");
        Ok(updated)
    }

    /// Replays every letter matching the query (up to its limit, capped at 500).
    pub async fn replay_all(&self, query: DeadLetterQuery) -> Result<ReplayReport, AdminError> {
        if self.ports.queue.is_none() {
            return Err(AdminError::QueueUnavailable);
        }
        let tenant = query.tenant_id.clone();
        let letters = self.list(query).await?;
        let mut report = ReplayReport::default();
        for letter in letters {
            let id = letter.notification_id;
            match self.replay(tenant.as_ref(), &id.to_string()).await {
                Ok(_) => report.replayed.push(id),
                Err(AdminError::NotReplayable(_)) => report.not_replayable.push(id),
                Err(err) => report.failed.push((id, err.to_string())),
            }
        }
        Ok(report)
    }
}
