//! The production path end to end on real servers: notifications and dead letters in
//! MongoDB (the test process's MongoDB-wire server), the retry queue, idempotency locks,
//! quotas and sensitive bodies in Redis (`redis-server`), mock providers, and time moved by
//! hand. Each test has a database and a Redis key prefix (or a Redis server) of its own.

use std::sync::Arc;
use std::time::Duration;

use adapters::mongo::{MongoDeadLetterStore, MongoNotificationStore};
use adapters::redis::RedisConnection;
use application::ports::{DeadLetterStore, NotificationStore};
use application::WorkerSettings;
use domain::Status;
use mongodb::bson::{doc, Bson, Document};
use tests::harness::{mongo, redis};
use tests::world::{Backend, World, WorldOptions};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A world over MongoDB stores (a fresh database with its indexes) and Redis over
/// `connection`; `None` when a server is missing.
async fn world_over(connection: &RedisConnection, options: WorldOptions) -> Option<Mongo> {
    let db = mongo::database().await?;
    let store = MongoNotificationStore::new(&db);
    let dead_letters = MongoDeadLetterStore::new(&db);
    let backend = Backend {
        store: Arc::new(store.clone()),
        dead_letters: Arc::new(dead_letters.clone()),
        ..redis::backend_over(connection)
    };
    Some(Mongo {
        world: World::with(backend, options),
        store,
        dead_letters,
    })
}

/// A world on the shared Redis server under a fresh prefix.
async fn world(options: WorldOptions) -> Option<Mongo> {
    let connection = redis::connection().await?;
    world_over(&connection, options).await
}

struct Mongo {
    world: World,
    store: MongoNotificationStore,
    dead_letters: MongoDeadLetterStore,
}

impl Mongo {
    /// The raw document of a notification, as MongoDB holds it.
    async fn raw(&self, id: domain::NotificationId) -> Document {
        self.store
            .collection()
            .find_one(doc! { "_id": id.to_string() })
            .await
            .unwrap()
            .expect("the notification is in MongoDB")
    }

