//! [`MongoDeadLetterStore`]: dead letters in the `notification_dlq` collection, one document
//! per notification (`_id` = the notification id), replaced by a second `put`.

use application::ports::{DeadLetterQuery, DeadLetterStore, StoreResult};
use async_trait::async_trait;
use domain::{DeadLetter, NotificationId};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};

use super::mapping::{date, dead_letter_from_document, dead_letter_to_document};
use super::{unavailable, DEAD_LETTERS};

/// [`DeadLetterStore`] on MongoDB. Cheap to clone.
#[derive(Clone)]
pub struct MongoDeadLetterStore {
    collection: Collection<Document>,
}

impl MongoDeadLetterStore {
    /// The store over `database.notification_dlq`.
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection(DEAD_LETTERS),
        }
    }

    /// The raw collection, for tests and tools that inspect what is stored.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }
}

fn list_filter(query: &DeadLetterQuery) -> Document {
    let mut filter = Document::new();
    if let Some(tenant) = &query.tenant_id {
        filter.insert("tenant_id", tenant.as_str());
    }
    if let Some(kind) = query.kind {
        filter.insert("kind", kind.as_str());
    }
    let mut failed = Document::new();
    if let Some(since) = query.since {
        failed.insert("$gte", date(since));
    }
    if let Some(until) = query.until {
        failed.insert("$lt", date(until));
    }
    if !failed.is_empty() {
        filter.insert("failed_at", failed);
    }
    filter
}

#[async_trait]
impl DeadLetterStore for MongoDeadLetterStore {
    async fn put(&self, letter: &DeadLetter) -> StoreResult<()> {
        self.collection
            .replace_one(
                doc! { "_id": letter.notification_id.to_string() },
                dead_letter_to_document(letter),
            )
            .upsert(true)
            .await
            .map_err(|err| unavailable("write dead letter", err))?;
        Ok(())
    }

    async fn get(&self, id: NotificationId) -> StoreResult<Option<DeadLetter>> {
        let found = self
            .collection
            .find_one(doc! { "_id": id.to_string() })
            .await
            .map_err(|err| unavailable("read dead letter", err))?;
        found.as_ref().map(dead_letter_from_document).transpose()
    }

    async fn list(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .collection
            .find(list_filter(query))
            .sort(doc! { "failed_at": -1, "_id": -1 })
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .await
            .map_err(|err| unavailable("list dead letters", err))?;
        let docs: Vec<Document> = cursor
            .try_collect()
            .await
            .map_err(|err| unavailable("list dead letters", err))?;
        docs.iter().map(dead_letter_from_document).collect()
    }

    async fn remove(&self, id: NotificationId) -> StoreResult<bool> {
        let result = self
            .collection
            .delete_one(doc! { "_id": id.to_string() })
            .await
            .map_err(|err| unavailable("remove dead letter", err))?;
        Ok(result.deleted_count > 0)
    }
}
