//! The members page: who is in the organisation with which role; invitations in and out.

use super::session::{CsrfForm, Viewer};
use super::{DashError, DashForm, Layout, Page, Stamp};
use crate::{AppState, now_ms, people};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use clef_core::ids::*;
use clef_store::{InvitationState, Role, StoreError};
use serde::Deserialize;

struct MemberRow {
    user_id: String,
    email: String,
    role: &'static str,
    joined: Stamp,
    active: Option<Stamp>,
    login: &'static str,
    me: bool,
    /// Whether the viewer may change this member's role or remove them.
    changeable: bool,
    /// The roles the viewer may give them.
    roles: Vec<&'static str>,
}

struct InvitationRow {
    id: String,
    email: String,
    role: &'static str,
    invited_by: String,
    expires: Stamp,
    expired: bool,
}

/// A just-sent invitation: its link, shown this once.
struct Invited {
    email: String,
    link: String,
    /// What became of the mail, in a sentence.
    mail: String,
    days: i64,
}

/// The organisation's single sign-on as its owners edit it.
struct SsoView {
    configured: bool,
    issuer: String,
    client_id: String,
    allowed_domains: String,
    default_role: &'static str,
    role_claim: String,
    /// `claim value = role`, one per line.
    role_map: String,
    sso_only: bool,
    break_glass: String,
    /// (user id, e-mail) of the owners, for the break-glass choice.
    owners: Vec<(String, String)>,
    /// What to register with the identity provider.
    callback_url: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    /// For owners only.
    sso: Option<SsoView>,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    /// The roles the viewer may invite with.
    grantable: Vec<&'static str>,
    invited: Option<Invited>,
    error: Option<String>,
}

/// The roles `viewer` may move someone from `current` to (or invite with, for `None`).
fn grantable(viewer: &Viewer, current: Option<Role>) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|r| viewer.user.role.may_change(current, Some(*r)))
        .map(Role::as_str)
        .collect()
}

/// The page again with what was wrong with the form sent.
pub(super) async fn refused(state: &AppState, viewer: &Viewer, why: String) -> Result<Response, DashError> {
    render(state, viewer, None, Some(why)).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    invited: Option<Invited>,
    error: Option<String>,
) -> Result<Response, DashError> {
    let now = now_ms();
    let org = &viewer.user.org_id;
    let all = state.store.members(org).await?;
    let sso = if viewer.user.role == Role::Owner {
        let config = state.store.sso_config(org).await?;
        let owners = all
            .iter()
            .filter(|m| m.role == Role::Owner)
            .map(|m| (m.user_id.to_string(), m.email.clone()))
            .collect();
        let callback_url = super::sso::callback_url(state);
        Some(match config {
            Some(c) => SsoView {
                configured: true,
                issuer: c.issuer,
                client_id: c.client_id,
                allowed_domains: c.allowed_domains.join(", "),
                default_role: c.default_role.as_str(),
                role_claim: c.role_claim.unwrap_or_default(),
                role_map: c.role_map.iter().map(|(k, v)| format!("{k} = {}\n", v.as_str())).collect(),
                sso_only: c.sso_only,
                break_glass: c.break_glass.map(|b| b.to_string()).unwrap_or_default(),
                owners,
                callback_url,
            },
            None => SsoView {
                configured: false,
                issuer: String::new(),
                client_id: String::new(),
                allowed_domains: String::new(),
                default_role: Role::Viewer.as_str(),
                role_claim: String::new(),
                role_map: String::new(),
                sso_only: false,
                break_glass: viewer.user.id.to_string(),
                owners,
                callback_url,
            },
        })
    } else {
        None
    };
    let members = all
        .into_iter()
        .map(|m| {
            let me = m.user_id == viewer.user.id;
            MemberRow {
                user_id: m.user_id.to_string(),
                changeable: !me && viewer.user.role.may_change(Some(m.role), None),
                roles: grantable(viewer, Some(m.role)),
                email: m.email,
                role: m.role.as_str(),
                joined: Stamp::new(m.joined_at, now),
                active: m.last_active_at.map(|t| Stamp::new(t, now)),
                login: if m.has_password { "password" } else { "single sign-on" },
                me,
            }
        })
        .collect();
    let invitations = if viewer.user.role.can_manage() {
        state
            .store
            .invitations(org)
            .await?
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id.to_string(),
                expired: i.state(now) == InvitationState::Expired,
                expires: Stamp::new(i.expires_at, now),
                email: i.email,
                role: i.role.as_str(),
                invited_by: i.invited_by,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Page(MembersPage {
        layout: viewer.layout("members", "Members"),
        sso,
        members,
        invitations,
        grantable: grantable(viewer, None),
        invited,
        error,
    })
    .into_response())
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, DashError> {
    render(&state, &viewer, None, None).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    email: String,
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<InviteForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&form.csrf)?;
    let (email, role) = match (people::email("email", &form.email), people::role("role", &form.role)) {
        (Ok(e), Ok(r)) => (e, r),
        (Err(e), _) | (_, Err(e)) => return render(&state, &viewer, None, Some(e.to_string())).await,
    };
    people::may_change(&viewer.user, None, Some(role)).map_err(DashError::Forbidden)?;
    match people::invite(&state, &viewer.actor(), email, role).await {
        Ok(sent) => {
            let mail = match sent.mail {
                Ok(_) => format!("An e-mail with the link went to {}.", sent.invitation.email),
                Err(why) => format!("The e-mail could not be sent ({why}): pass the link on yourself."),
            };
            let invited = Invited {
                email: sent.invitation.email,
                link: sent.link,
                mail,
                days: people::INVITATION_DAYS,
            };
            render(&state, &viewer, Some(invited), None).await
        }
        Err(StoreError::Conflict(why)) => render(&state, &viewer, None, Some(why)).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(user): Path<UserId>,
    DashForm(form): DashForm<RoleForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    let role = people::role("role", &form.role).map_err(|e| DashError::BadRequest(e.to_string()))?;
    let current = state.store.member(&user, &viewer.user.org_id).await?.ok_or(DashError::NotFound)?.role;
    people::may_change(&viewer.user, Some(current), Some(role)).map_err(DashError::Forbidden)?;
    state.store.set_role(&viewer.actor(), &user, role).await?;
    Ok(Redirect::to("/members?done=role-changed"))
}

pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(user): Path<UserId>,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    let current = state.store.member(&user, &viewer.user.org_id).await?.ok_or(DashError::NotFound)?.role;
    people::may_change(&viewer.user, Some(current), None).map_err(DashError::Forbidden)?;
    state.store.remove_member(&viewer.actor(), &user).await?;
    Ok(Redirect::to("/members?done=member-removed"))
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<InvitationId>,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Redirect, DashError> {
    viewer.may_manage(&form.csrf)?;
    state.store.revoke_invitation(&viewer.actor(), &id).await?;
    Ok(Redirect::to("/members?done=invitation-revoked"))
}
