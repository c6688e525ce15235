//! An SMTP server for the provider tests: `python -m aiosmtpd` (PyPI `aiosmtpd`, in the
//! project virtualenv) with its `Mailbox` handler, which stores every message it accepts in
//! a Maildir the test reads back. One server per test, on a free port.
//!
//! `NOTIFY_TEST_SMTP_ADDR=host:port` uses an external server instead; tests that read the
//! stored messages back also need `NOTIFY_TEST_SMTP_MAILDIR` (the Maildir it writes).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{find_executable, free_port, scratch_dir, skip_or_fail, ServerProcess};

pub const ADDR_ENV: &str = "NOTIFY_TEST_SMTP_ADDR";
pub const MAILDIR_ENV: &str = "NOTIFY_TEST_SMTP_MAILDIR";

/// A running SMTP server and the Maildir it writes.
#[derive(Debug)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    maildir: Option<PathBuf>,
    _process: ServerProcess,
    _dir: Option<tempfile::TempDir>,
}

impl SmtpServer {
    /// Starts aiosmtpd (or uses `NOTIFY_TEST_SMTP_ADDR`). `None` after [`skip_or_fail`]
    /// when neither is available.
    pub fn start() -> Option<Self> {
        if let Ok(raw) = std::env::var(ADDR_ENV) {
            let Some(addr) = raw.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
                skip_or_fail(
                    "SMTP server",
                    &format!("{ADDR_ENV}={raw:?} is not host:port"),
                );
                return None;
            };
            return Some(Self {
                addr,
                maildir: std::env::var_os(MAILDIR_ENV).map(PathBuf::from),
                _process: ServerProcess::external("smtp", addr),
                _dir: None,
            });
        }
        let Some(python) = find_executable("python") else {
            skip_or_fail("aiosmtpd", "no python in .venv/bin or on PATH");
            return None;
        };
        let dir = scratch_dir("notify-smtp-");
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let port = free_port();
        let mut command = Command::new(python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        match ServerProcess::spawn("aiosmtpd", command, port, Duration::from_secs(15)) {
            Ok(process) => Some(Self {
                addr: process.addr,
                maildir: Some(maildir),
                _process: process,
                _dir: Some(dir),
            }),
            Err(err) => {
                skip_or_fail(
                    "aiosmtpd",
                    &format!("{err} (is `aiosmtpd` installed in .venv?)"),
                );
                None
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn maildir(&self) -> Option<&Path> {
        self.maildir.as_deref()
    }

    /// The raw messages stored so far.
    pub fn messages(&self) -> Vec<String> {
        let Some(dir) = &self.maildir else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                for entry in entries.flatten() {
                    if let Ok(text) = std::fs::read_to_string(entry.path()) {
                        out.push(text);
                    }
                }
            }
        }
        out
    }

    /// Waits (bounded poll) until at least `n` messages are stored; returns them.
    pub fn wait_for_messages(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() >= deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
