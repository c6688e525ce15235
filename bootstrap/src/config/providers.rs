//! Configuration of the real providers: `Email.SMTP`, `Email.SES`, `Sms.Twilio`, `Sms.SNS`.
//! Each has an `Enable` flag and a `Sort` (priority in its channel's chain, lower first).
//! Secrets are [`SecretString`]s, serialized as `********` (blank when unset) and never
//! logged. [`Config::validate_providers`] checks the enabled ones, naming the key.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// `********` for a set secret, blank for an unset one (so the defaults stay blank when
/// they are serialized and loaded again).
fn masked<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() {
        s.serialize_str("")
    } else {
        s.serialize_str("********")
    }
}

fn blank_secret() -> SecretString {
    SecretString::from(String::new())
}

/// `Email.SMTP`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub enable: bool,
    pub sort: i32,
    /// The server's host name (also the name its TLS certificate must carry).
    pub host: String,
    pub port: u16,
    /// `starttls` (port 587), `tls` (implicit TLS, port 465) or `none`.
    pub security: String,
    /// Blank: no authentication.
    pub username: String,
    #[serde(serialize_with = "masked")]
    pub password: SecretString,
    /// The EHLO name; blank: this machine's host name.
    pub hello_name: String,
    /// Idle connections kept for reuse (each has `TCP_NODELAY`).
    pub pool_size: usize,
    /// An idle connection older than this is closed instead of reused.
    pub idle_timeout_seconds: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 1,
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: blank_secret(),
            hello_name: String::new(),
            pool_size: 4,
            idle_timeout_seconds: 60,
        }
    }
}

/// `Email.SES`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SesConfig {
    pub enable: bool,
    pub sort: i32,
    /// Blank: from the AWS environment (`AWS_REGION`, profile).
    pub region: String,
    /// Blank: the AWS endpoint; `http://127.0.0.1:5000` for moto.
    pub endpoint_url: String,
    /// Static credentials when both are set; otherwise the standard AWS chain.
    pub access_key_id: String,
    #[serde(serialize_with = "masked")]
    pub secret_access_key: SecretString,
    /// Blank: none.
    pub configuration_set: String,
    /// Message tags added to every message.
    pub tags: BTreeMap<String, String>,
}

impl Default for SesConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 2,
            region: String::new(),
            endpoint_url: String::new(),
            access_key_id: String::new(),
            secret_access_key: blank_secret(),
            configuration_set: String::new(),
            tags: BTreeMap::new(),
        }
    }
}

/// `Sms.Twilio`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct TwilioConfig {
    pub enable: bool,
    pub sort: i32,
    pub account_sid: String,
    #[serde(serialize_with = "masked")]
    pub auth_token: SecretString,
    /// The sending number (E.164); blank when `MessagingServiceSid` is set.
    pub from: String,
    /// Wins over `From` when set.
    pub messaging_service_sid: String,
    /// Twilio posts delivery status changes here; blank: none.
    pub status_callback: String,
    /// Twilio's API root; a local server in tests.
    pub base_url: String,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 1,
            account_sid: String::new(),
            auth_token: blank_secret(),
            from: String::new(),
            messaging_service_sid: String::new(),
            status_callback: String::new(),
            base_url: "https://api.twilio.com".into(),
        }
    }
}

/// `Sms.SNS`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SnsConfig {
    pub enable: bool,
    pub sort: i32,
    /// Blank: from the AWS environment (`AWS_REGION`, profile).
    pub region: String,
    /// Blank: the AWS endpoint; `http://127.0.0.1:5000` for moto.
    pub endpoint_url: String,
    /// Static credentials when both are set; otherwise the standard AWS chain.
    pub access_key_id: String,
    #[serde(serialize_with = "masked")]
    pub secret_access_key: SecretString,
    /// `AWS.SNS.SMS.SenderID` (1–11 letters and digits); blank: none.
    pub sender_id: String,
}

impl Default for SnsConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 2,
            region: String::new(),
            endpoint_url: String::new(),
            access_key_id: String::new(),
            secret_access_key: blank_secret(),
            sender_id: String::new(),
        }
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, reason)
}

