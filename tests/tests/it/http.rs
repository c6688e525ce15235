//! The HTTP gateway end to end: real requests to the service on a free port, with the
//! embedded adapters, mock providers and in-process workers.

use std::time::Duration;

use bootstrap::config::{ApiKeyConfig, QuotaConfig};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use tests::app::{expect_error, spawn_app, TestApp};

const KEY_A: &str = "key-of-tenant-a-0123456789";
const KEY_B: &str = "key-of-tenant-b-0123456789";
const KEY_ADMIN: &str = "key-of-the-admin-0123456789";

fn welcome(to: &str) -> Value {
    json!({
        "kind": "tenant_welcome",
        "to": to,
        "locale": "en",
        "data": { "tenant_name": "Acme", "login_url": "https://acme.test/login" }
    })
}

fn with_mode(mut body: Value, mode: &str) -> Value {
    body["mode"] = json!(mode);
    body
}

fn otp_email(to: &str) -> Value {
    json!({
        "kind": "otp",
        "channel": "email",
        "to": to,
        "data": { "code": "123456", "ttl_minutes": 5 }
    })
}

/// Two tenants and an admin.
fn with_keys(config: &mut bootstrap::Config) {
    config.auth.api_keys = [
        (KEY_A, "tenant-a", false),
        (KEY_B, "tenant-b", false),
        (KEY_ADMIN, "ops", true),
    ]
    .into_iter()
    .map(|(key, tenant, admin)| ApiKeyConfig {
        key: SecretString::from(key),
        tenant: tenant.to_owned(),
        admin,
    })
    .collect();
}

async fn accepted(response: reqwest::Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    body
}

fn email_sent(app: &TestApp) -> usize {
    app.app.mocks.email.as_ref().unwrap().sent().len()
}

#[tokio::test]
async fn a_sync_send_answers_sent_and_can_be_read_back() {
    let app = spawn_app(|_| {}).await;
    let view = accepted(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "sent");
    assert_eq!(view["provider"], "mock");
    assert_eq!(view["mode"], "sync");
    assert_eq!(view["replayed"], false);
    assert_eq!(view["tenant_id"], "default");
    assert_eq!(email_sent(&app), 1);

    let id = view["id"].as_str().unwrap();
    let read = app.get_json(&format!("/v1/notifications/{id}")).await;
    assert_eq!(read["id"], id);
    assert_eq!(read["status"], "sent");
    assert!(read.get("replayed").is_none());

    let page = app
        .get_json("/v1/notifications?status=sent&kind=tenant_welcome")
        .await;
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(page["next_cursor"], Value::Null);
    app.shutdown().await;
}

#[tokio::test]
async fn an_async_enqueue_answers_pending_and_a_worker_sends_it() {
    let app = spawn_app(|_| {}).await;
    let response = app
        .post(
            "/v1/notifications",
            &with_mode(welcome("someone@example.com"), "async"),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let view = accepted(response, StatusCode::ACCEPTED).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["mode"], "async");
    let id = view["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/notifications/{id}"));

    let sent = app.wait_for_status(id, "sent").await;
    assert_eq!(sent["provider"], "mock");
    assert_eq!(email_sent(&app), 1);
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let app = spawn_app(|_| {}).await;
    let cases = [
        (welcome("not-an-address"), "to"),
        (
            json!({ "kind": "birthday", "to": "someone@example.com" }),
            "kind",
        ),
        (
            json!({ "kind": "tenant_welcome", "to": "someone@example.com", "colour": "red" }),
            "colour",
        ),
        (json!({ "kind": "tenant_welcome" }), "to"),
        (json!({ "kind": "tenant_welcome", "to": 42 }), "to"),
        (with_mode(welcome("someone@example.com"), "later"), "mode"),
        (
            json!({ "kind": "otp", "to": "someone@example.com" }),
            "channel",
        ),
    ];
    for (body, field) in cases {
        let error = expect_error(
            app.post("/v1/notifications", &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error["code"], "invalid_request", "{body}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    assert_eq!(email_sent(&app), 0);
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app(|_| {}).await;
    for raw in ["{\"kind\": ", "[1, 2]", ""] {
        let response = app
            .request(Method::POST, "/v1/notifications")
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], "invalid_request", "{raw:?}");
    }
}

