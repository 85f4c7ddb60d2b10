//! Notification channels, their test send, and the delivery log.

use super::dto::*;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Ids, JsonBody, Member, QueryParams};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clef_core::{FieldError, Severity, from_json};
use clef_store::{ChannelPatch, NewChannel};
use serde::Deserialize;

fn severity(raw: &str) -> Result<Severity, FieldError> {
    Severity::parse(raw).map_err(|m| FieldError::new("minSeverity", m))
}

#[utoipa::path(get, path = "/api/v1/integrations/{id}/channels", tag = "channels", operation_id = "channels_list",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ChannelView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id,
) -> ApiResult<Json<Vec<ChannelView>>> {
    let channels = state.store.channels(&user.org_id, &id).await?;
    Ok(Json(channels.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/integrations/{id}/channels", tag = "channels", operation_id = "channels_create",
    params(("id" = String, Path)), request_body = CreateChannel,
    responses((status = 201, body = ChannelView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    member.require_manage()?;
    let req: CreateChannel = from_json(&body)?;
    let kind = req.channel.trim().to_ascii_lowercase();
    if !clef_core::notification::CHANNEL_KINDS.contains(&kind.as_str()) {
        let known = clef_core::notification::CHANNEL_KINDS.join(", ");
        return Err(FieldError::new(
            "channel",
            format!("unknown channel {:?}: expected {known}", req.channel),
        )
        .into());
    }
    let target = clef_core::notification::validate_target(&kind, &req.target)
        .map_err(|m| FieldError::new("target", m))?;
    let new = NewChannel {
        kind,
        target,
        min_severity: severity(&req.min_severity)?,
        notify_on_resolve: req.notify_on_resolve,
    };
    let channel = state.store.create_channel(&member.actor(), &id, new).await?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

#[utoipa::path(patch, path = "/api/v1/integrations/{id}/channels/{channelId}", tag = "channels", operation_id = "channels_update",
    params(("id" = String, Path), ("channelId" = String, Path)), request_body = PatchChannel,
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ChannelView>> {
    member.require_manage()?;
    let req: PatchChannel = from_json(&body)?;
    // The target is validated for the channel's own kind.
    let existing = state.store.channels(&member.0.org_id, &id).await?;
    let kind = existing
        .into_iter()
        .find(|c| c.id == channel_id)
        .map(|c| c.kind)
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let patch = ChannelPatch {
        target: req
            .target
            .map(|t| {
                clef_core::notification::validate_target(&kind, &t).map_err(|m| FieldError::new("target", m))
            })
            .transpose()?,
        min_severity: req.min_severity.as_deref().map(severity).transpose()?,
        notify_on_resolve: req.notify_on_resolve,
    };
    Ok(Json(state.store.update_channel(&member.actor(), &id, &channel_id, patch).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/integrations/{id}/channels/{channelId}", tag = "channels", operation_id = "channels_delete",
    params(("id" = String, Path), ("channelId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids,
) -> ApiResult<StatusCode> {
    member.require_manage()?;
    state.store.delete_channel(&member.actor(), &id, &channel_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestQueued {
    /// The delivery to follow in the delivery log.
    delivery_id: String,
}

/// Queues a test message through the real delivery path.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/channels/{channelId}/test", tag = "channels", operation_id = "channels_test",
    params(("id" = String, Path), ("channelId" = String, Path)),
    responses((status = 202, body = TestQueued), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn test(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids,
) -> ApiResult<(StatusCode, Json<TestQueued>)> {
    member.require_manage()?;
    if let Some(limiter) = &state.limits.test_sends {
        limiter.check(&channel_id).map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    }
    let delivery_id = state.store.enqueue_test(&member.actor(), &id, &channel_id).await?;
    state.worker.notify_one();
    Ok((StatusCode::ACCEPTED, Json(TestQueued { delivery_id })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// 1 to 500, default 100.
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/integrations/{id}/deliveries", tag = "channels", operation_id = "deliveries_list",
    params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let limit = super::limit(q.limit, 100, 500)?;
    let all = state.store.deliveries(&user.org_id, &id, limit).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}
