//! [`MongoNotificationStore`]: notification records in the `notifications` collection.
//!
//! `_id` is the notification id (a ULID, so `_id` order is creation order): newest first is
//! `_id` descending and a page's cursor is `_id < cursor`. The idempotency key is guarded by
//! the partial unique index `tenant_idempotency_key` (see [`super::indexes`]); a conditional
//! status update is one `findOneAndUpdate` filtered on `_id`, `status` and `attempts`.

use application::ports::{
    Expected, ListQuery, NotificationStore, Page, StatusUpdate, StoreError, StoreResult,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{IdempotencyKey, Mode, Notification, NotificationId, Status, TenantId};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use super::mapping::{
    date, notification_from_document, notification_to_document, status_update_document,
};
use super::{is_duplicate_key, unavailable, NOTIFICATIONS};

/// [`NotificationStore`] on MongoDB. Cheap to clone (the driver's handles are shared).
#[derive(Clone)]
pub struct MongoNotificationStore {
    collection: Collection<Document>,
}

impl MongoNotificationStore {
    /// The store over `database.notifications`.
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection(NOTIFICATIONS),
        }
    }

    /// The raw collection, for tests and tools that inspect what is stored.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    async fn find_many(
        &self,
        what: &str,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cursor = self
            .collection
            .find(filter)
            .sort(sort)
            .limit(limit)
            .await
            .map_err(|err| unavailable(what, err))?;
        let docs: Vec<Document> = cursor
            .try_collect()
            .await
            .map_err(|err| unavailable(what, err))?;
        docs.iter().map(notification_from_document).collect()
    }
}

fn list_filter(query: &ListQuery) -> Document {
    let mut filter = Document::new();
    if let Some(tenant) = &query.tenant_id {
        filter.insert("tenant_id", tenant.as_str());
    }
    if let Some(status) = query.status {
        filter.insert("status", status.as_str());
    }
    if let Some(kind) = query.kind {
        filter.insert("kind", kind.as_str());
    }
    let mut occurred = Document::new();
    if let Some(since) = query.since {
        occurred.insert("$gte", date(since));
    }
    if let Some(until) = query.until {
        occurred.insert("$lt", date(until));
    }
    if !occurred.is_empty() {
        filter.insert("occurred_at", occurred);
    }
    if let Some(cursor) = query.cursor {
        filter.insert("_id", doc! { "$lt": cursor.to_string() });
    }
    filter
}

#[async_trait]
impl NotificationStore for MongoNotificationStore {
    async fn insert(&self, record: &Notification) -> StoreResult<()> {
        let document = notification_to_document(record);
        match self.collection.insert_one(document).await {
            Ok(_) => Ok(()),
            Err(err) if is_duplicate_key(&err) => Err(StoreError::Conflict(format!(
                "notification {} or its (tenant {}, idempotency key) already exists",
                record.id, record.tenant_id
            ))),
            Err(err) => Err(unavailable("insert into notifications", err)),
        }
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<Notification>> {
        let found = self
            .collection
            .find_one(doc! { "_id": id.to_string() })
            .await
            .map_err(|err| unavailable("read notification", err))?;
        found.as_ref().map(notification_from_document).transpose()
    }

    async fn find_by_idempotency_key(
        &self,
        tenant_id: &TenantId,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Notification>> {
        // A key never seen before finds nothing: a normal outcome, nothing is logged.
        let found = self
            .collection
            .find_one(doc! { "tenant_id": tenant_id.as_str(), "idempotency_key": key.as_str() })
            .await
            .map_err(|err| unavailable("find notification by idempotency key", err))?;
        found.as_ref().map(notification_from_document).transpose()
    }

    async fn update_status(
        &self,
        id: NotificationId,
        expected: Expected,
        update: StatusUpdate,
    ) -> StoreResult<Option<Notification>> {
        let filter = doc! {
            "_id": id.to_string(),
            "status": expected.status.as_str(),
            "attempts": i64::from(expected.attempts),
        };
        let updated = self
            .collection
            .find_one_and_update(filter, status_update_document(&update))
            .return_document(ReturnDocument::After)
            .await
            .map_err(|err| unavailable("update notification status", err))?;
        updated.as_ref().map(notification_from_document).transpose()
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Page<Notification>> {
        if query.limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        // One more than asked tells whether another page follows.
        let items = self
            .find_many(
                "list notifications",
                list_filter(query),
                doc! { "_id": -1 },
                query.limit.saturating_add(1),
            )
            .await?;
        Ok(Page::from_lookahead(items, query.limit, |record| record.id))
    }

    async fn find_stale(
        &self,
        due_before: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let filter = doc! {
            "status": { "$in": [Status::Pending.as_str(), Status::Retrying.as_str()] },
            "next_attempt_at": { "$lt": date(due_before) },
            "mode": Mode::Async.as_str(),
        };
        self.find_many(
            "find stale notifications",
            filter,
            doc! { "next_attempt_at": 1, "_id": 1 },
            limit,
        )
        .await
    }
}
