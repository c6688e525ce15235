//! The indexes the MongoDB stores rely on, created idempotently by `notify mongo-index`
//! ([`ensure_indexes`]) and checked by `notify serve` at start-up ([`missing_indexes`]).
//!
//! An index counts as present when the collection has one with the same keys (in order and
//! direction) and, for a unique index, is unique too, whatever its name.

use application::ports::StoreError;
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

use super::{is_namespace_not_found, unavailable, DEAD_LETTERS, NOTIFICATIONS};

/// One index the stores need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    pub collection: &'static str,
    pub name: &'static str,
    /// `(field, 1 | -1)` in order.
    pub keys: &'static [(&'static str, i32)],
    pub unique: bool,
    /// Only documents that have a string `idempotency_key` are indexed.
    pub partial_on_idempotency_key: bool,
    /// What the index is for, printed by `notify mongo-index`.
    pub purpose: &'static str,
}

/// Every index of the `notifications` and `notification_dlq` collections.
pub const INDEXES: &[IndexSpec] = &[
    IndexSpec {
        collection: NOTIFICATIONS,
        name: "tenant_idempotency_key",
        keys: &[("tenant_id", 1), ("idempotency_key", 1)],
        unique: true,
        partial_on_idempotency_key: true,
        purpose: "one notification per (tenant, idempotency key), forever; idempotency lookups",
    },
    IndexSpec {
        collection: NOTIFICATIONS,
        name: "tenant_newest",
        keys: &[("tenant_id", 1), ("_id", -1)],
        unique: false,
        partial_on_idempotency_key: false,
        purpose: "a tenant's notifications newest first (_id is time-ordered)",
    },
    IndexSpec {
        collection: NOTIFICATIONS,
        name: "status_next_attempt_at",
        keys: &[("status", 1), ("next_attempt_at", 1)],
        unique: false,
        partial_on_idempotency_key: false,
        purpose: "the reconciler's stale pending/retrying query",
    },
    IndexSpec {
        collection: DEAD_LETTERS,
        name: "tenant_failed_at",
        keys: &[("tenant_id", 1), ("failed_at", -1)],
        unique: false,
        partial_on_idempotency_key: false,
        purpose: "a tenant's dead letters newest first",
    },
    IndexSpec {
        collection: DEAD_LETTERS,
        name: "failed_at",
        keys: &[("failed_at", -1)],
        unique: false,
        partial_on_idempotency_key: false,
        purpose: "all dead letters newest first",
    },
];

impl IndexSpec {
    fn keys_document(&self) -> Document {
        let mut keys = Document::new();
        for (field, direction) in self.keys {
            keys.insert(*field, *direction);
        }
        keys
    }

    fn model(&self) -> IndexModel {
        let mut options = IndexOptions::builder().name(self.name.to_owned()).build();
        if self.unique {
            options.unique = Some(true);
        }
        if self.partial_on_idempotency_key {
            options.partial_filter_expression =
                Some(doc! { "idempotency_key": { "$type": "string" } });
        }
        IndexModel::builder()
            .keys(self.keys_document())
            .options(options)
            .build()
    }

    /// Whether an existing index serves as this one.
    fn is_served_by(&self, existing: &IndexModel) -> bool {
        let same_keys = existing.keys.len() == self.keys.len()
            && existing.keys.iter().zip(self.keys).all(
                |((field, value), (want_field, want_dir))| {
                    field == want_field && direction(value) == Some(*want_dir)
                },
            );
        let unique = existing
            .options
            .as_ref()
            .and_then(|o| o.unique)
            .unwrap_or(false);
        same_keys && (unique || !self.unique)
    }
}

/// The direction of an index key value (`1`, `-1`, `1.0`, `NumberLong(1)`); `None` for
/// special indexes (`"text"`, `"hashed"`).
fn direction(value: &Bson) -> Option<i32> {
    let n = match value {
        Bson::Int32(n) => f64::from(*n),
        Bson::Int64(n) => *n as f64,
        Bson::Double(n) => *n,
        _ => return None,
    };
    if n > 0.0 {
        Some(1)
    } else if n < 0.0 {
        Some(-1)
    } else {
        None
    }
}

/// What [`ensure_indexes`] did with one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOutcome {
    /// It was missing and is now built.
    Created,
    /// An index with these keys was there already (under this name).
    Present { name: String },
}

async fn existing_indexes(db: &Database, collection: &str) -> Result<Vec<IndexModel>, StoreError> {
    let what = format!("list indexes of {collection}");
    match db.collection::<Document>(collection).list_indexes().await {
        Ok(cursor) => cursor
            .try_collect()
            .await
            .map_err(|err| unavailable(&what, err)),
        // The collection does not exist yet: it has no indexes.
        Err(err) if is_namespace_not_found(&err) => Ok(Vec::new()),
        Err(err) => Err(unavailable(&what, err)),
    }
}

/// The indexes of [`INDEXES`] that `db` lacks.
pub async fn missing_indexes(db: &Database) -> Result<Vec<IndexSpec>, StoreError> {
    let mut missing = Vec::new();
    for collection in [NOTIFICATIONS, DEAD_LETTERS] {
        let existing = existing_indexes(db, collection).await?;
        missing.extend(
            INDEXES
                .iter()
                .filter(|spec| spec.collection == collection)
                .filter(|spec| !existing.iter().any(|index| spec.is_served_by(index)))
                .copied(),
        );
    }
    Ok(missing)
}

/// Creates every index of [`INDEXES`] that `db` lacks; leaves the others alone. Running it
/// again changes nothing.
pub async fn ensure_indexes(db: &Database) -> Result<Vec<(IndexSpec, IndexOutcome)>, StoreError> {
    let mut done = Vec::new();
    for collection in [NOTIFICATIONS, DEAD_LETTERS] {
        let existing = existing_indexes(db, collection).await?;
        for spec in INDEXES.iter().filter(|spec| spec.collection == collection) {
            let present = existing.iter().find(|index| spec.is_served_by(index));
            let outcome = match present {
                Some(index) => IndexOutcome::Present {
                    name: index
                        .options
                        .as_ref()
                        .and_then(|o| o.name.clone())
                        .unwrap_or_else(|| spec.name.to_owned()),
                },
                None => {
                    db.collection::<Document>(collection)
                        .create_index(spec.model())
                        .await
                        .map_err(|err| {
                            unavailable(&format!("create index {collection}.{}", spec.name), err)
                        })?;
                    IndexOutcome::Created
                }
            };
            done.push((*spec, outcome));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(keys: Document, unique: bool) -> IndexModel {
        let options = IndexOptions::builder().unique(unique).build();
        IndexModel::builder().keys(keys).options(options).build()
    }

    #[test]
    fn an_index_with_the_same_keys_serves_whatever_its_name_and_number_type() {
        let spec = INDEXES[1];
        assert!(spec.is_served_by(&model(doc! { "tenant_id": 1.0, "_id": -1_i64 }, false)));
        assert!(!spec.is_served_by(&model(doc! { "tenant_id": 1, "_id": 1 }, false)));
        assert!(!spec.is_served_by(&model(doc! { "_id": -1, "tenant_id": 1 }, false)));
        assert!(!spec.is_served_by(&model(doc! { "tenant_id": 1 }, false)));
    }

    #[test]
    fn a_unique_spec_needs_a_unique_index() {
        let spec = INDEXES[0];
        assert!(spec.unique);
        let keys = doc! { "tenant_id": 1, "idempotency_key": 1 };
        assert!(!spec.is_served_by(&model(keys.clone(), false)));
        assert!(spec.is_served_by(&model(keys, true)));
    }
}
