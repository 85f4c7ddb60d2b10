//! The newer CLI's push: OTLP/HTTP JSON logs, and the checkpoint it backfills from.

use super::dto::ErrorBody;
use crate::error::{ApiError, ApiResult};
use crate::extract::{CiKey, JsonBody};
use crate::metrics::IngestPath;
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use clef_core::report::OtlpPush;
use serde::Serialize;
use serde_json::{Value, json};

/// Accepts an `ExportLogsServiceRequest` (JSON encoding) holding one Clef report, or one
/// `clef lint` or `clef drift` run (kept as the integration's latest of its kind).
#[utoipa::path(description = "OpenTelemetry logs (OTLP/HTTP, JSON or protobuf) as `clef report --push` sends them: reports drawn from issues, and lint and drift runs. All or none per request.",
    operation_id = "post_logs", post, path = "/v1/logs", tag = "ci",
    request_body(content = Object, description = "OTLP/HTTP JSON ExportLogsServiceRequest"),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_logs(
    State(state): State<AppState>,
    CiKey(grant): CiKey,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let now = now_ms();
    match clef_core::report::parse_otlp(&body, now).inspect_err(|_| IngestPath::Otlp.rejected())? {
        OtlpPush::Report(report) => {
            super::ci::ingest(&state, &grant, IngestPath::Otlp, vec![*report]).await?;
        }
        OtlpPush::Check(run) => {
            state.store.record_check(&grant.integration_id, &run, now).await?;
            tracing::info!(integration.id = %grant.integration_id, check = run.kind.as_str(), "check run recorded");
        }
    }
    Ok(Json(json!({ "partialSuccess": {} })))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    last_commit_sha: String,
    /// The head commit's time, RFC 3339.
    last_timestamp: String,
}

/// The head commit, or 404 when the integration has no report yet.
#[utoipa::path(description = "The newest commit stored for the key's integration, so the CLI knows where a gap-fill starts.",
    operation_id = "get_checkpoint", get, path = "/v1/checkpoint", tag = "ci",
    responses((status = 200, body = Checkpoint), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_checkpoint(
    State(state): State<AppState>,
    CiKey(grant): CiKey,
) -> ApiResult<Json<Checkpoint>> {
    let integration = state.store.integration(&grant.org_id, &grant.integration_id).await?;
    let head = integration.head.ok_or_else(|| ApiError::not_found("checkpoint"))?;
    Ok(Json(Checkpoint {
        last_commit_sha: head.commit_sha.to_string(),
        last_timestamp: super::dto::rfc3339(head.commit_timestamp),
    }))
}
