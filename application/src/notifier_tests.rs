//! Unit tests of `Notifier` with mockall mocks of every port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use domain::{Channel, QuotaRule, QuotaScope, RenderedMessage, Status};
use mockall::predicate::always;

use super::*;
use crate::ports::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn welcome(to: &str) -> NotificationRequest {
    NotificationRequest {
        kind: "tenant_welcome".into(),
        to: to.into(),
        data: serde_json::json!({"tenant_name": "Acme"}),
        ..NotificationRequest::default()
    }
}

fn rendered() -> RenderedMessage {
    RenderedMessage {
        subject: Some("Welcome".into()),
        text: "Hello Acme".into(),
        html: Some("<p>Hello Acme</p>".into()),
    }
}

/// Mocks with the expectations every test shares; each test adds its own.
struct Mocks {
    store: MockNotificationStore,
    idempotency: MockIdempotencyStore,
    quotas: MockQuotaStore,
    sensitive: MockSensitiveBodyStore,
    email: Vec<Arc<dyn EmailSender>>,
    sms: Vec<Arc<dyn SmsSender>>,
    settings: Settings,
    queue: Option<Arc<dyn RetryQueue>>,
}

impl Mocks {
    fn new() -> Self {
        Self {
            store: MockNotificationStore::new(),
            idempotency: MockIdempotencyStore::new(),
            quotas: MockQuotaStore::new(),
            sensitive: MockSensitiveBodyStore::new(),
            email: Vec::new(),
            sms: Vec::new(),
            settings: Settings::default(),
            queue: None,
        }
    }

    /// The store accepts inserts and conditional updates, keeping what it was given.
    fn store_accepts(&mut self) -> Arc<Mutex<Vec<Notification>>> {
        let inserted = Arc::new(Mutex::new(Vec::new()));
        let seen = inserted.clone();
        self.store.expect_insert().returning(move |record| {
            seen.lock().unwrap().push(record.clone());
            Ok(())
        });
        let seen = inserted.clone();
        self.store
            .expect_update_status()
            .returning(move |id, expected, update| {
                let mut records = seen.lock().unwrap();
                let record = records.iter_mut().find(|r| r.id == id).unwrap();
                assert_eq!(Expected::of(record), expected);
                update.apply_to(record);
                Ok(Some(record.clone()))
            });
        self.store
            .expect_find_by_idempotency_key()
            .returning(|_, _| Ok(None));
        inserted
    }

    fn notifier(self) -> Notifier {
        let mut templates = MockTemplateRenderer::new();
        templates
            .expect_render()
            .returning(|_, _, _, _| Ok(rendered()));
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let mut ids = MockIdGenerator::new();
        let counter = std::sync::atomic::AtomicU64::new(1);
        ids.expect_next_id().returning(move |at| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            NotificationId::from_parts(at.timestamp_millis() as u64, n as u128)
        });
        let ports = Ports {
            store: Arc::new(self.store),
            dead_letters: Arc::new(MockDeadLetterStore::new()),
            queue: self.queue,
            idempotency: Arc::new(self.idempotency),
            quotas: Arc::new(self.quotas),
            sensitive: Arc::new(self.sensitive),
            templates: Arc::new(templates),
            providers: ProviderChain::new(self.email, self.sms),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        };
        Notifier::new(ports, self.settings)
    }
}

fn email_sender(
    name: &'static str,
    priority: i32,
    result: Result<&'static str, SendErrorKind>,
    times: usize,
) -> Arc<dyn EmailSender> {
    let mut sender = MockEmailSender::new();
    sender.expect_name().return_const(name.to_owned());
    sender.expect_priority().return_const(priority);
    sender
        .expect_send()
        .times(times)
        .returning(move |_| match result {
            Ok(id) => Ok(Receipt {
                provider: name.to_owned(),
                provider_message_id: id.to_owned(),
            }),
            Err(SendErrorKind::Retryable) => Err(SendError::retryable(name, "503 try later")),
            Err(SendErrorKind::Permanent) => Err(SendError::permanent(name, "550 no such user")),
        });
    Arc::new(sender)
}

