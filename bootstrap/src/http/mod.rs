//! The HTTP gateway (axum): the notification API under `/v1`, scoped to the tenant of the
//! bearer API key, and the open operations routes (`/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`).
//!
//! | route | handler |
//! |---|---|
//! | `POST /v1/notifications` | [`notifications::create`] (sync `send` or async `enqueue`) |
//! | `GET /v1/notifications/{id}` | [`notifications::get_one`] |
//! | `GET /v1/notifications` | [`notifications::list`] |
//! | `GET /v1/dead-letters` | [`dead_letters::list`] |
//! | `POST /v1/dead-letters/{id}/replay` | [`dead_letters::replay`] |
//!
//! Every error answer comes from the one table in [`error`].

pub mod auth;
pub mod dead_letters;
pub mod error;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod params;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tracing::Instrument;

use self::auth::ApiKeys;
use self::error::{ApiError, ErrorCode};
use self::metrics::Metrics;
use crate::App;

/// The largest request body accepted (a notification request is a few KiB).
pub const BODY_LIMIT: usize = 256 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<App>,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<ApiKeys>,
}

/// The gateway's routes over a wired [`App`].
pub fn router(app: App) -> Router {
    if app.checked.api_keys.is_empty() {
        tracing::warn!(
            tenant = %app.checked.default_tenant,
            "no API keys configured (Auth.ApiKeys): authentication is off and every request acts for the default tenant"
        );
    }
    let state = HttpState {
        keys: Arc::new(ApiKeys::new(
            app.checked.api_keys.clone(),
            app.checked.default_tenant.clone(),
        )),
        metrics: Arc::new(Metrics::default()),
        app: Arc::new(app),
    };
    Router::new()
        .route(
            "/v1/notifications",
            post(notifications::create).get(notifications::list),
        )
        .route("/v1/notifications/{id}", get(notifications::get_one))
        .route("/v1/dead-letters", get(dead_letters::list))
        .route("/v1/dead-letters/{id}/replay", post(dead_letters::replay))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// One span per request (method, route, status, tenant), and the request counter.
async fn observe(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!(
        "http",
        method = %method,
        route = %route,
        status = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    state.metrics.record_request(&route, &method, status);
    span.in_scope(|| {
        tracing::debug!(
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request answered"
        );
    });
    response
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take this method",
    )
}
