//! The integrations overview: worst health, open alerts, last report and a violation trend.

use super::DashForm;
use super::session::Viewer;
use super::{DashError, Layout, Page, ago, short};
use crate::{AppState, now_ms};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use clef_store::{NewIntegration, SeverityCounts};
use serde::Deserialize;

pub struct Row {
    id: String,
    name: String,
    health: &'static str,
    alerts: SeverityCounts,
    last: Option<LastReport>,
    trend: Option<Sparkline>,
}

struct LastReport {
    commit: String,
    branch: String,
    when: String,
}

/// A tiny SVG polyline of violation counts, oldest to newest.
pub struct Sparkline {
    points: String,
    max: u64,
    latest: u64,
}

impl Sparkline {
    fn of(series: &[u64]) -> Option<Self> {
        let max = series.iter().copied().max()?;
        let (w, h) = (120.0, 24.0);
        let step = if series.len() > 1 { w / (series.len() - 1) as f64 } else { 0.0 };
        let points = series
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let y = if max == 0 { h - 1.0 } else { h - 1.0 - (*v as f64 / max as f64) * (h - 2.0) };
                format!("{:.1},{:.1}", i as f64 * step, y)
            })
            .collect::<Vec<_>>()
            .join(" ");
        Some(Self { points, max, latest: *series.last()? })
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
pub(super) struct OverviewPage {
    layout: Layout,
    rows: Vec<Row>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<Page<OverviewPage>, DashError> {
    let integrations = state.store.integrations(&viewer.user.org_id).await?;
    let trends = state.store.violation_trends(&viewer.user.org_id, 20).await?;
    let now = now_ms();
    let rows = integrations
        .into_iter()
        .map(|i| Row {
            health: i.head.as_ref().and_then(|h| h.worst_health).map(|h| h.as_str()).unwrap_or("none"),
            last: i.head.as_ref().map(|h| LastReport {
                commit: short(&h.commit_sha),
                branch: h.branch.clone(),
                when: ago(h.received_at, now),
            }),
            trend: trends.iter().find(|(id, _)| *id == i.id).and_then(|(_, s)| Sparkline::of(s)),
            alerts: i.open_alerts,
            id: i.id.into(),
            name: i.name,
        })
        .collect();
    Ok(Page(OverviewPage { layout: viewer.layout("integrations", "Integrations"), rows, error }))
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Page<OverviewPage>, DashError> {
    render(&state, &viewer, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<CreateForm>,
) -> Result<Response, DashError> {
    viewer.check_csrf(&form.csrf)?;
    viewer.require_manage()?;
    let name = match clef_core::text::display_name(&form.name) {
        Ok(name) => name,
        Err(e) => return Ok(render(&state, &viewer, Some(format!("The name {e}."))).await?.into_response()),
    };
    let new = NewIntegration { name: name.clone(), tracked_branch: None, config: Default::default() };
    match state.store.create_integration(&viewer.actor(), new).await {
        Ok(created) => Ok(Redirect::to(&format!("/integrations/{}", created.id)).into_response()),
        Err(clef_store::StoreError::Conflict(_)) => {
            Ok(render(&state, &viewer, Some(format!("An integration named {name:?} exists already.")))
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
