//! A Redis server for the tests: one per test process, and a key prefix of its own for each
//! test; plus dedicated servers the fault tests may kill and restart.
//!
//! Which server, in order:
//! 1. `NOTIFY_TEST_REDIS_URL` (any Redis 6.2+): used as it is; tests stay apart by prefix.
//! 2. `redis-server` on `PATH` (Debian package `redis-server`; `make test-deps` installs
//!    it), started on first use on a free port with `--save '' --appendonly no` in a
//!    temporary folder.
//!
//! Neither: [`skip_or_fail`]. Every server this module starts has a small watchdog shell
//! that kills it once the test process is gone (statics are never dropped), and a
//! dedicated server is also killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use adapters::redis::{
    KeySpace, RedisConnection, RedisIdempotencyStore, RedisQuotaStore, RedisRetryQueue,
    RedisSensitiveBodyStore,
};
use adapters::{MemoryDeadLetterStore, MemoryNotificationStore};
use application::ports::{IdempotencyStore, QuotaStore, RetryQueue, SensitiveBodyStore};

use super::{find_executable, free_port, skip_or_fail, ServerProcess};
use crate::world::Backend;

/// The environment variable naming an external server (`redis://host:port`).
pub const URL_ENV: &str = "NOTIFY_TEST_REDIS_URL";

const READY_WITHIN: Duration = Duration::from_secs(10);

/// A Redis server for tests: external (`NOTIFY_TEST_REDIS_URL`) or a `redis-server` child
/// this process started.
#[derive(Debug)]
pub struct RedisServer {
    /// `redis://127.0.0.1:PORT` (or the external URL).
    pub url: String,
    /// `redis-server`, or `NOTIFY_TEST_REDIS_URL`.
    pub kind: String,
    local: Option<Local>,
}

#[derive(Debug)]
struct Local {
    exe: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    process: Option<ServerProcess>,
}

impl Local {
    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let mut command = Command::new(&self.exe);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--daemonize")
            .arg("no")
            .arg("--dir")
            .arg(dir)
            .arg("--pidfile")
            .arg(dir.join("redis.pid"))
            .arg("--logfile")
            .arg(dir.join("redis.log"));
        let process = ServerProcess::spawn("redis-server", command, self.port, READY_WITHIN)?;
        self.process = Some(process);
        Ok(())
    }
}

impl RedisServer {
    /// Starts a `redis-server` of this test alone (for fault tests that kill it).
    pub fn start_local() -> Result<Self, String> {
        let exe = find_executable("redis-server").ok_or_else(|| {
            "redis-server is not on PATH (Debian package redis-server)".to_owned()
        })?;
        let port = free_port();
        let dir = super::scratch_dir("notify-redis-");
        watchdog(&dir.path().join("redis.pid"));
        let mut local = Local {
            exe,
            port,
            dir,
            process: None,
        };
        local.spawn()?;
        Ok(Self {
            url: format!("redis://127.0.0.1:{port}"),
            kind: "redis-server".into(),
            local: Some(local),
        })
    }

    fn external() -> Option<Self> {
        let url = std::env::var(URL_ENV).ok()?;
        if url.trim().is_empty() {
            return None;
        }
        Some(Self {
            url,
            kind: URL_ENV.into(),
            local: None,
        })
    }

    /// Kills the server at once (SIGKILL: a crash; with no persistence it loses
    /// everything). Panics on an external server.
    pub fn kill(&mut self) {
        let local = self
            .local
            .as_mut()
            .expect("only a local server can be killed");
        if let Some(mut process) = local.process.take() {
            process.kill();
        }
    }

    /// Starts the server again on the same port, empty. Panics on an external server.
    pub fn restart(&mut self) {
        self.kill();
        let local = self
            .local
            .as_mut()
            .expect("only a local server can be restarted");
        local.spawn().expect("redis-server restarts on its port");
    }

    pub fn port(&self) -> Option<u16> {
        self.local.as_ref().map(|l| l.port)
    }
}

