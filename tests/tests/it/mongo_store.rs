//! What the MongoDB adapters do beyond the port contracts: the indexes `notify mongo-index`
//! makes, and documents this version cannot read.

use adapters::mongo::{
    ensure_indexes, missing_indexes, IndexOutcome, MongoNotificationStore, INDEXES,
};
use application::ports::{NotificationStore, StoreError};
use mongodb::bson::doc;
use tests::fixtures::notification;
use tests::harness::mongo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_index_creates_what_is_missing_and_a_second_run_changes_nothing() {
    let Some(db) = mongo::bare_database().await else {
        return;
    };
    assert_eq!(missing_indexes(&db).await.unwrap().len(), INDEXES.len());

    let first = ensure_indexes(&db).await.unwrap();
    assert!(first
        .iter()
        .all(|(_, outcome)| *outcome == IndexOutcome::Created));
    assert!(missing_indexes(&db).await.unwrap().is_empty());

    let second = ensure_indexes(&db).await.unwrap();
    assert_eq!(second.len(), INDEXES.len());
    for (spec, outcome) in second {
        assert_eq!(
            outcome,
            IndexOutcome::Present {
                name: spec.name.to_owned()
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_index_is_reported_missing() {
    let Some(db) = mongo::database().await else {
        return;
    };
    db.collection::<mongodb::bson::Document>("notifications")
        .drop_index("status_next_attempt_at")
        .await
        .unwrap();
    let missing = missing_indexes(&db).await.unwrap();
    let names: Vec<_> = missing.iter().map(|spec| spec.name).collect();
    assert_eq!(names, ["status_next_attempt_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_this_version_cannot_read_is_corrupt() {
    let Some(db) = mongo::database().await else {
        return;
    };
    let store = MongoNotificationStore::new(&db);
    let record = notification().build();
    store.insert(&record).await.unwrap();
    store
        .collection()
        .update_one(
            doc! { "_id": record.id.to_string() },
            doc! { "$set": { "status": "archived" } },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.get(record.id).await,
        Err(StoreError::Corrupt(message)) if message.contains("status")
    ));
}
