//! Alerts: the organisation's inbox, one alert's timeline, and acknowledgement (which only
//! silences notifications, for good or until a snooze ends).

use super::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, Member, QueryParams};
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use clef_core::ids::*;
use clef_core::{Acknowledgement, AlertStatus, CommitSha, FieldError, Severity, from_json};
use clef_store::{AlertCursor, AlertQuery, AlertSort, TIMELINE_REPORTS};
use serde::Deserialize;

/// The filters of an alert listing: the inbox's, and an integration's.
#[derive(Deserialize, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AlertFilters {
    /// Only this integration's alerts (the inbox only: an integration's listing has it in its path).
    integration: Option<String>,
    /// `open`, `resolved`, or `any`. The inbox defaults to `open`, an integration's listing to `any`.
    status: Option<String>,
    /// Acknowledged (and not past a snooze's end) or not.
    acknowledged: Option<bool>,
    /// `info`, `warning`, `error` or `critical`.
    severity: Option<String>,
    /// A rule id.
    rule: Option<String>,
    /// A namespace of the matrix.
    namespace: Option<String>,
    /// An environment of the matrix.
    environment: Option<String>,
    /// Text looked up in the rule's id and name and the message, case-insensitively.
    q: Option<String>,
    /// `newest` (the default) or `severity`; open alerts always come first.
    sort: Option<String>,
    /// The `next` cursor of the previous page.
    cursor: Option<String>,
    /// 1 to 1000; 50 in the inbox, 200 for an integration.
    limit: Option<u32>,
}

impl AlertFilters {
    pub(crate) fn query(
        mut self,
        default_status: Option<AlertStatus>,
        default_limit: u32,
    ) -> Result<AlertQuery, ApiError> {
        // An empty parameter (`?cursor=`, as a form sends it) is an absent one.
        for field in [&mut self.status, &mut self.severity, &mut self.sort, &mut self.cursor] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            }
        }
        let text = |field: &'static str, raw: Option<String>| -> Result<Option<String>, ApiError> {
            match raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
                Some(r) if r.chars().count() > 256 => {
                    Err(FieldError::new(field, "has at most 256 characters").into())
                }
                other => Ok(other),
            }
        };
        Ok(AlertQuery {
            integration_id: text("integration", self.integration)?.map(Into::into),
            status: match self.status {
                Some(s) => AlertStatus::parse_filter(&s).map_err(|m| FieldError::new("status", m))?,
                None => default_status,
            },
            acknowledged: self.acknowledged,
            severity: self
                .severity
                .map(|s| Severity::parse(&s).map_err(|m| FieldError::new("severity", m)))
                .transpose()?,
            rule_id: text("rule", self.rule)?,
            namespace: text("namespace", self.namespace)?,
            environment: text("environment", self.environment)?,
            text: text("q", self.q)?,
            sort: match self.sort {
                Some(s) => AlertSort::parse(&s).map_err(|m| FieldError::new("sort", m))?,
                None => AlertSort::Newest,
            },
            after: self
                .cursor
                .map(|c| AlertCursor::parse(&c).map_err(|m| FieldError::new("cursor", m)))
                .transpose()?,
            limit: super::limit(self.limit, default_limit, 1000)?,
            now: now_ms(),
        })
    }
}

#[utoipa::path(operation_id = "alerts_inbox", get, path = "/api/v1/alerts", tag = "alerts",
    description = "The organisation's alert inbox: alerts of every integration (open ones unless `status` says \
        otherwise), newest or most severe first, with their counts by severity under the same filters. \
        Follow `next` as `cursor` for the next page.",
    params(AlertFilters),
    responses((status = 200, body = AlertPageView)), security(("token" = [])))]
pub async fn inbox(
    State(state): State<AppState>,
    Member(user): Member,
    QueryParams(q): QueryParams<AlertFilters>,
) -> ApiResult<Json<AlertPageView>> {
    let query = q.query(Some(AlertStatus::Open), 50)?;
    let counts = state.store.alert_counts(&user.org_id, &query).await?;
    let page = state.store.alerts(&user.org_id, query).await?;
    Ok(Json(AlertPageView {
        alerts: page.alerts.into_iter().map(Into::into).collect(),
        counts: counts.into(),
        next: page.next.map(|c| c.encode()),
    }))
}

