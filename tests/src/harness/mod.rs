//! Starting real servers for tests: a free port, a child process killed on drop, a
//! bounded wait until it accepts connections, and the skip-or-fail rule.
//!
//! A server that cannot be found makes the test print why it skipped; under `CI=true` the
//! test fails instead, so CI cannot pass by skipping.

#[cfg(feature = "testcontainers")]
pub mod docker;
pub mod mongo;
pub mod moto;
pub mod redis;
pub mod smtp;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this run is CI (`CI=true`): missing servers fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a server that is not available: panics under CI, prints and returns otherwise.
pub fn skip_or_fail(server: &str, why: &str) {
    let message = format!("{server} not available: {why}");
    if in_ci() {
        panic!("{message} (CI=true: a missing test server fails the run; `make test` installs it)");
    }
    eprintln!("SKIPPED: {message}; run `make test-deps` to install it");
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The project-local virtualenv's `bin` folder (`.venv/bin` at the workspace root), or
/// `NOTIFY_TEST_VENV/bin`.
pub fn venv_bin() -> PathBuf {
    match std::env::var_os("NOTIFY_TEST_VENV") {
        Some(venv) => PathBuf::from(venv).join("bin"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(".venv")
            .join("bin"),
    }
}

/// Finds an executable: in the project virtualenv first, then on `PATH`.
pub fn find_executable(name: &str) -> Option<PathBuf> {
    let local = venv_bin().join(name);
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A folder for one test server's files, removed on drop.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary folder")
}

/// A child server process, killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub name: String,
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl ServerProcess {
    /// Spawns `command` (its output discarded unless `NOTIFY_TEST_SERVER_LOGS` is set) and
    /// waits up to `ready_within` for `127.0.0.1:port` to accept connections.
    pub fn spawn(
        name: &str,
        mut command: Command,
        port: u16,
        ready_within: Duration,
    ) -> Result<Self, String> {
        let show = std::env::var_os("NOTIFY_TEST_SERVER_LOGS").is_some();
        command
            .stdin(Stdio::null())
            .stdout(if show {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if show {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Self {
            name: name.to_owned(),
            addr,
            child: Some(child),
        };
        if let Err(err) = server.wait_ready(ready_within) {
            return Err(format!(
                "{name} did not accept connections on {addr}: {err}"
            ));
        }
        Ok(server)
    }

    /// A server this process did not start (an `NOTIFY_TEST_*` address); never killed.
    pub fn external(name: &str, addr: SocketAddr) -> Self {
        Self {
            name: name.to_owned(),
            addr,
            child: None,
        }
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("exited with {status}"));
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready after {} ms", within.as_millis()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Kills the process now (a crash, as the fault tests need).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
