//! Test data: valid notifications, dead letters and the values they are made of.
//!
//! Times are whole milliseconds from a fixed instant ([`t0`]), never the wall clock, so a
//! record read back from a store that keeps milliseconds (MongoDB, Redis scores) compares
//! equal to what was written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    Channel, DeadLetter, EmailAddress, IdempotencyKey, Locale, Mode, Notification, NotificationId,
    NotificationKind, PhoneNumber, Recipient, RenderedMessage, RequestFingerprint, Status,
    TenantId,
};

/// The fixed instant test times count from: 2024-05-01T00:00:00Z, the start of a minute,
/// an hour and a day, so quota windows of those lengths start here.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_521_600, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// `t0` plus `n` seconds.
pub fn secs(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(n)
}

/// `t0` plus `n` milliseconds.
pub fn millis(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::milliseconds(n)
}

pub fn tenant(raw: &str) -> TenantId {
    TenantId::parse(raw).unwrap()
}

pub fn idempotency_key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).unwrap()
}

pub fn fingerprint(raw: &str) -> RequestFingerprint {
    RequestFingerprint::from_stored(raw.to_owned())
}

pub fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

pub fn phone(e164: &str) -> PhoneNumber {
    PhoneNumber::parse_e164(e164).unwrap()
}

/// A fresh id made at `at`. Ids made in one process never repeat, and ids made at the same
/// millisecond increase in the order they are made.
pub fn new_id(at: DateTime<Utc>) -> NotificationId {
    static SEED: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (nanos ^ (u128::from(std::process::id()) << 20)) & ((1 << 48) - 1)
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    NotificationId::from_parts(ms, (seed << 32) | u128::from(count as u32))
}

/// A rendered email body.
pub fn body(text: &str) -> RenderedMessage {
    RenderedMessage {
        subject: Some(format!("Subject of {text}")),
        text: text.to_owned(),
        html: Some(format!("<p>{text}</p>")),
    }
}

/// A valid async `tenant_welcome` email to `someone@example.com` of tenant `acme`, made at
/// [`t0`]: `pending`, no attempts, due at once. Change what a test needs.
pub fn notification() -> NotificationBuilder {
    let at = t0();
    NotificationBuilder {
        record: Notification {
            id: new_id(at),
            tenant_id: tenant("acme"),
            kind: NotificationKind::TenantWelcome,
            channel: Channel::Email,
            recipient: Recipient::Email(email("someone@example.com")),
            locale: Locale::En,
            mode: Mode::Async,
            status: Status::Pending,
            attempts: 0,
            provider: None,
            provider_message_id: None,
            last_error: None,
            idempotency_key: None,
            fingerprint: None,
            body: Some(body("Welcome")),
            body_withheld: false,
            occurred_at: at,
            updated_at: at,
            next_attempt_at: Some(at),
            sent_at: None,
        },
    }
}

/// Builds a [`Notification`]; see [`notification`].
#[derive(Debug, Clone)]
pub struct NotificationBuilder {
    record: Notification,
}

impl NotificationBuilder {
    /// Made at `at`: a fresh id of that time, `occurred_at` and `updated_at` set to it.
    /// `next_attempt_at` moves along when it was set.
    #[must_use]
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.record.id = new_id(at);
        self.record.occurred_at = at;
        self.record.updated_at = at;
        if self.record.next_attempt_at.is_some() {
            self.record.next_attempt_at = Some(at);
        }
        self
    }

    #[must_use]
    pub fn id(mut self, id: NotificationId) -> Self {
        self.record.id = id;
        self
    }

    #[must_use]
    pub fn tenant(mut self, raw: &str) -> Self {
        self.record.tenant_id = tenant(raw);
        self
    }

    /// The kind, on its first channel, with a recipient of that channel.
    #[must_use]
    pub fn kind(mut self, kind: NotificationKind) -> Self {
        self.record.kind = kind;
        let channel = kind.channels().first().copied().unwrap_or(Channel::Email);
        self = self.channel(channel);
        if kind.is_sensitive() {
            self.record.body = None;
            self.record.body_withheld = true;
        }
        self
    }

    /// The channel, with a recipient of that channel.
    #[must_use]
    pub fn channel(mut self, channel: Channel) -> Self {
        self.record.channel = channel;
        self.record.recipient = match channel {
            Channel::Email => Recipient::Email(email("someone@example.com")),
            Channel::Sms => Recipient::Sms(phone("+886912345678")),
        };
        self
    }

    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.record.mode = mode;
        self
    }

    #[must_use]
    pub fn status(mut self, status: Status) -> Self {
        self.record.status = status;
        self
    }

    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.record.attempts = attempts;
        self
    }

    /// Sets the idempotency key and a fingerprint derived from it.
    #[must_use]
    pub fn idempotency_key(mut self, raw: &str) -> Self {
        self.record.idempotency_key = Some(idempotency_key(raw));
        self.record.fingerprint = Some(fingerprint(&format!("fp-{raw}")));
        self
    }

    #[must_use]
    pub fn next_attempt_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.record.next_attempt_at = at;
        self
    }

    #[must_use]
    pub fn provider(mut self, provider: &str, message_id: &str) -> Self {
        self.record.provider = Some(provider.to_owned());
        self.record.provider_message_id = Some(message_id.to_owned());
        self
    }

    #[must_use]
    pub fn last_error(mut self, error: &str) -> Self {
        self.record.last_error = Some(error.to_owned());
        self
    }

    #[must_use]
    pub fn sent_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.record.sent_at = at;
        self
    }

    pub fn build(self) -> Notification {
        self.record
    }
}

/// A dead letter of a `failed` notification of `tenant` and `kind`, failed at `failed_at`.
pub fn dead_letter(tenant: &str, kind: NotificationKind, failed_at: DateTime<Utc>) -> DeadLetter {
    let record = notification()
        .at(failed_at - TimeDelta::minutes(30))
        .tenant(tenant)
        .kind(kind)
        .status(Status::Failed)
        .attempts(6)
        .last_error("mock: mailbox unavailable")
        .next_attempt_at(None)
        .build();
    DeadLetter::of(&record, failed_at)
}
