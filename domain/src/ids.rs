//! Typed identifiers: tenants, idempotency keys and notification ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A tenant: 1 to 64 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let field = "tenant_id";
        if raw.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(ValidationError::new(
                field,
                "may only contain letters, digits, '_', '-' and '.'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A caller's idempotency key: 1 to 128 printable ASCII characters without spaces.
///
/// Scope is `(tenant_id, idempotency_key)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let field = "idempotency_key";
        if raw.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError::new(
                field,
                "may only contain printable ASCII characters without spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(value: IdempotencyKey) -> Self {
        value.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A notification id: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationId(ulid::Ulid);

impl NotificationId {
    /// Builds an id from a millisecond timestamp and 80 random bits.
    pub fn from_parts(timestamp_ms: u64, random: u128) -> Self {
        Self(ulid::Ulid::from_parts(timestamp_ms, random))
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        ulid::Ulid::from_string(raw)
            .map(Self)
            .map_err(|_| ValidationError::new("id", "is not a notification id (26-character ULID)"))
    }

    /// Milliseconds since the epoch at which the id was made.
    pub fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl FromStr for NotificationId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NotificationId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NotificationId> for String {
    fn from(value: NotificationId) -> Self {
        value.0.to_string()
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tenant_errors_name_the_field() {
        let err = TenantId::parse("").unwrap_err();
        assert_eq!(err.field, "tenant_id");
        assert!(TenantId::parse("acme corp").is_err());
        assert!(TenantId::parse(&"a".repeat(65)).is_err());
        assert_eq!(
            TenantId::parse("acme-1.eu_x").unwrap().as_str(),
            "acme-1.eu_x"
        );
    }

    #[test]
    fn idempotency_key_rules() {
        assert_eq!(
            IdempotencyKey::parse("").unwrap_err().field,
            "idempotency_key"
        );
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("ключ").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        assert!(IdempotencyKey::parse("order-42:welcome").is_ok());
    }

    #[test]
    fn ids_sort_by_time() {
        let a = NotificationId::from_parts(1_000, u128::MAX >> 48);
        let b = NotificationId::from_parts(1_001, 0);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    proptest! {
        #[test]
        fn tenant_parse_accepts_exactly_the_charset(s in "\\PC{0,80}") {
            let ok = !s.is_empty() && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            prop_assert_eq!(TenantId::parse(&s).is_ok(), ok);
        }

        #[test]
        fn idempotency_key_round_trips(s in "[!-~]{1,128}") {
            let key = IdempotencyKey::parse(&s).unwrap();
            prop_assert_eq!(key.as_str(), s.as_str());
        }

        #[test]
        fn idempotency_key_never_panics(s in "\\PC{0,200}") {
            let _ = IdempotencyKey::parse(&s);
        }

        #[test]
        fn notification_id_round_trips(ts in 0u64..(1u64 << 48), r in any::<u128>()) {
            let id = NotificationId::from_parts(ts, r);
            prop_assert_eq!(NotificationId::parse(&id.to_string()).unwrap(), id);
        }
    }
}
