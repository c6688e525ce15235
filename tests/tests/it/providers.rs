//! The real providers against real servers (design §7, §11): SMTP on aiosmtpd, SES v2 and
//! SNS on moto, Twilio on a local HTTP server (wiremock); failover from an unreachable
//! provider to a real one; `notify send` through SMTP.

use std::sync::Arc;
use std::time::Duration;

use adapters::aws::AwsSettings;
use adapters::ses::{SesEmailSender, SesSettings};
use adapters::smtp::{SmtpEmailSender, SmtpSecurity, SmtpSettings};
use adapters::sns::{SnsSettings, SnsSmsSender};
use adapters::twilio::{TwilioSettings, TwilioSmsSender};
use application::ports::{EmailMessage, EmailSender, SendErrorKind, SmsMessage, SmsSender};
use domain::{EmailAddress, NotificationId, NotificationKind, PhoneNumber};
use secrecy::SecretString;
use tests::harness::free_port;
use tests::harness::moto::{self, MotoServer};
use tests::harness::smtp::SmtpServer;
use wiremock::matchers::{basic_auth, body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FROM: &str = "team@acme.test";
const SUBJECT: &str = "歡迎加入 Acme — welcome ✓";

fn email(to: &str, html: Option<&str>) -> EmailMessage {
    EmailMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000, rand_u128()),
        kind: NotificationKind::TenantWelcome,
        to: EmailAddress::parse(to).unwrap(),
        subject: SUBJECT.into(),
        text: "Hello from the text part".into(),
        html: html.map(str::to_owned),
        sensitive: false,
    }
}

fn sms(to: &str) -> SmsMessage {
    SmsMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000, rand_u128()),
        kind: NotificationKind::Otp,
        to: PhoneNumber::parse_e164(to).unwrap(),
        text: "Your code is 246810".into(),
        sensitive: true,
    }
}

fn rand_u128() -> u128 {
    u128::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    )
}

fn smtp_settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: FROM.into(),
        from_name: "Acme 通知".into(),
        hello_name: Some("notify.test".into()),
        connect_timeout: Duration::from_secs(5),
        pool_size: 4,
        idle_timeout: Duration::from_secs(60),
        priority: 1,
    }
}

fn aws(moto: &MotoServer) -> AwsSettings {
    AwsSettings {
        region: moto::REGION.into(),
        endpoint_url: Some(moto.endpoint.clone()),
        access_key_id: Some(moto::ACCESS_KEY_ID.into()),
        secret_access_key: Some(SecretString::from(moto::SECRET_ACCESS_KEY)),
        timeout: Duration::from_secs(10),
    }
}

/// Decodes RFC 2047 `=?utf-8?b?...?=` / `=?utf-8?q?...?=` words of a header value.
fn decode_words(value: &str) -> String {
    // Whitespace between two encoded words is dropped; any other is kept.
    let mut out = String::new();
    let mut previous_encoded = false;
    for token in value.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        let encoded = lower.starts_with("=?utf-8?") && token.ends_with("?=");
        if !out.is_empty() && (!encoded || !previous_encoded) {
            out.push(' ');
        }
        previous_encoded = encoded;
        if lower.starts_with("=?utf-8?b?") && token.ends_with("?=") {
            out.push_str(&String::from_utf8(b64(&token[10..token.len() - 2])).unwrap());
        } else if lower.starts_with("=?utf-8?q?") && token.ends_with("?=") {
            let raw = token[10..token.len() - 2].replace('_', " ");
            let mut bytes = Vec::new();
            let b = raw.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'=' && i + 2 < b.len() {
                    bytes.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    bytes.push(b[i]);
                    i += 1;
                }
            }
            out.push_str(&String::from_utf8(bytes).unwrap());
        } else {
            out.push_str(token);
        }
    }
    out
}

fn b64(s: &str) -> Vec<u8> {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = table.iter().position(|t| *t == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// The unfolded value of header `name` in a raw message.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap_or(raw)
        .replace("\r\n", "\n");
    let head = head.split("\n\n").next().unwrap_or(&head).to_owned();
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((key, rest)) = line.split_once(':') {
            if key.eq_ignore_ascii_case(name) {
                value = Some(rest.trim().to_owned());
            }
        }
    }
    value
}

