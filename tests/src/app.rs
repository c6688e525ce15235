//! `spawn_app`: the whole service (HTTP gateway, retry workers, reconciler) on a free port
//! over the embedded adapters and the mock providers, and a client to talk to it.
//!
//! The async path is made quick: retries are due at once and idle workers poll every
//! 20 ms, so a test waits with [`TestApp::wait_for_status`] (a bounded poll), never a
//! bare sleep.

use std::time::{Duration, Instant};

use bootstrap::runtime::Running;
use bootstrap::{App, Config, Overrides};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;

/// How long [`TestApp::wait_for_status`] waits.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running service.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The wired service, sharing its ports and mocks with the running one
    /// (`app.mocks.email` steers the mock email provider).
    pub app: App,
    pub client: reqwest::Client,
    /// Sent as `Authorization: Bearer <key>` by [`TestApp::request`] when set.
    pub api_key: Option<String>,
    running: Option<Running>,
}

/// Starts the service on `127.0.0.1:0` with the default configuration, made quick for
/// tests and then changed by `tweak`, and mock providers only.
pub async fn spawn_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::load(None, []).expect("the default configuration loads");
    let a = &mut config.notification.async_;
    a.backoff_seconds = vec![0];
    a.poll_interval_ms = 20;
    tweak(&mut config);
    let app = bootstrap::build(config, &Overrides { force_mock: true })
        .await
        .expect("the service builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = bootstrap::runtime::start(app.clone(), listener)
        .await
        .expect("the service starts");
    TestApp {
        base_url: format!("http://{}", running.addr),
        app,
        client: reqwest::Client::new(),
        api_key: None,
        running: Some(running),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request to `path`, with the bearer key when [`TestApp::api_key`] is set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path`, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Polls the notification until its status is `want`, for at most [`WAIT`].
    pub async fn wait_for_status(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let view = self.get_json(&format!("/v1/notifications/{id}")).await;
            if view["status"] == want {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "notification {id} is still {} after {WAIT:?}, not {want}: {view}",
                view["status"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the service and waits for its tasks.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.cancel_token().cancel();
        }
    }
}

/// The error object of an error answer, after checking its status.
pub async fn expect_error(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"].clone()
}
