//! The ports: what the use cases need from the outside world, and what every
//! implementation MUST do. The contract suites in `tests/` check these sentences against
//! every implementation (in-memory, Redis, MongoDB).
//!
//! Ports are `#[async_trait]` traits held as `Arc<dyn Port>`, because configuration picks
//! the adapters at run time. Rendering, the clock and the id generator do no I/O and are
//! plain traits.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Channel, DeadLetter, EmailAddress, IdempotencyKey, Locale, Notification, NotificationId,
    NotificationKind, PhoneNumber, RenderedMessage, RequestFingerprint, Status, TenantId,
};

#[cfg(any(test, feature = "mocks"))]
use mockall::automock;

/// A failure of a storage port (notification store, dead letters, queue, idempotency,
/// quota, sensitive bodies).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with the same id, or the same `(tenant_id, idempotency_key)`, exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend could not be reached or answered with an error. Retrying may help.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend holds data this version cannot read.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------------------------------
// Notification store
// ---------------------------------------------------------------------------------------

/// What a conditional status update expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub status: Status,
    pub attempts: u32,
}

impl Expected {
    pub fn of(record: &Notification) -> Self {
        Self {
            status: record.status,
            attempts: record.attempts,
        }
    }
}

/// The fields a status update writes. Every field is written as given (`None` clears).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub status: Status,
    pub attempts: u32,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl StatusUpdate {
    /// Applies the update to a record in memory (what a store does on a match).
    pub fn apply_to(&self, record: &mut Notification) {
        record.status = self.status;
        record.attempts = self.attempts;
        record.provider = self.provider.clone();
        record.provider_message_id = self.provider_message_id.clone();
        record.last_error = self.last_error.clone();
        record.next_attempt_at = self.next_attempt_at;
        record.sent_at = self.sent_at;
        record.updated_at = self.updated_at;
    }
}

/// Filters of a list query. `None` means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub tenant_id: Option<TenantId>,
    pub status: Option<Status>,
    pub kind: Option<NotificationKind>,
    /// Only records with `occurred_at >= since`.
    pub since: Option<DateTime<Utc>>,
    /// Only records with `occurred_at < until`.
    pub until: Option<DateTime<Utc>>,
    /// At most this many items (the use case caps it).
    pub limit: usize,
    /// Continue after this id (the `next_cursor` of the previous page).
    pub cursor: Option<NotificationId>,
}

/// One page of a list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<NotificationId>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in list order: the extra item, when there is
    /// one, only says that more follow (it is dropped, and the cursor is the last kept id).
    pub fn from_lookahead(
        mut items: Vec<T>,
        limit: usize,
        id_of: impl Fn(&T) -> NotificationId,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(id_of) } else { None };
        Self { items, next_cursor }
    }
}

