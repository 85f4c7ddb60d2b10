//! An integration's settings (tracked branch, collection config, API keys, policy rules,
//! channels with a test send, delivery log) and the organisation's audit log.

use super::DashForm;
use super::integration::Head;
use super::session::{CsrfForm, Viewer};
use super::{DashError, Layout, Page, ago};
use crate::credentials::{self, API_KEY_PREFIX, mint};
use crate::{AppState, now_ms};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use clef_core::ids::*;
use clef_core::notification::ChannelKind;
use clef_core::{PolicySet, Severity};
use clef_store::{ChannelPatch, CollectionConfig, IntegrationPatch, NewApiKey, NewChannel, StoreError};
use serde::Deserialize;

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

struct ChannelRow {
    id: String,
    kind: ChannelKind,
    target: String,
    min_severity: &'static str,
    notify_on_resolve: bool,
    /// The repeat interval in seconds, empty for every report.
    repeat: String,
    repeats: Vec<(String, String)>,
}

/// The repeat intervals the form offers, in seconds (empty: every report).
const REPEATS: [(&str, &str); 5] = [
    ("", "with every report"),
    ("3600", "at most once an hour"),
    ("14400", "at most every 4 hours"),
    ("86400", "at most once a day"),
    ("604800", "at most once a week"),
];

/// The choices for a channel: the standard ones, and its own if the API set another.
fn repeat_choices(current: &str) -> Vec<(String, String)> {
    let mut choices: Vec<(String, String)> =
        REPEATS.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect();
    if !REPEATS.iter().any(|(v, _)| *v == current)
        && let Ok(seconds) = current.parse::<i64>()
    {
        choices.push((current.to_owned(), format!("at most every {} min", seconds / 60)));
    }
    choices
}

/// A kind as the add form offers it.
struct KindOption {
    value: &'static str,
    label: &'static str,
    target_label: &'static str,
    placeholder: &'static str,
}

fn placeholder(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "security@example.com",
        ChannelKind::Slack => "https://hooks.slack.com/services/…",
        ChannelKind::Teams => "https://….logic.azure.com/workflows/…",
        ChannelKind::PagerDuty => "32-character integration key",
        ChannelKind::Webhook => "https://example.com/clef-pro",
    }
}

struct DeliveryRow {
    subject: String,
    target: String,
    status: &'static str,
    when: String,
    attempts: Vec<(String, &'static str, String)>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    head: Head,
    collect_ci_context: bool,
    keys: Vec<KeyRow>,
    policies: String,
    channels: Vec<ChannelRow>,
    deliveries: Vec<DeliveryRow>,
    /// (value, label) of each minimum severity a channel can choose.
    severities: Vec<(&'static str, &'static str)>,
    repeats: Vec<(String, String)>,
    kinds: Vec<KindOption>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    id: &IntegrationId,
    error: Option<String>,
    policies_text: Option<String>,
) -> Result<Response, DashError> {
    let org = &viewer.user.org_id;
    let integration = state.store.integration(org, id).await?;
    let now = now_ms();
    let keys = state
        .store
        .api_keys(org, id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            created: ago(k.created_at, now),
            last_used: k.last_used_at.map(|t| ago(t, now)).unwrap_or_else(|| "never".into()),
            revoked: k.revoked_at.is_some(),
            id: k.id.into(),
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    let channels = state
        .store
        .channels(org, id)
        .await?
        .into_iter()
        .map(|c| {
            let repeat = c.repeat_every.map(|ms| (ms / 1000).to_string()).unwrap_or_default();
            ChannelRow {
                id: c.id.into(),
                kind: c.kind,
                target: c.target,
                min_severity: c.min_severity.as_threshold().as_str(),
                notify_on_resolve: c.notify_on_resolve,
                repeats: repeat_choices(&repeat),
                repeat,
            }
        })
        .collect();
    let deliveries = state
        .store
        .deliveries(org, id, clef_store::DeliveryQuery::latest(50))
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            subject: d.digest.subject(),
            target: d.target,
            status: d.status.as_str(),
            when: ago(d.created_at, now),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| (ago(a.at, now), a.outcome.as_str(), a.detail))
                .collect(),
        })
        .collect();
    let policies = policies_text
        .unwrap_or_else(|| serde_json::to_string_pretty(&integration.policies).unwrap_or_default());
    let status = if error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let page = SettingsPage {
        layout: viewer.layout("integrations", format!("{} settings", integration.name)),
        head: Head::of(&integration, "settings"),
        collect_ci_context: integration.config.collect_ci_context,
        keys,
        policies,
        channels,
        deliveries,
        severities: Severity::THRESHOLDS.iter().map(|s| (s.as_str(), s.threshold_label())).collect(),
        repeats: repeat_choices(""),
        kinds: ChannelKind::ALL
            .iter()
            .map(|&k| KindOption {
                value: k.as_str(),
                label: k.label(),
                target_label: k.target_label(),
                placeholder: placeholder(k),
            })
            .collect(),
        error,
    };
    Ok((status, Page(page)).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
) -> Result<Response, DashError> {
    render(&state, &viewer, &id, None, None).await
}

