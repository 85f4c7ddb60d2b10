//! Accepting an invitation: the link's page, open to anyone holding the link. The secret in
//! the path is the credential; the store keeps only its hash.

use super::session::start_session;
use super::{DashError, DashForm, Page, password_hash, password_matches};
use crate::credentials::hash_secret;
use crate::{AppState, now_ms, people};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clef_store::{Acceptance, Invitation, InvitationState, StoreError};
use serde::Deserialize;

struct InviteView {
    invited_by: String,
    email: String,
    org: String,
    role: &'static str,
    /// The address has an account already: they confirm with its password.
    existing: bool,
    /// The organisation signs in through its identity provider: joining can too.
    sso: bool,
    /// …and only through it: no password is set.
    sso_only: bool,
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    secret: String,
    invite: Option<InviteView>,
    error: Option<String>,
}

fn refused(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Page(InvitationPage { secret: String::new(), invite: None, error: Some(why.into()) }))
        .into_response()
}

/// The pending invitation behind the link, or the page that says why there is none.
async fn pending(state: &AppState, secret: &str) -> Result<Result<Invitation, Response>, DashError> {
    let Some(invite) = state.store.invitation(&hash_secret(secret)).await? else {
        return Ok(Err(refused(
            StatusCode::NOT_FOUND,
            "This invitation link is not valid. Check that it was copied whole.",
        )));
    };
    let why = match invite.state(now_ms()) {
        InvitationState::Pending => return Ok(Ok(invite)),
        InvitationState::Accepted => "This invitation was used already. Log in instead.",
        InvitationState::Revoked => "This invitation was revoked. Ask for a new one.",
        InvitationState::Expired => "This invitation has expired. Ask for a new one.",
    };
    Ok(Err(refused(StatusCode::GONE, why)))
}

async fn render(
    state: &AppState,
    secret: String,
    invite: &Invitation,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, DashError> {
    let existing = state.store.user_by_email(&invite.email).await?.is_some();
    let sso = state.store.sso_config(&invite.org_id).await?;
    let sso_only = sso.as_ref().is_some_and(|c| c.sso_only);
    let view = InviteView {
        invited_by: invite.invited_by.clone(),
        email: invite.email.clone(),
        org: invite.org_name.clone(),
        role: invite.role.as_str(),
        existing,
        sso: sso.is_some(),
        sso_only,
    };
    Ok((status, Page(InvitationPage { secret, invite: Some(view), error })).into_response())
}

pub async fn page(State(state): State<AppState>, Path(secret): Path<String>) -> Result<Response, DashError> {
    match pending(&state, &secret).await? {
        Ok(invite) => render(&state, secret, &invite, StatusCode::OK, None).await,
        Err(page) => Ok(page),
    }
}

#[derive(Deserialize)]
pub struct AcceptForm {
    password: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn accept(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    DashForm(form): DashForm<AcceptForm>,
) -> Result<Response, DashError> {
    let invite = match pending(&state, &secret).await? {
        Ok(invite) => invite,
        Err(page) => return Ok(page),
    };
    if state.store.sso_config(&invite.org_id).await?.is_some_and(|c| c.sso_only) {
        let why = Some("This organisation signs in with single sign-on only: join with it below.".to_owned());
        return render(&state, secret, &invite, StatusCode::FORBIDDEN, why).await;
    }
    let who = match state.store.user_by_email(&invite.email).await? {
        // Someone with an account proves it with their password.
        Some(person) => {
            let stored = person.password_hash.clone().unwrap_or_default();
            if !password_matches(form.password, stored).await? {
                let why = Some("That is not the password of this account.".to_owned());
                return render(&state, secret, &invite, StatusCode::UNAUTHORIZED, why).await;
            }
            Acceptance::Existing(person.id)
        }
        None => {
            if let Err(e) = people::password("password", &form.password) {
                let why = Some(format!("The password {}.", e.message));
                return render(&state, secret, &invite, StatusCode::UNPROCESSABLE_ENTITY, why).await;
            }
            if form.confirm.as_deref() != Some(form.password.as_str()) {
                let why = Some("The two passwords differ.".to_owned());
                return render(&state, secret, &invite, StatusCode::UNPROCESSABLE_ENTITY, why).await;
            }
            Acceptance::NewPerson { password_hash: password_hash(form.password).await? }
        }
    };
    let member = match state.store.accept_invitation(&hash_secret(&secret), who, now_ms()).await {
        Ok(member) => member,
        // Raced by another acceptance, or revoked meanwhile: say so, nothing was made.
        Err(StoreError::Refused(why)) => return Ok(refused(StatusCode::CONFLICT, why)),
        Err(other) => return Err(other.into()),
    };
    start_session(&state, &headers, &member, clef_store::AuthMethod::Password, "/alerts?done=joined").await
}

/// Accepting through the organisation's identity provider: the issuer must vouch for the
/// invited address; the invitation is spent when it does.
pub async fn accept_with_sso(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, DashError> {
    let invite = match pending(&state, &secret).await? {
        Ok(invite) => invite,
        Err(page) => return Ok(page),
    };
    let Some(config) = state.store.sso_config(&invite.org_id).await? else {
        return Ok(refused(StatusCode::BAD_REQUEST, "This organisation does not use single sign-on."));
    };
    super::sso::go_to_issuer(&state, &config, invite.email, Some(hash_secret(&secret))).await
}
