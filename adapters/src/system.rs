//! The production [`Clock`] and [`IdGenerator`]: the system time, and monotonic ULIDs.

use std::sync::Mutex;
use std::time::SystemTime;

use application::ports::{Clock, IdGenerator};
use chrono::{DateTime, Utc};
use domain::NotificationId;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Makes ULIDs from `now`: strictly increasing within the process, also when several ids
/// share a millisecond. When `now` goes backwards the generator keeps counting from its
/// last id, so ids never repeat. If the 80 random bits of one millisecond run out, it
/// falls back to a fresh random id of that millisecond.
pub struct UlidGenerator {
    generator: Mutex<ulid::Generator>,
}

impl Default for UlidGenerator {
    fn default() -> Self {
        Self {
            generator: Mutex::new(ulid::Generator::new()),
        }
    }
}

impl UlidGenerator {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for UlidGenerator {
    fn next_id(&self, now: DateTime<Utc>) -> NotificationId {
        // ULIDs cannot express times before the epoch.
        let at = SystemTime::from(now.max(DateTime::UNIX_EPOCH));
        let generated = self
            .generator
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .generate_from_datetime(at);
        match generated {
            Ok(id) => NotificationId::from_parts(id.timestamp_ms(), id.random()),
            Err(_overflow) => {
                let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
                NotificationId::from_parts(ms, rand::random::<u128>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn ids_increase_within_one_millisecond_and_carry_its_time() {
        let ids = UlidGenerator::new();
        let now = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let a = ids.next_id(now);
        let b = ids.next_id(now);
        assert!(a < b);
        assert_eq!(a.timestamp_ms(), 1_700_000_000_123);
        let later = ids.next_id(now + TimeDelta::milliseconds(5));
        assert!(b < later);
        assert_eq!(later.timestamp_ms(), 1_700_000_000_128);
    }

    #[test]
    fn ids_never_repeat_when_time_goes_back() {
        let ids = UlidGenerator::new();
        let now = Utc::now();
        let a = ids.next_id(now);
        let b = ids.next_id(now - TimeDelta::seconds(10));
        assert_ne!(a, b);
    }

    #[test]
    fn the_system_clock_reads_the_time() {
        let before = Utc::now();
        let read = SystemClock.now();
        assert!(read >= before);
    }
}
