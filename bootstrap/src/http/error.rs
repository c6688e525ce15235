//! The one error-to-HTTP table: every error the gateway answers with has a stable `code`
//! and a status here, and one JSON shape, `{"error": {"code", "message", "field"?,
//! "notification_id"?}}`. 5xx bodies are opaque; their detail goes to the log.

use std::time::Duration;

use application::ports::RenderError;
use application::{AdminError, NotifyError};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::ValidationError;
use serde::Serialize;

/// The stable error codes of the HTTP API and their statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidData,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    IdempotencyConflict,
    IdempotencyInProgress,
    NotReplayable,
    StateChanged,
    QuotaExceeded,
    Internal,
    DeliveryFailed,
    NoProvider,
    QueueUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidData,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::IdempotencyConflict,
        ErrorCode::IdempotencyInProgress,
        ErrorCode::NotReplayable,
        ErrorCode::StateChanged,
        ErrorCode::QuotaExceeded,
        ErrorCode::Internal,
        ErrorCode::DeliveryFailed,
        ErrorCode::NoProvider,
        ErrorCode::QueueUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidData => "invalid_data",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::IdempotencyInProgress => "idempotency_in_progress",
            ErrorCode::NotReplayable => "not_replayable",
            ErrorCode::StateChanged => "state_changed",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::Internal => "internal",
            ErrorCode::DeliveryFailed => "delivery_failed",
            ErrorCode::NoProvider => "no_provider",
            ErrorCode::QueueUnavailable => "queue_unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidData => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::IdempotencyConflict
            | ErrorCode::IdempotencyInProgress
            | ErrorCode::NotReplayable
            | ErrorCode::StateChanged => StatusCode::CONFLICT,
            ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::DeliveryFailed => StatusCode::BAD_GATEWAY,
            ErrorCode::NoProvider | ErrorCode::QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the code means, for the OpenAPI document.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "a request field, header or query parameter is invalid; `field` names it",
            ErrorCode::InvalidData => "the template cannot be rendered with `data`; `field` names the variable (`data.<name>`)",
            ErrorCode::Unauthorized => "missing or unknown bearer API key",
            ErrorCode::NotFound => "no such record for this tenant, or no such route",
            ErrorCode::MethodNotAllowed => "the route does not take this method",
            ErrorCode::PayloadTooLarge => "the request body is too large",
            ErrorCode::IdempotencyConflict => "the idempotency key was used before with a different request",
            ErrorCode::IdempotencyInProgress => "a request with this idempotency key is still being processed; retry shortly",
            ErrorCode::NotReplayable => "the dead letter is of a sensitive notification whose body is gone",
            ErrorCode::StateChanged => "the record is not in the state the action needs",
            ErrorCode::QuotaExceeded => "a quota is used up; retry after `Retry-After` seconds. The refusal is recorded as `dropped` (`notification_id`)",
            ErrorCode::Internal => "an unexpected failure; the detail is in the service log",
            ErrorCode::DeliveryFailed => "every provider of the channel failed (sync); the record (`notification_id`) is `failed`",
            ErrorCode::NoProvider => "no provider is enabled for the channel",
            ErrorCode::QueueUnavailable => "async notification requires redis retry queue",
        }
    }
}

/// An error answer of the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub notification_id: Option<String>,
    /// Seconds, for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