/// Keeps every notification and its status (MongoDB `notifications`, or memory).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Inserts a new record.
    ///
    /// MUST return `Conflict` when a record with the same id exists, or when the record has
    /// an idempotency key and another record of the same tenant has the same key; nothing
    /// is written then.
    async fn insert(&self, record: &Notification) -> StoreResult<()>;

    /// MUST return the record with this id, or `None`.
    async fn get(&self, id: NotificationId) -> StoreResult<Option<Notification>>;

    /// MUST return the record of this tenant with this idempotency key, or `None` (a key
    /// never seen before is a normal outcome, not an error).
    async fn find_by_idempotency_key(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Notification>>;

    /// Conditionally updates a record: only when its status and attempt count are
    /// `expected`. MUST return the updated record on a match, and `None` when the record
    /// is missing or does not match (another worker got there first); nothing is written
    /// then.
    async fn update_status(
        &self,
        id: NotificationId,
        expected: Expected,
        update: StatusUpdate,
    ) -> StoreResult<Option<Notification>>;

    /// MUST return the records matching every filter, newest first (by id, which is
    /// time-ordered), at most `limit`, starting after `cursor`, with `next_cursor` set when
    /// more may follow.
    async fn list(&self, query: &ListQuery) -> StoreResult<Page<Notification>>;

    /// The reconciler's query: MUST return up to `limit` records whose status is `pending`
    /// or `retrying`, in async mode, and whose `next_attempt_at` is set and earlier than
    /// `due_before`, oldest due first.
    async fn find_stale(
        &self,
        due_before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>>;
}

// ---------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------

/// Filters of a dead-letter list. `None` means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadLetterQuery {
    pub tenant_id: Option<TenantId>,
    pub kind: Option<NotificationKind>,
    /// Only letters with `failed_at >= since`.
    pub since: Option<DateTime<Utc>>,
    /// Only letters with `failed_at < until`.
    pub until: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Keeps the notifications the worker gave up on (MongoDB `notification_dlq`, or memory).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Stores a letter, keyed by its notification id. MUST replace an existing letter of
    /// the same notification (a replayed notification may fail again).
    async fn put(&self, letter: &DeadLetter) -> StoreResult<()>;

    /// MUST return the letter of this notification, or `None`.
    async fn get(&self, id: NotificationId) -> StoreResult<Option<DeadLetter>>;

    /// MUST return the letters matching every filter, newest `failed_at` first, at most
    /// `limit`.
    async fn list(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>>;

    /// Removes the letter of this notification. MUST return whether one was removed.
    async fn remove(&self, id: NotificationId) -> StoreResult<bool>;
}

// ---------------------------------------------------------------------------------------
// Retry queue
// ---------------------------------------------------------------------------------------

/// The schedule of async deliveries (a Redis sorted set, or memory): a set of notification
/// ids, each with a due time.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
#[allow(clippy::len_without_is_empty)]
pub trait RetryQueue: Send + Sync {
    /// Adds the id due at `due`, or moves it to `due` if it is there already (ZADD). MUST
    /// wake workers waiting in [`RetryQueue::wait`] (they re-read the earliest due time).
    async fn schedule(&self, id: NotificationId, due: DateTime<Utc>) -> StoreResult<()>;

    /// Claims up to `max` ids whose due time is `<= now`, earliest first, and in the same
    /// atomic step moves each one's due time to `now + lease`. MUST never hand one id to
    /// two callers within one lease. A claimed id stays in the queue: it comes due again
    /// when the lease runs out unless it is completed or rescheduled.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        max: usize,
        lease: Duration,
    ) -> StoreResult<Vec<NotificationId>>;

    /// Removes the ids (ZREM). Ids not in the queue are ignored.
    async fn complete(&self, ids: &[NotificationId]) -> StoreResult<()>;

    /// MUST return whether the id is in the queue (claimed or not).
    async fn contains(&self, id: NotificationId) -> StoreResult<bool>;

    /// MUST return the earliest due time in the queue, or `None` when it is empty.
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// How many ids the queue holds.
    async fn len(&self) -> StoreResult<u64>;

    /// Waits until `schedule` is called, or `timeout` passes, whichever comes first. MAY
    /// return early (spuriously); callers re-check the queue.
    async fn wait(&self, timeout: Duration) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

/// The state of an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The caller now holds the key and must `complete` or `release` it.
    Acquired,
    /// Another request holds the key. `notification_id` is set once that request has
    /// stored its record.
    Held {
        fingerprint: RequestFingerprint,
        notification_id: Option<NotificationId>,
    },
}

/// Guards the in-flight window of idempotent requests (Redis `SET NX` with TTL, or memory).
/// The notification store's unique key guards forever.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Atomically takes the key for `ttl` if nobody holds it. MUST return `Acquired` to
    /// exactly one of any number of concurrent callers, and `Held` with the holder's
    /// fingerprint (and notification id once completed) to the others, until the TTL runs
    /// out or the key is released.
    async fn try_acquire(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        ttl: Duration,
    ) -> StoreResult<IdempotencyClaim>;

    /// Records the notification id under the key and keeps it for `ttl`, when the key is
    /// held with `fingerprint`. MUST change nothing when the key is free or held with
    /// another fingerprint (this caller's lock expired and another request took the key).
    async fn complete(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
        notification_id: NotificationId,
        ttl: Duration,
    ) -> StoreResult<()>;

    /// Frees the key (the request failed before storing a record), when it is held with
    /// `fingerprint`. MUST leave a key held with another fingerprint as it is.
    async fn release(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
    ) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------

/// One counter to check and consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCheck {
    /// The counter's key (without the window start).
    pub key: String,
    pub limit: u64,
    pub window: Duration,
}

/// The answer of a quota check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaDecision {
    /// Every counter had room; each was incremented.
    Allowed,
    /// `key` is full; nothing was incremented. Its window ends after `retry_after`.
    Exceeded { key: String, retry_after: Duration },
}

/// Fixed-window counters (one Lua script on Redis, or memory).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Atomically: if every counter's current window (`floor(now / window)`) is below its
    /// limit, increments all of them and returns `Allowed`; otherwise increments none and
    /// returns `Exceeded` for the first full one. MUST never let more than `limit` through
    /// one window under any concurrency.
    async fn consume(
        &self,
        checks: &[QuotaCheck],
        now: DateTime<Utc>,
    ) -> StoreResult<QuotaDecision>;
}

// ---------------------------------------------------------------------------------------
// Sensitive bodies
// ---------------------------------------------------------------------------------------

