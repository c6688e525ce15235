//! The mock as an [`EmailSender`].

use application::ports::{EmailMessage, EmailSender, Receipt, SendError};
use async_trait::async_trait;

use super::{outcome_fields, MockEmailSender};

#[async_trait]
impl EmailSender for MockEmailSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> i32 {
        self.priority
    }

    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError> {
        let result = self.attempt(message);
        log(&self.name, message, &result);
        result
    }
}

/// Logs what would have been sent: the masked recipient, and for a message that is not
/// sensitive the subject and the body sizes. Never a body.
fn log(provider: &str, message: &EmailMessage, result: &Result<Receipt, SendError>) {
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
            "[notification mock email]"
        );
    } else {
        tracing::info!(
            provider,
            notification_id = %message.notification_id,
            kind = %message.kind,
            to = %to,
            subject = %message.subject,
            text_len = message.text.len(),
            html_len = message.html.as_ref().map_or(0, String::len),
            outcome,
            provider_message_id,
            error,
            "[notification mock email]"
        );
    }
}
