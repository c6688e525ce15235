//! `make bench`: one message after another to a local aiosmtpd, through the `smtp`
//! provider (its own connection with TCP_NODELAY, pooled) and through lettre's pooled
//! `AsyncSmtpTransport` (which never sets TCP_NODELAY), as the baseline. Prints the mean
//! time per message of each; method and results in `docs/benchmarks.md`.
//!
//! Knob: `BENCH_SMTP_MESSAGES` (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use adapters::smtp::{SmtpEmailSender, SmtpSecurity, SmtpSettings};
use application::ports::{EmailMessage, EmailSender};
use domain::{EmailAddress, NotificationId, NotificationKind};
use lettre::AsyncTransport;
use tests::harness::smtp::SmtpServer;

const FROM: &str = "team@acme.test";

fn message() -> EmailMessage {
    EmailMessage {
        notification_id: NotificationId::from_parts(1_700_000_000_000, 7),
        kind: NotificationKind::TenantWelcome,
        to: EmailAddress::parse("bench@example.com").unwrap(),
        subject: "歡迎加入 Acme".into(),
        text: "Hello from the text part".into(),
        html: Some("<p>Hello</p>".into()),
        sensitive: false,
    }
}

#[tokio::main]
async fn main() {
    let n: u32 = std::env::var("BENCH_SMTP_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let Some(server) = SmtpServer::start() else {
        println!("smtp bench skipped: no SMTP test server (run `make test-deps`)");
        return;
    };
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: server.port(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: FROM.into(),
        from_name: "Acme".into(),
        hello_name: Some("notify.bench".into()),
        connect_timeout: Duration::from_secs(5),
        pool_size: 4,
        idle_timeout: Duration::from_secs(60),
        priority: 1,
    };
    let sender = SmtpEmailSender::new(settings).unwrap();
    let message = message();
    sender.send(&message).await.unwrap(); // opens the pooled connection
    let started = Instant::now();
    for _ in 0..n {
        sender.send(&message).await.unwrap();
    }
    let ours = started.elapsed() / n;

    let transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor> =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(server.port())
            .build();
    let built = adapters::smtp::build_message(FROM, "", &message).unwrap();
    transport
        .send_raw(&built.envelope, &built.bytes)
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..n {
        transport
            .send_raw(&built.envelope, &built.bytes)
            .await
            .unwrap();
    }
    let lettre = started.elapsed() / n;
    println!(
        "smtp sequential send, {n} messages to aiosmtpd on loopback: notify smtp provider {:.2} ms/message, lettre AsyncSmtpTransport {:.2} ms/message ({:.1}x)",
        ours.as_secs_f64() * 1e3,
        lettre.as_secs_f64() * 1e3,
        lettre.as_secs_f64() / ours.as_secs_f64()
    );
}