/// Keeps the rendered body of a sensitive async notification until it ends (a Redis key
/// with a TTL, or memory). Never persisted to the notification store.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait SensitiveBodyStore: Send + Sync {
    /// Stores the body for `ttl`, replacing any earlier one.
    async fn put(
        &self,
        id: NotificationId,
        body: &RenderedMessage,
        ttl: Duration,
    ) -> StoreResult<()>;

    /// MUST return the body, or `None` when it was never stored, was deleted or expired.
    async fn get(&self, id: NotificationId) -> StoreResult<Option<RenderedMessage>>;

    /// Deletes the body. Deleting a missing body is not an error.
    async fn delete(&self, id: NotificationId) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------

/// Whether retrying a failed send may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendErrorKind {
    /// Timeouts, connection errors, 5xx, throttling: try the next provider, retry later.
    Retryable,
    /// Bad recipient, rejected content, auth refused: retrying will not help.
    Permanent,
}

/// A provider's refusal, classified once by the adapter. The message must not hold the
/// recipient's full address or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct SendError {
    pub provider: String,
    pub kind: SendErrorKind,
    pub message: String,
}

impl SendError {
    pub fn retryable(provider: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            kind: SendErrorKind::Retryable,
            message: message.into(),
        }
    }

    pub fn permanent(provider: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            kind: SendErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == SendErrorKind::Retryable
    }
}

/// A provider's acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub provider: String,
    pub provider_message_id: String,
}

/// An email ready to send. `Debug` shows the masked recipient and sizes only.
#[derive(Clone, PartialEq)]
pub struct EmailMessage {
    pub notification_id: NotificationId,
    pub kind: NotificationKind,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The content must not be logged.
    pub sensitive: bool,
}

/// An SMS ready to send. `Debug` shows the masked recipient and sizes only.
#[derive(Clone, PartialEq)]
pub struct SmsMessage {
    pub notification_id: NotificationId,
    pub kind: NotificationKind,
    pub to: PhoneNumber,
    pub text: String,
    /// The content must not be logged.
    pub sensitive: bool,
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailMessage")
            .field("notification_id", &self.notification_id)
            .field("kind", &self.kind)
            .field("to", &self.to.masked())
            .field("subject_len", &self.subject.len())
            .field("text_len", &self.text.len())
            .field("html_len", &self.html.as_ref().map(String::len))
            .field("sensitive", &self.sensitive)
            .finish()
    }
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("notification_id", &self.notification_id)
            .field("kind", &self.kind)
            .field("to", &self.to.masked())
            .field("text_len", &self.text.len())
            .field("sensitive", &self.sensitive)
            .finish()
    }
}

/// An email provider (SMTP, SES, mock).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// A short stable name stored with the record (`smtp`, `ses`, `mock`).
    fn name(&self) -> &str;
    /// Lower runs first (the seed's `Sort`).
    fn priority(&self) -> i32;
    /// Sends one message. MUST return `Retryable` for failures a later attempt may get
    /// past and `Permanent` for the rest.
    async fn send(&self, message: &EmailMessage) -> Result<Receipt, SendError>;
}

/// An SMS provider (Twilio, SNS, mock).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait SmsSender: Send + Sync {
    fn name(&self) -> &str;
    fn priority(&self) -> i32;
    /// Sends one message. MUST return `Retryable` for failures a later attempt may get
    /// past and `Permanent` for the rest.
    async fn send(&self, message: &SmsMessage) -> Result<Receipt, SendError>;
}

// ---------------------------------------------------------------------------------------
// Templates, clock, ids
// ---------------------------------------------------------------------------------------

/// Why a template could not be rendered. `field` names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("data.{variable}: required by the {kind} template but not given")]
    MissingVariable {
        kind: NotificationKind,
        variable: String,
    },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("no template for {kind} on {channel} in {locale}")]
    NoTemplate {
        kind: NotificationKind,
        channel: Channel,
        locale: Locale,
    },
    #[error("template {name} failed: {reason}")]
    Broken { name: String, reason: String },
}

/// Renders a kind's template for a channel and locale (minijinja).
#[cfg_attr(any(test, feature = "mocks"), automock)]
pub trait TemplateRenderer: Send + Sync {
    /// MUST fail with `MissingVariable` when `data` lacks a variable the template uses,
    /// and `Invalid` when a subject or SMS body would contain CR or LF. An email result
    /// has a subject; an SMS result has none.
    fn render(
        &self,
        kind: NotificationKind,
        channel: Channel,
        locale: Locale,
        data: &serde_json::Value,
    ) -> Result<RenderedMessage, RenderError>;
}

/// The time. Tests use a clock they move by hand.
#[cfg_attr(any(test, feature = "mocks"), automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Makes notification ids.
#[cfg_attr(any(test, feature = "mocks"), automock)]
pub trait IdGenerator: Send + Sync {
    /// MUST return a new id on every call, ordered by `now`.
    fn next_id(&self, now: DateTime<Utc>) -> NotificationId;
}
