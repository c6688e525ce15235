//! The retry policy of the async path (design §3).

use std::time::Duration;

use crate::ValidationError;

/// `MaxRetry` retries after the first attempt, waiting `backoff[min(k-1, len-1)]` before
/// retry `k`, plus up to `jitter` (a fraction of the delay) chosen by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retry: u32,
    backoff: Vec<Duration>,
    jitter: f64,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    /// Try again after this delay (before jitter).
    RetryAfter(Duration),
    /// Give up: dead-letter the notification.
    GiveUp,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retry: 5,
            backoff: [1, 5, 30, 300, 1800]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.0,
        }
    }
}

impl RetryPolicy {
    /// `backoff` must not be empty; `jitter` is a fraction in `0.0..=1.0`.
    pub fn new(
        max_retry: u32,
        backoff: Vec<Duration>,
        jitter: f64,
    ) -> Result<Self, ValidationError> {
        if backoff.is_empty() {
            return Err(ValidationError::new(
                "Notification.Async.BackoffSeconds",
                "must list at least one delay",
            ));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(ValidationError::new(
                "Notification.Async.Jitter",
                "must be between 0.0 and 1.0",
            ));
        }
        Ok(Self {
            max_retry,
            backoff,
            jitter,
        })
    }

    pub fn max_retry(&self) -> u32 {
        self.max_retry
    }

    pub fn backoff(&self) -> &[Duration] {
        &self.backoff
    }

    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Most attempts a notification gets: the first plus `MaxRetry` retries.
    pub fn max_attempts(&self) -> u32 {
        self.max_retry.saturating_add(1)
    }

    /// The delay before retry `k` (1-based), before jitter.
    pub fn delay_for_retry(&self, k: u32) -> Duration {
        let index = (k.max(1) - 1) as usize;
        self.backoff[index.min(self.backoff.len() - 1)]
    }

    /// After `attempts_made` attempts, the last of which failed with a retryable error.
    pub fn after_retryable_failure(&self, attempts_made: u32) -> RetryDecision {
        if attempts_made <= self.max_retry {
            RetryDecision::RetryAfter(self.delay_for_retry(attempts_made))
        } else {
            RetryDecision::GiveUp
        }
    }

    /// Applies jitter: `unit` is a random number in `0.0..1.0` supplied by the caller.
    pub fn with_jitter(&self, delay: Duration, unit: f64) -> Duration {
        delay + delay.mul_f64(self.jitter * unit.clamp(0.0, 1.0))
    }

    /// The longest a notification can stay in the retry schedule (every backoff summed),
    /// including jitter. Sensitive bodies are kept at least this long.
    pub fn horizon(&self) -> Duration {
        (1..=self.max_retry)
            .map(|k| self.with_jitter(self.delay_for_retry(k), 1.0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn retry_k_waits_the_kth_backoff_and_the_last_repeats() {
        let policy = RetryPolicy::new(7, vec![secs(1), secs(5), secs(30)], 0.0).unwrap();
        assert_eq!(policy.delay_for_retry(1), secs(1));
        assert_eq!(policy.delay_for_retry(2), secs(5));
        assert_eq!(policy.delay_for_retry(3), secs(30));
        assert_eq!(policy.delay_for_retry(7), secs(30));
    }

    #[test]
    fn max_retry_counts_retries_not_attempts() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts(), 6);
        assert_eq!(
            policy.after_retryable_failure(1),
            RetryDecision::RetryAfter(secs(1))
        );
        assert_eq!(
            policy.after_retryable_failure(5),
            RetryDecision::RetryAfter(secs(1800))
        );
        assert_eq!(policy.after_retryable_failure(6), RetryDecision::GiveUp);
        let none = RetryPolicy::new(0, vec![secs(1)], 0.0).unwrap();
        assert_eq!(none.after_retryable_failure(1), RetryDecision::GiveUp);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let policy = RetryPolicy::new(3, vec![secs(10)], 0.5).unwrap();
        assert_eq!(policy.with_jitter(secs(10), 0.0), secs(10));
        assert_eq!(policy.with_jitter(secs(10), 1.0), secs(15));
        assert_eq!(policy.horizon(), secs(45));
    }

    #[test]
    fn bad_policies_name_the_key() {
        assert_eq!(
            RetryPolicy::new(1, vec![], 0.0).unwrap_err().field,
            "Notification.Async.BackoffSeconds"
        );
        assert_eq!(
            RetryPolicy::new(1, vec![secs(1)], 2.0).unwrap_err().field,
            "Notification.Async.Jitter"
        );
    }
}
