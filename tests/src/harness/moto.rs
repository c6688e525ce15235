//! AWS SES v2 and SNS for the provider tests: `moto_server` (PyPI `moto[server]`, in the
//! project virtualenv), one per test on a free port. `NOTIFY_TEST_AWS_ENDPOINT` uses an
//! external moto instead (its recorded traffic is then shared; tests filter by recipient).
//!
//! Read back with `GET /moto-api/data.json` (`ses.Message[]`, `sns.SMS[]`); reset with
//! `POST /moto-api/reset`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{find_executable, free_port, skip_or_fail, ServerProcess};

pub const ENDPOINT_ENV: &str = "NOTIFY_TEST_AWS_ENDPOINT";
/// The region and static credentials the tests use against moto.
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

/// A running moto server.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _process: ServerProcess,
    client: reqwest::Client,
}

impl MotoServer {
    /// Starts `moto_server` (or uses `NOTIFY_TEST_AWS_ENDPOINT`). `None` after
    /// [`skip_or_fail`] when neither is available.
    pub fn start() -> Option<Self> {
        let client = reqwest::Client::new();
        if let Ok(endpoint) = std::env::var(ENDPOINT_ENV) {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            let addr = endpoint
                .trim_start_matches("http://")
                .parse()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 5000).into());
            return Some(Self {
                endpoint,
                _process: ServerProcess::external("moto", addr),
                client,
            });
        }
        let Some(exe) = find_executable("moto_server") else {
            skip_or_fail("moto_server", "not in .venv/bin nor on PATH");
            return None;
        };
        let port = free_port();
        let mut command = Command::new(exe);
        command
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string());
        match ServerProcess::spawn("moto_server", command, port, Duration::from_secs(30)) {
            Ok(process) => Some(Self {
                endpoint: format!("http://127.0.0.1:{port}"),
                _process: process,
                client,
            }),
            Err(err) => {
                skip_or_fail("moto_server", &err);
                None
            }
        }
    }

    /// Everything moto recorded (`GET /moto-api/data.json`).
    pub async fn data(&self) -> Value {
        self.client
            .get(format!("{}/moto-api/data.json", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `ses.Message[]`.
    pub async fn ses_messages(&self) -> Vec<Value> {
        self.data().await["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `sns.SMS[]`.
    pub async fn sns_sms(&self) -> Vec<Value> {
        self.data().await["sns"]["SMS"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `POST /moto-api/reset`.
    pub async fn reset(&self) {
        self.client
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .unwrap();
    }

    /// SES v2 `CreateEmailIdentity`: until it exists, `SendEmail` from it is rejected.
    pub async fn create_email_identity(&self, address: &str) {
        let response = self
            .client
            .post(format!("{}/v2/email/identities", self.endpoint))
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20240101/{REGION}/ses/aws4_request, SignedHeaders=host, Signature=00"),
            )
            .json(&serde_json::json!({ "EmailIdentity": address }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "CreateEmailIdentity: {}",
            response.status()
        );
    }
}
