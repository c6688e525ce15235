//! Channels, notification kinds and locales.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            other => Err(ValidationError::new(
                "channel",
                format!("unknown channel {other:?}; expected \"email\" or \"sms\""),
            )),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What a notification is about. Each kind knows its channels and whether its rendered
/// content is sensitive (never persisted, never logged, never replayed from a dead letter).
///
/// Adding a kind: a variant here, its arms below (the compiler lists them), its templates in
/// `adapters/templates/`, and a line in `docs/extending.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    TenantWelcome,
    Otp,
    PasswordReset,
    MemberInvite,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 4] = [
        NotificationKind::TenantWelcome,
        NotificationKind::Otp,
        NotificationKind::PasswordReset,
        NotificationKind::MemberInvite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::TenantWelcome => "tenant_welcome",
            NotificationKind::Otp => "otp",
            NotificationKind::PasswordReset => "password_reset",
            NotificationKind::MemberInvite => "member_invite",
        }
    }

    /// The channels this kind can be sent on, the first being the default.
    pub fn channels(self) -> &'static [Channel] {
        match self {
            NotificationKind::TenantWelcome => &[Channel::Email],
            NotificationKind::Otp => &[Channel::Email, Channel::Sms],
            NotificationKind::PasswordReset => &[Channel::Email],
            NotificationKind::MemberInvite => &[Channel::Email],
        }
    }

    /// Whether the rendered content holds a secret (a code, a reset link).
    pub fn is_sensitive(self) -> bool {
        match self {
            NotificationKind::TenantWelcome | NotificationKind::MemberInvite => false,
            NotificationKind::Otp | NotificationKind::PasswordReset => true,
        }
    }

    pub fn supports(self, channel: Channel) -> bool {
        self.channels().contains(&channel)
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|k| k.as_str()).collect();
                ValidationError::new(
                    "kind",
                    format!("unknown kind {raw:?}; known kinds: {}", known.join(", ")),
                )
            })
    }

    /// The channel to use: the one asked for if the kind supports it, or the kind's only one.
    pub fn resolve_channel(self, asked: Option<Channel>) -> Result<Channel, ValidationError> {
        match asked {
            Some(channel) if self.supports(channel) => Ok(channel),
            Some(channel) => Err(ValidationError::new(
                "channel",
                format!("kind {} cannot be sent by {channel}", self.as_str()),
            )),
            None => match self.channels() {
                [only] => Ok(*only),
                _ => Err(ValidationError::new(
                    "channel",
                    format!(
                        "kind {} is sent by several channels; say which (\"email\" or \"sms\")",
                        self.as_str()
                    ),
                )),
            },
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A template locale. `zh-TW` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "zh-TW")]
    ZhTw,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhTw, Locale::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ZhTw => "zh-TW",
            Locale::En => "en",
        }
    }

    /// Accepts `zh-TW`, `zh_TW`, `zh-tw`, `en`, `en-US`, `en_GB` and the like.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let norm = raw.trim().replace('_', "-").to_ascii_lowercase();
        match norm.as_str() {
            "zh-tw" | "zh-hant" | "zh-hant-tw" => Ok(Locale::ZhTw),
            "en" => Ok(Locale::En),
            s if s.starts_with("en-") => Ok(Locale::En),
            _ => Err(ValidationError::new(
                "locale",
                format!("unsupported locale {raw:?}; supported: zh-TW, en"),
            )),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Locale {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_know_their_channels() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()).unwrap(), kind);
            assert!(!kind.channels().is_empty());
        }
        assert!(NotificationKind::Otp.is_sensitive());
        assert!(NotificationKind::PasswordReset.is_sensitive());
        assert!(!NotificationKind::TenantWelcome.is_sensitive());
        assert!(NotificationKind::Otp.supports(Channel::Sms));
        assert!(!NotificationKind::MemberInvite.supports(Channel::Sms));
    }

    #[test]
    fn unknown_kind_names_the_field() {
        let err = NotificationKind::parse("newsletter").unwrap_err();
        assert_eq!(err.field, "kind");
        assert!(err.reason.contains("tenant_welcome"));
    }

    #[test]
    fn channel_resolution() {
        use NotificationKind::*;
        assert_eq!(TenantWelcome.resolve_channel(None).unwrap(), Channel::Email);
        assert_eq!(
            Otp.resolve_channel(Some(Channel::Sms)).unwrap(),
            Channel::Sms
        );
        assert_eq!(Otp.resolve_channel(None).unwrap_err().field, "channel");
        assert_eq!(
            MemberInvite
                .resolve_channel(Some(Channel::Sms))
                .unwrap_err()
                .field,
            "channel"
        );
    }

    #[test]
    fn locales() {
        assert_eq!(Locale::parse("zh_TW").unwrap(), Locale::ZhTw);
        assert_eq!(Locale::parse("en-US").unwrap(), Locale::En);
        assert_eq!(Locale::parse("fr").unwrap_err().field, "locale");
        assert_eq!(Locale::default(), Locale::ZhTw);
    }
}
