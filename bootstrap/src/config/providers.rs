//! Configuration of the real providers: `Email.SMTP`, `Email.SES`, `Sms.Twilio`, `Sms.SNS`.
//! Each has an `Enable` flag and a `Sort` (priority in its channel's chain, lower first).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub enable: bool,
    pub sort: i32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SesConfig {
    pub enable: bool,
    pub sort: i32,
}

impl Default for SesConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct TwilioConfig {
    pub enable: bool,
    pub sort: i32,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub struct SnsConfig {
    pub enable: bool,
    pub sort: i32,
}

impl Default for SnsConfig {
    fn default() -> Self {
        Self {
            enable: false,
            sort: 2,
        }
    }
}
