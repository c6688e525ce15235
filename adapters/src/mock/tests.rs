use std::io;
use std::sync::{Arc, Mutex};

use application::ports::{EmailMessage, EmailSender, SendErrorKind, SmsMessage, SmsSender};
use domain::{EmailAddress, NotificationId, NotificationKind, PhoneNumber};

use super::*;

const CODE: &str = "482913";
const ADDRESS: &str = "alice.smith@example.com";
const PHONE: &str = "+886912345678";

fn email(kind: NotificationKind, n: u64) -> EmailMessage {
    EmailMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000 + n, u128::from(n)),
        kind,
        to: EmailAddress::parse(ADDRESS).unwrap(),
        subject: "Welcome to Acme".into(),
        text: format!("Your code is {CODE}"),
        html: Some(format!("<p>Your code is <b>{CODE}</b></p>")),
        sensitive: kind.is_sensitive(),
    }
}

fn sms(kind: NotificationKind, sensitive: bool) -> SmsMessage {
    SmsMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000, 7),
        kind,
        to: PhoneNumber::parse_e164(PHONE).unwrap(),
        text: format!("Your code is {CODE}"),
        sensitive,
    }
}

async fn outcomes(mock: &MockEmailSender, sends: usize) -> Vec<MockOutcome> {
    let mut seen = Vec::new();
    for n in 0..sends {
        let result = mock
            .send(&email(NotificationKind::TenantWelcome, n as u64))
            .await;
        seen.push(match result {
            Ok(_) => MockOutcome::Sent,
            Err(err) if err.kind == SendErrorKind::Retryable => MockOutcome::Retryable,
            Err(_) => MockOutcome::Permanent,
        });
    }
    seen
}

use MockOutcome::{Permanent, Retryable, Sent};

#[tokio::test]
async fn a_new_mock_succeeds_and_keeps_what_it_sent() {
    let mock = MockEmailSender::default();
    assert_eq!(EmailSender::name(&mock), "mock");
    assert_eq!(EmailSender::priority(&mock), 0);

    let message = email(NotificationKind::TenantWelcome, 1);
    let receipt = mock.send(&message).await.unwrap();
    assert_eq!(receipt.provider, "mock");
    assert!(receipt.provider_message_id.starts_with("mock-"));
    let second = mock.send(&message).await.unwrap();
    assert_ne!(receipt.provider_message_id, second.provider_message_id);

    assert_eq!(mock.sent(), vec![message.clone(), message]);
    assert_eq!(mock.attempts()[0].result, Ok(receipt));
    assert_eq!(mock.attempt_count(), 2);
}

#[tokio::test]
async fn name_and_priority_come_from_the_constructor() {
    let mock = MockSmsSender::new("mock-backup", 20);
    assert_eq!(SmsSender::name(&mock), "mock-backup");
    assert_eq!(SmsSender::priority(&mock), 20);
    let receipt = mock.send(&sms(NotificationKind::Otp, true)).await.unwrap();
    assert_eq!(receipt.provider, "mock-backup");
    assert!(receipt.provider_message_id.starts_with("mock-backup-"));
}

#[tokio::test]
async fn fail_transiently_fails_n_times_then_succeeds() {
    let mock = MockEmailSender::default();
    mock.fail_transiently(2);
    assert_eq!(outcomes(&mock, 4).await, [Retryable, Retryable, Sent, Sent]);

    let attempts = mock.attempts();
    assert_eq!(attempts.len(), 4);
    let err = attempts[0].result.clone().unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.provider, "mock");
    assert_eq!(mock.sent().len(), 2);
}

#[tokio::test]
async fn fail_always_transiently_never_succeeds() {
    let mock = MockEmailSender::default();
    mock.fail_always_transiently();
    assert_eq!(outcomes(&mock, 3).await, [Retryable; 3]);
    assert!(mock.sent().is_empty());
    assert_eq!(mock.attempts().len(), 3);
}