    async fn status_in_mongo(&self, id: domain::NotificationId) -> String {
        self.raw(id).await.get_str("status").unwrap().to_owned()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueued_notification_is_sent_by_the_worker_and_read_back_from_mongodb() {
    let Some(m) = world(WorldOptions::default()).await else {
        return;
    };
    let record = m.world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(m.status_in_mongo(record.id).await, "pending");
    assert!(m.world.backend.queue.contains(record.id).await.unwrap());

    assert_eq!(m.world.drain().await.sent, 1);

    let raw = m.raw(record.id).await;
    assert_eq!(raw.get_str("status").unwrap(), "sent");
    assert_eq!(raw.get_str("provider").unwrap(), "mock");
    assert_eq!(raw.get_str("to").unwrap(), "a@example.com");
    assert_eq!(raw.get_i64("attempts").unwrap(), 1);
    assert!(matches!(raw.get("sent_at"), Some(Bson::DateTime(_))));
    assert!(raw.get("next_attempt_at").is_none());
    let read_back = m.store.get(record.id).await.unwrap().unwrap();
    assert_eq!(read_back.status, Status::Sent);
    assert_eq!(m.world.email.sent().len(), 1);
    assert_eq!(m.world.backend.queue.len().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_stored_but_never_scheduled_is_sent_after_the_reconciler_runs() {
    let Some(m) = world(WorldOptions::default()).await else {
        return;
    };
    // A crash between the insert and the ZADD: the record is in MongoDB, not in the queue.
    let record = tests::fixtures::notification().build();
    m.store.insert(&record).await.unwrap();
    assert!(!m.world.backend.queue.contains(record.id).await.unwrap());
    assert_eq!(
        m.world.step().await.claimed,
        0,
        "the queue does not know it"
    );

    let grace = m.world.options.reconcile_grace;
    m.world.clock.advance(grace + secs(1));
    let sweep = m.world.reconciler.reconcile_once().await.unwrap();
    assert_eq!(sweep.rescheduled, 1);
    assert_eq!(m.world.drain().await.sent, 1);
    assert_eq!(m.status_in_mongo(record.id).await, "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_ends_sent_when_redis_is_flushed_mid_run() {
    // A Redis server of its own: this test flushes everything in it.
    let Some(server) = redis::dedicated_server() else {
        return;
    };
    let connection = redis::connect_to(&server).await;
    let options = WorldOptions {
        worker: WorkerSettings {
            batch_size: 2,
            ..WorldOptions::default().worker
        },
        ..WorldOptions::default()
    };
    let Some(m) = world_over(&connection, options).await else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        let record = m
            .world
            .enqueue(World::welcome(&format!("user{n}@example.com")))
            .await;
        ids.push(record.id);
    }
    assert_eq!(m.world.step().await.sent, 2);

    // Redis restarts without persistence: the schedule (and every other key) is gone.
    let mut manager = connection.manager();
    let _: () = ::redis::cmd("FLUSHALL")
        .query_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(m.world.backend.queue.len().await.unwrap(), 0);
    assert_eq!(m.world.step().await.claimed, 0);

    m.world
        .clock
        .advance(m.world.options.reconcile_grace + secs(1));
    let sweep = m.world.reconciler.reconcile_once().await.unwrap();
    assert_eq!(
        sweep.rescheduled, 3,
        "the three unsent ones are scheduled again"
    );
    assert_eq!(m.world.drain().await.sent, 3);
    for id in ids {
        assert_eq!(m.status_in_mongo(id).await, "sent", "{id}");
    }
    assert_eq!(m.world.email.sent().len(), 5, "each one sent exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mongodb_document_of_a_sensitive_kind_holds_no_body() {
    let Some(m) = world(WorldOptions::default()).await else {
        return;
    };
    let code = "493817";
    let record = m.world.enqueue(World::otp_sms("0912345678", code)).await;

    let check = |raw: &Document, when: &str| {
        assert!(!raw.contains_key("body"), "{when}: a body field is stored");
        assert!(raw.get_bool("body_withheld").unwrap(), "{when}");
        assert!(
            !raw.to_string().contains(code),
            "{when}: the code reached MongoDB: {raw}"
        );
    };
    check(&m.raw(record.id).await, "after enqueue");
    assert!(
        m.world
            .backend
            .sensitive
            .get(record.id)
            .await
            .unwrap()
            .is_some(),
        "the body waits in Redis"
    );

    assert_eq!(m.world.drain().await.sent, 1);
    assert!(m.world.sms.sent()[0].text.contains(code));
    check(&m.raw(record.id).await, "after delivery");
    assert!(m
        .world
        .backend
        .sensitive
        .get(record.id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_ends_in_notification_dlq_and_replay_sends_it() {
    let Some(m) = world(WorldOptions::default()).await else {
        return;
    };
    m.world.email.fail_permanently();
    let record = m.world.enqueue(World::welcome("a@example.com")).await;
    assert_eq!(m.world.drain().await.dead_lettered, 1);
    assert_eq!(m.status_in_mongo(record.id).await, "failed");

    let raw_letter = m
        .dead_letters
        .collection()
        .find_one(doc! { "_id": record.id.to_string() })
        .await
        .unwrap()
        .expect("the letter is in notification_dlq");
    assert_eq!(raw_letter.get_str("tenant_id").unwrap(), "acme");
    assert!(!raw_letter.get_bool("sensitive").unwrap());
    assert!(raw_letter.get_str("recipient_masked").unwrap() != "a@example.com");

    m.world.email.succeed();
    let replayed = m
        .world
        .dead_letters
        .replay(Some(&m.world.tenant()), &record.id.to_string())
        .await
        .unwrap();
    assert_eq!(replayed.status, Status::Pending);
    assert_eq!(m.dead_letters.get(record.id).await.unwrap(), None);
    assert_eq!(m.world.drain().await.sent, 1);
    assert_eq!(m.status_in_mongo(record.id).await, "sent");
}

/// The composition root with `Mongo.Enable` and `Redis.Enable`: what `notify serve` runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_service_stores_in_mongodb_and_queues_in_redis() {
    let (Some(mongo_server), Some(redis_server)) = (mongo::server(), redis::server()) else {
        return;
    };
    let database = mongo::unique_database_name();
    let prefix = redis::unique_prefix();
    let mut config = bootstrap::Config::default();
    config.mongo.enable = true;
    config.mongo.uri = mongo_server.uri.clone();
    config.mongo.database = database.clone();
    config.redis.enable = true;
    config.redis.url = redis_server.url.clone();
    config.redis.key_prefix = prefix.clone();
    config.notification.async_.queue_redis_key = format!("{prefix}retry:zset");
    config.notification.async_.poll_interval_ms = 50;
    let overrides = bootstrap::Overrides { force_mock: true };
    let app = bootstrap::build(config, &overrides).await.unwrap();
    assert_eq!(app.backends.store, "mongo");
    assert_eq!(app.backends.queue, "redis");

    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    bootstrap::runtime::spawn_background(&app, &cancel, &mut tasks);
    let tenant = app.checked.default_tenant.clone();
    let accepted = app
        .notifier
        .enqueue(&tenant, World::welcome("b@example.com"))
        .await
        .unwrap();
    let id = accepted.notification.id;
    tests::contract::eventually(secs(10), "the notification is sent", || {
        let store = app.ports.store.clone();
        async move { store.get(id).await.unwrap().map(|r| r.status) == Some(Status::Sent) }
    })
    .await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}

    // Read back through a store of its own, as another gateway process would.
    let db = adapters::mongo::connect(&mongo_server.uri, &database)
        .await
        .unwrap();
    let stored = MongoNotificationStore::new(&db).get(id).await.unwrap();
    assert_eq!(stored.map(|r| r.status), Some(Status::Sent));
}
