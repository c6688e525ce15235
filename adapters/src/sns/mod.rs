//! The `sns` SMS provider (design §7): Amazon SNS `Publish` straight to an E.164 phone
//! number, with `AWS.SNS.SMS.SMSType` = `Transactional` and an optional
//! `AWS.SNS.SMS.SenderID`.
//!
//! Errors, classified once (style.md point 6), first by error code, then by HTTP status:
//!
//! | code / status                                                              | kind      |
//! |----------------------------------------------------------------------------|-----------|
//! | timeout, connection failure                                                | Retryable |
//! | `Throttled`, `ThrottledException`, `Throttling`, `KMSThrottling`           | Retryable |
//! | `InternalError`, `InternalFailure`, `ServiceUnavailable`, any 5xx, 429     | Retryable |
//! | `InvalidParameter`, `InvalidParameterValue`, `ParameterValueInvalid`, `ValidationError`, `EndpointDisabled`, `NotFound` | Permanent |
//! | `AuthorizationError`, `AccessDenied`, `InvalidClientTokenId`, `SignatureDoesNotMatch`, `IncompleteSignature`, 401, 403 | Permanent |
//! | any other 4xx; a request that could not be built                          | Permanent |
//! | anything else                                                              | Retryable |

use std::sync::Arc;

use application::ports::{Receipt, SendError, SmsMessage, SmsSender};
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use crate::aws::{failure_of, sdk_config, AwsFailure, AwsSettings, ErrorTable};

/// The provider name stored with the records it delivers.
pub const NAME: &str = "sns";

/// Settings of [`SnsSmsSender`].
#[derive(Debug, Clone, Default)]
pub struct SnsSettings {
    pub aws: AwsSettings,
    /// `AWS.SNS.SMS.SenderID`; `None`: not sent.
    pub sender_id: Option<String>,
    pub priority: i32,
}

/// The SNS [`SmsSender`].
#[derive(Debug)]
pub struct SnsSmsSender {
    client: Client,
    settings: SnsSettings,
}

impl SnsSmsSender {
    /// Builds the client from `settings.aws` (region, endpoint, credentials).
    pub async fn connect(settings: SnsSettings) -> Self {
        let config = sdk_config(&settings.aws).await;
        Self::with_client(Client::new(&config), settings)
    }

    pub fn with_client(client: Client, settings: SnsSettings) -> Self {
        Self { client, settings }
    }
}

/// Wraps the sender for the chain.
pub async fn sender(settings: SnsSettings) -> Arc<dyn SmsSender> {
    Arc::new(SnsSmsSender::connect(settings).await)
}

fn attribute(value: &str) -> Result<MessageAttributeValue, SendError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| classify(&AwsFailure::Construction(e.to_string())))
}

#[async_trait]
impl SmsSender for SnsSmsSender {
    fn name(&self) -> &str {
        NAME
    }

    fn priority(&self) -> i32 {
        self.settings.priority
    }

    async fn send(&self, message: &SmsMessage) -> Result<Receipt, SendError> {
        let mut request = self
            .client
            .publish()
            .phone_number(message.to.as_str())
            .message(&message.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional")?);
        if let Some(sender_id) = self.settings.sender_id.as_deref().filter(|s| !s.is_empty()) {
            request = request.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender_id)?);
        }
        let output = request
            .send()
            .await
            .map_err(|err| classify(&failure_of!(&err, aws_sdk_sns)))?;
        let id = output.message_id().unwrap_or_default().to_owned();
        tracing::info!(
            provider = NAME,
            notification_id = %message.notification_id,
            to = %message.to.masked(),
            provider_message_id = %id,
            "sms accepted by SNS"
        );
        Ok(Receipt {
            provider: NAME.to_owned(),
            provider_message_id: id,
        })
    }
}

/// The table in the module notes.
const ERRORS: ErrorTable = ErrorTable {
    service: "SNS",
    retryable: &[
        "Throttled",
        "ThrottledException",
        "Throttling",
        "KMSThrottling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    ],
    permanent: &[
        "InvalidParameter",
        "InvalidParameterValue",
        "ParameterValueInvalid",
        "ValidationError",
        "EndpointDisabled",
        "NotFound",
        "AuthorizationError",
        "AccessDenied",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    ],
    retryable_messages: &[],
};

/// Classifies an SNS failure by the table in the module notes.
pub fn classify(failure: &AwsFailure) -> SendError {
    failure.classify(NAME, &ERRORS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use application::ports::SendErrorKind::{Permanent, Retryable};

    use super::*;

    fn service(code: Option<&str>, status: u16) -> application::ports::SendErrorKind {
        classify(&AwsFailure::Service {
            code: code.map(str::to_owned),
            status: Some(status),
            message: "m".into(),
        })
        .kind
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_retryable() {
        assert_eq!(service(Some("Throttled"), 400), Retryable);
        assert_eq!(service(Some("ThrottledException"), 429), Retryable);
        assert_eq!(service(Some("InternalError"), 500), Retryable);
        assert_eq!(service(None, 502), Retryable);
        assert_eq!(service(None, 429), Retryable);
        assert_eq!(classify(&AwsFailure::Timeout).kind, Retryable);
        assert_eq!(
            classify(&AwsFailure::Dispatch("reset".into())).kind,
            Retryable
        );
    }

    #[test]
    fn invalid_parameters_and_auth_refusals_are_permanent() {
        assert_eq!(service(Some("InvalidParameter"), 400), Permanent);
        assert_eq!(service(Some("InvalidParameterValue"), 400), Permanent);
        assert_eq!(service(Some("AuthorizationError"), 403), Permanent);
        assert_eq!(service(Some("InvalidClientTokenId"), 403), Permanent);
        assert_eq!(service(None, 400), Permanent);
        assert_eq!(
            classify(&AwsFailure::Construction("x".into())).kind,
            Permanent
        );
    }
}
