//! Trends for the organisation or one integration over 7, 30 or 90 days, drawn as SVG on the
//! server, and the CSV/JSON downloads of alerts and report history.

use super::alerts::Filters;
use super::charts::{BAR_LEFT, BarChart, StackedChart, duration};
use super::integration::Head;
use super::session::Viewer;
use super::{DashError, Layout, Page};
use crate::export::{self, Format};
use crate::{AppState, now_ms};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use clef_core::ids::*;
use clef_core::trends::{WINDOWS, trends, window_days, window_start};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TrendsQuery {
    days: String,
    integration: String,
}

struct CellRow {
    integration: String,
    namespace: String,
    environment: String,
    violated: String,
    percent: u32,
    href: String,
}

#[derive(Template)]
#[template(path = "trends.html")]
pub struct TrendsPage {
    layout: Layout,
    head: Option<Head>,
    integrations: Vec<(String, String)>,
    integration: String,
    days: u32,
    windows: [u32; 3],
    open: StackedChart,
    opened: u64,
    resolved: u64,
    resolve_times: BarChart,
    bar_left: f64,
    cells: Vec<CellRow>,
    /// How many cells were in violation at all (the table shows the worst 30).
    cells_total: usize,
    /// The query string of the alert export.
    export_alerts: String,
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<TrendsQuery>,
) -> Result<Page<TrendsPage>, DashError> {
    let org = &viewer.user.org_id;
    let days = q.days.parse().ok().and_then(|d| window_days(d).ok()).unwrap_or(30);
    let all = state.store.integrations(org).await?;
    let names: HashMap<&IntegrationId, &str> = all.iter().map(|i| (&i.id, i.name.as_str())).collect();
    let integration = all.iter().find(|i| i.id.as_str() == q.integration.trim());
    let now = now_ms();
    let spans =
        state.store.alert_spans(org, integration.map(|i| &i.id), window_start(now, days), now).await?;
    let t = trends(&spans, now, days);
    let cells_total = t.cells.len();
    let cells = t
        .cells
        .iter()
        .take(30)
        .map(|c| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("integration", c.integration_id.as_str())
                .append_pair("namespace", &c.namespace)
                .append_pair("environment", &c.environment)
                .append_pair("status", "any")
                .finish();
            CellRow {
                integration: names.get(&c.integration_id).copied().unwrap_or_default().to_owned(),
                namespace: c.namespace.clone(),
                environment: c.environment.clone(),
                violated: duration(c.violated_ms),
                percent: c.share_permille.div_ceil(10),
                href: format!("/alerts?{query}"),
            }
        })
        .collect();
    let mut export_alerts = form_urlencoded::Serializer::new(String::new());
    export_alerts.append_pair("status", "any");
    if let Some(i) = integration {
        export_alerts.append_pair("integration", i.id.as_str());
    }
    let title = integration.map_or_else(|| "Trends".to_owned(), |i| format!("{} trends", i.name));
    Ok(Page(TrendsPage {
        layout: viewer.layout(if integration.is_some() { "integrations" } else { "trends" }, title),
        head: integration.map(|i| Head::of(i, "trends")),
        integrations: all.iter().map(|i| (i.id.to_string(), i.name.clone())).collect(),
        integration: integration.map(|i| i.id.to_string()).unwrap_or_default(),
        days,
        windows: WINDOWS,
        open: StackedChart::new(&t.open, 760, 240),
        opened: t.opened,
        resolved: t.resolved,
        resolve_times: BarChart::new(&t.resolve_times, 760),
        bar_left: BAR_LEFT,
        cells,
        cells_total,
        export_alerts: export_alerts.finish(),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FormatQuery {
    format: String,
}

fn download<T: serde::Serialize>(rows: &[T], format: &str, name: &str) -> Result<Response, DashError> {
    let format = Format::parse(Some(format)).map_err(DashError::BadRequest)?;
    export::respond(rows, format, name).map_err(DashError::Internal)
}

/// The alerts the inbox's filters select, as a download.
pub async fn export_alerts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(format): Query<FormatQuery>,
    Query(f): Query<Filters>,
) -> Result<Response, DashError> {
    let query = f.query(None, now_ms());
    let rows = export::alerts(state.store.as_ref(), &viewer.user.org_id, query).await?;
    download(&rows, &format.format, "alerts")
}

/// An integration's report history, as a download.
pub async fn export_reports(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    Query(format): Query<FormatQuery>,
) -> Result<Response, DashError> {
    let org = &viewer.user.org_id;
    let integration = state.store.integration(org, &id).await?;
    let rows = export::reports(state.store.as_ref(), org, &integration.id).await?;
    download(
        &rows,
        &format.format,
        &format!("{}-reports", integration.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")),
    )
}
