//! What the AWS providers (`ses`, `sns`) share: the SDK configuration (region, optional
//! endpoint override, credentials from the standard chain or from config) and the shape of
//! a failure their classification tables read.

use std::time::Duration;

use application::ports::SendError;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use secrecy::{ExposeSecret, SecretString};

/// Connection settings of one AWS client.
#[derive(Clone, Default)]
pub struct AwsSettings {
    /// Empty: the standard chain (`AWS_REGION`, profile).
    pub region: String,
    /// `http://127.0.0.1:5000` for moto or LocalStack; `None`: the AWS endpoint.
    pub endpoint_url: Option<String>,
    /// Static credentials when both are set; otherwise the standard chain (environment,
    /// profile, web identity, container and instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Bounds one call including the SDK's own retries.
    pub timeout: Duration,
}

impl std::fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "********"),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Loads the SDK configuration (`aws_config::defaults(BehaviorVersion::latest())`) with
/// the region, endpoint and credentials of `settings`. The SDK tries a call at most twice;
/// the provider chain decides what happens after that.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
                .operation_timeout(settings.timeout)
                .build(),
        );
    if !settings.region.trim().is_empty() {
        loader = loader.region(Region::new(settings.region.trim().to_owned()));
    }
    if let Some(endpoint) = settings.endpoint_url.as_deref().filter(|e| !e.is_empty()) {
        loader = loader.endpoint_url(endpoint);
    }
    if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
        if !id.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.expose_secret().to_owned(),
                None,
                None,
                "notify-config",
            ));
        }
    }
    loader.load().await
}

/// An AWS call's failure, reduced to what the classification tables read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsFailure {
    /// The call or the connection timed out.
    Timeout,
    /// The request could not be sent or the connection broke (DNS, refused, reset).
    Dispatch(String),
    /// The request could not be built (a missing field, no region, no credentials).
    Construction(String),
    /// The service answered with an error.
    Service {
        /// The error code (`Throttling`, `MessageRejected`, `InvalidParameter`, …).
        code: Option<String>,
        /// The HTTP status.
        status: Option<u16>,
        message: String,
    },
}

/// The error codes of one AWS service, as its classification table lists them.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable {
    /// The service as messages name it (`SES`, `SNS`).
    pub service: &'static str,
    /// Codes a later attempt may get past (throttling, internal errors).
    pub retryable: &'static [&'static str],
    /// Codes retrying cannot help (validation, rejected content, auth refused).
    pub permanent: &'static [&'static str],
    /// Message texts that are retryable whatever their code.
    pub retryable_messages: &'static [&'static str],
}

impl AwsFailure {
    /// Classifies the failure for `provider`. What every AWS table shares: a timeout or a
    /// dispatch failure is retryable, a request that could not be built is permanent; a
    /// service error is looked up in `table`, and an unlisted code falls back on its HTTP
    /// status (429 and 5xx retryable, other 4xx permanent, none retryable).
    pub fn classify(&self, provider: &str, table: &ErrorTable) -> SendError {
        let service = table.service;
        match self {
            AwsFailure::Timeout => {
                SendError::retryable(provider, format!("timed out calling {service}"))
            }
            AwsFailure::Dispatch(e) => {
                SendError::retryable(provider, format!("cannot reach {service}: {e}"))
            }
            AwsFailure::Construction(e) => {
                SendError::permanent(provider, format!("request could not be built: {e}"))
            }
            AwsFailure::Service {
                code,
                status,
                message,
            } => {
                let code = code.as_deref().unwrap_or("");
                let text = format!("{code} ({}): {message}", status.unwrap_or(0));
                if table.retryable_messages.iter().any(|m| message.contains(m))
                    || table.retryable.contains(&code)
                {
                    return SendError::retryable(provider, text);
                }
                if table.permanent.contains(&code) {
                    return SendError::permanent(provider, text);
                }
                match status {
                    Some(400..=499) if *status != Some(429) => SendError::permanent(provider, text),
                    _ => SendError::retryable(provider, text),
                }
            }
        }
    }
}

/// Converts an SDK error (of any AWS SDK crate: their `SdkError` is one type).
macro_rules! failure_of {
    ($err:expr, $sdk:ident) => {{
        use $crate::aws::AwsFailure;
        use $sdk::error::{ProvideErrorMetadata, SdkError};
        match $err {
            SdkError::TimeoutError(_) => AwsFailure::Timeout,
            SdkError::DispatchFailure(failure) => {
                if failure.is_timeout() {
                    AwsFailure::Timeout
                } else {
                    AwsFailure::Dispatch(format!("{:?}", failure))
                }
            }
            SdkError::ConstructionFailure(failure) => {
                AwsFailure::Construction(format!("{:?}", failure))
            }
            SdkError::ServiceError(context) => AwsFailure::Service {
                code: context.err().code().map(str::to_owned),
                status: Some(context.raw().status().as_u16()),
                message: context
                    .err()
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| context.err().to_string()),
            },
            SdkError::ResponseError(context) => AwsFailure::Service {
                code: None,
                status: Some(context.raw().status().as_u16()),
                message: "unreadable response".to_owned(),
            },
            other => AwsFailure::Dispatch(other.to_string()),
        }
    }};
}
pub(crate) use failure_of;
