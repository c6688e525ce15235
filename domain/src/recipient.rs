//! Validated recipients: email addresses and E.164 phone numbers, and their masked forms
//! for logs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Channel, ValidationError};

/// An email address as accepted for delivery: RFC 5322 `addr-spec` syntax (no display
/// name), at most 254 characters, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let field = "to";
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(
                field,
                "email address must not be empty",
            ));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                field,
                format!("email address must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                field,
                "email address must not contain control characters",
            ));
        }
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        match email_address::EmailAddress::parse_with_options(trimmed, options) {
            Ok(_) => {
                let (_, domain) = trimmed.rsplit_once('@').unwrap_or_default();
                if !domain.contains('.') && domain != "localhost" {
                    return Err(ValidationError::new(
                        field,
                        "email address domain must be a fully qualified name",
                    ));
                }
                Ok(Self(trimmed.to_owned()))
            }
            Err(err) => Err(ValidationError::new(
                field,
                format!("not a valid email address ({err})"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a***@example.com`: safe for logs.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl FromStr for EmailAddress {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Masks an email address for logs: the first character of the local part, then `***`.
pub fn mask_email(raw: &str) -> String {
    match raw.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Masks a phone number for logs: the leading `+` and up to three digits of the country
/// code, then `*`, then the last three digits.
pub fn mask_phone(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The default region for phone numbers written without a country code, as an ISO 3166-1
/// alpha-2 code (`TW`, `US`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        raw.trim()
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map(Self)
            .map_err(|_| {
                ValidationError::new("default_region", format!("unknown region code {raw:?}"))
            })
    }
}

impl Default for Region {
    fn default() -> Self {
        Self(phonenumber::country::Id::TW)
    }
}

/// A phone number normalised to E.164 (`+886912345678`) and checked to be a valid number
/// for its region.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number; one without a country code is read in `region`.
    pub fn parse(raw: &str, region: Region) -> Result<Self, ValidationError> {
        let field = "to";
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(
                field,
                "phone number must not be empty",
            ));
        }
        if trimmed.len() > 32 {
            return Err(ValidationError::new(field, "phone number is too long"));
        }
        let number = phonenumber::parse(Some(region.0), trimmed)
            .map_err(|err| ValidationError::new(field, format!("not a phone number ({err})")))?;
        if !phonenumber::is_valid(&number) {
            return Err(ValidationError::new(
                field,
                "not a valid phone number for its region",
            ));
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// Accepts only a number already in E.164 form.
    pub fn parse_e164(raw: &str) -> Result<Self, ValidationError> {
        if !raw.starts_with('+') {
            return Err(ValidationError::new(
                "to",
                "phone number must be in E.164 form",
            ));
        }
        Self::parse(raw, Region::default())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+886******678`: safe for logs.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_e164(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

/// Where a notification goes.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "channel", content = "address", rename_all = "snake_case")]
pub enum Recipient {
    Email(EmailAddress),
    Sms(PhoneNumber),
}

impl Recipient {
    /// Parses `raw` as the recipient of `channel`; the error names `field`.
    pub fn parse(
        channel: Channel,
        raw: &str,
        region: Region,
        field: &str,
    ) -> Result<Self, ValidationError> {
        match channel {
            Channel::Email => EmailAddress::parse(raw).map(Recipient::Email),
            Channel::Sms => PhoneNumber::parse(raw, region).map(Recipient::Sms),
        }
        .map_err(|err| err.for_field(field))
    }

    pub fn channel(&self) -> Channel {
        match self {
            Recipient::Email(_) => Channel::Email,
            Recipient::Sms(_) => Channel::Sms,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Email(email) => email.as_str(),
            Recipient::Sms(phone) => phone.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Recipient::Email(email) => email.masked(),
            Recipient::Sms(phone) => phone.masked(),
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Email(email) => fmt::Debug::fmt(email, f),
            Recipient::Sms(phone) => fmt::Debug::fmt(phone, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn taiwan_mobile_becomes_e164() {
        let region = Region::parse("TW").unwrap();
        let phone = PhoneNumber::parse("0912345678", region).unwrap();
        assert_eq!(phone.as_str(), "+886912345678");
        assert_eq!(
            PhoneNumber::parse("+886 912-345-678", region)
                .unwrap()
                .as_str(),
            "+886912345678"
        );
        assert_eq!(phone.masked(), "+886******678");
    }

    #[test]
    fn other_regions() {
        let us = Region::parse("us").unwrap();
        assert_eq!(
            PhoneNumber::parse("(201) 555-0123", us).unwrap().as_str(),
            "+12015550123"
        );
        assert_eq!(Region::parse("XX").unwrap_err().field, "default_region");
    }

    #[test]
    fn bad_phone_names_the_field() {
        let region = Region::default();
        for bad in ["", "abc", "12", "0912", "+999123"] {
            let err = PhoneNumber::parse(bad, region).unwrap_err();
            assert_eq!(err.field, "to", "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(EmailAddress::parse("a@example.com").is_ok());
        assert!(EmailAddress::parse("user+tag@sub.example.co").is_ok());
        for bad in [
            "",
            "plain",
            "a@",
            "@example.com",
            "a@b",
            "a@example.com\r\nBcc: x@example.com",
            "Name <a@example.com>",
        ] {
            assert_eq!(EmailAddress::parse(bad).unwrap_err().field, "to", "{bad:?}");
        }
        assert_eq!(
            EmailAddress::parse("alice@example.com").unwrap().masked(),
            "a***@example.com"
        );
    }

    #[test]
    fn debug_never_shows_the_full_address() {
        let email = EmailAddress::parse("alice@example.com").unwrap();
        assert!(!format!("{email:?}").contains("alice"));
        let phone = PhoneNumber::parse("0912345678", Region::default()).unwrap();
        assert!(!format!("{phone:?}").contains("912345678"));
    }

    #[test]
    fn recipient_errors_carry_the_given_field() {
        let err = Recipient::parse(Channel::Sms, "nope", Region::default(), "phone").unwrap_err();
        assert_eq!(err.field, "phone");
    }

    proptest! {
        #[test]
        fn email_parse_never_panics(s in "\\PC{0,300}") {
            let _ = EmailAddress::parse(&s);
        }

        #[test]
        fn valid_emails_round_trip(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z]{1,10}\\.(com|org|tw)") {
            let raw = format!("{local}@{domain}");
            let parsed = EmailAddress::parse(&raw);
            if !local.contains("..") {
                let parsed = parsed.unwrap();
                prop_assert_eq!(parsed.as_str(), raw.as_str());
            }
        }

        #[test]
        fn phone_parse_never_panics(s in "\\PC{0,40}") {
            let _ = PhoneNumber::parse(&s, Region::default());
        }

        #[test]
        fn tw_mobiles_normalise(rest in "[0-9]{8}") {
            let phone = PhoneNumber::parse(&format!("09{rest}"), Region::default()).unwrap();
            prop_assert_eq!(phone.as_str(), format!("+8869{rest}"));
            // E.164 output parses back to itself.
            prop_assert_eq!(PhoneNumber::parse_e164(phone.as_str()).unwrap(), phone.clone());
        }

        #[test]
        fn masks_never_show_the_middle(rest in "[0-9]{8}") {
            let phone = PhoneNumber::parse(&format!("09{rest}"), Region::default()).unwrap();
            prop_assert!(!phone.masked().contains(&rest[..5]));
        }
    }
}
