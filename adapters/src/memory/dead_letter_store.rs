//! [`MemoryDeadLetterStore`]: the dead-letter queue of the embedded default, one letter per
//! notification id.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::RwLock;

use application::ports::{DeadLetterQuery, DeadLetterStore, StoreResult};
use async_trait::async_trait;
use domain::{DeadLetter, NotificationId};

use super::{read, write};

/// In-memory [`DeadLetterStore`].
#[derive(Default)]
pub struct MemoryDeadLetterStore {
    letters: RwLock<HashMap<NotificationId, DeadLetter>>,
}

impl MemoryDeadLetterStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn matches(query: &DeadLetterQuery, letter: &DeadLetter) -> bool {
    query
        .tenant_id
        .as_ref()
        .is_none_or(|t| *t == letter.tenant_id)
        && query.kind.is_none_or(|k| k == letter.kind)
        && query.since.is_none_or(|since| letter.failed_at >= since)
        && query.until.is_none_or(|until| letter.failed_at < until)
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetterStore {
    async fn put(&self, letter: &DeadLetter) -> StoreResult<()> {
        write(&self.letters).insert(letter.notification_id, letter.clone());
        Ok(())
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<DeadLetter>> {
        Ok(read(&self.letters).get(&id).cloned())
    }

    async fn list(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>> {
        let letters = read(&self.letters);
        let mut found: Vec<&DeadLetter> = letters
            .values()
            .filter(|letter| matches(query, letter))
            .collect();
        // Newest failure first; the id breaks ties so the order is stable.
        found.sort_unstable_by_key(|letter| Reverse((letter.failed_at, letter.notification_id)));
        Ok(found.into_iter().take(query.limit).cloned().collect())
    }

    async fn remove(&self, id: NotificationId) -> StoreResult<bool> {
        Ok(write(&self.letters).remove(&id).is_some())
    }
}
