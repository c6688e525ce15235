#![allow(clippy::unwrap_used, clippy::expect_used)]

use application::ports::{EmailMessage, SendErrorKind};
use domain::{EmailAddress, NotificationId, NotificationKind};

use super::*;

fn failure_kind(failure: SmtpFailure) -> SendErrorKind {
    classify(&failure).kind
}

fn reply(code: u16) -> SmtpFailure {
    SmtpFailure::Reply {
        code,
        message: format!("{code} test"),
    }
}

#[test]
fn timeouts_connection_and_tls_failures_are_retryable() {
    assert_eq!(failure_kind(SmtpFailure::Timeout), SendErrorKind::Retryable);
    assert_eq!(
        failure_kind(SmtpFailure::Connect("refused".into())),
        SendErrorKind::Retryable
    );
    assert_eq!(
        failure_kind(SmtpFailure::Tls("handshake".into())),
        SendErrorKind::Retryable
    );
    assert_eq!(
        failure_kind(SmtpFailure::Protocol("garbage".into())),
        SendErrorKind::Retryable
    );
}

#[test]
fn four_hundred_replies_are_retryable() {
    for code in [421, 450, 451, 452, 454] {
        assert_eq!(
            failure_kind(reply(code)),
            SendErrorKind::Retryable,
            "{code}"
        );
    }
}

#[test]
fn five_hundred_replies_and_auth_refusals_are_permanent() {
    for code in [500, 530, 535, 550, 552, 553, 554] {
        assert_eq!(
            failure_kind(reply(code)),
            SendErrorKind::Permanent,
            "{code}"
        );
    }
    assert!(classify(&reply(535)).message.contains("authentication"));
}

#[test]
fn build_and_client_failures_are_permanent() {
    assert_eq!(
        failure_kind(SmtpFailure::Build("bad".into())),
        SendErrorKind::Permanent
    );
    assert_eq!(
        failure_kind(SmtpFailure::Client("no SMTPUTF8".into())),
        SendErrorKind::Permanent
    );
}

#[test]
fn security_parses_its_three_words() {
    assert_eq!(
        SmtpSecurity::parse("STARTTLS"),
        Some(SmtpSecurity::StartTls)
    );
    assert_eq!(SmtpSecurity::parse("tls"), Some(SmtpSecurity::Tls));
    assert_eq!(SmtpSecurity::parse("none"), Some(SmtpSecurity::None));
    assert_eq!(SmtpSecurity::parse("ssl"), None);
}

fn email(html: Option<&str>) -> EmailMessage {
    EmailMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000, 7),
        kind: NotificationKind::TenantWelcome,
        to: EmailAddress::parse("bob@example.com").unwrap(),
        subject: "歡迎 Welcome".into(),
        text: "plain body".into(),
        html: html.map(str::to_owned),
        sensitive: false,
    }
}

#[test]
fn a_message_with_html_is_multipart_alternative_with_an_encoded_subject() {
    let built = build_message("team@acme.test", "Acme 通知", &email(Some("<p>hi</p>"))).unwrap();
    let text = String::from_utf8(built.bytes).unwrap();
    assert!(text.is_ascii());
    assert!(text.contains("multipart/alternative"), "{text}");
    assert!(text.contains("text/plain"));
    assert!(text.contains("text/html"));
    assert!(text.contains("Subject: =?utf-8?"), "{text}");
    assert!(text.contains(&format!("Message-ID: <{}>", built.message_id)));
    assert!(built.message_id.ends_with("@acme.test"));
    assert_eq!(built.envelope.to()[0].to_string(), "bob@example.com");
}

#[test]
fn a_text_only_message_is_a_single_part() {
    let built = build_message("team@acme.test", "", &email(None)).unwrap();
    let text = String::from_utf8(built.bytes).unwrap();
    assert!(!text.contains("multipart"));
    assert!(text.contains("From: team@acme.test"));
}

#[test]
fn a_password_never_shows_in_debug() {
    let settings = SmtpSettings {
        host: "smtp.example.com".into(),
        port: 587,
        security: SmtpSecurity::StartTls,
        username: Some("user".into()),
        password: Some(SecretString::from("hunter2-secret")),
        from: "team@acme.test".into(),
        from_name: String::new(),
        hello_name: None,
        connect_timeout: Duration::from_secs(1),
        pool_size: 2,
        idle_timeout: Duration::from_secs(30),
        priority: 1,
    };
    let sender = SmtpEmailSender::new(settings).unwrap();
    let shown = format!("{sender:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sender = SmtpEmailSender::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "team@acme.test".into(),
        from_name: String::new(),
        hello_name: Some("test.local".into()),
        connect_timeout: Duration::from_secs(2),
        pool_size: 1,
        idle_timeout: Duration::from_secs(30),
        priority: 1,
    })
    .unwrap();
    let err = sender.send(&email(None)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
