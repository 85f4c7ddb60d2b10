//! Signing in through the organisation's identity provider, and an owner's settings for it.
//! The browser goes to the issuer with a single-use `state` (its hash kept with the nonce and
//! the PKCE verifier) and comes back to `/sso/callback`; anything wrong there shows the login
//! page with the reason, and creates nothing.

use super::session::{CsrfForm, Viewer, login_form_is_ours, login_page, start_session};
use super::{DashError, DashForm, Page};
use crate::credentials::hash_secret;
use crate::{AppState, now_ms, people, sso};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use clef_store::{Acceptance, AuthMethod, Role, SsoConfig, SsoLogin, SsoSettings, StoreError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// How long the identity provider may take to send the person back.
const SIGN_IN_MS: i64 = 10 * 60_000;

/// Where the issuer sends people back: register this with it.
pub fn callback_url(state: &AppState) -> String {
    state.settings.link("/sso/callback")
}

fn refused(status: StatusCode, email: String, why: impl Into<String>) -> Response {
    login_page(status, "/alerts".into(), email, Some(why.into()))
}

#[derive(Deserialize)]
pub struct StartForm {
    email: String,
    #[serde(default)]
    login_csrf: String,
}

pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    DashForm(form): DashForm<StartForm>,
) -> Result<Response, DashError> {
    if !login_form_is_ours(&headers, &form.login_csrf) {
        return Ok(refused(
            StatusCode::FORBIDDEN,
            String::new(),
            "The login form expired or came from another site.",
        ));
    }
    let Ok(email) = people::email("email", &form.email) else {
        return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, form.email, "Enter your work e-mail address."));
    };
    let Some(config) = state.store.sso_config_for_email(&email).await? else {
        let why =
            "No organisation here signs in with single sign-on for this address: log in with your password.";
        return Ok(refused(StatusCode::NOT_FOUND, email, why));
    };
    go_to_issuer(&state, &config, email, None).await
}

/// Sends the browser to the organisation's issuer, remembering the sign-in (and the invitation
/// it accepts, if any) under its single-use state.
pub(super) async fn go_to_issuer(
    state: &AppState,
    config: &SsoConfig,
    email: String,
    invitation_hash: Option<String>,
) -> Result<Response, DashError> {
    let started = match sso::start(config, &callback_url(state), &email).await {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(error = %e, org = %config.org_id, "single sign-on could not start");
            return Ok(refused(
                StatusCode::BAD_GATEWAY,
                email,
                format!("Single sign-on is unavailable: {e}."),
            ));
        }
    };
    let now = now_ms();
    let login = SsoLogin {
        state_hash: hash_secret(&started.state),
        org_id: config.org_id.clone(),
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        login_hint: email,
        invitation_hash,
        expires_at: now + SIGN_IN_MS,
    };
    state.store.begin_sso_login(login, now).await?;
    // A page that moves on by itself rather than a redirect: the login form's
    // `form-action 'self'` would stop a redirect to another site.
    let mut page = Page(RedirectPage { url: started.url }).into_response();
    page.headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(page)
}