// ---------------------------------------------------------------------------------------
// SMTP on aiosmtpd
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn smtp_delivers_a_multipart_message_with_a_utf8_subject_that_the_server_stores() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    if server.maildir().is_none() {
        tests::harness::skip_or_fail("SMTP Maildir", "NOTIFY_TEST_SMTP_MAILDIR is not set");
        return;
    }
    let sender = SmtpEmailSender::new(smtp_settings(server.port())).unwrap();
    let message = email(
        "bob@example.com",
        Some("<p>Hello from the <b>HTML</b> part</p>"),
    );
    let receipt = sender.send(&message).await.unwrap();
    assert_eq!(receipt.provider, "smtp");
    assert!(receipt.provider_message_id.ends_with("@acme.test"));

    let stored = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(stored.len(), 1, "the server stored the message");
    let raw = &stored[0];
    assert_eq!(header(raw, "X-MailFrom").as_deref(), Some(FROM));
    assert_eq!(header(raw, "X-RcptTo").as_deref(), Some("bob@example.com"));
    assert_eq!(decode_words(&header(raw, "Subject").unwrap()), SUBJECT);
    let from = decode_words(&header(raw, "From").unwrap());
    assert!(from.contains("Acme 通知") && from.contains(FROM), "{from}");
    assert_eq!(header(raw, "To").as_deref(), Some("bob@example.com"));
    assert_eq!(
        header(raw, "Message-ID").as_deref(),
        Some(format!("<{}>", receipt.provider_message_id).as_str())
    );
    assert!(header(raw, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(
        raw.contains("Content-Type: text/html; charset=utf-8"),
        "{raw}"
    );
    assert!(raw.contains("Hello from the text part"));
    assert!(raw.contains("Hello from the <b>HTML</b> part"));
}

#[tokio::test]
async fn smtp_sends_message_after_message_over_its_pooled_connection() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    const N: usize = 20;
    let sender = SmtpEmailSender::new(smtp_settings(server.port())).unwrap();
    let message = email("pooled@example.com", Some("<p>x</p>"));
    for _ in 0..N {
        sender.send(&message).await.unwrap();
    }
    if server.maildir().is_some() {
        assert_eq!(
            server.wait_for_messages(N, Duration::from_secs(10)).len(),
            N
        );
    }
}

#[tokio::test]
async fn smtp_sends_concurrently_over_several_connections() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    let sender = Arc::new(SmtpEmailSender::new(smtp_settings(server.port())).unwrap());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            sender
                .send(&email(&format!("user{i}@example.com"), None))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    if server.maildir().is_some() {
        assert_eq!(server.wait_for_messages(8, Duration::from_secs(5)).len(), 8);
    }
}

#[tokio::test]
async fn smtp_on_a_closed_port_is_retryable() {
    let sender = SmtpEmailSender::new(smtp_settings(free_port())).unwrap();
    let err = sender
        .send(&email("bob@example.com", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Retryable, "{err}");
    assert_eq!(err.provider, "smtp");
}

// ---------------------------------------------------------------------------------------
// SES v2 and SNS on moto
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ses_sends_text_and_html_through_moto_once_the_identity_exists() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let sender = SesEmailSender::connect(SesSettings {
        aws: aws(&moto),
        from: FROM.into(),
        from_name: "Acme".into(),
        configuration_set: None,
        tags: vec![("app".into(), "notify".into())],
        priority: 2,
    })
    .await;
    let to = format!("ses{}@example.com", rand_u128());
    let message = email(&to, Some("<p>Hello HTML</p>"));

    let err = sender.send(&message).await.unwrap_err();
    assert_eq!(
        err.kind,
        SendErrorKind::Permanent,
        "unverified sender: {err}"
    );
    assert!(err.message.contains("MessageRejected"), "{err}");

    moto.create_email_identity(FROM).await;
    let receipt = sender.send(&message).await.unwrap();
    assert_eq!(receipt.provider, "ses");
    assert!(!receipt.provider_message_id.is_empty());

    let messages = moto.ses_messages().await;
    let stored = messages
        .iter()
        .find(|m| m["destinations"]["ToAddresses"][0] == to.as_str())
        .unwrap_or_else(|| panic!("moto recorded no message to {to}: {messages:?}"));
    assert_eq!(stored["id"], receipt.provider_message_id.as_str());
    assert!(stored["source"].as_str().unwrap().contains(FROM));
    assert_eq!(stored["subject"], SUBJECT);
    assert_eq!(stored["body"], "<p>Hello HTML</p>");
    if std::env::var(moto::ENDPOINT_ENV).is_err() {
        moto.reset().await;
        assert!(moto.ses_messages().await.is_empty());
    }
}

