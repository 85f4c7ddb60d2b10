//! A person's own account: password, sessions, personal access tokens, and the organisation
//! they look at.

use super::session::{CsrfForm, Viewer};
use super::{DashError, DashForm, Layout, Page, Stamp, password_hash, password_matches};
use crate::{AppState, now_ms, people};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use clef_core::ids::*;
use serde::Deserialize;

struct OrgRow {
    id: String,
    name: String,
    role: &'static str,
    current: bool,
}

struct SessionRow {
    id: String,
    user_agent: String,
    org: String,
    created: Stamp,
    seen: Stamp,
    current: bool,
}

struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    created: Stamp,
    expires: String,
    used: String,
    live: bool,
    state: &'static str,
}

/// A token just made: its secret, shown this once.
struct NewToken {
    name: String,
    secret: String,
    expires: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    organizations: Vec<OrgRow>,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    /// (form value, label) of the token lifetimes on offer.
    expiries: Vec<(String, String)>,
    new_token: Option<NewToken>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    new_token: Option<NewToken>,
    error: Option<String>,
) -> Result<Response, DashError> {
    let now = now_ms();
    let user = &viewer.user;
    let organizations = state
        .store
        .memberships(&user.id)
        .await?
        .into_iter()
        .map(|m| OrgRow {
            current: m.org_id == user.org_id,
            id: m.org_id.to_string(),
            name: m.org_name,
            role: m.role.as_str(),
        })
        .collect();
    let sessions = state
        .store
        .sessions(&user.id, now)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == viewer.session_id,
            id: s.id.to_string(),
            user_agent: s.user_agent,
            org: s.org_name,
            created: Stamp::new(s.created_at, now),
            seen: Stamp::new(s.last_seen_at, now),
        })
        .collect();
    let tokens = state
        .store
        .tokens(&user.id, &user.org_id)
        .await?
        .into_iter()
        .map(|t| {
            let expired = t.expires_at.is_some_and(|e| e <= now);
            TokenRow {
                id: t.id.to_string(),
                expires: t.expires_at.map_or_else(|| "never".to_owned(), |e| Stamp::new(e, now).abs),
                used: t.last_used_at.map_or_else(|| "never".to_owned(), |u| super::ago(u, now)),
                live: t.revoked_at.is_none() && !expired,
                state: if t.revoked_at.is_some() { "revoked" } else { "expired" },
                created: Stamp::new(t.created_at, now),
                name: t.name,
                prefix: t.prefix,
            }
        })
        .collect();
    let expiries = people::TOKEN_DAYS
        .iter()
        .map(|d| match d {
            Some(days) => (days.to_string(), format!("in {days} days")),
            None => ("never".to_owned(), "never".to_owned()),
        })
        .collect();
    Ok(Page(AccountPage {
        layout: viewer.layout("account", "Your account"),
        organizations,
        sessions,
        tokens,
        expiries,
        new_token,
        error,
    })
    .into_response())
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, DashError> {
    render(&state, &viewer, None, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<PasswordForm>,
) -> Result<Response, DashError> {
    viewer.check_csrf(&form.csrf)?;
    let stored = viewer.user.password_hash.clone().unwrap_or_default();
    if !password_matches(form.current, stored).await? {
        return render(&state, &viewer, None, Some("The current password is not right.".into())).await;
    }
    if let Err(e) = people::password("new", &form.new) {
        return render(&state, &viewer, None, Some(format!("The new password {}.", e.message))).await;
    }
    if form.new != form.confirm {
        return render(&state, &viewer, None, Some("The two new passwords differ.".into())).await;
    }
    let hash = password_hash(form.new).await?;
    state.store.change_password(&viewer.actor(), &hash, &viewer.session_id).await?;
    Ok(Redirect::to("/account?done=password-changed").into_response())
}

pub async fn end_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<SessionId>,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    state.store.end_session(&viewer.actor(), &id).await?;
    Ok(Redirect::to("/account?done=session-ended#sessions"))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
    /// Days, or `never`.
    expires: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<TokenForm>,
) -> Result<Response, DashError> {
    viewer.check_csrf(&form.csrf)?;
    let days = match form.expires.trim() {
        "never" => None,
        raw => Some(
            raw.parse::<u32>().map_err(|_| DashError::BadRequest("Choose when the token expires.".into()))?,
        ),
    };
    let checked = people::token_name("name", &form.name)
        .and_then(|name| Ok((name, people::token_expiry("expires", days, now_ms())?)));
    let (name, expires_at) = match checked {
        Ok(ok) => ok,
        Err(e) => return render(&state, &viewer, None, Some(e.to_string())).await,
    };
    let (token, secret) = people::mint_token(state.store.as_ref(), &viewer.user, name, expires_at).await?;
    let new =
        NewToken { name: token.name, secret, expires: token.expires_at.map(|e| Stamp::new(e, now_ms()).abs) };
    render(&state, &viewer, Some(new), None).await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<TokenId>,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    state.store.revoke_token(&viewer.actor(), &id).await?;
    Ok(Redirect::to("/account?done=token-revoked#tokens"))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    org: String,
}

pub async fn switch_organization(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<SwitchForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    let org = OrgId::from(form.org);
    // Only into an organisation of theirs (another answers as a missing one), and a password
    // session does not enter one that signs in through SSO only.
    state.store.member(&viewer.user.id, &org).await?.ok_or(DashError::NotFound)?;
    if viewer.auth_method == clef_store::AuthMethod::Password
        && let Some(sso) = state.store.sso_config(&org).await?
        && !sso.allows_password(&viewer.user.id)
    {
        return Err(DashError::Forbidden(
            "That organisation signs in with single sign-on only: log out and sign in through it.".into(),
        ));
    }
    state.store.switch_organization(&viewer.session_id, &viewer.user.id, &org).await?;
    Ok(Redirect::to("/alerts?done=switched"))
}
