//! Opt-in: real `redis` and `mongo` images through testcontainers, for machines with a
//! Docker engine. Built with the tests crate's `testcontainers` feature and used when
//! `NOTIFY_TEST_DOCKER=1`; otherwise the process-based servers are used (the default, and
//! the only path on machines without Docker).
//!
//! ```sh
//! NOTIFY_TEST_DOCKER=1 cargo test -p tests --features testcontainers --test it
//! ```
//!
//! One container of each image per test process. Statics are never dropped, so a small
//! watchdog shell removes each container (`docker rm -f`) once the test process is gone.

use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use testcontainers_modules::mongo::Mongo;
use testcontainers_modules::redis::{Redis, REDIS_PORT};
use testcontainers_modules::testcontainers::runners::SyncRunner;
use testcontainers_modules::testcontainers::{Container, ImageExt};

/// Whether the tests should use containers (`NOTIFY_TEST_DOCKER=1`).
pub fn enabled() -> bool {
    std::env::var("NOTIFY_TEST_DOCKER").is_ok_and(|v| v == "1" || v == "true")
}

/// Removes the container once this test process has ended.
fn remove_on_exit(id: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; docker rm -f {id} >/dev/null 2>&1",
        pid = std::process::id()
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

type Started<I> = Result<(Mutex<Container<I>>, String), String>;

/// Runs `start` on a thread of its own: the blocking runner keeps a runtime of its own,
/// which may not be started from inside a test's runtime.
fn off_runtime<T: Send + 'static>(
    start: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(start)
        .join()
        .unwrap_or_else(|_| Err("the container start-up thread panicked".into()))
}

/// `redis://host:port` of a `redis:7` container.
pub fn redis_url() -> Result<String, String> {
    static REDIS: OnceLock<Started<Redis>> = OnceLock::new();
    REDIS
        .get_or_init(|| {
            off_runtime(|| {
                let container = Redis::default()
                    .with_tag("7")
                    .start()
                    .map_err(|e| format!("cannot start the redis image: {e}"))?;
                remove_on_exit(container.id());
                let host = container.get_host().map_err(|e| e.to_string())?;
                let port = container
                    .get_host_port_ipv4(REDIS_PORT)
                    .map_err(|e| e.to_string())?;
                Ok((Mutex::new(container), format!("redis://{host}:{port}")))
            })
        })
        .as_ref()
        .map(|(_, url)| url.clone())
        .map_err(Clone::clone)
}

/// `mongodb://host:port/?directConnection=true` of a `mongo:7` container.
pub fn mongo_uri() -> Result<String, String> {
    static MONGO: OnceLock<Started<Mongo>> = OnceLock::new();
    MONGO
        .get_or_init(|| {
            off_runtime(|| {
                let container = Mongo::default()
                    .with_tag("7")
                    .start()
                    .map_err(|e| format!("cannot start the mongo image: {e}"))?;
                remove_on_exit(container.id());
                let host = container.get_host().map_err(|e| e.to_string())?;
                let port = container
                    .get_host_port_ipv4(27017)
                    .map_err(|e| e.to_string())?;
                Ok((
                    Mutex::new(container),
                    format!("mongodb://{host}:{port}/?directConnection=true"),
                ))
            })
        })
        .as_ref()
        .map(|(_, uri)| uri.clone())
        .map_err(Clone::clone)
}