#[tokio::test]
async fn sns_publishes_a_transactional_sms_to_an_e164_number_on_moto() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let sender = SnsSmsSender::connect(SnsSettings {
        aws: aws(&moto),
        sender_id: Some("Acme".into()),
        priority: 2,
    })
    .await;
    let receipt = sender.send(&sms("+886912345678")).await.unwrap();
    assert_eq!(receipt.provider, "sns");
    assert!(!receipt.provider_message_id.is_empty());
    let recorded = moto.sns_sms().await;
    assert!(
        recorded
            .iter()
            .any(|m| m["phone_number"] == "+886912345678" && m["message"] == "Your code is 246810"),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn ses_and_sns_on_an_unreachable_endpoint_are_retryable() {
    let mut settings = AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: Some(format!("http://127.0.0.1:{}", free_port())),
        access_key_id: Some("testing".into()),
        secret_access_key: Some(SecretString::from("testing")),
        timeout: Duration::from_secs(5),
    };
    let ses = SesEmailSender::connect(SesSettings {
        aws: settings.clone(),
        from: FROM.into(),
        ..SesSettings::default()
    })
    .await;
    let err = ses.send(&email("a@example.com", None)).await.unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Retryable, "{err}");
    settings.timeout = Duration::from_secs(5);
    let sns = SnsSmsSender::connect(SnsSettings {
        aws: settings,
        ..SnsSettings::default()
    })
    .await;
    let err = sns.send(&sms("+886912345678")).await.unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Retryable, "{err}");
}

// ---------------------------------------------------------------------------------------
// Twilio on wiremock
// ---------------------------------------------------------------------------------------

fn twilio(server: &MockServer, service: Option<&str>) -> TwilioSmsSender {
    TwilioSmsSender::new(TwilioSettings {
        account_sid: "AC0123".into(),
        auth_token: SecretString::from("tok-secret"),
        from: Some("+15005550006".into()),
        messaging_service_sid: service.map(str::to_owned),
        status_callback: Some("https://hooks.acme.test/twilio".into()),
        base_url: server.uri(),
        timeout: Duration::from_secs(5),
        priority: 1,
    })
    .unwrap()
}

#[tokio::test]
async fn twilio_posts_the_form_with_basic_auth_to_the_messages_resource() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC0123/Messages.json"))
        .and(basic_auth("AC0123", "tok-secret"))
        .and(body_string_contains("To=%2B886912345678"))
        .and(body_string_contains("From=%2B15005550006"))
        .and(body_string_contains("Body=Your+code+is+246810"))
        .and(body_string_contains(
            "StatusCallback=https%3A%2F%2Fhooks.acme.test%2Ftwilio",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM0123456789", "status": "queued"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = twilio(&server, None)
        .send(&sms("+886912345678"))
        .await
        .unwrap();
    assert_eq!(receipt.provider, "twilio");
    assert_eq!(receipt.provider_message_id, "SM0123456789");
}

#[tokio::test]
async fn twilio_uses_the_messaging_service_instead_of_the_from_number() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("MessagingServiceSid=MG42"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM1"})))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = twilio(&server, Some("MG42"))
        .send(&sms("+886912345678"))
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id, "SM1");
    let requests = server.received_requests().await.unwrap();
    let body = String::from_utf8_lossy(&requests[0].body);
    assert!(!body.contains("From="), "{body}");
}

#[tokio::test]
async fn twilio_errors_are_classified_from_their_status_and_code() {
    let cases = [
        (
            400,
            21211,
            "The 'To' number is not a valid phone number.",
            SendErrorKind::Permanent,
        ),
        (401, 20003, "Authenticate", SendErrorKind::Permanent),
        (429, 20429, "Too Many Requests", SendErrorKind::Retryable),
        (503, 20503, "Service Unavailable", SendErrorKind::Retryable),
    ];
    for (status, code, message, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({
                    "code": code, "message": message, "status": status,
                    "more_info": format!("https://www.twilio.com/docs/errors/{code}")
                })),
            )
            .mount(&server)
            .await;
        let err = twilio(&server, None)
            .send(&sms("+886912345678"))
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{status}/{code}: {err}");
        assert!(err.message.contains(&code.to_string()), "{err}");
        assert!(!err.message.contains("tok-secret"));
    }
}

// ---------------------------------------------------------------------------------------
// Failover and the composition root
// ---------------------------------------------------------------------------------------

