//! The `twilio` SMS provider (design §7): Twilio's Messages REST API
//! (`POST {BaseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP basic
//! auth with the account SID and the auth token) over reqwest with rustls.
//!
//! Errors, classified once (style.md point 6). Twilio answers errors with
//! `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`:
//!
//! | failure                                                              | kind      |
//! |----------------------------------------------------------------------|-----------|
//! | timeout, connection failure                                          | Retryable |
//! | HTTP 429, code 20429 (too many requests), 14107 (rate limit), 30001 (queue overflow) | Retryable |
//! | any 5xx                                                              | Retryable |
//! | HTTP 401/403, code 20003 (authentication failed), 20005 (account not active) | Permanent |
//! | code 21211 (invalid To), 21614 (not a mobile number), 21610 (recipient unsubscribed), 21408 (region not enabled), 21606/21659 (From not usable) | Permanent |
//! | any other 4xx                                                        | Permanent |
//! | any other answer                                                     | Retryable |

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use application::ports::{Receipt, SendError, SmsMessage, SmsSender};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The provider name stored with the records it delivers.
pub const NAME: &str = "twilio";

/// Twilio's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Settings of [`TwilioSmsSender`].
#[derive(Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number (E.164); used when `messaging_service_sid` is `None`.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// Twilio posts delivery status changes here.
    pub status_callback: Option<String>,
    /// `https://api.twilio.com`; a local server in tests.
    pub base_url: String,
    /// Bounds one request.
    pub timeout: Duration,
    pub priority: i32,
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"********")
            .field("from", &self.from)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("status_callback", &self.status_callback)
            .field("base_url", &self.base_url)
            .field("priority", &self.priority)
            .finish()
    }
}

/// What went wrong, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioFailure {
    Timeout,
    Connect(String),
    /// Twilio answered with an error status; `code` and `message` from its error JSON.
    Http {
        status: u16,
        code: Option<u32>,
        message: String,
    },
}

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Created {
    sid: String,
}

/// The Twilio [`SmsSender`].
#[derive(Debug)]
pub struct TwilioSmsSender {
    http: reqwest::Client,
    url: String,
    settings: TwilioSettings,
}

/// Why a [`TwilioSmsSender`] could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TwilioSetupError(String);

impl TwilioSmsSender {
    pub fn new(settings: TwilioSettings) -> Result<Self, TwilioSetupError> {
        if settings.account_sid.trim().is_empty() {
            return Err(TwilioSetupError("the account SID must be set".into()));
        }
        if settings.from.is_none() && settings.messaging_service_sid.is_none() {
            return Err(TwilioSetupError(
                "a From number or a messaging service SID must be set".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| TwilioSetupError(format!("HTTP client: {e}")))?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            settings.base_url.trim_end_matches('/'),
            settings.account_sid.trim()
        );
        Ok(Self {
            http,
            url,
            settings,
        })
    }
}

/// Wraps the sender for the chain.
pub fn sender(settings: TwilioSettings) -> Result<Arc<dyn SmsSender>, TwilioSetupError> {
    Ok(Arc::new(TwilioSmsSender::new(settings)?))
}

#[async_trait]
impl SmsSender for TwilioSmsSender {
    fn name(&self) -> &str {
        NAME
    }

    fn priority(&self) -> i32 {
        self.settings.priority
    }

    async fn send(&self, message: &SmsMessage) -> Result<Receipt, SendError> {
        let s = &self.settings;
        let mut form: Vec<(&str, &str)> =
            vec![("To", message.to.as_str()), ("Body", message.text.as_str())];
        match (&s.messaging_service_sid, &s.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => {}
        }
        if let Some(callback) = &s.status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&s.account_sid, Some(s.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| classify(&failure_of(&e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify(&failure_of(&e)))?;
        if !status.is_success() {
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            return Err(classify(&TwilioFailure::Http {
                status: status.as_u16(),
                code: body.as_ref().and_then(|b| b.code),
                message: body
                    .and_then(|b| b.message)
                    .unwrap_or_else(|| status.to_string()),
            }));
        }
        let sid = match serde_json::from_slice::<Created>(&bytes) {
            Ok(created) => created.sid,
            Err(err) => {
                // Accepted: sending again would deliver twice.
                tracing::warn!(provider = NAME, error = %err, "Twilio accepted the message but its answer had no sid");
                String::new()
            }
        };
        tracing::info!(
            provider = NAME,
            notification_id = %message.notification_id,
            to = %message.to.masked(),
            provider_message_id = %sid,
            "sms accepted by Twilio"
        );
        Ok(Receipt {
            provider: NAME.to_owned(),
            provider_message_id: sid,
        })
    }
}

fn failure_of(err: &reqwest::Error) -> TwilioFailure {
    if err.is_timeout() {
        return TwilioFailure::Timeout;
    }
    // Without the URL: it holds the account SID.
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<twilio>");
    }
    TwilioFailure::Connect(text)
}

/// The table in the module notes.
pub fn classify(failure: &TwilioFailure) -> SendError {
    match failure {
        TwilioFailure::Timeout => SendError::retryable(NAME, "timed out calling Twilio"),
        TwilioFailure::Connect(e) => {
            SendError::retryable(NAME, format!("cannot reach Twilio: {e}"))
        }
        TwilioFailure::Http {
            status,
            code,
            message,
        } => {
            let text = match code {
                Some(code) => format!("HTTP {status}, error {code}: {message}"),
                None => format!("HTTP {status}: {message}"),
            };
            match (status, code) {
                (_, Some(20429 | 14107 | 30001)) | (429, _) | (500..=599, _) => {
                    SendError::retryable(NAME, text)
                }
                (401 | 403, _) | (_, Some(20003 | 20005)) => {
                    SendError::permanent(NAME, format!("authentication refused: {text}"))
                }
                (400..=499, _) => SendError::permanent(NAME, text),
                _ => SendError::retryable(NAME, text),
            }
        }
    }
}