#[tokio::test]
async fn template_data_errors_are_422_naming_the_variable() {
    let app = spawn_app(|_| {}).await;
    let missing = json!({
        "kind": "tenant_welcome",
        "to": "someone@example.com",
        "data": { "tenant_name": "Acme" }
    });
    let error = expect_error(
        app.post("/v1/notifications", &missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["code"], "invalid_data");
    assert_eq!(error["field"], "data.login_url");

    let mut line_break = welcome("someone@example.com");
    line_break["data"]["tenant_name"] = json!("Acme\r\nBcc: victim@example.com");
    let error = expect_error(
        app.post("/v1/notifications", &line_break).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["code"], "invalid_data");
    assert_eq!(error["field"], "data.tenant_name", "{error}");
    assert_eq!(email_sent(&app), 0);
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_the_first_notification_and_sends_once() {
    let app = spawn_app(|_| {}).await;
    let send = |body: Value| {
        app.request(Method::POST, "/v1/notifications")
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first = accepted(
        send(welcome("someone@example.com")).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let again = accepted(
        send(welcome("someone@example.com")).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["idempotency_key"], "order-42");
    assert_eq!(email_sent(&app), 1);

    let error = expect_error(
        send(welcome("other@example.com")).await.unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(error["code"], "idempotency_conflict");
    assert_eq!(email_sent(&app), 1);

    let mut disagreeing = welcome("someone@example.com");
    disagreeing["idempotency_key"] = json!("order-43");
    let error = expect_error(send(disagreeing).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(error["field"], "Idempotency-Key");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("notify_notifications_replayed_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_async_repeat_answers_200_with_the_original() {
    let app = spawn_app(|_| {}).await;
    let mut body = with_mode(welcome("someone@example.com"), "async");
    body["idempotency_key"] = json!("signup-7");
    let first = accepted(
        app.post("/v1/notifications", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let again = accepted(app.post("/v1/notifications", &body).await, StatusCode::OK).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["replayed"], true);
}

#[tokio::test]
async fn an_exceeded_quota_is_a_429_with_retry_after() {
    let app = spawn_app(|config| {
        config.notification.quotas = vec![QuotaConfig {
            scope: "recipient".into(),
            channel: "email".into(),
            kinds: vec![],
            limit: 1,
            window_seconds: 3600,
        }];
    })
    .await;
    accepted(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .post("/v1/notifications", &welcome("someone@example.com"))
        .await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let error = expect_error(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(error["code"], "quota_exceeded");
    let dropped = error["notification_id"].as_str().unwrap();
    let record = app.get_json(&format!("/v1/notifications/{dropped}")).await;
    assert_eq!(record["status"], "dropped");
    assert_eq!(email_sent(&app), 1);
}

#[tokio::test]
async fn with_api_keys_a_request_needs_a_key_and_sees_only_its_tenant() {
    let mut app = spawn_app(with_keys).await;
    let error = expect_error(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(error["code"], "unauthorized");
    app.api_key = Some("key-nobody-has-0123456789".into());
    let response = app.get("/v1/notifications").await;
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer"
    );
    expect_error(response, StatusCode::UNAUTHORIZED).await;

    app.api_key = Some(KEY_A.into());
    let view = accepted(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["tenant_id"], "tenant-a");
    let path = format!("/v1/notifications/{}", view["id"].as_str().unwrap());
    app.get_json(&path).await;

    app.api_key = Some(KEY_B.into());
    let error = expect_error(app.get(&path).await, StatusCode::NOT_FOUND).await;
    assert_eq!(error["code"], "not_found");
    let page = app.get_json("/v1/notifications").await;
    assert_eq!(page["items"], json!([]));

    app.api_key = None;
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(app.get(open).await.status(), StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn a_dead_letter_is_listed_and_replayed_after_the_provider_recovers() {
    let mut app = spawn_app(|config| {
        with_keys(config);
        config.notification.async_.max_retry = 0;
    })
    .await;
    app.api_key = Some(KEY_A.into());
    let mock = app.app.mocks.email.clone().unwrap();
    mock.fail_permanently();
    let view = accepted(
        app.post(
            "/v1/notifications",
            &with_mode(welcome("someone@example.com"), "async"),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = view["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "failed").await;

    let letters = app.get_json("/v1/dead-letters?kind=tenant_welcome").await;
    let letter = &letters["items"][0];
    assert_eq!(letter["notification_id"], id.as_str());
    assert_eq!(letter["replayable"], true);
    assert_ne!(
        letter["to"], "someone@example.com",
        "the recipient is masked"
    );

    // Another tenant neither sees nor replays it; the admin sees it.
    app.api_key = Some(KEY_B.into());
    assert_eq!(app.get_json("/v1/dead-letters").await["items"], json!([]));
    let replay = format!("/v1/dead-letters/{id}/replay");
    let error = expect_error(
        app.request(Method::POST, &replay).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(error["code"], "not_found");
    app.api_key = Some(KEY_ADMIN.into());
    let all = app.get_json("/v1/dead-letters").await;
    assert_eq!(all["items"][0]["notification_id"], id.as_str());

    app.api_key = Some(KEY_A.into());
    mock.succeed();
    let replayed = accepted(
        app.request(Method::POST, &replay).send().await.unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(replayed["status"], "pending");
    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["provider"], "mock");
    assert_eq!(app.get_json("/v1/dead-letters").await["items"], json!([]));

    // Replaying again: the letter is gone.
    let error = expect_error(
        app.request(Method::POST, &replay).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(error["code"], "not_found");
}

#[tokio::test]
async fn a_sensitive_dead_letter_cannot_be_replayed() {
    let app = spawn_app(|config| config.notification.async_.max_retry = 0).await;
    app.app.mocks.email.as_ref().unwrap().fail_permanently();
    let view = accepted(
        app.post(
            "/v1/notifications",
            &with_mode(otp_email("someone@example.com"), "async"),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(view["body_withheld"], true);
    let id = view["id"].as_str().unwrap();
    app.wait_for_status(id, "failed").await;
    let letters = app.get_json("/v1/dead-letters").await;
    assert_eq!(letters["items"][0]["replayable"], false);

    app.app.mocks.email.as_ref().unwrap().succeed();
    let error = expect_error(
        app.request(Method::POST, &format!("/v1/dead-letters/{id}/replay"))
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(error["code"], "not_replayable");
    assert_eq!(error["message"], application::NOT_REPLAYABLE);
}

#[tokio::test]
async fn a_failed_sync_send_is_a_502_naming_the_record() {
    let app = spawn_app(|_| {}).await;
    app.app.mocks.email.as_ref().unwrap().fail_permanently();
    let error = expect_error(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::BAD_GATEWAY,
    )
    .await;
    assert_eq!(error["code"], "delivery_failed");
    let id = error["notification_id"].as_str().unwrap();
    let record = app.get_json(&format!("/v1/notifications/{id}")).await;
    assert_eq!(record["status"], "failed");
}

#[tokio::test]
async fn list_queries_are_parsed_and_bad_values_name_the_parameter() {
    let app = spawn_app(|_| {}).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let view = accepted(
            app.post(
                "/v1/notifications",
                &welcome(&format!("user{n}@example.com")),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        ids.push(view["id"].as_str().unwrap().to_owned());
    }
    let first = app.get_json("/v1/notifications?limit=2").await;
    assert_eq!(first["items"][0]["id"], ids[2].as_str());
    assert_eq!(first["items"][1]["id"], ids[1].as_str());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_json(&format!("/v1/notifications?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert_eq!(second["items"].as_array().unwrap().len(), 1);

    let empty = app
        .get_json("/v1/notifications?status=&kind=&since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(empty["items"], json!([]));

    for (query, field) in [
        ("status=lost", "status"),
        ("kind=birthday", "kind"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=nope", "cursor"),
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("colour=red", "colour"),
    ] {
        let error = expect_error(
            app.get(&format!("/v1/notifications?{query}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error["field"], field, "{query}: {error}");
    }
    let error = expect_error(
        app.get("/v1/dead-letters?limit=501").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error["field"], "limit");
    let error = expect_error(
        app.get("/v1/notifications/not-an-id").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error["field"], "id");
    let unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let error = expect_error(
        app.get(&format!("/v1/notifications/{unknown}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(error["code"], "not_found");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = spawn_app(|_| {}).await;
    let error = expect_error(app.get("/v2/everything").await, StatusCode::NOT_FOUND).await;
    assert_eq!(error["code"], "not_found");
    let error = expect_error(
        app.request(Method::DELETE, "/v1/notifications")
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert_eq!(error["code"], "method_not_allowed");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(|_| {}).await;
    assert_eq!(app.get_json("/healthz").await, json!({ "status": "ok" }));

    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["backends"]["store"], "memory");
    assert_eq!(ready["backends"]["queue"], "memory");
    assert_eq!(ready["backends"]["email"], json!(["mock"]));
    assert_eq!(ready["checks"]["queue"], "ok");

    accepted(
        app.post("/v1/notifications", &welcome("someone@example.com"))
            .await,
        StatusCode::OK,
    )
    .await;
    let response = app.get("/metrics").await;
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for line in [
        "# TYPE notify_http_requests_total counter",
        "notify_http_requests_total{route=\"/v1/notifications\",method=\"POST\",status=\"200\"} 1",
        "notify_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"} 1",
        "notify_notifications_accepted_total{mode=\"sync\",channel=\"email\"} 1",
        "notify_notifications_accepted_total{mode=\"async\",channel=\"email\"} 0",
        "# TYPE notify_queue_depth gauge",
        "notify_queue_depth 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_app(|_| {}).await;
    let doc = app.get_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/notifications",
        "/v1/notifications/{id}",
        "/v1/dead-letters",
        "/v1/dead-letters/{id}/replay",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert!(doc["paths"]["/v1/notifications"]["post"]["responses"]["429"].is_object());
    let codes =
        &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
    assert!(codes.as_array().unwrap().contains(&json!("quota_exceeded")));
}

#[tokio::test]
async fn shutdown_stops_the_gateway() {
    let app = spawn_app(|_| {}).await;
    let url = app.url("/healthz");
    let client = app.client.clone();
    app.shutdown().await;
    let result = tokio::time::timeout(Duration::from_secs(5), client.get(url).send()).await;
    assert!(matches!(result, Ok(Err(_))), "{result:?}");
}
