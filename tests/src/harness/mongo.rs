//! A MongoDB-wire server for the tests: one per test process, and a fresh database for each
//! test.
//!
//! Which server, in order:
//! 1. `NOTIFY_TEST_MONGO_URI` (a real `mongod`, for instance): used as it is.
//! 2. `secantusd-rs` when it is on `PATH` (crate `secantus-mdb`, about 20× faster on updates),
//!    over a temporary folder.
//! 3. `secantusd-py` from the project virtualenv (`make test-deps`, PyPI `SecantusDB`),
//!    `--storage-path :memory:`.
//!
//! The server is started on first use, on a free port, and killed when the test process
//! ends (a small watchdog shell kills it with SIGKILL: SIGTERM takes seconds to stop it).
//! None found: [`skip_or_fail`]. The Python server slows down as a collection grows, so
//! tests keep their collections small.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use adapters::mongo::{connect, ensure_indexes, MongoDeadLetterStore, MongoNotificationStore};
use application::ports::{DeadLetterStore, NotificationStore};
use mongodb::Database;

use super::{find_executable, free_port, skip_or_fail, ServerProcess};

/// The environment variable naming an external server.
pub const URI_ENV: &str = "NOTIFY_TEST_MONGO_URI";

/// The server of this test process.
#[derive(Debug)]
pub struct MongoServer {
    /// A URI without a database; test databases are chosen per test.
    pub uri: String,
    /// Which server this is (`secantusd-py`, `secantusd-rs`, or `NOTIFY_TEST_MONGO_URI`).
    pub kind: String,
    _process: Option<ServerProcess>,
}

fn start() -> Result<MongoServer, String> {
    #[cfg(feature = "testcontainers")]
    if super::docker::enabled() {
        return super::docker::mongo_uri().map(|uri| MongoServer {
            uri,
            kind: "testcontainers (mongo:7)".into(),
            _process: None,
        });
    }
    if let Ok(uri) = std::env::var(URI_ENV) {
        if !uri.trim().is_empty() {
            return Ok(MongoServer {
                uri,
                kind: URI_ENV.into(),
                _process: None,
            });
        }
    }
    let port = free_port();
    let (kind, server_cmd, scratch) = if let Some(rs) = find_executable("secantusd-rs") {
        let dir = super::scratch_dir("notify-mongo-").keep();
        let cmd = format!(
            "{} --host 127.0.0.1 --port {port} --storage-path {}",
            shell_quote(&rs.display().to_string()),
            shell_quote(&dir.display().to_string())
        );
        ("secantusd-rs", cmd, Some(dir))
    } else if let Some(py) = find_executable("secantusd-py") {
        let cmd = format!(
            "{} --host 127.0.0.1 --port {port} --storage-path :memory:",
            shell_quote(&py.display().to_string())
        );
        ("secantusd-py", cmd, None)
    } else {
        return Err(format!(
            "neither secantusd-py (in {}) nor secantusd-rs (on PATH) was found, and {URI_ENV} is not set",
            super::venv_bin().display()
        ));
    };
    // The watchdog: runs the server, and kills it (and removes its folder) once this test
    // process is gone. Statics are never dropped, so nothing else would stop it.
    let cleanup = scratch
        .as_ref()
        .map(|dir| format!("; rm -rf {}", shell_quote(&dir.display().to_string())))
        .unwrap_or_default();
    let script = format!(
        "{server_cmd} & s=$!; trap 'kill -9 $s 2>/dev/null{cleanup}' EXIT; \
         while kill -0 {parent} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 0.2; done",
        parent = std::process::id()
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    let process = ServerProcess::spawn(kind, command, port, Duration::from_secs(20))?;
    Ok(MongoServer {
        uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
        kind: kind.into(),
        _process: Some(process),
    })
}

fn shell_quote(raw: &str) -> String {
    format!("'{}'", raw.replace('\'', r"'\''"))
}

/// The server of this test process, started on first use; `None` (after [`skip_or_fail`])
/// when there is none.
pub fn server() -> Option<&'static MongoServer> {
    static SERVER: OnceLock<Result<MongoServer, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => Some(server),
        Err(why) => {
            skip_or_fail("MongoDB (secantusd-py)", why);
            None
        }
    }
}

/// A database name no other test of any process uses.
pub fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("notify_test_{}_{n}_{nanos}", std::process::id())
}

/// A fresh, empty database on the test server with the stores' indexes (as `notify
/// mongo-index` makes them), and a client bound to the calling test's runtime; `None` when
/// there is no server.
pub async fn database() -> Option<Database> {
    let db = bare_database().await?;
    if let Err(err) = ensure_indexes(&db).await {
        panic!("cannot create the MongoDB indexes: {err}");
    }
    Some(db)
}

/// A fresh, empty database without indexes; `None` when there is no server.
pub async fn bare_database() -> Option<Database> {
    let server = server()?;
    let name = unique_database_name();
    match connect(&server.uri, &name).await {
        Ok(db) => Some(db),
        Err(err) => panic!("{} at {} does not answer: {err}", server.kind, server.uri),
    }
}

/// A notification store over a fresh database (a contract-suite factory).
pub async fn notification_store() -> Option<Arc<dyn NotificationStore>> {
    let db = database().await?;
    Some(Arc::new(MongoNotificationStore::new(&db)))
}

/// A dead-letter store over a fresh database (a contract-suite factory).
pub async fn dead_letter_store() -> Option<Arc<dyn DeadLetterStore>> {
    let db = database().await?;
    Some(Arc::new(MongoDeadLetterStore::new(&db)))
}
