//! [`MemoryNotificationStore`]: the notification records of the embedded default.
//!
//! Records sit in a `BTreeMap` ordered by id (ULIDs sort by creation time), so a list walks
//! backwards from its cursor and stops after `limit` matches. Two indexes mirror what
//! MongoDB's unique and reconciler indexes do: `(tenant, idempotency key) -> id`, and the
//! set of async `pending`/`retrying` records ordered by `next_attempt_at`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use application::ports::{
    Expected, ListQuery, NotificationStore, Page, StatusUpdate, StoreError, StoreResult,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{IdempotencyKey, Mode, Notification, NotificationId, Status, TenantId};

use super::{read, write};

/// In-memory [`NotificationStore`]. Cheap to create; clone the `Arc` to share it.
#[derive(Default)]
pub struct MemoryNotificationStore {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    records: BTreeMap<NotificationId, Notification>,
    /// `(tenant, idempotency key) -> id`: the unique key.
    by_idempotency_key: HashMap<(String, String), NotificationId>,
    /// `(next_attempt_at, id)` of every record the reconciler may pick up.
    stale_candidates: BTreeSet<(DateTime<Utc>, NotificationId)>,
}

impl MemoryNotificationStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn idempotency_index_key(tenant_id: &TenantId, key: &IdempotencyKey) -> (String, String) {
    (tenant_id.as_str().to_owned(), key.as_str().to_owned())
}

/// The reconciler index entry of a record, when the record belongs in it.
fn stale_candidate(record: &Notification) -> Option<(DateTime<Utc>, NotificationId)> {
    let open = matches!(record.status, Status::Pending | Status::Retrying);
    match record.next_attempt_at {
        Some(at) if open && record.mode == Mode::Async => Some((at, record.id)),
        _ => None,
    }
}

fn matches(query: &ListQuery, record: &Notification) -> bool {
    query
        .tenant_id
        .as_ref()
        .is_none_or(|t| *t == record.tenant_id)
        && query.status.is_none_or(|s| s == record.status)
        && query.kind.is_none_or(|k| k == record.kind)
        && query.since.is_none_or(|since| record.occurred_at >= since)
        && query.until.is_none_or(|until| record.occurred_at < until)
}

#[async_trait]
impl NotificationStore for MemoryNotificationStore {
    async fn insert(&self, record: &Notification) -> StoreResult<()> {
        let mut inner = write(&self.inner);
        if inner.records.contains_key(&record.id) {
            return Err(StoreError::Conflict(format!(
                "notification {} already exists",
                record.id
            )));
        }
        let unique_key = record
            .idempotency_key
            .as_ref()
            .map(|key| idempotency_index_key(&record.tenant_id, key));
        if let Some(unique_key) = &unique_key {
            if inner.by_idempotency_key.contains_key(unique_key) {
                return Err(StoreError::Conflict(format!(
                    "tenant {} already has a notification with this idempotency key",
                    record.tenant_id
                )));
            }
        }
        if let Some(unique_key) = unique_key {
            inner.by_idempotency_key.insert(unique_key, record.id);
        }
        if let Some(candidate) = stale_candidate(record) {
            inner.stale_candidates.insert(candidate);
        }
        inner.records.insert(record.id, record.clone());
        Ok(())
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<Notification>> {
        Ok(read(&self.inner).records.get(&id).cloned())
    }

    async fn find_by_idempotency_key(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Notification>> {
        let inner = read(&self.inner);
        Ok(inner
            .by_idempotency_key
            .get(&idempotency_index_key(tenant_id, key))
            .and_then(|id| inner.records.get(id))
            .cloned())
    }

    async fn update_status(
        &self,
        id: NotificationId,
        expected: Expected,
        update: StatusUpdate,
    ) -> StoreResult<Option<Notification>> {
        let mut guard = write(&self.inner);
        let inner = &mut *guard;
        let Some(record) = inner.records.get_mut(&id) else {
            return Ok(None);
        };
        if Expected::of(record) != expected {
            return Ok(None);
        }
        if let Some(old) = stale_candidate(record) {
            inner.stale_candidates.remove(&old);
        }
        update.apply_to(record);
        if let Some(new) = stale_candidate(record) {
            inner.stale_candidates.insert(new);
        }
        Ok(Some(record.clone()))
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Page<Notification>> {
        let inner = read(&self.inner);
        let newest_first: Box<dyn Iterator<Item = &Notification>> = match query.cursor {
            Some(cursor) => Box::new(inner.records.range(..cursor).rev().map(|(_, r)| r)),
            None => Box::new(inner.records.values().rev()),
        };
        let items: Vec<Notification> = newest_first
            .filter(|record| matches(query, record))
            .take(query.limit.saturating_add(1))
            .cloned()
            .collect();
        Ok(Page::from_lookahead(items, query.limit, |record| record.id))
    }

    async fn find_stale(
        &self,
        due_before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let inner = read(&self.inner);
        Ok(inner
            .stale_candidates
            .iter()
            .take_while(|(at, _)| *at < due_before)
            .filter_map(|(_, id)| inner.records.get(id))
            .take(limit)
            .cloned()
            .collect())
    }
}
