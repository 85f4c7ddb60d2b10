//! Integrations, their API keys and policy rules, and the organisation's audit log.

use super::dto::*;
use crate::AppState;
use crate::credentials::{API_KEY_PREFIX, mint};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Ids, JsonBody, Member, QueryParams};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clef_core::ids::*;
use clef_core::{FieldError, PolicySet, from_json, text};
use clef_store::{CollectionConfig, IntegrationPatch, NewApiKey, NewIntegration};
use serde::Deserialize;

/// A display name, by the one rule (`clef_core::text`).
fn name(path: &str, raw: &str) -> Result<String, FieldError> {
    text::display_name(raw).map_err(|m| FieldError::new(path, m))
}

fn branch(raw: Option<String>) -> Result<Option<String>, FieldError> {
    raw.map(|b| text::branch(&b).map_err(|m| FieldError::new("trackedBranch", m))).transpose()
}

#[utoipa::path(description = "Creates an integration: where one CI pipeline reports. Its name is unique in the organisation; the tracked branch defaults to the first report's. Admins and owners only.",
    operation_id = "integrations_create", post, path = "/api/v1/integrations", tag = "integrations",
    request_body = CreateIntegration,
    responses((status = 201, body = IntegrationView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<IntegrationView>)> {
    member.require_manage()?;
    let req: CreateIntegration = from_json(&body)?;
    let new = NewIntegration {
        name: name("name", &req.name)?,
        tracked_branch: branch(req.tracked_branch)?,
        config: req
            .config
            .map(|c| CollectionConfig { collect_ci_context: c.collect_ci_context })
            .unwrap_or_default(),
    };
    let created = state.store.create_integration(&member.actor(), new).await.map_err(|e| match e {
        clef_store::StoreError::Conflict(_) => {
            ApiError::Conflict("an integration with this name exists".into())
        }
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(description = "Every integration of the caller's organisation, each with its head report and its open alerts by severity.",
    operation_id = "integrations_list", get, path = "/api/v1/integrations", tag = "integrations",
    responses((status = 200, body = Vec<IntegrationView>)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
) -> ApiResult<Json<Vec<IntegrationView>>> {
    let all = state.store.integrations(&user.org_id).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

#[utoipa::path(description = "Renames an integration, changes its tracked branch (null goes back to the first report's branch) or its collection settings. Audited.",
    operation_id = "integrations_update", patch, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path)), request_body = PatchIntegration,
    responses((status = 200, body = IntegrationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<IntegrationId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<IntegrationView>> {
    member.require_manage()?;
    let req: PatchIntegration = from_json(&body)?;
    let patch = IntegrationPatch {
        name: req.name.map(|n| name("name", &n)).transpose()?,
        tracked_branch: req.tracked_branch.map(branch).transpose()?,
        config: req.config.map(|c| CollectionConfig { collect_ci_context: c.collect_ci_context }),
        policies: None,
    };
    let updated = state.store.update_integration(&member.actor(), &id, patch).await.map_err(|e| match e {
        clef_store::StoreError::Conflict(_) => {
            ApiError::Conflict("an integration with this name exists".into())
        }
        other => other.into(),
    })?;
    Ok(Json(updated.into()))
}

#[utoipa::path(description = "Deletes an integration with its reports, alerts, channels, queued messages and API keys. Audited; not undone.",
    operation_id = "integrations_delete", delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<IntegrationId>,
) -> ApiResult<StatusCode> {
    member.require_manage()?;
    state.store.delete_integration(&member.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(description = "The policy rules the CLI evaluates, as served to it with the integration.",
    operation_id = "integrations_get_policies", get, path = "/api/v1/integrations/{id}/policies", tag = "integrations",
    params(("id" = String, Path)),
    responses((status = 200, body = PolicySet), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn get_policies(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
) -> ApiResult<Json<PolicySet>> {
    Ok(Json(state.store.integration(&user.org_id, &id).await?.policies))
}

#[utoipa::path(description = "Replaces the integration's policy rules. Audited.",
    operation_id = "integrations_put_policies", put, path = "/api/v1/integrations/{id}/policies", tag = "integrations",
    params(("id" = String, Path)), request_body = PolicySet,
    responses((status = 200, body = PolicySet), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn put_policies(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<IntegrationId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<PolicySet>> {
    member.require_manage()?;
    let policies = PolicySet::parse(&body)?;
    let patch = IntegrationPatch { policies: Some(policies), ..Default::default() };
    Ok(Json(state.store.update_integration(&member.actor(), &id, patch).await?.policies))
}

#[utoipa::path(description = "Creates an API key for CI. The key is in this answer only; Clef Pro keeps its hash.",
    operation_id = "integrations_create_api_key", post, path = "/api/v1/integrations/{id}/api-keys", tag = "integrations",
    params(("id" = String, Path)), request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<IntegrationId>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    member.require_manage()?;
    // The body is optional: an empty one takes the defaults.
    let req: CreateApiKey = if body.is_empty() { CreateApiKey::default() } else { from_json(&body)? };
    let key_name = name("name", req.name.as_deref().unwrap_or("CI"))?;
    let minted = mint(API_KEY_PREFIX);
    let new = NewApiKey { name: key_name, prefix: minted.prefix, key_hash: minted.hash };
    let key = state.store.create_api_key(&member.actor(), &id, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey { id: key.id.into(), key: minted.secret, prefix: key.prefix, name: key.name }),
    ))
}

#[utoipa::path(description = "The integration's API keys: name, prefix, when created and last used, revoked or not. The keys themselves are never shown again.",
    operation_id = "integrations_list_api_keys", get, path = "/api/v1/integrations/{id}/api-keys", tag = "integrations",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let keys = state.store.api_keys(&user.org_id, &id).await?;
    Ok(Json(keys.into_iter().map(Into::into).collect()))
}

#[utoipa::path(description = "Revokes an API key at once: CI using it is refused from the next request. Audited.",
    operation_id = "integrations_revoke_api_key", delete, path = "/api/v1/integrations/{id}/api-keys/{keyId}", tag = "integrations",
    params(("id" = String, Path), ("keyId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    member: Member,
    Ids(id, key_id): Ids<IntegrationId, ApiKeyId>,
) -> ApiResult<StatusCode> {
    member.require_manage()?;
    state.store.revoke_api_key(&member.actor(), &id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1 to 1000, default 100.
    limit: Option<u32>,
    /// Only entries older than this one (the `id` of the last entry of the previous page).
    before: Option<i64>,
}

#[utoipa::path(operation_id = "integrations_audit_log", get, path = "/api/v1/audit-log", tag = "integrations", params(AuditQuery),
    description = "The organisation's audit log, newest first. Page with `before`: the `id` of the last entry of the previous page.",
    responses((status = 200, body = Vec<AuditEntryView>)), security(("token" = [])))]
pub async fn audit_log(
    State(state): State<AppState>,
    Member(user): Member,
    QueryParams(q): QueryParams<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntryView>>> {
    let limit = super::limit(q.limit, 100, 1000)?;
    let entries = state.store.audit_log(&user.org_id, q.before, limit).await?;
    Ok(Json(entries.into_iter().map(Into::into).collect()))
}