/// The opaque message of every 500.
const INTERNAL_MESSAGE: &str = "internal error; the service log has the detail";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            notification_id: None,
            retry_after: None,
        }
    }

    /// 400 `invalid_request` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message).with_field(field)
    }

    /// 500 `internal`: logs `detail`, answers an opaque message.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed unexpectedly");
        Self::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }

    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    #[must_use]
    fn with_notification(mut self, id: impl ToString) -> Self {
        self.notification_id = Some(id.to_string());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        ApiError::invalid(err.field.clone(), err.to_string())
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl From<NotifyError> for ApiError {
    fn from(err: NotifyError) -> Self {
        let field = err.field();
        match err {
            NotifyError::Invalid(invalid) => invalid.into(),
            NotifyError::Render(
                ref render @ (RenderError::MissingVariable { .. } | RenderError::Invalid { .. }),
            ) => {
                let api = ApiError::new(ErrorCode::InvalidData, render.to_string());
                match field {
                    Some(field) => api.with_field(field),
                    None => api,
                }
            }
            NotifyError::Render(
                ref render @ (RenderError::NoTemplate { .. } | RenderError::Broken { .. }),
            ) => ApiError::internal(render),
            NotifyError::QuotaExceeded {
                retry_after,
                ref notification,
            } => {
                let mut api = ApiError::new(ErrorCode::QuotaExceeded, err.to_string())
                    .with_notification(notification.id);
                api.retry_after = Some(retry_after_seconds(retry_after));
                api
            }
            NotifyError::IdempotencyConflict => {
                ApiError::new(ErrorCode::IdempotencyConflict, err.to_string())
                    .with_field("idempotency_key")
            }
            NotifyError::IdempotencyInProgress => {
                ApiError::new(ErrorCode::IdempotencyInProgress, err.to_string())
                    .with_field("idempotency_key")
            }
            NotifyError::DeliveryFailed {
                ref notification, ..
            } => ApiError::new(ErrorCode::DeliveryFailed, err.to_string())
                .with_notification(notification.id),
            NotifyError::NoProvider(_) => ApiError::new(ErrorCode::NoProvider, err.to_string()),
            NotifyError::QueueUnavailable => {
                ApiError::new(ErrorCode::QueueUnavailable, err.to_string())
            }
            NotifyError::Unexpected(ref store) => ApiError::internal(store),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Invalid(invalid) => invalid.into(),
            AdminError::NotFound(_) => ApiError::new(ErrorCode::NotFound, err.to_string()),
            AdminError::NotReplayable(message) => ApiError::new(ErrorCode::NotReplayable, message),
            AdminError::StateChanged(message) => ApiError::new(ErrorCode::StateChanged, message),
            AdminError::QueueUnavailable => {
                ApiError::new(ErrorCode::QueueUnavailable, err.to_string())
            }
            AdminError::Unexpected(ref store) => ApiError::internal(store),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, rejection.body_text())
        } else {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("cannot read the request body: {}", rejection.body_text()),
            )
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::invalid("id", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, rejection.body_text())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code.as_str(),
                message: &self.message,
                field: self.field.as_deref(),
                notification_id: self.notification_id.as_deref(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use application::ports::StoreError;
    use domain::{Channel, NotificationKind};

    use super::*;

    #[test]
    fn every_code_is_unique() {
        let codes: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_one_second() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1200)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(60)), 60);
    }

    #[test]
    fn notify_errors_map_to_their_codes() {
        let cases: Vec<(NotifyError, StatusCode, &str, Option<&str>)> = vec![
            (
                ValidationError::new("to", "bad").into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("to"),
            ),
            (
                RenderError::MissingVariable {
                    kind: NotificationKind::TenantWelcome,
                    variable: "login_url".into(),
                }
                .into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_data",
                Some("data.login_url"),
            ),
            (
                RenderError::Invalid {
                    field: "data.tenant_name".into(),
                    reason: "line break".into(),
                }
                .into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_data",
                Some("data.tenant_name"),
            ),
            (
                RenderError::Broken {
                    name: "x".into(),
                    reason: "y".into(),
                }
                .into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                None,
            ),
            (
                NotifyError::IdempotencyConflict,
                StatusCode::CONFLICT,
                "idempotency_conflict",
                Some("idempotency_key"),
            ),
            (
                NotifyError::IdempotencyInProgress,
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                Some("idempotency_key"),
            ),
            (
                NotifyError::NoProvider(Channel::Sms),
                StatusCode::SERVICE_UNAVAILABLE,
                "no_provider",
                None,
            ),
            (
                NotifyError::QueueUnavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                None,
            ),
            (
                NotifyError::Unexpected(StoreError::Unavailable("secret detail".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                None,
            ),
        ];
        for (err, status, code, field) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status(), status, "{api:?}");
            assert_eq!(api.code.as_str(), code, "{api:?}");
            assert_eq!(api.field.as_deref(), field, "{api:?}");
            assert!(!api.message.contains("secret detail"), "{api:?}");
        }
    }

    #[test]
    fn queue_unavailable_says_why() {
        let api = ApiError::from(NotifyError::QueueUnavailable);
        assert_eq!(api.message, "async notification requires redis retry queue");
    }

    #[test]
    fn admin_errors_map_to_their_codes() {
        let cases = [
            (
                AdminError::NotFound("x".into()),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                AdminError::NotReplayable(application::NOT_REPLAYABLE.into()),
                StatusCode::CONFLICT,
                "not_replayable",
            ),
            (
                AdminError::StateChanged("moved".into()),
                StatusCode::CONFLICT,
                "state_changed",
            ),
            (
                AdminError::QueueUnavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
            ),
            (
                AdminError::Unexpected(StoreError::Corrupt("secret detail".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status(), status);
            assert_eq!(api.code.as_str(), code);
            assert!(!api.message.contains("secret detail"));
        }
    }
}
