//! A map whose entries expire at a deadline: the shared core of the in-memory idempotency
//! and sensitive-body stores.
//!
//! Expired entries are invisible at once and are dropped by [`ExpiringMap::purge`], which
//! pops a min-heap of deadlines, so memory stays bounded by what is alive without ever
//! scanning the whole map.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The deadline of something kept for `ttl` from `now`, saturating far in the future.
pub(super) fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

struct Entry<V> {
    value: V,
    expires_at: Instant,
}

pub(super) struct ExpiringMap<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Every deadline ever set, earliest first. An entry whose key was removed or given a
    /// later deadline is stale and skipped when popped.
    deadlines: BinaryHeap<Reverse<(Instant, K)>>,
}

impl<K: Eq + Hash + Ord + Clone, V> ExpiringMap<K, V> {
    pub(super) fn new() -> Self {
        Self {
            entries: HashMap::new(),
            deadlines: BinaryHeap::new(),
        }
    }

    /// Drops every entry that has expired at `now`.
    pub(super) fn purge(&mut self, now: Instant) {
        while self
            .deadlines
            .peek()
            .is_some_and(|Reverse((at, _))| *at <= now)
        {
            let Some(Reverse((_, key))) = self.deadlines.pop() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|entry| entry.expires_at <= now)
            {
                self.entries.remove(&key);
            }
        }
    }

    /// The live value of `key` at `now`.
    pub(super) fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| &entry.value)
    }

    /// The live value of `key` at `now`, for changing it.
    pub(super) fn get_mut(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| &mut entry.value)
    }

    /// Stores `value` under `key` until `expires_at`, replacing any earlier value.
    pub(super) fn insert(&mut self, key: K, value: V, expires_at: Instant) {
        self.deadlines.push(Reverse((expires_at, key.clone())));
        self.entries.insert(key, Entry { value, expires_at });
    }

    /// Moves the deadline of a live entry. Returns whether there was one.
    pub(super) fn set_deadline(&mut self, key: &K, now: Instant, expires_at: Instant) -> bool {
        match self.entries.get_mut(key) {
            Some(entry) if entry.expires_at > now => {
                entry.expires_at = expires_at;
                self.deadlines.push(Reverse((expires_at, key.clone())));
                true
            }
            _ => false,
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|entry| entry.value)
    }

    #[cfg(test)]
    pub(super) fn stored(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_vanish_at_their_deadline_and_purge_frees_them() {
        let t0 = Instant::now();
        let mut map = ExpiringMap::new();
        map.insert(1, "a", t0 + Duration::from_secs(1));
        map.insert(2, "b", t0 + Duration::from_secs(3));
        assert_eq!(map.get(&1, t0), Some(&"a"));
        assert_eq!(map.get(&1, t0 + Duration::from_secs(1)), None);
        map.purge(t0 + Duration::from_secs(2));
        assert_eq!(map.stored(), 1);
        assert_eq!(map.get(&2, t0 + Duration::from_secs(2)), Some(&"b"));
    }

    #[test]
    fn a_later_deadline_survives_the_stale_heap_entry() {
        let t0 = Instant::now();
        let mut map = ExpiringMap::new();
        map.insert("k", 1, t0 + Duration::from_secs(1));
        assert!(map.set_deadline(&"k", t0, t0 + Duration::from_secs(10)));
        map.purge(t0 + Duration::from_secs(5));
        assert_eq!(map.get(&"k", t0 + Duration::from_secs(5)), Some(&1));
        map.purge(t0 + Duration::from_secs(10));
        assert_eq!(map.stored(), 0);
    }

    #[test]
    fn huge_ttls_saturate() {
        let now = Instant::now();
        assert!(deadline(now, Duration::MAX) > now);
    }
}
