//! The mock as an [`SmsSender`].

use application::ports::{Receipt, SendError, SmsMessage, SmsSender};
use async_trait::async_trait;

use super::{outcome_fields, MockSmsSender};

#[async_trait]
impl SmsSender for MockSmsSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> i32 {
        self.priority
    }

    async fn send(&self, message: &SmsMessage) -> Result<Receipt, SendError> {
        let result = self.attempt(message);
        log(&self.name, message, &result);
        result
    }
}

/// Logs what would have been sent: the masked number, and for a message that is not
/// sensitive the body size. Never a body.
fn log(provider: &str, message: &SmsMessage, result: &Result<Receipt, SendError>) {
    let (outcome, provider_message_id, error) = outcome_fields(result);
    let to = message.to.masked();
    if message.sensitive || message.kind.is_sensitive() {
        tracing::info!(
            provider,
            notification_id = %message.notification_id,
            kind = %message.kind,
            to = %to,
            sensitive = true,
            outcome,
            provider_message_id,
            error,
            "[notification mock sms]"
        );
    } else {
        tracing::info!(
            provider,
            notification_id = %message.notification_id,
            kind = %message.kind,
            to = %to,
            text_len = message.text.len(),
            outcome,
            provider_message_id,
            error,
            "[notification mock sms]"
        );
    }
}
