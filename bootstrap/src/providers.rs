//! Builds the provider chains from configuration: which senders exist is decided by the
//! `Enable` flags, their order by `Sort`.

use std::sync::Arc;
#[allow(unused_imports)]
use std::time::Duration;

use adapters::{MockEmailSender, MockSmsSender};
use application::ports::{EmailSender, SmsSender};

use crate::compose::{MockHandles, Overrides, StartupError};
use crate::config::{Checked, Config};

/// Messages a mock provider remembers (for tests and the CLI); older ones are dropped.
const MOCK_HISTORY: usize = 1_000;

/// The senders of each channel, and handles on the mocks among them.
pub struct Senders {
    pub email: Vec<Arc<dyn EmailSender>>,
    pub sms: Vec<Arc<dyn SmsSender>>,
    pub mocks: MockHandles,
}

/// With `force_mock`, only the mock providers, whatever the configuration enables.
pub async fn build_senders(
    config: &Config,
    checked: &Checked,
    overrides: &Overrides,
) -> Result<Senders, StartupError> {
    let mut senders = Senders {
        email: Vec::new(),
        sms: Vec::new(),
        mocks: MockHandles::default(),
    };
    if overrides.force_mock || config.email.mock.enable {
        let mock = Arc::new(
            MockEmailSender::new("mock", config.email.mock.sort).with_history_limit(MOCK_HISTORY),
        );
        senders.mocks.email = Some(mock.clone());
        senders.email.push(mock);
    }
    if overrides.force_mock || config.sms.mock.enable {
        let mock = Arc::new(
            MockSmsSender::new("mock", config.sms.mock.sort).with_history_limit(MOCK_HISTORY),
        );
        senders.mocks.sms = Some(mock.clone());
        senders.sms.push(mock);
    }
    if overrides.force_mock {
        return Ok(senders);
    }
    // Real providers, each behind its cargo feature and `Enable` flag. The chain sorts
    // every sender of a channel (mock included) by `Sort`.
    config.validate_providers()?;
    if config.email.smtp.enable {
        senders.email.push(smtp(config, checked)?);
    }
    if config.email.ses.enable {
        senders.email.push(ses(config, checked).await?);
    }
    if config.sms.twilio.enable {
        senders.sms.push(twilio(config, checked)?);
    }
    if config.sms.sns.enable {
        senders.sms.push(sns(config, checked).await?);
    }
    Ok(senders)
}

/// The error of a provider enabled in config but left out of this build.
#[allow(dead_code)]
fn not_built(key: &str, feature: &str) -> StartupError {
    StartupError::Backend {
        key: key.to_owned(),
        reason: format!(
            "this build has no {feature} provider; build with the cargo feature `{feature}` (on by default)"
        ),
    }
}

#[allow(dead_code)]
fn optional(value: &str) -> Option<String> {
    match value.trim() {
        "" => None,
        v => Some(v.to_owned()),
    }
}

#[cfg(feature = "smtp")]
fn smtp(config: &Config, checked: &Checked) -> Result<Arc<dyn EmailSender>, StartupError> {
    use adapters::smtp::{SmtpSecurity, SmtpSettings};
    use secrecy::ExposeSecret;

    let c = &config.email.smtp;
    let security = SmtpSecurity::parse(&c.security).ok_or_else(|| StartupError::Backend {
        key: "Email.SMTP.Security".into(),
        reason: "must be starttls, tls or none".into(),
    })?;
    let settings = SmtpSettings {
        host: c.host.trim().to_owned(),
        port: c.port,
        security,
        username: optional(&c.username),
        password: (!c.password.expose_secret().is_empty()).then(|| c.password.clone()),
        from: checked.from.as_str().to_owned(),
        from_name: config.email.from_name.clone(),
        hello_name: optional(&c.hello_name),
        connect_timeout: checked.provider_timeout,
        pool_size: c.pool_size,
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
        priority: c.sort,
    };
    tracing::info!(host = %settings.host, port = settings.port, security = ?settings.security, sort = c.sort, "email provider smtp enabled");
    adapters::smtp::sender(settings).map_err(|e| StartupError::Backend {
        key: "Email.SMTP".into(),
        reason: e.to_string(),
    })
}