#[tokio::test]
async fn a_retryable_error_moves_to_the_next_provider_by_priority() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    // Configured out of order: the chain sorts by priority.
    mocks.email = vec![
        email_sender("third", 30, Ok("never"), 0),
        email_sender("second", 20, Ok("msg-2"), 1),
        email_sender("first", 10, Err(SendErrorKind::Retryable), 1),
    ];
    let accepted = mocks
        .notifier()
        .send(&tenant(), welcome("a@example.com"))
        .await
        .unwrap();
    assert_eq!(accepted.notification.status, Status::Sent);
    assert_eq!(accepted.notification.provider.as_deref(), Some("second"));
    assert_eq!(inserted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_permanent_error_does_not_try_the_next_provider() {
    let mut mocks = Mocks::new();
    mocks.store_accepts();
    mocks.email = vec![
        email_sender("first", 1, Err(SendErrorKind::Permanent), 1),
        email_sender("second", 2, Ok("msg-2"), 0),
    ];
    let err = mocks
        .notifier()
        .send(&tenant(), welcome("a@example.com"))
        .await
        .unwrap_err();
    match err {
        NotifyError::DeliveryFailed {
            error,
            notification,
        } => {
            assert_eq!(error.kind, SendErrorKind::Permanent);
            assert_eq!(notification.status, Status::Failed);
            assert_eq!(notification.attempts, 1);
            assert!(notification.last_error.unwrap().contains("550"));
        }
        other => panic!("expected DeliveryFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn the_record_names_the_provider_that_delivered_and_its_message_id() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    mocks.email = vec![email_sender("smtp", 1, Ok("<abc@mail>"), 1)];
    let accepted = mocks
        .notifier()
        .send(&tenant(), welcome("a@example.com"))
        .await
        .unwrap();
    let stored = inserted.lock().unwrap()[0].clone();
    assert_eq!(stored.status, Status::Sent);
    assert_eq!(stored.provider.as_deref(), Some("smtp"));
    assert_eq!(stored.provider_message_id.as_deref(), Some("<abc@mail>"));
    assert_eq!(stored.sent_at, Some(now()));
    assert_eq!(accepted.notification, stored);
    assert!(!accepted.replayed);
}

#[tokio::test]
async fn a_repeat_with_the_same_key_returns_the_first_notification_and_sends_nothing() {
    // First call: stores the record with its key.
    let mut first = Mocks::new();
    let inserted = first.store_accepts();
    first
        .idempotency
        .expect_try_acquire()
        .times(1)
        .returning(|_, _, _, _| Ok(IdempotencyClaim::Acquired));
    first
        .idempotency
        .expect_complete()
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    first.email = vec![email_sender("mock", 1, Ok("m-1"), 1)];
    let mut request = welcome("a@example.com");
    request.idempotency_key = Some("order-42".into());
    let original = first
        .notifier()
        .send(&tenant(), request.clone())
        .await
        .unwrap()
        .notification;

    // Second call: the store knows the key; nothing is locked, inserted or sent.
    let mut second = Mocks::new();
    let existing = inserted.lock().unwrap()[0].clone();
    second
        .store
        .expect_find_by_idempotency_key()
        .times(1)
        .returning(move |_, _| Ok(Some(existing.clone())));
    second.store.expect_insert().times(0);
    second.idempotency.expect_try_acquire().times(0);
    second.email = vec![email_sender("mock", 1, Ok("m-2"), 0)];
    let repeat = second.notifier().send(&tenant(), request).await.unwrap();
    assert!(repeat.replayed);
    assert_eq!(repeat.notification.id, original.id);
    assert_eq!(repeat.notification.status, Status::Sent);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_a_conflict() {
    let mut first = Mocks::new();
    let inserted = first.store_accepts();
    first
        .idempotency
        .expect_try_acquire()
        .returning(|_, _, _, _| Ok(IdempotencyClaim::Acquired));
    first
        .idempotency
        .expect_complete()
        .returning(|_, _, _, _, _| Ok(()));
    first.email = vec![email_sender("mock", 1, Ok("m-1"), 1)];
    let mut request = welcome("a@example.com");
    request.idempotency_key = Some("order-42".into());
    first
        .notifier()
        .send(&tenant(), request.clone())
        .await
        .unwrap();

    let mut second = Mocks::new();
    let existing = inserted.lock().unwrap()[0].clone();
    second
        .store
        .expect_find_by_idempotency_key()
        .returning(move |_, _| Ok(Some(existing.clone())));
    second.email = vec![email_sender("mock", 1, Ok("m-2"), 0)];
    request.to = "b@example.com".into();
    let err = second
        .notifier()
        .send(&tenant(), request)
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::IdempotencyConflict), "{err:?}");
    assert_eq!(err.field().as_deref(), Some("idempotency_key"));
}

#[tokio::test]
async fn a_key_held_by_a_request_in_flight_is_refused_until_it_completes() {
    let mut mocks = Mocks::new();
    mocks.store_accepts();
    let mut request = welcome("a@example.com");
    request.idempotency_key = Some("k1".into());
    let fingerprint = RequestFingerprint::of(
        NotificationKind::TenantWelcome,
        &Recipient::parse(Channel::Email, "a@example.com", Region::default(), "to").unwrap(),
        Locale::ZhTw,
        &request.data,
        Mode::Sync,
        None,
    );
    mocks
        .idempotency
        .expect_try_acquire()
        .returning(move |_, _, _, _| {
            Ok(IdempotencyClaim::Held {
                fingerprint: fingerprint.clone(),
                notification_id: None,
            })
        });
    mocks.email = vec![email_sender("mock", 1, Ok("m"), 0)];
    let err = mocks.notifier().send(&tenant(), request).await.unwrap_err();
    assert!(matches!(err, NotifyError::IdempotencyInProgress), "{err:?}");
}

#[tokio::test]
async fn quota_exceeded_records_dropped_and_says_when_to_retry() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    mocks.settings.quotas = vec![QuotaRule::new(
        0,
        QuotaScope::Recipient,
        Channel::Email,
        vec![],
        3,
        Duration::from_secs(3600),
    )
    .unwrap()];
    mocks
        .quotas
        .expect_consume()
        .withf(|checks, _| checks.len() == 1 && checks[0].limit == 3)
        .times(1)
        .returning(|checks, _| {
            Ok(QuotaDecision::Exceeded {
                key: checks[0].key.clone(),
                retry_after: Duration::from_secs(1234),
            })
        });
    mocks.email = vec![email_sender("mock", 1, Ok("m"), 0)];
    let err = mocks
        .notifier()
        .send(&tenant(), welcome("a@example.com"))
        .await
        .unwrap_err();
    match err {
        NotifyError::QuotaExceeded {
            retry_after,
            notification,
        } => {
            assert_eq!(retry_after, Duration::from_secs(1234));
            assert_eq!(notification.status, Status::Dropped);
            assert_eq!(notification.attempts, 0);
            assert!(notification.idempotency_key.is_none());
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    let stored = inserted.lock().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, Status::Dropped);
}

#[tokio::test]
async fn quota_rules_for_another_channel_are_not_checked() {
    let mut mocks = Mocks::new();
    mocks.store_accepts();
    mocks.settings.quotas = vec![QuotaRule::new(
        0,
        QuotaScope::Tenant,
        Channel::Sms,
        vec![],
        1,
        Duration::from_secs(60),
    )
    .unwrap()];
    mocks.quotas.expect_consume().times(0);
    mocks.email = vec![email_sender("mock", 1, Ok("m"), 1)];
    mocks
        .notifier()
        .send(&tenant(), welcome("a@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sensitive_kind_never_reaches_the_store_with_its_body_whatever_the_caller_asked() {
    let mut mocks = Mocks::new();
    mocks
        .store
        .expect_insert()
        .withf(|record| record.body.is_none() && record.body_withheld)
        .times(1)
        .returning(|_| Ok(()));
    mocks
        .store
        .expect_update_status()
        .returning(|_, _, _| Ok(None));
    mocks
        .store
        .expect_find_by_idempotency_key()
        .returning(|_, _| Ok(None));
    let mut sms = MockSmsSender::new();
    sms.expect_name().return_const("mock".to_owned());
    sms.expect_priority().return_const(0);
    sms.expect_send()
        .withf(|m| m.sensitive && m.to.as_str() == "+886912345678")
        .times(1)
        .returning(|_| {
            Ok(Receipt {
                provider: "mock".into(),
                provider_message_id: "s-1".into(),
            })
        });
    mocks.sms = vec![Arc::new(sms)];
    let request = NotificationRequest {
        kind: "otp".into(),
        channel: Some("sms".into()),
        to: "0912345678".into(),
        data: serde_json::json!({"code": "493817"}),
        do_not_persist_body: false,
        ..NotificationRequest::default()
    };
    // The mocked update finds nothing, so `send` reports a storage conflict; what matters
    // here is what the store was given.
    let _ = mocks.notifier().send(&tenant(), request).await;
}

#[tokio::test]
async fn do_not_persist_body_keeps_any_body_out_of_the_store() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    mocks.email = vec![email_sender("mock", 1, Ok("m"), 1)];
    let mut request = welcome("a@example.com");
    request.do_not_persist_body = true;
    mocks.notifier().send(&tenant(), request).await.unwrap();
    assert!(inserted.lock().unwrap()[0].body.is_none());
}

#[tokio::test]
async fn invalid_input_names_the_field_and_touches_nothing() {
    let cases = [
        (welcome("not-an-address"), "to"),
        (
            NotificationRequest {
                kind: "newsletter".into(),
                ..welcome("a@example.com")
            },
            "kind",
        ),
        (
            NotificationRequest {
                kind: "otp".into(),
                ..welcome("a@example.com")
            },
            "channel",
        ),
        (
            NotificationRequest {
                locale: Some("fr".into()),
                ..welcome("a@example.com")
            },
            "locale",
        ),
        (
            NotificationRequest {
                idempotency_key: Some("has space".into()),
                ..welcome("a@example.com")
            },
            "idempotency_key",
        ),
        (
            NotificationRequest {
                data: serde_json::json!([1, 2]),
                ..welcome("a@example.com")
            },
            "data",
        ),
    ];
    for (request, field) in cases {
        let mut mocks = Mocks::new();
        mocks.store.expect_insert().times(0);
        mocks.email = vec![email_sender("mock", 1, Ok("m"), 0)];
        let err = mocks.notifier().send(&tenant(), request).await.unwrap_err();
        assert_eq!(err.field().as_deref(), Some(field), "{err}");
    }
}

#[tokio::test]
async fn enqueue_without_a_queue_says_it_needs_one() {
    let mocks = Mocks::new();
    let err = mocks
        .notifier()
        .enqueue(&tenant(), welcome("a@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "async notification requires redis retry queue"
    );
}

#[tokio::test]
async fn enqueue_stores_pending_schedules_now_and_sends_nothing() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    let mut queue = MockRetryQueue::new();
    queue
        .expect_schedule()
        .with(always(), mockall::predicate::eq(now()))
        .times(1)
        .returning(|_, _| Ok(()));
    mocks.queue = Some(Arc::new(queue));
    mocks.email = vec![email_sender("mock", 1, Ok("m"), 0)];
    let accepted = mocks
        .notifier()
        .enqueue(&tenant(), welcome("a@example.com"))
        .await
        .unwrap();
    assert_eq!(accepted.notification.status, Status::Pending);
    assert_eq!(accepted.notification.mode, Mode::Async);
    assert_eq!(accepted.notification.next_attempt_at, Some(now()));
    assert_eq!(inserted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn enqueue_of_a_sensitive_kind_keeps_the_body_in_the_ephemeral_store_for_the_retry_horizon() {
    let mut mocks = Mocks::new();
    let inserted = mocks.store_accepts();
    let horizon = mocks.settings.retry.horizon();
    mocks
        .sensitive
        .expect_put()
        .withf(move |_, body, ttl| body.text == "Hello Acme" && *ttl > horizon)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut queue = MockRetryQueue::new();
    queue.expect_schedule().times(1).returning(|_, _| Ok(()));
    mocks.queue = Some(Arc::new(queue));
    let request = NotificationRequest {
        kind: "password_reset".into(),
        to: "a@example.com".into(),
        data: serde_json::json!({"reset_url": "https://x/r/abc"}),
        ..NotificationRequest::default()
    };
    mocks.notifier().enqueue(&tenant(), request).await.unwrap();
    let stored = inserted.lock().unwrap()[0].clone();
    assert!(stored.body.is_none());
    assert!(stored.body_withheld);
}

#[tokio::test]
async fn enqueue_later_schedules_at_send_at() {
    let mut mocks = Mocks::new();
    mocks.store_accepts();
    let later = now() + chrono::Duration::minutes(10);
    let mut queue = MockRetryQueue::new();
    queue
        .expect_schedule()
        .with(always(), mockall::predicate::eq(later))
        .times(1)
        .returning(|_, _| Ok(()));
    mocks.queue = Some(Arc::new(queue));
    let mut request = welcome("a@example.com");
    request.send_at = Some(later);
    let accepted = mocks.notifier().enqueue(&tenant(), request).await.unwrap();
    assert_eq!(accepted.notification.next_attempt_at, Some(later));
}
