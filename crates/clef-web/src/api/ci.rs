//! The CLI's wire contract (DESIGN §2): read the integration, submit one report or a batch.

use super::dto::{BatchAccepted, ErrorBody, IntegrationView, ReportAccepted};
use crate::error::{ApiError, ApiResult};
use crate::extract::{CiKey, Id, JsonBody, Principal};
use crate::metrics::IngestPath;
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use clef_core::Report;
use clef_core::ids::*;
use clef_core::report::{parse_batch, parse_report};
use clef_store::{ApiKeyGrant, IngestBatch, IngestOutcome};

/// One integration: what the CLI reads before submitting, and more for people.
#[utoipa::path(description = "One integration: its settings, head report and open alerts. With an API key, the CLI reads its integration (and its policy rules) here.",
    operation_id = "get_integration", get, path = "/api/v1/integrations/{id}", tag = "ci",
    params(("id" = String, Path)),
    responses((status = 200, body = IntegrationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []), ("token" = [])))]
pub async fn get_integration(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id<IntegrationId>,
) -> ApiResult<Json<IntegrationView>> {
    let org_id = match &principal {
        // A key sees only its own integration; any other id is simply not there.
        Principal::ApiKey(grant) if grant.integration_id != id => {
            return Err(ApiError::not_found("integration"));
        }
        Principal::ApiKey(grant) => &grant.org_id,
        Principal::User(user) => &user.org_id,
    };
    Ok(Json(state.store.integration(org_id, &id).await?.into()))
}

/// Stores one report, keyed by its commit.
#[utoipa::path(description = "CI sends one commit's report (the CLI's JSON). Stored once per commit: a resubmission replaces it. If it is the tracked branch's newest commit, alerts open and resolve and channels are notified.",
    operation_id = "post_report", post, path = "/api/v1/reports", tag = "ci",
    request_body = Report,
    responses((status = 200, body = ReportAccepted), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_report(
    State(state): State<AppState>,
    CiKey(grant): CiKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ReportAccepted>> {
    let report = parse_report(&body, now_ms()).inspect_err(|_| IngestPath::Json.rejected())?;
    let commit_sha = report.commit_sha.to_string();
    let outcome = ingest(&state, &grant, IngestPath::Json, vec![report]).await?;
    let id = outcome.report_ids.into_iter().next().unwrap_or_default();
    Ok(Json(ReportAccepted { id: id.into(), commit_sha }))
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BatchBody {
    /// 1 to 500 reports, oldest first.
    reports: Vec<Report>,
}

/// Stores a backfill: all reports or none, evaluated once at its head.
#[utoipa::path(description = "CI sends several commits at once, oldest first (up to 500), after a gap: stored all or none, evaluated once, with alerts attributed to the commits that introduced and fixed them.",
    operation_id = "post_batch", post, path = "/api/v1/reports/batch", tag = "ci",
    request_body = BatchBody,
    responses((status = 200, body = BatchAccepted), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_batch(
    State(state): State<AppState>,
    CiKey(grant): CiKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<BatchAccepted>> {
    let reports = parse_batch(&body, now_ms()).inspect_err(|_| IngestPath::Batch.rejected())?;
    let outcome = ingest(&state, &grant, IngestPath::Batch, reports).await?;
    Ok(Json(BatchAccepted {
        accepted: outcome.report_ids.len(),
        report_ids: outcome.report_ids.into_iter().map(String::from).collect(),
    }))
}

/// The one path into the store for reports, shared by the JSON and OTLP endpoints.
pub(super) async fn ingest(
    state: &AppState,
    grant: &ApiKeyGrant,
    path: IngestPath,
    mut reports: Vec<Report>,
) -> ApiResult<IngestOutcome> {
    if !grant.collect_ci_context {
        // The integration said not to collect it: whatever the CLI sent is not kept.
        reports.iter_mut().for_each(|r| r.ci_context = None);
    }
    let count = reports.len();
    let batch = IngestBatch { integration_id: grant.integration_id.clone(), reports, received_at: now_ms() };
    let started = std::time::Instant::now();
    let stored = state.store.ingest(batch).await;
    path.stored(started, count, &stored);
    let outcome = stored?;
    if outcome.messages > 0 {
        state.worker.notify_one();
    }
    tracing::info!(
        integration.id = %grant.integration_id,
        report.count = count,
        report.written = outcome.written,
        alerts.opened = outcome.opened,
        alerts.resolved = outcome.resolved,
        messages = outcome.messages,
        "reports ingested"
    );
    Ok(outcome)
}