#[tokio::test]
async fn fail_permanently_fails_with_a_permanent_error() {
    let mock = MockSmsSender::default();
    mock.fail_permanently();
    let err = mock
        .send(&sms(NotificationKind::Otp, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Permanent);
    assert!(!err.to_string().contains(PHONE));
    assert!(!err.to_string().contains(CODE));
    assert_eq!(mock.attempts()[0].outcome(), Permanent);
}

#[tokio::test]
async fn a_script_plays_in_order_then_succeeds() {
    let mock = MockEmailSender::default();
    mock.script([Retryable, Permanent, Sent, Retryable]);
    assert_eq!(
        outcomes(&mock, 6).await,
        [Retryable, Permanent, Sent, Retryable, Sent, Sent]
    );
}

#[tokio::test]
async fn behaviour_can_change_at_run_time() {
    let mock = Arc::new(MockEmailSender::default());
    let as_port: Arc<dyn EmailSender> = mock.clone();
    mock.fail_permanently();
    assert!(as_port
        .send(&email(NotificationKind::TenantWelcome, 1))
        .await
        .is_err());
    mock.succeed();
    assert!(as_port
        .send(&email(NotificationKind::TenantWelcome, 2))
        .await
        .is_ok());
    mock.fail_transiently(1);
    mock.fail_transiently(0);
    assert!(as_port
        .send(&email(NotificationKind::TenantWelcome, 3))
        .await
        .is_ok());
}

#[tokio::test]
async fn history_is_capped_and_can_be_cleared() {
    let mock = MockEmailSender::default().with_history_limit(3);
    assert_eq!(outcomes(&mock, 5).await.len(), 5);
    let kept: Vec<_> = mock
        .attempts()
        .into_iter()
        .map(|attempt| attempt.message.notification_id)
        .collect();
    let expected: Vec<_> = (2..5)
        .map(|n| email(NotificationKind::TenantWelcome, n).notification_id)
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(mock.attempt_count(), 5);

    mock.clear();
    assert!(mock.attempts().is_empty());

    let none = MockEmailSender::default().with_history_limit(0);
    assert_eq!(outcomes(&none, 2).await, [Sent, Sent]);
    assert!(none.attempts().is_empty());
}

#[test]
fn debug_output_shows_no_message_content() {
    let attempt = MockAttempt {
        message: email(NotificationKind::Otp, 1),
        result: Err(SendError::retryable("mock", "x")),
    };
    let shown = format!("{attempt:?} {:?}", MockEmailSender::default());
    assert!(!shown.contains(CODE));
    assert!(!shown.contains("alice"));
}

// ---------------------------------------------------------------------------------------
// Log lines
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Captures the log lines of this thread while the guard lives (tokio tests run on one
/// thread).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn the_email_log_line_masks_the_address_and_hides_a_sensitive_message() {
    let (captured, _guard) = capture();
    let mock = MockEmailSender::default();
    let mut message = email(NotificationKind::Otp, 1);
    message.subject = format!("Your code {CODE}");
    mock.send(&message).await.unwrap();

    let logs = captured.text();
    assert!(logs.contains("INFO"), "{logs}");
    assert!(logs.contains("[notification mock email]"), "{logs}");
    assert!(
        logs.contains(&message.notification_id.to_string()),
        "{logs}"
    );
    assert!(logs.contains("kind=otp"), "{logs}");
    assert!(logs.contains("a***@example.com"), "{logs}");
    assert!(logs.contains("outcome=\"sent\""), "{logs}");
    assert!(logs.contains("provider_message_id=\"mock-"), "{logs}");
    assert!(!logs.contains(ADDRESS), "{logs}");
    assert!(!logs.contains("alice"), "{logs}");
    assert!(!logs.contains(CODE), "{logs}");
    assert!(!logs.contains("subject"), "{logs}");
}

#[tokio::test]
async fn a_sensitive_kind_is_hidden_even_when_the_message_flag_is_off() {
    let (captured, _guard) = capture();
    let mock = MockEmailSender::default();
    let mut message = email(NotificationKind::PasswordReset, 1);
    message.sensitive = false;
    message.subject = format!("Reset with {CODE}");
    mock.send(&message).await.unwrap();
    let logs = captured.text();
    assert!(logs.contains("[notification mock email]"), "{logs}");
    assert!(!logs.contains(CODE), "{logs}");
}

#[tokio::test]
async fn the_email_log_line_of_a_plain_message_has_the_subject_but_no_body() {
    let (captured, _guard) = capture();
    let mock = MockEmailSender::default();
    mock.fail_transiently(1);
    let message = email(NotificationKind::TenantWelcome, 1);
    let _ = mock.send(&message).await;

    let logs = captured.text();
    assert!(logs.contains("subject=Welcome to Acme"), "{logs}");
    assert!(
        logs.contains(&format!("text_len={}", message.text.len())),
        "{logs}"
    );
    assert!(logs.contains("outcome=\"retryable\""), "{logs}");
    assert!(
        logs.contains("error=\"simulated transient failure\""),
        "{logs}"
    );
    assert!(!logs.contains(CODE), "{logs}");
    assert!(!logs.contains(ADDRESS), "{logs}");
}

#[tokio::test]
async fn the_sms_log_line_masks_the_number_and_hides_the_code() {
    let (captured, _guard) = capture();
    let mock = MockSmsSender::default();
    mock.send(&sms(NotificationKind::Otp, true)).await.unwrap();
    mock.send(&sms(NotificationKind::TenantWelcome, false))
        .await
        .unwrap();

    let logs = captured.text();
    assert_eq!(logs.matches("[notification mock sms]").count(), 2, "{logs}");
    assert!(logs.contains("+886******678"), "{logs}");
    assert!(!logs.contains(PHONE), "{logs}");
    assert!(!logs.contains("912345"), "{logs}");
    assert!(!logs.contains(CODE), "{logs}");
    assert!(logs.contains("text_len="), "{logs}");
}