/// Back to a section of the settings, confirming what was done.
fn back(id: &IntegrationId, section: &str, done: &str) -> Response {
    Redirect::to(&format!("/integrations/{id}/settings?done={done}#{section}")).into_response()
}

#[derive(Deserialize)]
pub struct GeneralForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tracked_branch: String,
    /// A checkbox: present ("on") or absent.
    #[serde(default)]
    collect_ci_context: Option<String>,
}

pub async fn save_general(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    DashForm(f): DashForm<GeneralForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    // Empty: back to the first report's branch.
    let branch = match f.tracked_branch.trim() {
        "" => None,
        raw => match clef_core::text::branch(raw) {
            Ok(b) => Some(b),
            Err(e) => return render(&state, &viewer, &id, Some(format!("The branch {e}.")), None).await,
        },
    };
    // A form without the field (an older page) keeps the name.
    let name = match f.name.trim() {
        "" => None,
        raw => match clef_core::text::display_name(raw) {
            Ok(n) => Some(n),
            Err(e) => return render(&state, &viewer, &id, Some(format!("The name {e}.")), None).await,
        },
    };
    let patch = IntegrationPatch {
        name,
        tracked_branch: Some(branch),
        config: Some(CollectionConfig { collect_ci_context: f.collect_ci_context.is_some() }),
        ..Default::default()
    };
    match state.store.update_integration(&viewer.actor(), &id, patch).await {
        Ok(_) => Ok(back(&id, "general", "saved")),
        Err(StoreError::Conflict(_)) => {
            let taken = format!("Not saved: another integration is named {:?}.", f.name.trim());
            render(&state, &viewer, &id, Some(taken), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    /// The integration's name, typed again: deleting is not undone.
    #[serde(default)]
    confirm: String,
}

pub async fn delete_integration(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    DashForm(f): DashForm<DeleteForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    let integration = state.store.integration(&viewer.user.org_id, &id).await?;
    if f.confirm.trim() != integration.name {
        let why = format!("Not deleted: type the integration's name, {:?}, to confirm.", integration.name);
        return render(&state, &viewer, &id, Some(why), None).await;
    }
    state.store.delete_integration(&viewer.actor(), &id).await?;
    Ok(Redirect::to("/integrations?done=integration-deleted").into_response())
}

#[derive(Template)]
#[template(path = "key_created.html")]
struct KeyCreatedPage {
    layout: Layout,
    head: Head,
    key: String,
    name: String,
    server: String,
}

#[derive(Deserialize)]
pub struct KeyForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn create_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    DashForm(f): DashForm<KeyForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    let name = match clef_core::text::display_name(if f.name.trim().is_empty() { "CI" } else { &f.name }) {
        Ok(name) => name,
        Err(e) => return render(&state, &viewer, &id, Some(format!("The key name {e}.")), None).await,
    };
    let minted = mint(API_KEY_PREFIX);
    state
        .store
        .create_api_key(
            &viewer.actor(),
            &id,
            NewApiKey { name: name.clone(), prefix: minted.prefix, key_hash: minted.hash },
        )
        .await?;
    let integration = state.store.integration(&viewer.user.org_id, &id).await?;
    let server = state.settings.public_url.clone().unwrap_or_else(|| "https://clef-pro.example.com".into());
    // The key is shown on this page once; only its hash is kept.
    let page = KeyCreatedPage {
        layout: viewer.layout("integrations", "New API key"),
        head: Head::of(&integration, "settings"),
        key: minted.secret,
        name,
        server,
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Page(page)).into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, key)): Path<(IntegrationId, ApiKeyId)>,
    DashForm(f): DashForm<CsrfForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    state.store.revoke_api_key(&viewer.actor(), &id, &key).await?;
    Ok(back(&id, "keys", "key-revoked"))
}

