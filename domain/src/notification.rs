//! The notification record, its rendered content, and dead letters.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    Channel, IdempotencyKey, Locale, NotificationId, NotificationKind, Recipient, Status, TenantId,
};

/// How the caller asked for delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `send`: delivered in the caller's request.
    Sync,
    /// `enqueue`: delivered by a retry worker.
    Async,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }
}

/// Rendered content, ready for a provider. `Debug` shows sizes only, so a sensitive body
/// cannot reach a log line through `{:?}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMessage {
    /// Email subject; `None` for SMS.
    pub subject: Option<String>,
    /// Plain text body (the SMS text, or the text part of an email).
    pub text: String,
    /// HTML part of an email.
    pub html: Option<String>,
}

impl fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMessage")
            .field("subject_len", &self.subject.as_ref().map(String::len))
            .field("text_len", &self.text.len())
            .field("html_len", &self.html.as_ref().map(String::len))
            .finish()
    }
}

/// A digest of what was asked: same key + same fingerprint = a repeat; same key + another
/// fingerprint = a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestFingerprint(String);

impl RequestFingerprint {
    pub fn of(
        kind: NotificationKind,
        recipient: &Recipient,
        locale: Locale,
        data: &serde_json::Value,
        mode: Mode,
        send_at: Option<DateTime<Utc>>,
    ) -> Self {
        let mut hasher = Sha256::new();
        for part in [
            kind.as_str(),
            recipient.channel().as_str(),
            recipient.as_str(),
            locale.as_str(),
            mode.as_str(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        // Keys are hashed in sorted order, whatever order the map keeps (serde_json's
        // `preserve_order` may be switched on by another crate in the build).
        hash_canonical(&mut hasher, data);
        hasher.update([0u8]);
        if let Some(at) = send_at {
            hasher.update(at.timestamp_millis().to_be_bytes());
        }
        let digest = hasher.finalize();
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Feeds `value` to the hasher with object keys in sorted order, so equal data gives equal
/// bytes however it was written.
fn hash_canonical(hasher: &mut Sha256, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for key in keys {
                hasher.update(
                    serde_json::Value::String(key.clone())
                        .to_string()
                        .as_bytes(),
                );
                hasher.update(b":");
                if let Some(child) = map.get(key) {
                    hash_canonical(hasher, child);
                }
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        serde_json::Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                hash_canonical(hasher, item);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

/// One notification and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub tenant_id: TenantId,
    pub kind: NotificationKind,
    pub channel: Channel,
    pub recipient: Recipient,
    pub locale: Locale,
    pub mode: Mode,
    pub status: Status,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// The provider that delivered it (or made the last attempt).
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    pub fingerprint: Option<RequestFingerprint>,
    /// The rendered content; always `None` when `body_withheld`.
    pub body: Option<RenderedMessage>,
    /// The body is sensitive and is not kept with the record.
    pub body_withheld: bool,
    pub occurred_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the next attempt is due (async records that are not terminal).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A notification the retry worker gave up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub notification_id: NotificationId,
    pub tenant_id: TenantId,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// Masked: a dead letter is read by operators.
    pub recipient_masked: String,
    pub attempts: u32,
    pub last_error: String,
    /// The body was sensitive and is gone: this letter cannot be replayed.
    pub sensitive: bool,
    pub failed_at: DateTime<Utc>,
}

impl DeadLetter {
    pub fn of(notification: &Notification, failed_at: DateTime<Utc>) -> Self {
        Self {
            notification_id: notification.id,
            tenant_id: notification.tenant_id.clone(),
            kind: notification.kind,
            channel: notification.channel,
            recipient_masked: notification.recipient.masked(),
            attempts: notification.attempts,
            last_error: notification.last_error.clone().unwrap_or_default(),
            sensitive: notification.body_withheld,
            failed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmailAddress;

    fn to(addr: &str) -> Recipient {
        Recipient::Email(EmailAddress::parse(addr).unwrap())
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive_to_every_part() {
        let data =
            serde_json::json!({"b": 1, "a": "x", "n": {"z": [1, {"y": 2, "x": 3}], "c": null}});
        let same: serde_json::Value = serde_json::from_str(
            r#"{"a": "x", "n": {"c": null, "z": [1, {"x": 3, "y": 2}]}, "b": 1}"#,
        )
        .unwrap();
        let base = RequestFingerprint::of(
            NotificationKind::TenantWelcome,
            &to("a@example.com"),
            Locale::En,
            &data,
            Mode::Sync,
            None,
        );
        assert_eq!(
            base,
            RequestFingerprint::of(
                NotificationKind::TenantWelcome,
                &to("a@example.com"),
                Locale::En,
                &same,
                Mode::Sync,
                None
            )
        );
        assert_ne!(
            base,
            RequestFingerprint::of(
                NotificationKind::TenantWelcome,
                &to("b@example.com"),
                Locale::En,
                &data,
                Mode::Sync,
                None
            )
        );
        assert_ne!(
            base,
            RequestFingerprint::of(
                NotificationKind::TenantWelcome,
                &to("a@example.com"),
                Locale::ZhTw,
                &data,
                Mode::Sync,
                None
            )
        );
    }

    #[test]
    fn rendered_debug_hides_content() {
        let body = RenderedMessage {
            subject: Some("Your code".into()),
            text: "123456".into(),
            html: None,
        };
        assert!(!format!("{body:?}").contains("123456"));
    }
}
