//! What callers send and get back: the request of `send`/`enqueue`, and the view of a
//! notification (the record without its body).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use domain::{DeadLetter, Notification};

/// A request to notify one recipient.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    /// `tenant_welcome`, `otp`, `password_reset`, `member_invite`.
    pub kind: String,
    /// `email` or `sms`; may be left out when the kind has one channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// An email address, or a phone number (E.164, or national in the default region).
    pub to: String,
    /// `zh-TW` (default) or `en`.
    #[serde(default)]
    pub locale: Option<String>,
    /// The template's variables.
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Keep the rendered body out of the store even for a kind that is not sensitive.
    #[serde(default)]
    pub do_not_persist_body: bool,
    /// Async only: the first attempt is not made before this time.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A notification as callers see it: everything but the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub channel: String,
    pub to: String,
    pub locale: String,
    pub mode: String,
    pub status: String,
    pub attempts: u32,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub body_withheld: bool,
    pub occurred_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.to_string(),
            tenant_id: n.tenant_id.to_string(),
            kind: n.kind.as_str().to_owned(),
            channel: n.channel.as_str().to_owned(),
            to: n.recipient.as_str().to_owned(),
            locale: n.locale.as_str().to_owned(),
            mode: n.mode.as_str().to_owned(),
            status: n.status.as_str().to_owned(),
            attempts: n.attempts,
            provider: n.provider.clone(),
            provider_message_id: n.provider_message_id.clone(),
            last_error: n.last_error.clone(),
            idempotency_key: n.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            body_withheld: n.body_withheld,
            occurred_at: n.occurred_at,
            updated_at: n.updated_at,
            next_attempt_at: n.next_attempt_at,
            sent_at: n.sent_at,
        }
    }
}

/// A dead letter as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterView {
    pub notification_id: String,
    pub tenant_id: String,
    pub kind: String,
    pub channel: String,
    pub to: String,
    pub attempts: u32,
    pub last_error: String,
    pub replayable: bool,
    pub failed_at: DateTime<Utc>,
}

impl From<&DeadLetter> for DeadLetterView {
    fn from(d: &DeadLetter) -> Self {
        Self {
            notification_id: d.notification_id.to_string(),
            tenant_id: d.tenant_id.to_string(),
            kind: d.kind.as_str().to_owned(),
            channel: d.channel.as_str().to_owned(),
            to: d.recipient_masked.clone(),
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            replayable: !d.sensitive,
            failed_at: d.failed_at,
        }
    }
}
