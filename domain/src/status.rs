//! Notification statuses and the transitions between them (design §4).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Where a notification stands.
///
/// ```text
/// pending  -> sent | retrying | failed | dropped
/// retrying -> sent | retrying | failed
/// failed   -> pending          (dead-letter replay only)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted, not yet delivered.
    Pending,
    /// An attempt failed with a retryable error; another is scheduled.
    Retrying,
    /// A provider accepted it.
    Sent,
    /// Given up: a permanent error, or retries ran out.
    Failed,
    /// Refused before any attempt (quota exceeded, suppressed recipient); kept for audit.
    Dropped,
}

/// A transition the domain does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a notification cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: Status,
    pub to: Status,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Retrying,
        Status::Sent,
        Status::Failed,
        Status::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Dropped => "dropped",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                ValidationError::new(
                    "status",
                    format!(
                        "unknown status {raw:?}; expected pending, retrying, sent, failed or dropped"
                    ),
                )
            })
    }

    /// Whether nothing more will happen to the notification without an operator.
    pub fn is_terminal(self) -> bool {
        match self {
            Status::Sent | Status::Failed | Status::Dropped => true,
            Status::Pending | Status::Retrying => false,
        }
    }

    /// Whether the domain allows going from `self` to `to`.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        match self {
            Pending => matches!(to, Sent | Retrying | Failed | Dropped),
            Retrying => matches!(to, Sent | Retrying | Failed),
            Failed => matches!(to, Pending),
            Sent | Dropped => false,
        }
    }

    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_transitions() {
        use Status::*;
        let allowed = [
            (Pending, Sent),
            (Pending, Retrying),
            (Pending, Failed),
            (Pending, Dropped),
            (Retrying, Sent),
            (Retrying, Retrying),
            (Retrying, Failed),
            (Failed, Pending),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(
            Sent.transition(Pending).unwrap_err().to_string(),
            "a notification cannot go from sent to pending"
        );
    }

    #[test]
    fn parse_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(Status::parse("done").unwrap_err().field, "status");
    }
}
