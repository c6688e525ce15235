#![allow(clippy::unwrap_used, clippy::expect_used)]

use application::ports::SendErrorKind::{self, Permanent, Retryable};

use super::*;

fn http(status: u16, code: Option<u32>) -> SendErrorKind {
    classify(&TwilioFailure::Http {
        status,
        code,
        message: "m".into(),
    })
    .kind
}

#[test]
fn rate_limits_server_errors_and_timeouts_are_retryable() {
    assert_eq!(http(429, Some(20429)), Retryable);
    assert_eq!(http(400, Some(14107)), Retryable);
    assert_eq!(http(500, None), Retryable);
    assert_eq!(http(503, Some(20500)), Retryable);
    assert_eq!(classify(&TwilioFailure::Timeout).kind, Retryable);
    assert_eq!(
        classify(&TwilioFailure::Connect("refused".into())).kind,
        Retryable
    );
}

#[test]
fn bad_recipients_and_auth_refusals_are_permanent() {
    assert_eq!(http(400, Some(21211)), Permanent);
    assert_eq!(http(400, Some(21614)), Permanent);
    assert_eq!(http(400, Some(21610)), Permanent);
    assert_eq!(http(401, Some(20003)), Permanent);
    assert_eq!(http(403, None), Permanent);
    assert_eq!(http(404, Some(20404)), Permanent);
    assert!(classify(&TwilioFailure::Http {
        status: 401,
        code: Some(20003),
        message: "Authenticate".into()
    })
    .message
    .contains("authentication refused"));
}

#[test]
fn the_auth_token_never_shows_in_debug() {
    let sender = TwilioSmsSender::new(TwilioSettings {
        account_sid: "AC123".into(),
        auth_token: SecretString::from("token-secret-value"),
        from: Some("+15005550006".into()),
        messaging_service_sid: None,
        status_callback: None,
        base_url: DEFAULT_BASE_URL.into(),
        timeout: Duration::from_secs(1),
        priority: 1,
    })
    .unwrap();
    let shown = format!("{sender:?}");
    assert!(!shown.contains("token-secret-value"), "{shown}");
    assert!(shown.contains("/2010-04-01/Accounts/AC123/Messages.json"));
}
