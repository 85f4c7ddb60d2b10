//! Notification channels, their test send, and the delivery log.

use super::dto::*;
use crate::AppState;
use crate::credentials;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Ids, JsonBody, Member, QueryParams};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clef_core::ids::*;
use clef_core::notification::ChannelKind;
use clef_core::{FieldError, Severity, from_json};
use clef_store::{ChannelPatch, NewChannel};
use serde::Deserialize;

fn severity(raw: &str) -> Result<Severity, FieldError> {
    Severity::parse(raw).map_err(|m| FieldError::new("minSeverity", m))
}

fn repeat_interval(seconds: i64) -> Result<clef_core::Millis, FieldError> {
    clef_core::notification::repeat_interval(seconds).map_err(|m| FieldError::new("repeatIntervalSeconds", m))
}

#[utoipa::path(description = "The integration's notification channels. Secret targets (webhook URLs, routing keys) show only their last characters.",
    get, path = "/api/v1/integrations/{id}/channels", tag = "channels", operation_id = "channels_list",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ChannelView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
) -> ApiResult<Json<Vec<ChannelView>>> {
    let channels = state.store.channels(&user.org_id, &id).await?;
    Ok(Json(channels.into_iter().map(Into::into).collect()))
}

/// Creates a channel. A webhook's signing secret is in the answer, and never again.
#[utoipa::path(description = "Adds a notification channel: e-mail, Slack, Teams, PagerDuty or a signed webhook, with a severity threshold, resolutions on or off and an optional repeat interval. A second channel of one kind to one target is refused (409). A webhook's signing secret is in the answer, and never again.",
    post, path = "/api/v1/integrations/{id}/channels", tag = "channels", operation_id = "channels_create",
    params(("id" = String, Path)), request_body = CreateChannel,
    responses((status = 201, body = CreatedChannel), (status = 404, body = ErrorBody),
        (status = 409, description = "The integration has a channel of this kind to this target already", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<IntegrationId>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, [(axum::http::HeaderName, &'static str); 1], Json<CreatedChannel>)> {
    member.require_manage()?;
    let req: CreateChannel = from_json(&body)?;
    let kind = ChannelKind::parse(&req.channel).map_err(|m| FieldError::new("channel", m))?;
    let target = kind
        .check_target(&req.target, state.settings.allow_private_targets)
        .map_err(|m| FieldError::new("target", m))?;
    let signing_secret = kind.signs().then(credentials::signing_secret);
    let new = NewChannel {
        kind,
        target,
        min_severity: severity(&req.min_severity)?,
        notify_on_resolve: req.notify_on_resolve,
        repeat_every: req.repeat_interval_seconds.map(repeat_interval).transpose()?,
        signing_secret: signing_secret.clone(),
    };
    let channel = state.store.create_channel(&member.actor(), &id, new).await?;
    let created = CreatedChannel { channel: channel.into(), signing_secret };
    Ok((StatusCode::CREATED, [(axum::http::header::CACHE_CONTROL, "no-store")], Json(created)))
}

#[utoipa::path(description = "Changes a channel's target, severity threshold, resolutions or repeat interval (null goes back to every report). Moving it onto another channel's target is refused (409).",
    patch, path = "/api/v1/integrations/{id}/channels/{channelId}", tag = "channels", operation_id = "channels_update",
    params(("id" = String, Path), ("channelId" = String, Path)), request_body = PatchChannel,
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody),
        (status = 409, description = "Another channel of this kind has this target", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids<IntegrationId, ChannelId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ChannelView>> {
    member.require_manage()?;
    let req: PatchChannel = from_json(&body)?;
    // The target is validated for the channel's own kind.
    let kind = crate::channels::kind_of(&state, &member.0.org_id, &id, &channel_id)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let allow_private = state.settings.allow_private_targets;
    let patch = ChannelPatch {
        target: req
            .target
            .map(|t| kind.check_target(&t, allow_private).map_err(|m| FieldError::new("target", m)))
            .transpose()?,
        min_severity: req.min_severity.as_deref().map(severity).transpose()?,
        notify_on_resolve: req.notify_on_resolve,
        repeat_every: req.repeat_interval_seconds.map(|s| s.map(repeat_interval).transpose()).transpose()?,
    };
    Ok(Json(state.store.update_channel(&member.actor(), &id, &channel_id, patch).await?.into()))
}

/// Replaces a webhook's signing secret. The current one keeps signing beside the new one for
/// the overlap, so receivers can switch without losing a message.
#[utoipa::path(description = "Replaces a webhook's signing secret. The current one keeps signing beside the new one for the overlap, so receivers can switch without losing a message.",
    post, path = "/api/v1/integrations/{id}/channels/{channelId}/rotate-secret", tag = "channels",
    operation_id = "channels_rotate_secret",
    params(("id" = String, Path), ("channelId" = String, Path)), request_body = RotateSecret,
    responses((status = 200, body = RotatedSecret), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids<IntegrationId, ChannelId>,
    JsonBody(body): JsonBody,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Json<RotatedSecret>)> {
    member.require_manage()?;
    let req: RotateSecret =
        if body.iter().all(u8::is_ascii_whitespace) { RotateSecret::default() } else { from_json(&body)? };
    let hours = req.overlap_hours.unwrap_or(crate::channels::DEFAULT_OVERLAP_HOURS);
    if hours > 168 {
        return Err(FieldError::new("overlapHours", "at most 168 (a week)").into());
    }
    let actor = member.actor();
    let (secret, until) = crate::channels::rotate_secret(&state, &actor, &id, &channel_id, hours).await?;
    let rotated = RotatedSecret { signing_secret: secret, previous_valid_until: rfc3339(until) };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(rotated)))
}

#[utoipa::path(description = "Removes a channel and its queued messages. Audited.",
    delete, path = "/api/v1/integrations/{id}/channels/{channelId}", tag = "channels", operation_id = "channels_delete",
    params(("id" = String, Path), ("channelId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids<IntegrationId, ChannelId>,
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
#[utoipa::path(description = "Queues a test message to the channel; its outcome shows in the delivery log. Limited per channel per minute.",
    post, path = "/api/v1/integrations/{id}/channels/{channelId}/test", tag = "channels", operation_id = "channels_test",
    params(("id" = String, Path), ("channelId" = String, Path)),
    responses((status = 202, body = TestQueued), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn test(
    State(state): State<AppState>,
    member: Member,
    Ids(id, channel_id): Ids<IntegrationId, ChannelId>,
) -> ApiResult<(StatusCode, Json<TestQueued>)> {
    member.require_manage()?;
    if let Some(limiter) = &state.limits.test_sends {
        limiter
            .check(channel_id.as_str())
            .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    }
    let delivery_id = state.store.enqueue_test(&member.actor(), &id, &channel_id).await?;
    state.worker.notify_one();
    Ok((StatusCode::ACCEPTED, Json(TestQueued { delivery_id: delivery_id.into() })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only messages older than this one (the id of the last message of the previous page).
    before: Option<String>,
    /// 1 to 500, default 100.
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/integrations/{id}/deliveries", tag = "channels", operation_id = "deliveries_list",
    description = "The integration's delivery log, newest first: every message with its attempts. Page on with \
        `before` set to the last message's id.",
    params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Member(user): Member,
    Id(id): Id<IntegrationId>,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let query = clef_store::DeliveryQuery {
        before: q.before.filter(|b| !b.is_empty()).map(Into::into),
        limit: super::limit(q.limit, 100, 500)?,
    };
    let all = state.store.deliveries(&user.org_id, &id, query).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}
