//! The `ses` email provider (design §7): Amazon SES v2 `SendEmail` with simple content
//! (UTF-8 subject, text and HTML parts), an optional configuration set and message tags.
//!
//! Errors, classified once (style.md point 6), first by error code, then by HTTP status:
//!
//! | code / status                                                          | kind      |
//! |------------------------------------------------------------------------|-----------|
//! | timeout, connection failure                                            | Retryable |
//! | `TooManyRequestsException`, `Throttling`, `ThrottlingException`, `LimitExceededException`, "Maximum sending rate exceeded" | Retryable |
//! | `SendingPausedException`, `AccountSuspendedException` (the account, not the message: let the next provider try) | Retryable |
//! | `InternalFailure`, `ServiceUnavailable`, any 5xx, 429                  | Retryable |
//! | `MessageRejected`, `MailFromDomainNotVerifiedException`, `BadRequestException`, `NotFoundException`, `ValidationError`, `InvalidParameterValue` | Permanent |
//! | `AccessDeniedException`, `InvalidClientTokenId`, `UnrecognizedClientException`, `SignatureDoesNotMatch`, `IncompleteSignature`, `MissingAuthenticationToken`, 401, 403 | Permanent |
//! | any other 4xx; a request that could not be built                      | Permanent |
//! | anything else                                                          | Retryable |

#[cfg(test)]
mod tests;

use std::sync::Arc;

use application::ports::{EmailMessage, EmailSender, Receipt, SendError};
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;

use crate::aws::{failure_of, sdk_config, AwsFailure, AwsSettings, ErrorTable};

/// The provider name stored with the records it delivers.
pub const NAME: &str = "ses";

/// Settings of [`SesEmailSender`].
#[derive(Debug, Clone, Default)]
pub struct SesSettings {
    pub aws: AwsSettings,
    /// The sender address.
    pub from: String,
    /// The sender display name; empty for none.
    pub from_name: String,
    pub configuration_set: Option<String>,
    /// Message tags `(name, value)` added to every message.
    pub tags: Vec<(String, String)>,
    pub priority: i32,
}

/// The SES v2 [`EmailSender`].
#[derive(Debug)]
pub struct SesEmailSender {
    client: Client,
    from_header: String,
    settings: SesSettings,
}

impl SesEmailSender {
    /// Builds the client from `settings.aws` (region, endpoint, credentials).
    pub async fn connect(settings: SesSettings) -> Self {
        let config = sdk_config(&settings.aws).await;
        Self::with_client(Client::new(&config), settings)
    }

    pub fn with_client(client: Client, settings: SesSettings) -> Self {
        let from_header = from_header(&settings.from, &settings.from_name);
        Self {
            client,
            from_header,
            settings,
        }
    }
}

/// Wraps the sender for the chain.
pub async fn sender(settings: SesSettings) -> Arc<dyn EmailSender> {
    Arc::new(SesEmailSender::connect(settings).await)
}

/// `Name <address>`, the name as an RFC 2047 word when it is not plain ASCII.
pub fn from_header(from: &str, name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return from.trim().to_owned();
    }
    if name.is_ascii() && !name.contains(['"', '\\', '<', '>', ',', ';', ':', '@']) {
        format!("{name} <{}>", from.trim())
    } else {
        format!("=?UTF-8?B?{}?= <{}>", base64(name.as_bytes()), from.trim())
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn utf8(data: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| classify(&AwsFailure::Construction(e.to_string())))
}

#[async_trait]
impl EmailSender for SesEmailSender {
    fn name(&self) -> &str {
        NAME
    }

    fn priority(&self) -> i32 {
        self.settings.priority
    }

    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError> {
        let mut body = Body::builder().text(utf8(&message.text)?);
        if let Some(html) = &message.html {
            body = body.html(utf8(html)?);
        }
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(utf8(&message.subject)?)
                    .body(body.build())
                    .build(),
            )
            .build();
        let mut tags = Vec::with_capacity(self.settings.tags.len());
        for (name, value) in &self.settings.tags {
            tags.push(
                MessageTag::builder()
                    .name(name)
                    .value(value)
                    .build()
                    .map_err(|e| classify(&AwsFailure::Construction(e.to_string())))?,
            );
        }
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from_header)
            .destination(
                Destination::builder()
                    .to_addresses(message.to.as_str())
                    .build(),
            )
            .content(content)
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .set_email_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|err| classify(&failure_of!(&err, aws_sdk_sesv2)))?;
        let id = output.message_id().unwrap_or_default().to_owned();
        tracing::info!(
            provider = NAME,
            notification_id = %message.notification_id,
            to = %message.to.masked(),
            provider_message_id = %id,
            "email accepted by SES"
        );
        Ok(Receipt {
            provider: NAME.to_owned(),
            provider_message_id: id,
        })
    }
}

/// The table in the module notes.
const ERRORS: ErrorTable = ErrorTable {
    service: "SES",
    retryable: &[
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "SendingPausedException",
        "AccountSuspendedException",
        "InternalFailure",
        "ServiceUnavailable",
    ],
    permanent: &[
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "NotFoundException",
        "ValidationError",
        "InvalidParameterValue",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    ],
    retryable_messages: &["Maximum sending rate exceeded"],
};

/// Classifies an SES failure by the table in the module notes.
pub fn classify(failure: &AwsFailure) -> SendError {
    failure.classify(NAME, &ERRORS)
}