#[cfg(not(feature = "smtp"))]
fn smtp(_: &Config, _: &Checked) -> Result<Arc<dyn EmailSender>, StartupError> {
    Err(not_built("Email.SMTP.Enable", "smtp"))
}

#[cfg(any(feature = "ses", feature = "sns"))]
fn aws_settings(
    region: &str,
    endpoint_url: &str,
    access_key_id: &str,
    secret: &secrecy::SecretString,
    checked: &Checked,
) -> adapters::aws::AwsSettings {
    use secrecy::ExposeSecret;
    adapters::aws::AwsSettings {
        region: region.trim().to_owned(),
        endpoint_url: optional(endpoint_url),
        access_key_id: optional(access_key_id),
        secret_access_key: (!secret.expose_secret().is_empty()).then(|| secret.clone()),
        timeout: checked.provider_timeout,
    }
}

#[cfg(feature = "ses")]
async fn ses(config: &Config, checked: &Checked) -> Result<Arc<dyn EmailSender>, StartupError> {
    let c = &config.email.ses;
    let settings = adapters::ses::SesSettings {
        aws: aws_settings(
            &c.region,
            &c.endpoint_url,
            &c.access_key_id,
            &c.secret_access_key,
            checked,
        ),
        from: checked.from.as_str().to_owned(),
        from_name: config.email.from_name.clone(),
        configuration_set: optional(&c.configuration_set),
        tags: c.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        priority: c.sort,
    };
    tracing::info!(region = %settings.aws.region, endpoint = ?settings.aws.endpoint_url, sort = c.sort, "email provider ses enabled");
    Ok(adapters::ses::sender(settings).await)
}

#[cfg(not(feature = "ses"))]
async fn ses(_: &Config, _: &Checked) -> Result<Arc<dyn EmailSender>, StartupError> {
    Err(not_built("Email.SES.Enable", "ses"))
}

#[cfg(feature = "twilio")]
fn twilio(config: &Config, checked: &Checked) -> Result<Arc<dyn SmsSender>, StartupError> {
    let c = &config.sms.twilio;
    let settings = adapters::twilio::TwilioSettings {
        account_sid: c.account_sid.trim().to_owned(),
        auth_token: c.auth_token.clone(),
        from: optional(&c.from),
        messaging_service_sid: optional(&c.messaging_service_sid),
        status_callback: optional(&c.status_callback),
        base_url: c.base_url.trim().to_owned(),
        timeout: checked.provider_timeout,
        priority: c.sort,
    };
    tracing::info!(base_url = %settings.base_url, sort = c.sort, "sms provider twilio enabled");
    adapters::twilio::sender(settings).map_err(|e| StartupError::Backend {
        key: "Sms.Twilio".into(),
        reason: e.to_string(),
    })
}

#[cfg(not(feature = "twilio"))]
fn twilio(_: &Config, _: &Checked) -> Result<Arc<dyn SmsSender>, StartupError> {
    Err(not_built("Sms.Twilio.Enable", "twilio"))
}

#[cfg(feature = "sns")]
async fn sns(config: &Config, checked: &Checked) -> Result<Arc<dyn SmsSender>, StartupError> {
    let c = &config.sms.sns;
    let settings = adapters::sns::SnsSettings {
        aws: aws_settings(
            &c.region,
            &c.endpoint_url,
            &c.access_key_id,
            &c.secret_access_key,
            checked,
        ),
        sender_id: optional(&c.sender_id),
        priority: c.sort,
    };
    tracing::info!(region = %settings.aws.region, endpoint = ?settings.aws.endpoint_url, sort = c.sort, "sms provider sns enabled");
    Ok(adapters::sns::sender(settings).await)
}

#[cfg(not(feature = "sns"))]
async fn sns(_: &Config, _: &Checked) -> Result<Arc<dyn SmsSender>, StartupError> {
    Err(not_built("Sms.SNS.Enable", "sns"))
}