#[derive(Deserialize)]
pub struct PoliciesForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    policies: String,
}

pub async fn save_policies(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    DashForm(f): DashForm<PoliciesForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    match PolicySet::parse(f.policies.as_bytes()) {
        Ok(policies) => {
            let patch = IntegrationPatch { policies: Some(policies), ..Default::default() };
            state.store.update_integration(&viewer.actor(), &id, patch).await?;
            Ok(back(&id, "policies", "saved"))
        }
        Err(e) => {
            render(&state, &viewer, &id, Some(format!("Policy rules not saved: {e}")), Some(f.policies)).await
        }
    }
}

#[derive(Deserialize)]
pub struct ChannelForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    /// The kind, when adding (e-mail if absent).
    #[serde(default)]
    kind: Option<String>,
    /// Blank when editing a secret target: the stored one stays.
    #[serde(default)]
    target: String,
    min_severity: String,
    #[serde(default)]
    notify_on_resolve: Option<String>,
    /// Seconds, empty for every report.
    #[serde(default)]
    repeat: String,
}

impl ChannelForm {
    fn repeat_every(&self) -> Result<Option<clef_core::Millis>, String> {
        match self.repeat.trim() {
            "" => Ok(None),
            raw => {
                let seconds =
                    raw.parse::<i64>().map_err(|_| format!("the repeat interval {raw:?} is not a number"))?;
                clef_core::notification::repeat_interval(seconds).map(Some)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "secret_created.html")]
struct SecretPage {
    layout: Layout,
    head: Head,
    secret: String,
    /// For a rotation: until when the previous secret still signs.
    previous_until: Option<String>,
}

async fn secret_page(
    state: &AppState,
    viewer: &Viewer,
    id: &IntegrationId,
    secret: String,
    previous_until: Option<String>,
) -> Result<Response, DashError> {
    let integration = state.store.integration(&viewer.user.org_id, id).await?;
    let page = SecretPage {
        layout: viewer.layout("integrations", "Webhook signing secret"),
        head: Head::of(&integration, "settings"),
        secret,
        previous_until,
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Page(page)).into_response())
}

pub async fn add_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    DashForm(f): DashForm<ChannelForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    let parsed = ChannelKind::parse(f.kind.as_deref().unwrap_or("email")).and_then(|kind| {
        let target = kind.check_target(&f.target, state.settings.allow_private_targets)?;
        Ok((kind, target, Severity::parse(&f.min_severity)?, f.repeat_every()?))
    });
    match parsed {
        Ok((kind, target, min_severity, repeat_every)) => {
            let signing_secret = kind.signs().then(credentials::signing_secret);
            let new = NewChannel {
                kind,
                target,
                min_severity,
                notify_on_resolve: f.notify_on_resolve.is_some(),
                repeat_every,
                signing_secret: signing_secret.clone(),
            };
            match state.store.create_channel(&viewer.actor(), &id, new).await {
                Err(StoreError::Refused(why)) => {
                    return render(&state, &viewer, &id, Some(format!("Channel not added: {why}.")), None)
                        .await;
                }
                other => other?,
            };
            match signing_secret {
                Some(secret) => secret_page(&state, &viewer, &id, secret, None).await,
                None => Ok(back(&id, "channels", "channel-added")),
            }
        }
        Err(e) => render(&state, &viewer, &id, Some(format!("Channel not added: {e}")), None).await,
    }
}