#[derive(askama::Template)]
#[template(path = "sso_redirect.html")]
struct RedirectPage {
    url: String,
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, DashError> {
    let taken = match &q.state {
        Some(s) => state.store.take_sso_login(&hash_secret(s), now_ms()).await?,
        None => None,
    };
    let Some(login) = taken else {
        let why = "This sign-in was used already, has expired or did not start here: sign in again.";
        return Ok(refused(StatusCode::BAD_REQUEST, String::new(), why));
    };
    if let Some(error) = q.error {
        let detail = q.error_description.map(|d| format!(": {d}")).unwrap_or_default();
        return Ok(refused(
            StatusCode::UNAUTHORIZED,
            login.login_hint,
            format!("The identity provider said {error}{detail}."),
        ));
    }
    let Some(config) = state.store.sso_config(&login.org_id).await? else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            login.login_hint,
            "Single sign-on was turned off meanwhile.",
        ));
    };
    let code = q.code.unwrap_or_default();
    let identity =
        match sso::finish(&config, &callback_url(&state), &code, &login.pkce_verifier, &login.nonce).await {
            Ok(identity) => identity,
            Err(e) => {
                tracing::warn!(error = %e, org = %config.org_id, "single sign-on refused");
                return Ok(refused(
                    StatusCode::UNAUTHORIZED,
                    login.login_hint,
                    format!("Single sign-on failed: {e}."),
                ));
            }
        };
    let joined = match &login.invitation_hash {
        // Accepting an invitation: the issuer must vouch for the invited address itself.
        Some(hash) => match state.store.invitation(hash).await? {
            Some(invite) if invite.email == identity.email => {
                state.store.accept_invitation(hash, Acceptance::SingleSignOn, now_ms()).await
            }
            Some(invite) => {
                let why = format!(
                    "This invitation is for {}, but the identity provider signed in {}.",
                    invite.email, identity.email
                );
                return Ok(refused(StatusCode::FORBIDDEN, identity.email, why));
            }
            None => Err(StoreError::NotFound),
        },
        None => {
            let join_as = config.admits(&identity.email).then(|| config.role_for(&identity.claim_values));
            state.store.sso_member(&config.org_id, &identity.email, join_as, now_ms()).await
        }
    };
    let member = match joined {
        Ok(member) => member,
        Err(StoreError::Refused(why)) => return Ok(refused(StatusCode::FORBIDDEN, identity.email, why)),
        Err(other) => return Err(other.into()),
    };
    start_session(&state, &headers, &member, AuthMethod::Sso, "/alerts").await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: String,
    allowed_domains: String,
    default_role: String,
    #[serde(default)]
    role_claim: String,
    /// Lines of `claim value = role`.
    #[serde(default)]
    role_map: String,
    #[serde(default)]
    sso_only: Option<String>,
    #[serde(default)]
    break_glass: String,
}

/// The owner's form as settings, or what is wrong with it.
fn settings(form: SettingsForm) -> Result<SsoSettings, String> {
    let issuer = form.issuer.trim().trim_end_matches('/').to_owned();
    let well_formed = issuer.starts_with("https://") || issuer.starts_with("http://");
    if !well_formed || issuer.len() > 500 {
        return Err("The issuer is a URL, such as https://login.acme.example/realms/acme.".into());
    }
    let client_id = form.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 200 {
        return Err("Give the client id the issuer registered for Clef Pro.".into());
    }
    let secret = form.client_secret.trim();
    let allowed_domains: Vec<String> = form
        .allowed_domains
        .split([',', ' ', '\n'])
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if allowed_domains.iter().any(|d| !d.contains('.') || d.contains('@')) {
        return Err("Allowed domains are e-mail domains, such as acme.example.".into());
    }
    let default_role = Role::parse(form.default_role.trim())?;
    let mut role_map = BTreeMap::new();
    for line in form.role_map.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (value, role) = line.split_once('=').ok_or(format!("“{line}”: write claim value = role"))?;
        role_map.insert(value.trim().to_owned(), Role::parse(role.trim())?);
    }
    let role_claim = Some(form.role_claim.trim().to_owned()).filter(|c| !c.is_empty());
    Ok(SsoSettings {
        issuer,
        client_id,
        client_secret: (!secret.is_empty()).then(|| secret.to_owned()),
        allowed_domains,
        default_role,
        role_claim,
        role_map,
        sso_only: form.sso_only.is_some(),
        break_glass: Some(form.break_glass.trim().to_owned()).filter(|b| !b.is_empty()).map(Into::into),
    })
}

fn only_owners(viewer: &Viewer, csrf: &str) -> Result<(), DashError> {
    viewer.check_csrf(csrf)?;
    if viewer.user.role == Role::Owner {
        Ok(())
    } else {
        Err(DashError::Forbidden("Only owners change single sign-on.".into()))
    }
}

pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<SettingsForm>,
) -> Result<Response, DashError> {
    only_owners(&viewer, &form.csrf)?;
    let settings = match settings(form) {
        Ok(s) => s,
        Err(why) => return super::members::refused(&state, &viewer, why).await,
    };
    match state.store.set_sso_config(&viewer.actor(), settings).await {
        Ok(()) => Ok(Redirect::to("/members?done=sso-saved#sso").into_response()),
        Err(StoreError::Refused(why)) => super::members::refused(&state, &viewer, why).await,
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Redirect, DashError> {
    only_owners(&viewer, &form.csrf)?;
    state.store.delete_sso_config(&viewer.actor()).await?;
    Ok(Redirect::to("/members?done=sso-off#sso"))
}
