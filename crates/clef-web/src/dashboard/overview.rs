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
    /// Of the open alerts, those someone has in hand.
    acknowledged: u64,
    last: Option<LastReport>,
    trend: Option<Sparkline>,
}

struct LastReport {
    commit: String,
    branch: String,
    when: String,
}

/// A tiny SVG polyline of violation counts, oldest to newest, on a scale shared by every row
/// (so a taller line means more violations, not just a different integration).
pub struct Sparkline {
    points: String,
    max: u64,
    latest: u64,
}

impl Sparkline {
    fn of(series: &[u64], scale: u64) -> Option<Self> {
        let own_max = series.iter().copied().max()?;
        let max = scale.max(own_max);
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
        Some(Self { points, max: own_max, latest: *series.last()? })
    }
}

#[cfg(test)]
mod tests {
    use super::Sparkline;

    #[test]
    fn sparklines_share_one_scale() {
        let small = Sparkline::of(&[1, 2], 10).expect("line");
        let big = Sparkline::of(&[5, 10], 10).expect("line");
        // The top of the small line sits far below the top of the big one.
        let last_y = |s: &Sparkline| s.points.rsplit(',').next().and_then(|y| y.parse::<f64>().ok());
        assert!(last_y(&small) > Some(15.0) && last_y(&big) < Some(2.0), "{} / {}", small.points, big.points);
        assert_eq!((small.max, small.latest), (2, 2));
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
    let scale = trends.iter().flat_map(|(_, s)| s.iter().copied()).max().unwrap_or(0);
    let rows = integrations
        .into_iter()
        .map(|i| Row {
            health: i.head.as_ref().and_then(|h| h.worst_health).map(|h| h.as_str()).unwrap_or("none"),
            last: i.head.as_ref().map(|h| LastReport {
                commit: short(&h.commit_sha),
                branch: h.branch.clone(),
                when: ago(h.received_at, now),
            }),
            trend: trends.iter().find(|(id, _)| *id == i.id).and_then(|(_, s)| Sparkline::of(s, scale)),
            alerts: i.open_alerts,
            acknowledged: i.acknowledged_alerts,
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
    viewer.may_manage(&form.csrf)?;
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