pub async fn edit_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, channel)): Path<(IntegrationId, ChannelId)>,
    DashForm(f): DashForm<ChannelForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    let kind = crate::channels::kind_of(&state, &viewer.user.org_id, &id, &channel)
        .await?
        .ok_or(DashError::NotFound)?;
    // A secret target is never shown, so a blank field keeps it.
    let keep = kind.target_is_secret() && f.target.trim().is_empty();
    let parsed = (!keep)
        .then(|| kind.check_target(&f.target, state.settings.allow_private_targets))
        .transpose()
        .and_then(|target| Ok((target, Severity::parse(&f.min_severity)?, f.repeat_every()?)));
    match parsed {
        Ok((target, min_severity, repeat_every)) => {
            let patch = ChannelPatch {
                target,
                min_severity: Some(min_severity),
                notify_on_resolve: Some(f.notify_on_resolve.is_some()),
                repeat_every: Some(repeat_every),
            };
            match state.store.update_channel(&viewer.actor(), &id, &channel, patch).await {
                Ok(_) => Ok(back(&id, "channels", "channel-saved")),
                Err(StoreError::Refused(why)) => {
                    render(&state, &viewer, &id, Some(format!("Channel not saved: {why}.")), None).await
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => render(&state, &viewer, &id, Some(format!("Channel not saved: {e}")), None).await,
    }
}

pub async fn rotate_channel_secret(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, channel)): Path<(IntegrationId, ChannelId)>,
    DashForm(f): DashForm<CsrfForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    let actor = viewer.actor();
    let overlap = crate::channels::DEFAULT_OVERLAP_HOURS;
    let (secret, until) = crate::channels::rotate_secret(&state, &actor, &id, &channel, overlap).await?;
    secret_page(&state, &viewer, &id, secret, Some(crate::api::dto::rfc3339(until))).await
}

pub async fn delete_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, channel)): Path<(IntegrationId, ChannelId)>,
    DashForm(f): DashForm<CsrfForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    state.store.delete_channel(&viewer.actor(), &id, &channel).await?;
    Ok(back(&id, "channels", "channel-removed"))
}

pub async fn test_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, channel)): Path<(IntegrationId, ChannelId)>,
    DashForm(f): DashForm<CsrfForm>,
) -> Result<Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    if let Some(limiter) = &state.limits.test_sends
        && limiter.check(channel.as_str()).is_err()
    {
        return Err(DashError::BadRequest("Too many test messages to this channel: wait a minute.".into()));
    }
    state.store.enqueue_test(&viewer.actor(), &id, &channel).await?;
    state.worker.notify_one();
    Ok(back(&id, "deliveries", "test-queued"))
}

struct AuditRow {
    when: String,
    actor: String,
    action: String,
    target: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(super) struct AuditPage {
    layout: Layout,
    entries: Vec<AuditRow>,
}

pub async fn audit_log(State(state): State<AppState>, viewer: Viewer) -> Result<Page<AuditPage>, DashError> {
    let now = now_ms();
    let entries = state
        .store
        .audit_log(&viewer.user.org_id, None, 500)
        .await?
        .into_iter()
        .map(|e| AuditRow { when: ago(e.at, now), actor: e.actor, action: e.action, target: e.target })
        .collect();
    Ok(Page(AuditPage { layout: viewer.layout("audit", "Audit log"), entries }))
}