fn request(to: &str) -> application::NotificationRequest {
    serde_json::from_value(serde_json::json!({
        "kind": "tenant_welcome",
        "to": to,
        "locale": "en",
        "data": {"tenant_name": "Acme", "login_url": "https://acme.example.com/login"}
    }))
    .unwrap()
}

#[tokio::test]
async fn an_unreachable_smtp_server_fails_over_to_ses_and_the_record_names_ses() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_email_identity(FROM).await;
    let mut config = bootstrap::Config::load(None, []).unwrap();
    config.email.from = FROM.into();
    config.email.mock.enable = false;
    config.notification.provider_timeout_ms = 5_000;
    let smtp = &mut config.email.smtp;
    smtp.enable = true;
    smtp.sort = 1;
    smtp.host = "127.0.0.1".into();
    smtp.port = free_port(); // nobody listens
    smtp.security = "none".into();
    let ses = &mut config.email.ses;
    ses.enable = true;
    ses.sort = 2;
    ses.region = moto::REGION.into();
    ses.endpoint_url = moto.endpoint.clone();
    ses.access_key_id = moto::ACCESS_KEY_ID.into();
    ses.secret_access_key = SecretString::from(moto::SECRET_ACCESS_KEY);
    let app = bootstrap::build(config, &bootstrap::Overrides::default())
        .await
        .unwrap();
    assert_eq!(app.backends.email, vec!["smtp", "ses"]);
    let tenant = app.checked.default_tenant.clone();
    let to = format!("failover{}@example.com", rand_u128());
    let accepted = app.notifier.send(&tenant, request(&to)).await.unwrap();
    let record = accepted.notification;
    assert_eq!(record.provider.as_deref(), Some("ses"));
    assert!(record.provider_message_id.is_some());
    let stored = app.ports.store.get(record.id).await.unwrap().unwrap();
    assert_eq!(stored.provider.as_deref(), Some("ses"));
    assert!(moto
        .ses_messages()
        .await
        .iter()
        .any(|m| m["destinations"]["ToAddresses"][0] == to.as_str()));
}

#[tokio::test]
async fn a_real_provider_and_the_mock_are_chained_by_sort() {
    let mut config = bootstrap::Config::load(None, []).unwrap();
    config.email.mock.sort = 5;
    let smtp = &mut config.email.smtp;
    smtp.enable = true;
    smtp.sort = 10;
    smtp.host = "127.0.0.1".into();
    smtp.port = free_port();
    smtp.security = "none".into();
    let app = bootstrap::build(config, &bootstrap::Overrides::default())
        .await
        .unwrap();
    assert_eq!(app.backends.email, vec!["mock", "smtp"]);
}

#[tokio::test]
async fn an_enabled_provider_without_its_settings_stops_start_up_naming_the_key() {
    let mut config = bootstrap::Config::load(None, []).unwrap();
    config.email.smtp.enable = true;
    let err = bootstrap::build(config, &bootstrap::Overrides::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "Email.SMTP.Host: must be set when Email.SMTP.Enable is true"
    );
}

#[tokio::test]
async fn notify_send_with_smtp_enabled_delivers_to_the_smtp_server() {
    use clap::Parser;
    let Some(server) = SmtpServer::start() else {
        return;
    };
    let env = [
        ("NOTIFY__EMAIL__SMTP__ENABLE", "true".to_owned()),
        ("NOTIFY__EMAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("NOTIFY__EMAIL__SMTP__PORT", server.port().to_string()),
        ("NOTIFY__EMAIL__SMTP__SECURITY", "none".to_owned()),
        ("NOTIFY__EMAIL__SMTP__SORT", "1".to_owned()),
        ("NOTIFY__EMAIL__MOCK__ENABLE", "false".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let config = bootstrap::Config::load(None, env).unwrap();
    let cli = bootstrap::cli::Cli::try_parse_from([
        "notify",
        "send",
        "--to",
        "a@example.com",
        "--data",
        "tenant_name=Acme",
        "--data",
        "login_url=https://acme.example.com/login",
    ])
    .unwrap();
    let code = bootstrap::cli::run(cli, config).await.unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    if server.maildir().is_some() {
        let stored = server.wait_for_messages(1, Duration::from_secs(5));
        assert_eq!(stored.len(), 1);
        assert_eq!(
            header(&stored[0], "X-RcptTo").as_deref(),
            Some("a@example.com")
        );
    }
}
