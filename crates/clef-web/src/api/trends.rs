//! Trends over 7, 30 or 90 days, and exports of alerts and report history.

use super::alerts::AlertFilters;
use super::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::export::{self, Format};
use crate::extract::{Id, Member, QueryParams};
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use clef_core::FieldError;
use clef_core::ids::*;
use clef_core::trends::{trends, window_days, window_start};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendsQuery {
    /// 7, 30 (the default) or 90.
    days: Option<u32>,
    /// Only this integration; the whole organisation if absent.
    integration: Option<String>,
}

#[utoipa::path(operation_id = "trends", get, path = "/api/v1/trends", tag = "alerts",
    description = "Trends over the last 7, 30 or 90 days, from the alerts' lifetimes (opened at the introducing \
        commit's time, resolved at the fixing commit's): open alerts at each day's end by severity, time to \
        resolve (median and 90th percentile) by severity, namespace and environment, and how long each matrix \
        cell was in violation.",
    params(TrendsQuery),
    responses((status = 200, body = TrendsView), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Member(user): Member,
    QueryParams(q): QueryParams<TrendsQuery>,
) -> ApiResult<Json<TrendsView>> {
    let days = window_days(q.days.unwrap_or(30)).map_err(|m| FieldError::new("days", m))?;
    let integration: Option<IntegrationId> =
        q.integration.filter(|i| !i.trim().is_empty()).map(|i| i.trim().to_owned().into());
    if let Some(id) = &integration {
        state.store.integration(&user.org_id, id).await?;
    }
    let now = now_ms();
    let spans =
        state.store.alert_spans(&user.org_id, integration.as_ref(), window_start(now, days), now).await?;
    Ok(Json(trends(&spans, now, days).into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (the default) or `json`.
    format: Option<String>,
}

fn format(q: &ExportQuery) -> Result<Format, ApiError> {
    Format::parse(q.format.as_deref()).map_err(|m| FieldError::new("format", m).into())
}

fn download<T: serde::Serialize>(rows: &[T], format: Format, name: &str) -> ApiResult<Response> {
    export::respond(rows, format, name).map_err(|e| ApiError::Internal(e.into()))
}

#[utoipa::path(operation_id = "alerts_export", get, path = "/api/v1/alerts/export", tag = "alerts",
    description = "Every alert the inbox filters select (all statuses unless `status` says otherwise), as CSV or \
        JSON, up to 100,000 rows.",
    params(ExportQuery, AlertFilters),
    responses((status = 200, description = "The alerts: CSV (the default) or JSON",
        content((String = "text/csv"), (Vec<AlertView> = "application/json")))),
    security(("token" = [])))]
pub async fn alerts(
    State(state): State<AppState>,
    Member(user): Member,
    QueryParams(e): QueryParams<ExportQuery>,
    QueryParams(q): QueryParams<AlertFilters>,
) -> ApiResult<Response> {
    let format = format(&e)?;
    let query = q.query(None, 1000)?;
    let rows = export::alerts(state.store.as_ref(), &user.org_id, query).await?;
    download(&rows, format, "alerts")
}

#[utoipa::path(operation_id = "reports_export", get, path = "/api/v1/integrations/{id}/reports/export", tag = "reports",
    description = "The integration's report history, every branch, newest first, as CSV or JSON (up to 100,000 rows).",
    params(("id" = String, Path), ExportQuery),
    responses((status = 200, description = "The reports: CSV (the default) or JSON",
        content((String = "text/csv"), (Vec<ReportMetaView> = "application/json"))),
        (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub async fn reports(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(e): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    let format = format(&e)?;
    state.store.integration(&user.org_id, &id).await?;
    let rows = export::reports(state.store.as_ref(), &user.org_id, &id).await?;
    download(&rows, format, "reports")
}
