//! Alerts of an integration, one alert, and acknowledging (which only silences notifications).

use super::DashForm;
use super::integration::Head;
use super::session::Viewer;
use super::{DashError, Layout, Page, ago, short};
use crate::{AppState, now_ms};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use clef_core::ids::*;
use clef_core::{Acknowledgement, AlertStatus, Severity};
use clef_store::{AlertQuery, ReportQuery, StoredAlert};
use serde::Deserialize;
use std::collections::HashMap;

pub struct AlertRow {
    id: String,
    integration_id: String,
    severity: &'static str,
    rule_name: String,
    rule_id: String,
    scope: String,
    message: String,
    open: bool,
    acknowledged_by: Option<String>,
    acknowledged_when: String,
    introduced: String,
    introduced_short: String,
    introduced_ci: Option<String>,
    resolved: Option<String>,
    resolved_short: String,
    last_seen: String,
    occurrences: u64,
}

fn row(a: StoredAlert, ci: &HashMap<String, String>, now: i64) -> AlertRow {
    let s = a.alert;
    AlertRow {
        id: s.id.into(),
        integration_id: a.integration_id.into(),
        severity: s.severity.as_str(),
        rule_name: s.rule_name,
        rule_id: s.rule_id,
        scope: if s.scope.canonical().is_empty() {
            "(whole integration)".into()
        } else {
            s.scope.canonical()
        },
        message: s.message,
        open: s.status == AlertStatus::Open,
        acknowledged_by: s.acknowledgement.as_ref().map(|k| k.by.clone()),
        acknowledged_when: s.acknowledgement.as_ref().map(|k| ago(k.at, now)).unwrap_or_default(),
        introduced_ci: ci.get(s.introduced_by_commit.as_str()).cloned(),
        introduced_short: short(&s.introduced_by_commit),
        introduced: s.introduced_by_commit.to_string(),
        resolved_short: s.resolved_by_commit.as_ref().map(short).unwrap_or_default(),
        resolved: s.resolved_by_commit.map(|c| c.to_string()),
        last_seen: ago(s.last_seen_at, now),
        occurrences: s.occurrences,
    }
}

/// Commit → CI pipeline link, for the recent reports of an integration.
async fn pipeline_links(
    state: &AppState,
    org: &OrgId,
    integration: &IntegrationId,
) -> Result<HashMap<String, String>, DashError> {
    let recent =
        state.store.reports(org, integration, ReportQuery { branch: None, limit: 500, before: None }).await?;
    Ok(recent.into_iter().filter_map(|m| m.pipeline_url.map(|u| (m.commit_sha.to_string(), u))).collect())
}

#[derive(Template)]
#[template(path = "alerts.html")]
pub(super) struct AlertsPage {
    layout: Layout,
    head: Head,
    alerts: Vec<AlertRow>,
    status: String,
    acknowledged: String,
    severity: String,
    back: String,
}

#[derive(Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    acknowledged: String,
    #[serde(default)]
    severity: String,
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    Query(f): Query<Filters>,
) -> Result<Page<AlertsPage>, DashError> {
    let org = &viewer.user.org_id;
    let integration = state.store.integration(org, &id).await?;
    // Unknown filter values are ignored, as a person would expect from a filter form.
    let query = AlertQuery {
        integration_id: Some(id.clone()),
        status: AlertStatus::parse(&f.status).ok(),
        acknowledged: match f.acknowledged.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        severity: Severity::parse(&f.severity).ok().filter(|_| !f.severity.is_empty()),
        limit: 500,
    };
    let ci = pipeline_links(&state, org, &id).await?;
    let now = now_ms();
    let alerts = state.store.alerts(org, query).await?.into_iter().map(|a| row(a, &ci, now)).collect();
    let back = format!(
        "/integrations/{id}/alerts?status={}&acknowledged={}&severity={}",
        f.status, f.acknowledged, f.severity
    );
    Ok(Page(AlertsPage {
        layout: viewer.layout("integrations", integration.name.clone()),
        head: Head::of(&integration, "alerts"),
        alerts,
        status: f.status,
        acknowledged: f.acknowledged,
        severity: f.severity,
        back,
    }))
}

#[derive(Template)]
#[template(path = "alert.html")]
pub(super) struct AlertPage {
    layout: Layout,
    a: AlertRow,
    integration_name: String,
    back: String,
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
) -> Result<Page<AlertPage>, DashError> {
    let org = &viewer.user.org_id;
    let stored = state.store.alert(org, &id).await?;
    let integration = state.store.integration(org, &stored.integration_id).await?;
    let ci = pipeline_links(&state, org, &integration.id).await?;
    let a = row(stored, &ci, now_ms());
    Ok(Page(AlertPage {
        layout: viewer.layout("integrations", format!("{} alert", integration.name)),
        back: format!("/alerts/{}", a.id),
        a,
        integration_name: integration.name,
    }))
}

#[derive(Deserialize)]
pub struct AckForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

/// Back to where the person was, when that is a page of ours.
fn back_to(back: &str, fallback: String) -> Redirect {
    if back.starts_with('/') && !back.starts_with("//") {
        Redirect::to(back)
    } else {
        Redirect::to(&fallback)
    }
}

pub async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
    DashForm(form): DashForm<AckForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    viewer.require_acknowledge()?;
    let ack = Acknowledgement { by: viewer.user.email.clone(), at: now_ms() };
    state.store.set_acknowledgement(&viewer.actor(), &id, Some(ack)).await?;
    Ok(back_to(&form.back, format!("/alerts/{id}")))
}

pub async fn unacknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
    DashForm(form): DashForm<AckForm>,
) -> Result<Redirect, DashError> {
    viewer.check_csrf(&form.csrf)?;
    viewer.require_acknowledge()?;
    state.store.set_acknowledgement(&viewer.actor(), &id, None).await?;
    Ok(back_to(&form.back, format!("/alerts/{id}")))
}