/// Kills the server whose pid is in `pidfile` once this test process is gone.
fn watchdog(pidfile: &Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; \
         [ -f '{pid}' ] && kill -9 \"$(cat '{pid}')\" 2>/dev/null; exit 0",
        parent = std::process::id(),
        pid = pidfile.display().to_string().replace('\'', "")
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// The shared server of this test process, started on first use; `None` (after
/// [`skip_or_fail`]) when there is none.
pub fn server() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Result<RedisServer, String>> = OnceLock::new();
    let started = SERVER.get_or_init(|| {
        #[cfg(feature = "testcontainers")]
        if super::docker::enabled() {
            return super::docker::redis_url().map(|url| RedisServer {
                url,
                kind: "testcontainers (redis:7)".into(),
                local: None,
            });
        }
        start_shared()
    });
    match started {
        Ok(server) => Some(server),
        Err(why) => {
            skip_or_fail("Redis (redis-server)", why);
            None
        }
    }
}

fn start_shared() -> Result<RedisServer, String> {
    match RedisServer::external() {
        Some(server) => Ok(server),
        None => {
            RedisServer::start_local().map_err(|why| format!("{why}, and {URL_ENV} is not set"))
        }
    }
}

/// A dedicated local server this test may kill and restart; `None` (after
/// [`skip_or_fail`]) when `redis-server` cannot be started.
pub fn dedicated_server() -> Option<RedisServer> {
    match RedisServer::start_local() {
        Ok(server) => Some(server),
        Err(why) => {
            skip_or_fail("Redis (redis-server)", &why);
            None
        }
    }
}

/// A key prefix no other test of any process uses (`test:{pid}:{n}:{nanos}:`).
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("test:{}:{n}:{nanos}:", std::process::id())
}

/// A connection to `server` under a fresh key prefix, bound to the calling test's runtime.
pub async fn connect_to(server: &RedisServer) -> RedisConnection {
    match RedisConnection::connect(&server.url, KeySpace::new(unique_prefix())).await {
        Ok(connection) => connection,
        Err(err) => panic!("{} does not answer: {err}", server.kind),
    }
}

/// A connection to the shared server under a fresh key prefix; `None` when there is no
/// server.
pub async fn connection() -> Option<RedisConnection> {
    let server = server()?;
    Some(connect_to(server).await)
}

/// The Redis retry queue over `connection` (its queue key is `{prefix}retry:zset`).
pub fn queue_over(connection: &RedisConnection) -> Arc<RedisRetryQueue> {
    Arc::new(RedisRetryQueue::new(connection, connection.keys().queue()))
}

/// In-memory notifications and dead letters; Redis queue, idempotency, quotas and
/// sensitive bodies over `connection`.
pub fn backend_over(connection: &RedisConnection) -> Backend {
    Backend {
        store: Arc::new(MemoryNotificationStore::new()),
        dead_letters: Arc::new(MemoryDeadLetterStore::new()),
        queue: queue_over(connection),
        idempotency: Arc::new(RedisIdempotencyStore::new(connection)),
        quotas: Arc::new(RedisQuotaStore::new(connection)),
        sensitive: Arc::new(RedisSensitiveBodyStore::new(connection)),
    }
}

/// [`backend_over`] a fresh prefix of the shared server; `None` when there is no server.
pub async fn backend() -> Option<Backend> {
    Some(backend_over(&connection().await?))
}

/// A retry queue under a fresh prefix (a contract-suite factory).
pub async fn retry_queue() -> Option<Arc<dyn RetryQueue>> {
    Some(queue_over(&connection().await?))
}

/// An idempotency store under a fresh prefix (a contract-suite factory).
pub async fn idempotency_store() -> Option<Arc<dyn IdempotencyStore>> {
    Some(Arc::new(RedisIdempotencyStore::new(&connection().await?)))
}

/// A quota store under a fresh prefix (a contract-suite factory).
pub async fn quota_store() -> Option<Arc<dyn QuotaStore>> {
    Some(Arc::new(RedisQuotaStore::new(&connection().await?)))
}

/// A sensitive-body store under a fresh prefix (a contract-suite factory).
pub async fn sensitive_body_store() -> Option<Arc<dyn SensitiveBodyStore>> {
    Some(Arc::new(RedisSensitiveBodyStore::new(&connection().await?)))
}

/// One field of `INFO` (for instance `total_commands_processed`, `used_cpu_user`).
pub async fn info_field(url: &str, field: &str) -> Option<f64> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query_async(&mut conn)
        .await
        .ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
}
