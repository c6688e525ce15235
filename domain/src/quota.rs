//! Quota rules (design §6): how many notifications a recipient or a tenant may get on a
//! channel within a window.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Channel, NotificationKind, Recipient, TenantId, ValidationError};

/// Who a quota counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    Recipient,
    Tenant,
}

/// One rule: at most `limit` notifications per `window`, per scope, on `channel`, for
/// `kinds` (all kinds when empty). Windows are fixed: they start at multiples of `window`
/// since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRule {
    pub scope: QuotaScope,
    pub channel: Channel,
    pub kinds: Vec<NotificationKind>,
    pub limit: u64,
    pub window: Duration,
}

impl QuotaRule {
    /// `index` is the rule's place in the config list, used in error messages.
    pub fn new(
        index: usize,
        scope: QuotaScope,
        channel: Channel,
        kinds: Vec<NotificationKind>,
        limit: u64,
        window: Duration,
    ) -> Result<Self, ValidationError> {
        if limit == 0 {
            return Err(ValidationError::new(
                format!("Notification.Quotas[{index}].Limit"),
                "must be at least 1",
            ));
        }
        if window.as_secs() == 0 {
            return Err(ValidationError::new(
                format!("Notification.Quotas[{index}].WindowSeconds"),
                "must be at least 1",
            ));
        }
        Ok(Self {
            scope,
            channel,
            kinds,
            limit,
            window,
        })
    }

    pub fn applies_to(&self, kind: NotificationKind, channel: Channel) -> bool {
        self.channel == channel && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }

    /// The counter key of this rule for one request, without the window start. It holds a
    /// hash of the recipient, never the address itself.
    pub fn counter_key(&self, index: usize, tenant: &TenantId, recipient: &Recipient) -> String {
        match self.scope {
            QuotaScope::Tenant => format!("r{index}:t:{tenant}:{}", self.channel),
            QuotaScope::Recipient => {
                use sha2::{Digest, Sha256};
                let digest = Sha256::digest(recipient.as_str().as_bytes());
                let short: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("r{index}:rcpt:{tenant}:{}:{short}", self.channel)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmailAddress;

    #[test]
    fn applies_by_channel_and_kind() {
        let rule = QuotaRule::new(
            0,
            QuotaScope::Recipient,
            Channel::Sms,
            vec![NotificationKind::Otp],
            5,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(rule.applies_to(NotificationKind::Otp, Channel::Sms));
        assert!(!rule.applies_to(NotificationKind::Otp, Channel::Email));
        assert!(!rule.applies_to(NotificationKind::TenantWelcome, Channel::Sms));
    }

    #[test]
    fn counter_keys_hide_the_recipient() {
        let rule = QuotaRule::new(
            2,
            QuotaScope::Recipient,
            Channel::Email,
            vec![],
            5,
            Duration::from_secs(60),
        )
        .unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let to = Recipient::Email(EmailAddress::parse("alice@example.com").unwrap());
        let key = rule.counter_key(2, &tenant, &to);
        assert!(key.starts_with("r2:rcpt:acme:email:"));
        assert!(!key.contains("alice"));
    }

    #[test]
    fn zero_limit_names_the_key() {
        let err = QuotaRule::new(
            3,
            QuotaScope::Tenant,
            Channel::Email,
            vec![],
            0,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.field, "Notification.Quotas[3].Limit");
    }
}
