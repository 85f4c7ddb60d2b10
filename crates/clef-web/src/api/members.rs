//! The organisation's members and invitations, and the caller's own tokens.

use super::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, JsonBody, Member};
use crate::{AppState, now_ms, people};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clef_core::from_json;
use clef_core::ids::*;
use clef_store::StoreError;

#[utoipa::path(description = "The members of the caller's organisation, by e-mail, with their role, when they joined, when they were last active and how they log in.",
    operation_id = "members_list", get, path = "/api/v1/members", tag = "members",
    responses((status = 200, body = Vec<MemberView>)), security(("token" = [])))]
pub async fn list(State(state): State<AppState>, Member(user): Member) -> ApiResult<Json<Vec<MemberView>>> {
    Ok(Json(state.store.members(&user.org_id).await?.into_iter().map(Into::into).collect()))
}

/// The member's current role, or 404 when they are not one.
async fn current_role(state: &AppState, org: &OrgId, id: &UserId) -> ApiResult<clef_store::Role> {
    let member = state.store.member(id, org).await?.ok_or_else(|| ApiError::not_found("member"))?;
    Ok(member.role)
}

#[utoipa::path(description = "Changes a member's role. Owners change anyone; admins anyone but owners, and cannot make owners. The last owner stays an owner (409). Takes effect on the member's next request. Audited.",
    operation_id = "members_update", patch, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")), request_body = PatchMember,
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<UserId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MemberView>> {
    let req: PatchMember = from_json(&body)?;
    let role = people::role("role", &req.role)?;
    let current = current_role(&state, &member.0.org_id, &id).await?;
    people::may_change(&member.0, Some(current), Some(role)).map_err(ApiError::Forbidden)?;
    state.store.set_role(&member.actor(), &id, role).await?;
    let changed = state.store.members(&member.0.org_id).await?.into_iter().find(|m| m.user_id == id);
    Ok(Json(changed.ok_or_else(|| ApiError::not_found("member"))?.into()))
}

#[utoipa::path(description = "Removes a member from the organisation: their sessions in it end and their tokens for it are revoked at once; other organisations keep them. The last owner cannot be removed (409). Audited.",
    operation_id = "members_remove", delete, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<UserId>,
) -> ApiResult<StatusCode> {
    let current = current_role(&state, &member.0.org_id, &id).await?;
    people::may_change(&member.0, Some(current), None).map_err(ApiError::Forbidden)?;
    state.store.remove_member(&member.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(description = "Invitations not yet accepted or revoked, newest first; expired ones say so.",
    operation_id = "invitations_list", get, path = "/api/v1/invitations", tag = "members",
    responses((status = 200, body = Vec<InvitationView>)), security(("token" = [])))]
pub async fn invitations(
    State(state): State<AppState>,
    Member(user): Member,
) -> ApiResult<Json<Vec<InvitationView>>> {
    let now = now_ms();
    let all = state.store.invitations(&user.org_id).await?;
    Ok(Json(all.iter().map(|i| InvitationView::new(i, now)).collect()))
}

#[utoipa::path(description = "Invites someone by e-mail with a role: a single-use link valid for 7 days, mailed through the server's mail transport and returned here (only here) to pass on by hand. Owners invite anyone; admins anyone but owners. A member or a pending invitation with this e-mail is a 409. Audited.",
    operation_id = "invitations_create", post, path = "/api/v1/invitations", tag = "members",
    request_body = CreateInvitation,
    responses((status = 201, body = CreatedInvitation), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub async fn invite(
    State(state): State<AppState>,
    member: Member,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    let req: CreateInvitation = from_json(&body)?;
    let email = people::email("email", &req.email)?;
    let role = people::role("role", &req.role)?;
    people::may_change(&member.0, None, Some(role)).map_err(ApiError::Forbidden)?;
    let actor = member.actor();
    let invited = people::invite(&state, &actor, email, role).await.map_err(|e| match e {
        StoreError::Conflict(why) => ApiError::Conflict(why),
        other => other.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation {
            invitation: InvitationView::new(&invited.invitation, actor.now),
            url: invited.link,
            mailed: invited.mail.is_ok(),
        }),
    ))
}

#[utoipa::path(description = "Revokes a pending invitation: its link stops working. Audited.",
    operation_id = "invitations_revoke", delete, path = "/api/v1/invitations/{id}", tag = "members",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<InvitationId>,
) -> ApiResult<StatusCode> {
    member.require_manage()?;
    state.store.revoke_invitation(&member.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(description = "Who the token belongs to, the organisation it acts in with the role there, and every organisation of the person.",
    operation_id = "me_get", get, path = "/api/v1/me", tag = "members",
    responses((status = 200, body = MeView)), security(("token" = [])))]
pub async fn me(State(state): State<AppState>, Member(user): Member) -> ApiResult<Json<MeView>> {
    let organizations = state
        .store
        .memberships(&user.id)
        .await?
        .into_iter()
        .map(|m| OrganizationView { id: m.org_id.to_string(), name: m.org_name, role: m.role.as_str() })
        .collect();
    Ok(Json(MeView {
        user_id: user.id.to_string(),
        email: user.email,
        organization: OrganizationView {
            id: user.org_id.to_string(),
            name: user.org_name,
            role: user.role.as_str(),
        },
        role: user.role.as_str(),
        organizations,
    }))
}

#[utoipa::path(description = "The caller's personal access tokens for this organisation, newest first, without their secrets.",
    operation_id = "tokens_list", get, path = "/api/v1/me/tokens", tag = "members",
    responses((status = 200, body = Vec<TokenView>)), security(("token" = [])))]
pub async fn tokens(State(state): State<AppState>, Member(user): Member) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(state.store.tokens(&user.id, &user.org_id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(description = "Creates a personal access token acting as the caller in this organisation, optionally expiring after 1 to 365 days. The secret is in this answer only. Audited.",
    operation_id = "tokens_create", post, path = "/api/v1/me/tokens", tag = "members",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)), security(("token" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    Member(user): Member,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let req: CreateToken = from_json(&body)?;
    let name = people::token_name("name", &req.name)?;
    let expires_at = people::token_expiry("expiresInDays", req.expires_in_days, now_ms())?;
    let (token, secret) = people::mint_token(state.store.as_ref(), &user, name, expires_at).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: token.into(), secret })))
}

#[utoipa::path(description = "Revokes one of the caller's tokens; it stops working at once. Audited.",
    operation_id = "tokens_revoke", delete, path = "/api/v1/me/tokens/{id}", tag = "members",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    member: Member,
    Id(id): Id<TokenId>,
) -> ApiResult<StatusCode> {
    state.store.revoke_token(&member.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
