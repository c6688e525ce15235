//! `POST /v1/notifications` (sync or async), `GET /v1/notifications/{id}` and
//! `GET /v1/notifications`. Every read and write is scoped to the caller's tenant.

use application::ports::ListQuery;
use application::NotificationView;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{Mode, NotificationId, NotificationKind, Status};
use serde::Serialize;
use tracing::instrument;

use super::auth::Caller;
use super::error::ApiError;
use super::params::{self, IDEMPOTENCY_KEY_HEADER};
use super::HttpState;

/// A notification as `POST` answers it.
#[derive(Debug, Serialize)]
pub struct AcceptedView {
    #[serde(flatten)]
    pub notification: NotificationView,
    /// The request repeated an earlier one (same idempotency key): nothing was sent.
    pub replayed: bool,
}

/// One page of `GET /v1/notifications`.
#[derive(Debug, Serialize)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/notifications` default and most items per page.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

#[instrument(skip_all, fields(mode, kind, notification_id))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let parsed = params::create_request(&headers, &body)?;
    let span = tracing::Span::current();
    span.record("mode", parsed.mode.as_str());
    if let Ok(kind) = NotificationKind::parse(parsed.request.kind.trim()) {
        span.record("kind", kind.as_str());
    }
    let notifier = &state.app.notifier;
    let result = match parsed.mode {
        Mode::Sync => notifier.send(&caller.tenant, parsed.request).await,
        Mode::Async => notifier.enqueue(&caller.tenant, parsed.request).await,
    };
    let accepted = result.map_err(|err| {
        let mut api = ApiError::from(err);
        // A bad key that came from the header is reported under the header's name.
        if parsed.key_from_header && api.field.as_deref() == Some("idempotency_key") {
            api.field = Some(IDEMPOTENCY_KEY_HEADER.to_owned());
            if let Some(rest) = api.message.strip_prefix("idempotency_key:") {
                api.message = format!("{IDEMPOTENCY_KEY_HEADER}:{rest}");
            }
        }
        api
    })?;
    let record = &accepted.notification;
    span.record("notification_id", tracing::field::display(record.id));
    if accepted.replayed {
        state.metrics.record_replay();
    } else {
        state.metrics.record_accepted(record.mode, record.channel);
    }
    let status = match (parsed.mode, accepted.replayed) {
        (Mode::Async, false) => StatusCode::ACCEPTED,
        (Mode::Sync, _) | (Mode::Async, true) => StatusCode::OK,
    };
    let location = HeaderValue::try_from(format!("/v1/notifications/{}", record.id)).ok();
    let body = AcceptedView {
        notification: NotificationView::from(record),
        replayed: accepted.replayed,
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[instrument(skip_all)]
pub async fn get_one(
    State(state): State<HttpState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<NotificationView>, ApiError> {
    let Path(id) = id?;
    let record = state.app.notifier.get(&caller.tenant, &id).await?;
    Ok(Json(NotificationView::from(&record)))
}

#[instrument(skip_all)]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<NotificationPage>, ApiError> {
    let Query(pairs) = query?;
    let query = params::Query::new(
        &pairs,
        &["status", "kind", "limit", "cursor", "since", "until"],
    )?;
    let range = query.time_range()?;
    let list = ListQuery {
        tenant_id: Some(caller.tenant.clone()),
        status: query.parsed("status", Status::parse)?,
        kind: query.parsed("kind", NotificationKind::parse)?,
        since: range.since,
        until: range.until,
        limit: query.limit(DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor: query.parsed("cursor", NotificationId::parse)?,
    };
    let page = state.app.notifier.list(&caller.tenant, list).await?;
    Ok(Json(NotificationPage {
        items: page.items.iter().map(NotificationView::from).collect(),
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    }))
}
