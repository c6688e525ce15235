//! The errors of the use cases. Each variant is a business outcome a caller can act on;
//! `Unexpected` carries a storage failure.

use std::time::Duration;

use domain::{Channel, Notification, ValidationError};

use crate::ports::{RenderError, SendError, StoreError};

/// Why `send` or `enqueue` did not accept or deliver a notification.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A request field is invalid; `field` names it.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The template could not be rendered with the given data.
    #[error("{0}")]
    Render(RenderError),
    /// A quota is used up. The refusal was recorded as a `dropped` notification.
    #[error("quota exceeded; retry after {}s", whole_seconds(*retry_after))]
    QuotaExceeded {
        retry_after: Duration,
        notification: Box<Notification>,
    },
    /// The idempotency key was used before with a different request.
    #[error("idempotency_key: already used with a different request")]
    IdempotencyConflict,
    /// A request with the same idempotency key is still being processed.
    #[error("idempotency_key: a request with this key is still in progress; retry shortly")]
    IdempotencyInProgress,
    /// Every provider of the channel failed (sync send). The record says `failed`.
    #[error("delivery failed: {error}")]
    DeliveryFailed {
        error: SendError,
        notification: Box<Notification>,
    },
    /// No provider is configured for the channel.
    #[error("no {0} provider is enabled")]
    NoProvider(Channel),
    /// Async mode asked for, but no retry queue is available.
    #[error("async notification requires redis retry queue")]
    QueueUnavailable,
    /// A storage backend failed.
    #[error("storage failure: {0}")]
    Unexpected(#[from] StoreError),
}

impl NotifyError {
    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            NotifyError::Invalid(err) => Some(err.field.clone()),
            NotifyError::Render(RenderError::MissingVariable { variable, .. }) => {
                Some(format!("data.{variable}"))
            }
            NotifyError::Render(RenderError::Invalid { field, .. }) => Some(field.clone()),
            NotifyError::IdempotencyConflict | NotifyError::IdempotencyInProgress => {
                Some("idempotency_key".to_owned())
            }
            NotifyError::Render(_)
            | NotifyError::QuotaExceeded { .. }
            | NotifyError::DeliveryFailed { .. }
            | NotifyError::NoProvider(_)
            | NotifyError::QueueUnavailable
            | NotifyError::Unexpected(_) => None,
        }
    }
}

impl From<RenderError> for NotifyError {
    fn from(err: RenderError) -> Self {
        NotifyError::Render(err)
    }
}

/// Why a read or an admin action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Nothing with this id is visible to the caller; the message says what was looked for.
    #[error("{0} not found")]
    NotFound(String),
    /// The dead letter belongs to a sensitive notification whose body is gone.
    #[error("{0}")]
    NotReplayable(String),
    /// The record is not in the state the action needs (someone else changed it).
    #[error("{0}")]
    StateChanged(String),
    #[error("async notification requires redis retry queue")]
    QueueUnavailable,
    #[error("storage failure: {0}")]
    Unexpected(#[from] StoreError),
}

/// A wait in whole seconds, rounded up, at least 1: what a caller is told to wait.
pub fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}