fn required(section: &str, field: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(
            &format!("{section}.{field}"),
            format!("must be set when {section}.Enable is true"),
        ));
    }
    Ok(())
}

fn http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    if !v.is_empty() && !v.starts_with("http://") && !v.starts_with("https://") {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(())
}

fn aws(
    section: &str,
    endpoint_url: &str,
    access_key_id: &str,
    secret: &SecretString,
) -> Result<(), ConfigError> {
    http_url(&format!("{section}.EndpointUrl"), endpoint_url)?;
    let has_id = !access_key_id.trim().is_empty();
    let has_secret = !secret.expose_secret().is_empty();
    if has_id != has_secret {
        return Err(invalid(
            &format!("{section}.SecretAccessKey"),
            format!("{section}.AccessKeyId and {section}.SecretAccessKey go together: set both, or neither for the standard AWS credentials chain"),
        ));
    }
    Ok(())
}

impl Config {
    /// Checks the settings of every enabled real provider; errors name the key
    /// (`Email.SMTP.Host: must be set when Email.SMTP.Enable is true`).
    pub fn validate_providers(&self) -> Result<(), ConfigError> {
        let smtp = &self.email.smtp;
        if smtp.enable {
            required("Email.SMTP", "Host", &smtp.host)?;
            if smtp.port == 0 {
                return Err(invalid("Email.SMTP.Port", "must be a port number above 0"));
            }
            if !matches!(
                smtp.security.trim().to_ascii_lowercase().as_str(),
                "starttls" | "tls" | "none"
            ) {
                return Err(invalid(
                    "Email.SMTP.Security",
                    format!("must be starttls, tls or none, not {:?}", smtp.security),
                ));
            }
            let has_user = !smtp.username.trim().is_empty();
            let has_password = !smtp.password.expose_secret().is_empty();
            if has_user && !has_password {
                return Err(invalid(
                    "Email.SMTP.Password",
                    "must be set when Email.SMTP.Username is set",
                ));
            }
            if has_password && !has_user {
                return Err(invalid(
                    "Email.SMTP.Username",
                    "must be set when Email.SMTP.Password is set",
                ));
            }
            if smtp.hello_name.contains(char::is_whitespace) {
                return Err(invalid("Email.SMTP.HelloName", "must be a host name"));
            }
        }
        let ses = &self.email.ses;
        if ses.enable {
            aws(
                "Email.SES",
                &ses.endpoint_url,
                &ses.access_key_id,
                &ses.secret_access_key,
            )?;
            for (name, value) in &ses.tags {
                let ok = |s: &str| {
                    !s.is_empty()
                        && s.len() <= 256
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                };
                if !ok(name) || !ok(value) {
                    return Err(invalid(
                        &format!("Email.SES.Tags.{name}"),
                        "names and values must be 1-256 ASCII letters, digits, _, - or .",
                    ));
                }
            }
        }
        let twilio = &self.sms.twilio;
        if twilio.enable {
            required("Sms.Twilio", "AccountSid", &twilio.account_sid)?;
            if twilio.auth_token.expose_secret().trim().is_empty() {
                return Err(invalid(
                    "Sms.Twilio.AuthToken",
                    "must be set when Sms.Twilio.Enable is true",
                ));
            }
            if twilio.from.trim().is_empty() && twilio.messaging_service_sid.trim().is_empty() {
                return Err(invalid(
                    "Sms.Twilio.From",
                    "must be set (or Sms.Twilio.MessagingServiceSid) when Sms.Twilio.Enable is true",
                ));
            }
            required("Sms.Twilio", "BaseUrl", &twilio.base_url)?;
            http_url("Sms.Twilio.BaseUrl", &twilio.base_url)?;
            http_url("Sms.Twilio.StatusCallback", &twilio.status_callback)?;
        }
        let sns = &self.sms.sns;
        if sns.enable {
            aws(
                "Sms.SNS",
                &sns.endpoint_url,
                &sns.access_key_id,
                &sns.secret_access_key,
            )?;
            let id = sns.sender_id.trim();
            if !id.is_empty() && (id.len() > 11 || !id.chars().all(|c| c.is_ascii_alphanumeric())) {
                return Err(invalid(
                    "Sms.SNS.SenderId",
                    "must be 1-11 ASCII letters and digits",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn config(yaml: &str) -> Config {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, yaml.as_bytes()).unwrap();
        Config::load(Some(file.path()), []).unwrap()
    }

    #[test]
    fn the_defaults_enable_no_real_provider_and_pass() {
        let config = Config::load(None, []).unwrap();
        assert!(!config.email.smtp.enable && !config.email.ses.enable);
        assert!(!config.sms.twilio.enable && !config.sms.sns.enable);
        config.validate_providers().unwrap();
        assert!(config.email.smtp.password.expose_secret().is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "Email:\n  SMTP:\n    Enable: true\n",
                "Email.SMTP.Host: must be set when Email.SMTP.Enable is true",
            ),
            (
                "Email:\n  SMTP:\n    Enable: true\n    Host: h\n    Security: ssl\n",
                "Email.SMTP.Security:",
            ),
            (
                "Email:\n  SMTP:\n    Enable: true\n    Host: h\n    Username: u\n",
                "Email.SMTP.Password:",
            ),
            (
                "Email:\n  SES:\n    Enable: true\n    EndpointUrl: localhost:5000\n",
                "Email.SES.EndpointUrl:",
            ),
            (
                "Email:\n  SES:\n    Enable: true\n    AccessKeyId: x\n",
                "Email.SES.SecretAccessKey:",
            ),
            (
                "Email:\n  SES:\n    Enable: true\n    Tags: {\"bad tag\": x}\n",
                "Email.SES.Tags.bad tag:",
            ),
            (
                "Sms:\n  Twilio:\n    Enable: true\n",
                "Sms.Twilio.AccountSid:",
            ),
            (
                "Sms:\n  Twilio:\n    Enable: true\n    AccountSid: AC1\n",
                "Sms.Twilio.AuthToken:",
            ),
            (
                "Sms:\n  Twilio:\n    Enable: true\n    AccountSid: AC1\n    AuthToken: t\n",
                "Sms.Twilio.From:",
            ),
            (
                "Sms:\n  SNS:\n    Enable: true\n    SenderId: way-too-long-id\n",
                "Sms.SNS.SenderId:",
            ),
        ];
        for (yaml, expected) in cases {
            let err = config(yaml).validate_providers().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{yaml} -> {err}");
        }
    }

    #[test]
    fn secrets_are_masked_when_serialized() {
        let config = config(
            "Email:\n  SMTP:\n    Password: hunter2\nSms:\n  Twilio:\n    AuthToken: tok-secret\n",
        );
        assert_eq!(config.email.smtp.password.expose_secret(), "hunter2");
        let shown = serde_json::to_string(&config).unwrap();
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-secret"),
            "{shown}"
        );
        assert!(shown.contains("\"Password\":\"********\""), "{shown}");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("tok-secret"));
    }

    #[test]
    fn provider_keys_can_be_set_from_the_environment() {
        let env = [
            ("NOTIFY__EMAIL__SMTP__ENABLE", "true"),
            ("NOTIFY__EMAIL__SMTP__HOST", "127.0.0.1"),
            ("NOTIFY__EMAIL__SMTP__PORT", "2525"),
            ("NOTIFY__EMAIL__SMTP__SECURITY", "none"),
            ("NOTIFY__EMAIL__SMTP__PASSWORD", "pw"),
            ("NOTIFY__EMAIL__SMTP__USERNAME", "me"),
            ("NOTIFY__SMS__SNS__ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let config = Config::load(None, env).unwrap();
        assert!(config.email.smtp.enable);
        assert_eq!(config.email.smtp.port, 2525);
        assert_eq!(config.email.smtp.password.expose_secret(), "pw");
        assert_eq!(config.sms.sns.endpoint_url, "http://127.0.0.1:5000");
        config.validate_providers().unwrap();
    }
}
