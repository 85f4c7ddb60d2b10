//! Alerts: read them, and acknowledge (which only silences notifications).

use super::dto::*;
use crate::error::ApiResult;
use crate::extract::{Id, Member, QueryParams};
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use clef_core::ids::*;
use clef_core::{Acknowledgement, AlertStatus, FieldError, Severity};
use clef_store::AlertQuery;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// `open`, `resolved`, or `any` (the default).
    status: Option<String>,
    acknowledged: Option<bool>,
    /// `info`, `warning`, `error` or `critical`.
    severity: Option<String>,
    /// 1 to 1000, default 200.
    limit: Option<u32>,
}

#[utoipa::path(operation_id = "alerts_list", get, path = "/api/v1/integrations/{id}/alerts", tag = "alerts",
    params(("id" = String, Path), AlertsQuery),
    responses((status = 200, body = Vec<AlertView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(q): QueryParams<AlertsQuery>,
) -> ApiResult<Json<Vec<AlertView>>> {
    state.store.integration(&user.org_id, &id).await?;
    let query = AlertQuery {
        integration_id: Some(id),
        status: match q.status {
            Some(s) => AlertStatus::parse_filter(&s).map_err(|m| FieldError::new("status", m))?,
            None => None,
        },
        acknowledged: q.acknowledged,
        severity: q
            .severity
            .map(|s| Severity::parse(&s).map_err(|m| FieldError::new("severity", m)))
            .transpose()?,
        limit: super::limit(q.limit, 200, 1000)?,
    };
    let alerts = state.store.alerts(&user.org_id, query).await?;
    Ok(Json(alerts.into_iter().map(Into::into).collect()))
}

#[utoipa::path(operation_id = "alerts_get", get, path = "/api/v1/alerts/{alertId}", tag = "alerts",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(state.store.alert(&user.org_id, &id).await?.into()))
}

#[utoipa::path(operation_id = "alerts_acknowledge", post, path = "/api/v1/alerts/{alertId}/acknowledge", tag = "alerts",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The alert is resolved", body = ErrorBody)),
    security(("token" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertView>> {
    member.require_acknowledge()?;
    let ack = Acknowledgement { by: member.0.email.clone(), at: now_ms() };
    Ok(Json(state.store.set_acknowledgement(&member.actor(), &id, Some(ack)).await?.into()))
}

#[utoipa::path(operation_id = "alerts_unacknowledge", post, path = "/api/v1/alerts/{alertId}/unacknowledge", tag = "alerts",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub async fn unacknowledge(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertView>> {
    member.require_acknowledge()?;
    Ok(Json(state.store.set_acknowledgement(&member.actor(), &id, None).await?.into()))
}
