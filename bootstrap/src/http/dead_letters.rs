//! `GET /v1/dead-letters` and `POST /v1/dead-letters/{id}/replay`. A tenant sees and
//! replays only its own letters; an admin API key sees every tenant's.

use application::ports::DeadLetterQuery;
use application::{DeadLetterView, NotificationView};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use domain::{NotificationKind, TenantId};
use serde::Serialize;
use tracing::instrument;

use super::auth::Caller;
use super::error::ApiError;
use super::params;
use super::HttpState;

/// `GET /v1/dead-letters` answers.
#[derive(Debug, Serialize)]
pub struct DeadLetterList {
    pub items: Vec<DeadLetterView>,
}

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// The tenant a caller's dead-letter actions are limited to; `None` for an admin.
fn scope(caller: &Caller) -> Option<&TenantId> {
    (!caller.admin).then_some(&caller.tenant)
}

#[instrument(skip_all, fields(admin = caller.admin))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let Query(pairs) = query?;
    let query = params::Query::new(&pairs, &["kind", "limit", "since", "until"])?;
    let range = query.time_range()?;
    let letters = state
        .app
        .dead_letters
        .list(DeadLetterQuery {
            tenant_id: scope(&caller).cloned(),
            kind: query.parsed("kind", NotificationKind::parse)?,
            since: range.since,
            until: range.until,
            limit: query.limit(DEFAULT_LIMIT, MAX_LIMIT)?,
        })
        .await?;
    Ok(Json(DeadLetterList {
        items: letters.iter().map(DeadLetterView::from).collect(),
    }))
}

#[instrument(skip_all, fields(admin = caller.admin, notification_id))]
pub async fn replay(
    State(state): State<HttpState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<NotificationView>), ApiError> {
    let Path(id) = id?;
    if let Ok(parsed) = domain::NotificationId::parse(&id) {
        tracing::Span::current().record("notification_id", tracing::field::display(parsed));
    }
    let record = state.app.dead_letters.replay(scope(&caller), &id).await?;
    Ok((StatusCode::ACCEPTED, Json(NotificationView::from(&record))))
}
