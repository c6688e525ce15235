//! The provider chain: the senders of a channel, tried in priority order. A retryable
//! error moves to the next sender; a permanent one stops the chain.

use std::sync::Arc;
use std::time::Duration;

use domain::{Channel, Notification, Recipient, RenderedMessage};

use crate::ports::{EmailMessage, EmailSender, Receipt, SendError, SmsMessage, SmsSender};

/// The senders of every channel, each list sorted by priority (lowest first).
#[derive(Clone, Default)]
pub struct ProviderChain {
    email: Vec<Arc<dyn EmailSender>>,
    sms: Vec<Arc<dyn SmsSender>>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for ProviderChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderChain")
            .field(
                "email",
                &self.email.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field(
                "sms",
                &self.sms.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ProviderChain {
    pub fn new(mut email: Vec<Arc<dyn EmailSender>>, mut sms: Vec<Arc<dyn SmsSender>>) -> Self {
        // Stable sort: equal priorities keep the order they were configured in.
        email.sort_by_key(|s| s.priority());
        sms.sort_by_key(|s| s.priority());
        Self {
            email,
            sms,
            timeout: None,
        }
    }

    /// Bounds each provider call; a call that takes longer counts as a retryable error.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The provider names of a channel, in the order they are tried.
    pub fn names(&self, channel: Channel) -> Vec<String> {
        match channel {
            Channel::Email => self.email.iter().map(|s| s.name().to_owned()).collect(),
            Channel::Sms => self.sms.iter().map(|s| s.name().to_owned()).collect(),
        }
    }

    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => !self.email.is_empty(),
            Channel::Sms => !self.sms.is_empty(),
        }
    }

    /// Sends through the chain of the record's channel. Returns the first receipt, or the
    /// error that ended the chain: the first permanent one, or the last retryable one.
    pub async fn deliver(
        &self,
        record: &Notification,
        body: &RenderedMessage,
    ) -> Result<Receipt, SendError> {
        let sensitive = record.body_withheld || record.kind.is_sensitive();
        match &record.recipient {
            Recipient::Email(to) => {
                let message = EmailMessage {
                    notification_id: record.id,
                    kind: record.kind,
                    to: to.clone(),
                    subject: body.subject.clone().unwrap_or_default(),
                    text: body.text.clone(),
                    html: body.html.clone(),
                    sensitive,
                };
                let mut last = None;
                for sender in &self.email {
                    match self.bounded(sender.name(), sender.send(&message)).await {
                        Ok(receipt) => return Ok(receipt),
                        Err(err) => last = Some(give_up_on(record, Channel::Email, err)?),
                    }
                }
                Err(last.unwrap_or_else(|| no_provider(Channel::Email)))
            }
            Recipient::Sms(to) => {
                let message = SmsMessage {
                    notification_id: record.id,
                    kind: record.kind,
                    to: to.clone(),
                    text: body.text.clone(),
                    sensitive,
                };
                let mut last = None;
                for sender in &self.sms {
                    match self.bounded(sender.name(), sender.send(&message)).await {
                        Ok(receipt) => return Ok(receipt),
                        Err(err) => last = Some(give_up_on(record, Channel::Sms, err)?),
                    }
                }
                Err(last.unwrap_or_else(|| no_provider(Channel::Sms)))
            }
        }
    }

    async fn bounded(
        &self,
        provider: &str,
        send: impl std::future::Future<Output = Result<Receipt, SendError>>,
    ) -> Result<Receipt, SendError> {
        match self.timeout {
            None => send.await,
            Some(limit) => tokio::time::timeout(limit, send).await.unwrap_or_else(|_| {
                Err(SendError::retryable(
                    provider,
                    format!("timed out after {} ms", limit.as_millis()),
                ))
            }),
        }
    }
}

/// Logs a provider's failure. A permanent error ends the chain (`Err`); a retryable one is
/// handed back (`Ok`) to be reported if no later provider succeeds.
fn give_up_on(
    record: &Notification,
    channel: Channel,
    err: SendError,
) -> Result<SendError, SendError> {
    tracing::warn!(
        notification_id = %record.id,
        provider = %err.provider,
        channel = channel.as_str(),
        retryable = err.is_retryable(),
        error = %err.message,
        "provider failed"
    );
    if err.is_retryable() {
        Ok(err)
    } else {
        Err(err)
    }
}

fn no_provider(channel: Channel) -> SendError {
    SendError::permanent("none", format!("no {channel} provider is enabled"))
}
