//! Report history and the matrix at any commit.

use super::dto::*;
use crate::AppState;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::extract::{Id, Ids, Member, QueryParams};
use axum::Json;
use axum::extract::State;
use clef_core::ids::*;
use clef_core::{CommitSha, FieldError, Matrix};
use clef_store::ReportQuery;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// Only reports of this branch.
    branch: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
    /// A commit: only reports older than it (the next page).
    before: Option<String>,
}

fn commit_param(name: &str, raw: &str) -> Result<CommitSha, FieldError> {
    CommitSha::parse(raw).map_err(|m| FieldError::new(name, m))
}

#[utoipa::path(description = "The integration's reports, newest commit first, optionally of one branch; page with `before` (the last commit of the previous page).",
    operation_id = "reports_list", get, path = "/api/v1/integrations/{id}/reports", tag = "reports",
    params(("id" = String, Path), ReportsQuery),
    responses((status = 200, body = Vec<ReportMetaView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(q): QueryParams<ReportsQuery>,
) -> ApiResult<Json<Vec<ReportMetaView>>> {
    let query = ReportQuery {
        branch: q.branch,
        limit: super::limit(q.limit, 50, 500)?,
        before: q.before.as_deref().map(|b| commit_param("before", b)).transpose()?,
    };
    let reports = state.store.reports(&user.org_id, &id, query).await?;
    Ok(Json(reports.into_iter().map(Into::into).collect()))
}

#[utoipa::path(description = "One stored report, as the CLI sent it (modelled fields only).",
    operation_id = "reports_get", get, path = "/api/v1/integrations/{id}/reports/{commitSha}", tag = "reports",
    params(("id" = String, Path), ("commitSha" = String, Path)),
    responses((status = 200, body = ReportView), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Member(user): Member,
    Ids(id, sha): Ids<IntegrationId>,
) -> ApiResult<Json<ReportView>> {
    let report = state.store.report(&user.org_id, &id, &sha).await.or_not_found("report")?;
    Ok(Json(report.into()))
}

/// Deletes one report, for admins: the way out of a bad one (a commit time far in the future
/// pins the head). The head moves and alerts are re-derived; the audit log records it.
#[utoipa::path(description = "Deletes one report, for admins: the way out of a bad one (a commit time far in the future pins the head). The head moves and alerts are re-derived; audited.",
    operation_id = "reports_delete", delete, path = "/api/v1/integrations/{id}/reports/{commitSha}", tag = "reports",
    params(("id" = String, Path), ("commitSha" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Ids(id, sha): Ids<IntegrationId>,
) -> ApiResult<axum::http::StatusCode> {
    member.require_manage()?;
    state.store.delete_report(&member.actor(), &id, &sha).await.or_not_found("report")?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatrixQuery {
    /// A commit to show; the head when absent.
    commit: Option<String>,
}

#[utoipa::path(description = "The namespace × environment matrix of the head report, or of the report of `commit`: each cell's health and description, and drift per namespace.",
    operation_id = "reports_matrix", get, path = "/api/v1/integrations/{id}/matrix", tag = "reports",
    params(("id" = String, Path), MatrixQuery),
    responses((status = 200, body = MatrixView), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn matrix(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(q): QueryParams<MatrixQuery>,
) -> ApiResult<Json<MatrixView>> {
    let integration = state.store.integration(&user.org_id, &id).await?;
    let head_sha = integration.head.as_ref().map(|h| h.commit_sha.clone());
    let sha = match q.commit {
        Some(raw) => commit_param("commit", &raw)?,
        None => {
            head_sha.clone().ok_or_else(|| ApiError::NotFound("the integration has no report yet".into()))?
        }
    };
    let stored = state.store.report(&user.org_id, &id, sha.as_str()).await.or_not_found("report")?;
    let r = stored.report;
    Ok(Json(MatrixView {
        is_head: head_sha.as_ref() == Some(&r.commit_sha),
        source: r.source,
        time_is_push_time: r.source.time_is_push_time(),
        issue_counts: r.issue_counts,
        matrix: Matrix::of(&r),
        commit_sha: r.commit_sha.to_string(),
        branch: r.branch,
        commit_timestamp: r.commit_timestamp,
    }))
}

/// The integration's latest `clef lint --push` and `clef drift --push` runs, lint first.
#[utoipa::path(description = "The latest `clef lint` and `clef drift` runs pushed over OpenTelemetry: counts and groups, never a key's name.",
    operation_id = "reports_checks", get, path = "/api/v1/integrations/{id}/checks", tag = "reports",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<CheckView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn checks(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
) -> ApiResult<Json<Vec<CheckView>>> {
    let checks = state.store.checks(&user.org_id, &id).await?;
    Ok(Json(checks.into_iter().map(Into::into).collect()))
}