#[utoipa::path(operation_id = "alerts_list", get, path = "/api/v1/integrations/{id}/alerts", tag = "alerts",
    description = "An integration's alerts, open ones first. The filters are the inbox's; when there is more, \
        the `Link` header names the next page (`rel=\"next\"`).",
    params(("id" = String, Path), AlertFilters),
    responses((status = 200, body = Vec<AlertView>, headers(("Link" = String, description = "The next page, when there is one")))),
    security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(q): QueryParams<AlertFilters>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    state.store.integration(&user.org_id, &id).await?;
    let mut query = q.query(None, 200)?;
    query.integration_id = Some(id.clone());
    let limit = query.limit;
    let page = state.store.alerts(&user.org_id, query).await?;
    let link = page.next.map(|c| {
        // The next page keeps the filters: the request's query with the new cursor.
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()) {
            if k != "cursor" && k != "limit" {
                next.append_pair(&k, &v);
            }
        }
        next.append_pair("cursor", &c.encode()).append_pair("limit", &limit.to_string());
        [(header::LINK, format!("</api/v1/integrations/{id}/alerts?{}>; rel=\"next\"", next.finish()))]
    });
    Ok((link, Json(page.alerts.into_iter().map(AlertView::from).collect::<Vec<_>>())))
}

#[utoipa::path(operation_id = "alerts_get", get, path = "/api/v1/alerts/{alertId}", tag = "alerts",
    description = "One alert as it stands: status, acknowledgement (with its reason and a snooze's end), \
        first seen at the introducing commit's time, and the latest report's message.",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertView)), security(("token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(state.store.alert(&user.org_id, &id).await?.into()))
}

#[utoipa::path(operation_id = "alerts_timeline", get, path = "/api/v1/alerts/{alertId}/timeline", tag = "alerts",
    description = "An alert's history: the alert, every acknowledgement and its withdrawal (who, when, why, \
        until when), the newest reports that saw it failing (page on with `/reports`) and every message sent \
        about it with its outcome.",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertTimelineView)), security(("token" = [])))]
