//! Operations routes, open without an API key: `/healthz` (the process answers),
//! `/readyz` (the backends answer) and `/metrics` (Prometheus text).

use std::time::Duration;

use application::ports::ListQuery;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::HttpState;

/// How long one readiness probe may take before the backend counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// A probe's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Check {
    Ok,
    Failed,
    /// The port is not configured (no retry queue: sync only).
    Absent,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    backends: Backends,
    checks: Checks,
}

#[derive(Serialize)]
struct Backends {
    store: &'static str,
    queue: &'static str,
    email: Vec<String>,
    sms: Vec<String>,
}

#[derive(Serialize)]
struct Checks {
    store: Check,
    queue: Check,
}

/// 200 when every configured backend answers a cheap probe, 503 otherwise. The cause of a
/// failure is logged, not shown.
pub async fn readyz(State(state): State<HttpState>) -> Response {
    let ports = &state.app.ports;
    let store = async {
        let query = ListQuery {
            limit: 1,
            ..ListQuery::default()
        };
        match tokio::time::timeout(PROBE_TIMEOUT, ports.store.list(&query)).await {
            Ok(Ok(_)) => Check::Ok,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "readiness: notification store failed");
                Check::Failed
            }
            Err(_) => {
                tracing::warn!("readiness: notification store timed out");
                Check::Failed
            }
        }
    };
    let queue = async {
        let Some(queue) = &ports.queue else {
            return Check::Absent;
        };
        match tokio::time::timeout(PROBE_TIMEOUT, queue.len()).await {
            Ok(Ok(_)) => Check::Ok,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "readiness: retry queue failed");
                Check::Failed
            }
            Err(_) => {
                tracing::warn!("readiness: retry queue timed out");
                Check::Failed
            }
        }
    };
    let (store, queue) = tokio::join!(store, queue);
    let ready = store != Check::Failed && queue != Check::Failed;
    let backends = &state.app.backends;
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        backends: Backends {
            store: backends.store,
            queue: backends.queue,
            email: backends.email.clone(),
            sms: backends.sms.clone(),
        },
        checks: Checks { store, queue },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<HttpState>) -> Response {
    let depth = match &state.app.ports.queue {
        None => None,
        Some(queue) => match tokio::time::timeout(PROBE_TIMEOUT, queue.len()).await {
            Ok(Ok(depth)) => Some(depth),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "metrics: cannot read the retry queue's depth");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: reading the retry queue's depth timed out");
                None
            }
        },
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(depth),
    )
        .into_response()
}
