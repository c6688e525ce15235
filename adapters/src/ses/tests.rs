#![allow(clippy::unwrap_used, clippy::expect_used)]

use application::ports::SendErrorKind;

use super::*;

fn service(code: Option<&str>, status: u16, message: &str) -> SendErrorKind {
    classify(&AwsFailure::Service {
        code: code.map(str::to_owned),
        status: Some(status),
        message: message.to_owned(),
    })
    .kind
}

#[test]
fn throttling_and_server_errors_are_retryable() {
    use SendErrorKind::Retryable;
    assert_eq!(
        service(Some("TooManyRequestsException"), 429, "slow down"),
        Retryable
    );
    assert_eq!(
        service(Some("Throttling"), 400, "Maximum sending rate exceeded."),
        Retryable
    );
    assert_eq!(
        service(None, 400, "Maximum sending rate exceeded."),
        Retryable
    );
    assert_eq!(
        service(Some("LimitExceededException"), 400, "Daily quota"),
        Retryable
    );
    assert_eq!(
        service(Some("SendingPausedException"), 400, "paused"),
        Retryable
    );
    assert_eq!(service(Some("InternalFailure"), 500, "oops"), Retryable);
    assert_eq!(service(None, 503, "unavailable"), Retryable);
    assert_eq!(classify(&AwsFailure::Timeout).kind, Retryable);
    assert_eq!(
        classify(&AwsFailure::Dispatch("refused".into())).kind,
        Retryable
    );
}

#[test]
fn rejected_messages_validation_and_auth_errors_are_permanent() {
    use SendErrorKind::Permanent;
    assert_eq!(
        service(
            Some("MessageRejected"),
            400,
            "Email address is not verified."
        ),
        Permanent
    );
    assert_eq!(service(Some("BadRequestException"), 400, "bad"), Permanent);
    assert_eq!(
        service(Some("NotFoundException"), 404, "no such set"),
        Permanent
    );
    assert_eq!(service(Some("InvalidClientTokenId"), 403, "who"), Permanent);
    assert_eq!(
        service(Some("SignatureDoesNotMatch"), 403, "sig"),
        Permanent
    );
    assert_eq!(service(None, 401, "denied"), Permanent);
    assert_eq!(service(Some("SomethingNew"), 400, "?"), Permanent);
    assert_eq!(
        classify(&AwsFailure::Construction("no region".into())).kind,
        Permanent
    );
}

#[test]
fn a_non_ascii_display_name_is_an_encoded_word() {
    assert_eq!(from_header("a@acme.test", ""), "a@acme.test");
    assert_eq!(from_header("a@acme.test", "Acme"), "Acme <a@acme.test>");
    assert_eq!(
        from_header("a@acme.test", "通知"),
        "=?UTF-8?B?6YCa55+l?= <a@acme.test>"
    );
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
}