pub async fn timeline(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertTimelineView>> {
    let t = state.store.alert_timeline(&user.org_id, &id, None, TIMELINE_REPORTS).await?;
    Ok(Json(AlertTimelineView {
        alert: t.alert.into(),
        acknowledgements: t.events.into_iter().map(Into::into).collect(),
        reports: t.reports.into_iter().map(Into::into).collect(),
        notifications: t.deliveries.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertReportsQuery {
    /// Only reports older than this commit (the last of the previous page).
    before: Option<String>,
    /// 1 to 1000, default 50.
    limit: Option<u32>,
}

#[utoipa::path(operation_id = "alerts_reports", get, path = "/api/v1/alerts/{alertId}/reports", tag = "alerts",
    description = "The tracked-branch reports that saw the alert failing, newest first: from its last sighting \
        back to the commit that introduced it.",
    params(("alertId" = String, Path), AlertReportsQuery),
    responses((status = 200, body = Vec<ReportMetaView>)), security(("token" = [])))]
pub async fn reports(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<AlertId>,
    QueryParams(q): QueryParams<AlertReportsQuery>,
) -> ApiResult<Json<Vec<ReportMetaView>>> {
    let before = q
        .before
        .map(|b| CommitSha::parse(&b).map_err(|m| FieldError::new("before", m.to_string())))
        .transpose()?;
    let limit = super::limit(q.limit, 50, 1000)?;
    let reports = state.store.alert_reports(&user.org_id, &id, before, limit).await?;
    Ok(Json(reports.into_iter().map(Into::into).collect()))
}

/// An acknowledgement's optional details.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// Why, for the alert's history (at most 500 characters).
    pub reason: Option<String>,
    /// A snooze: from this RFC 3339 time on the alert counts as unacknowledged and notifies again.
    pub until: Option<String>,
}

/// Several alerts at once, all or none.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkAcknowledgeBody {
    /// 1 to 500 alert ids.
    pub ids: Vec<String>,
    pub reason: Option<String>,
    pub until: Option<String>,
}

fn acknowledgement(
    member: &Member,
    reason: Option<&str>,
    until: Option<&str>,
) -> Result<Acknowledgement, ApiError> {
    let until = until
        .map(|u| parse_time(u).ok_or_else(|| FieldError::new("until", "must be an RFC 3339 date-time")))
        .transpose()?;
    Ok(Acknowledgement::new(&member.0.email, now_ms(), reason, until)?)
}

#[utoipa::path(operation_id = "alerts_acknowledge", post, path = "/api/v1/alerts/{alertId}/acknowledge", tag = "alerts",
    description = "Acknowledges an open alert: its notifications stop (until `until`, for a snooze). The body is \
        optional. Kept in the alert's history; channels that track alert state are told.",
    params(("alertId" = String, Path)), request_body(content = Option<AcknowledgeBody>),
    responses((status = 200, body = AlertView), (status = 409, description = "The alert is resolved", body = ErrorBody)),
    security(("token" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<AlertId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AlertView>> {
    member.require_acknowledge()?;
    let req: AcknowledgeBody =
        if body.iter().all(u8::is_ascii_whitespace) { AcknowledgeBody::default() } else { from_json(&body)? };
    let ack = acknowledgement(&member, req.reason.as_deref(), req.until.as_deref())?;
    let mut done = state.store.set_acknowledgement(&member.actor(), &[id], Some(ack)).await?;
    done.pop().map(|a| Json(a.into())).ok_or_else(|| ApiError::not_found("alert"))
}

#[utoipa::path(operation_id = "alerts_acknowledge_many", post, path = "/api/v1/alerts/acknowledge", tag = "alerts",
    description = "Acknowledges several open alerts at once, with one reason and snooze: all or none (an unknown \
        id is 404, a resolved alert 409, and nothing changes).",
    request_body = BulkAcknowledgeBody,
    responses((status = 200, body = Vec<AlertView>), (status = 409, description = "An alert is resolved", body = ErrorBody)),
    security(("token" = [])))]
pub async fn acknowledge_many(
    State(state): State<AppState>,
    member: Member,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Vec<AlertView>>> {
    member.require_acknowledge()?;
    let req: BulkAcknowledgeBody = from_json(&body)?;
    if req.ids.is_empty() || req.ids.len() > 500 {
        return Err(FieldError::new("ids", "names 1 to 500 alerts").into());
    }
    let mut ids: Vec<AlertId> = Vec::with_capacity(req.ids.len());
    for (i, raw) in req.ids.into_iter().enumerate() {
        if raw.is_empty() || raw.len() > 64 {
            return Err(FieldError::new(format!("ids[{i}]"), "is not an alert id").into());
        }
        let id = AlertId::from(raw);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ack = acknowledgement(&member, req.reason.as_deref(), req.until.as_deref())?;
    let done = state.store.set_acknowledgement(&member.actor(), &ids, Some(ack)).await?;
    Ok(Json(done.into_iter().map(Into::into).collect()))
}

#[utoipa::path(operation_id = "alerts_unacknowledge", post, path = "/api/v1/alerts/{alertId}/unacknowledge", tag = "alerts",
    description = "Withdraws an acknowledgement: notifications resume. Kept in the alert's history.",
    params(("alertId" = String, Path)),
    responses((status = 200, body = AlertView)),
    security(("token" = [])))]
pub async fn unacknowledge(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<AlertId>,
) -> ApiResult<Json<AlertView>> {
    member.require_acknowledge()?;
    let mut done = state.store.set_acknowledgement(&member.actor(), &[id], None).await?;
    done.pop().map(|a| Json(a.into())).ok_or_else(|| ApiError::not_found("alert"))
}
