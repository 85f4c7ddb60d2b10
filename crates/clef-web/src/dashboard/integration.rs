//! One integration: its matrix at the head or any commit, the history timeline, and reports.

use super::DashForm;
use super::session::Viewer;
use super::{DashError, Layout, Page, ago, short};
use crate::{AppState, now_ms};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use clef_core::ids::*;
use clef_core::{CommitSha, Health, Matrix};
use clef_store::{Integration, ReportMeta, ReportQuery};
use serde::Deserialize;

/// The header and tabs every integration page shares.
pub struct Head {
    pub id: String,
    pub name: String,
    pub tracked_branch: String,
    pub tab: &'static str,
}

impl Head {
    pub fn of(i: &Integration, tab: &'static str) -> Self {
        Self {
            id: i.id.to_string(),
            name: i.name.clone(),
            tracked_branch: i.tracked_branch.clone().unwrap_or_default(),
            tab,
        }
    }
}

struct CellView {
    health: &'static str,
    description: String,
    /// The cell's alerts.
    href: String,
}

/// A cell that needs attention, for the phone's list (worst first).
struct WorstCell {
    namespace: String,
    environment: String,
    cell: CellView,
}

struct RowView {
    namespace: String,
    drifted: bool,
    drift: String,
    cells: Vec<Option<CellView>>,
}

struct TimelineItem {
    commit: String,
    short: String,
    when: String,
    violations: u64,
    health: &'static str,
    selected: bool,
}

struct Shown {
    commit: String,
    short: String,
    branch: String,
    when: String,
    is_head: bool,
    pipeline_url: Option<String>,
    /// OTLP: cells drawn from issues, the time is the push time, and the summary counts.
    from_issues: bool,
    counts: String,
    environments: Vec<String>,
    rows: Vec<RowView>,
    worst: Vec<WorstCell>,
}

/// A lint or drift run, as a few lines.
struct CheckView {
    kind: &'static str,
    passed: bool,
    when: String,
    counts: String,
    groups: Vec<String>,
}

#[derive(Template)]
#[template(path = "matrix.html")]
pub(super) struct MatrixPage {
    layout: Layout,
    head: Head,
    shown: Option<Shown>,
    timeline: Vec<TimelineItem>,
    checks: Vec<CheckView>,
    public_base: String,
}

#[derive(Deserialize)]
pub struct MatrixQuery {
    commit: Option<String>,
}

fn timeline_item(m: &ReportMeta, selected: &str, now: i64) -> TimelineItem {
    TimelineItem {
        commit: m.commit_sha.to_string(),
        short: short(&m.commit_sha),
        when: ago(m.commit_timestamp, now),
        violations: m.violations,
        health: m.worst_health.map(|h| h.as_str()).unwrap_or("none"),
        selected: m.commit_sha.as_str() == selected,
    }
}

pub async fn matrix(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    Query(q): Query<MatrixQuery>,
) -> Result<Page<MatrixPage>, DashError> {
    let org = &viewer.user.org_id;
    let integration = state.store.integration(org, &id).await?;
    let head_sha = integration.head.as_ref().map(|h| h.commit_sha.clone());
    let chosen = match q.commit.as_deref() {
        Some(raw) => Some(CommitSha::parse(raw).map_err(|_| DashError::NotFound)?),
        None => head_sha.clone(),
    };
    let now = now_ms();
    let shown = match &chosen {
        Some(sha) => {
            let stored = state.store.report(org, &id, sha.as_str()).await?;
            let r = stored.report;
            let m = Matrix::of(&r);
            Some(Shown {
                commit: r.commit_sha.to_string(),
                short: short(&r.commit_sha),
                branch: r.branch.clone(),
                when: ago(r.commit_timestamp, now),
                is_head: head_sha.as_ref() == Some(&r.commit_sha),
                pipeline_url: r.ci_context.as_ref().and_then(|c| c.pipeline_url.clone()),
                from_issues: r.source.time_is_push_time(),
                counts: r
                    .issue_counts
                    .map(|c| {
                        format!(
                            "{}, {}, {} info",
                            plural(c.error, "error"),
                            plural(c.warning, "warning"),
                            c.info
                        )
                    })
                    .unwrap_or_default(),
                worst: worst_cells(&id, &m),
                rows: m
                    .rows
                    .into_iter()
                    .map(|row| RowView {
                        drifted: row.drift.as_ref().is_some_and(|d| d.is_drifted),
                        drift: row
                            .drift
                            .as_ref()
                            .filter(|d| d.is_drifted)
                            .map(|d| match (&d.summary, d.drift_count) {
                                (Some(s), _) => s.clone(),
                                (None, Some(n)) => format!("{n} difference(s) between environments"),
                                (None, None) => "drifted between environments".into(),
                            })
                            .unwrap_or_default(),
                        cells: row
                            .cells
                            .into_iter()
                            .zip(&m.environments)
                            .map(|(c, env)| c.map(|c| cell_view(&id, &row.namespace, env, c)))
                            .collect(),
                        namespace: row.namespace,
                    })
                    .collect(),
                environments: m.environments,
            })
        }
        None => None,
    };
    let selected = chosen.as_ref().map(|c| c.to_string()).unwrap_or_default();
    let timeline = match &integration.tracked_branch {
        Some(branch) => state
            .store
            .reports(org, &id, ReportQuery { branch: Some(branch.clone()), limit: 40, before: None })
            .await?
            .iter()
            .map(|m| timeline_item(m, &selected, now))
            .collect(),
        None => Vec::new(),
    };
    let checks = state.store.checks(org, &id).await?.into_iter().map(|c| check_view(c, now)).collect();
    let public_base =
        state.settings.public_url.clone().unwrap_or_else(|| "https://clef-pro.example.com".into());
    Ok(Page(MatrixPage {
        layout: viewer.layout("integrations", integration.name.clone()),
        head: Head::of(&integration, "matrix"),
        shown,
        timeline,
        checks,
        public_base,
    }))
}

fn cell_view(id: &IntegrationId, namespace: &str, environment: &str, c: clef_core::Cell) -> CellView {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("namespace", namespace)
        .append_pair("environment", environment)
        .append_pair("status", "open")
        .finish();
    CellView {
        health: c.health_status.as_str(),
        description: c.description,
        href: format!("/integrations/{id}/alerts?{query}"),
    }
}

fn worst_cells(id: &IntegrationId, m: &Matrix) -> Vec<WorstCell> {
    let mut worst: Vec<(u8, WorstCell)> = m
        .rows
        .iter()
        .flat_map(|row| row.cells.iter().zip(&m.environments).map(move |(c, env)| (row, c, env)))
        .filter_map(|(row, c, env)| {
            let c = c.as_ref().filter(|c| c.health_status != Health::Healthy)?;
            let cell = cell_view(id, &row.namespace, env, c.clone());
            Some((
                c.health_status.badness(),
                WorstCell { namespace: row.namespace.clone(), environment: env.clone(), cell },
            ))
        })
        .collect();
    // Worst first: critical, warning, unknown.
    worst.sort_by_key(|(badness, _)| std::cmp::Reverse(*badness));
    worst.into_iter().map(|(_, w)| w).collect()
}

/// "1 error", "2 errors"; "1 namespace compared", "3 namespaces compared".
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    match noun.split_once(' ') {
        Some((head, tail)) => format!("{n} {head}s {tail}"),
        None => format!("{n} {noun}s"),
    }
}

fn check_view(c: clef_store::StoredCheck, now: i64) -> CheckView {
    let run = c.run;
    CheckView {
        kind: run.kind.as_str(),
        passed: run.passed,
        when: ago(c.received_at, now),
        counts: run
            .counts
            .iter()
            .map(|n| {
                let label = match n.name.as_str() {
                    "fileCount" => "file",
                    "pendingCount" => "pending value",
                    "errorCount" => "error",
                    "warningCount" => "warning",
                    "infoCount" => return format!("{} info", n.value),
                    "namespacesCompared" => "namespace compared",
                    "namespacesClean" => return format!("{} clean", n.value),
                    "issueCount" => "issue",
                    other => other,
                };
                plural(n.value, label)
            })
            .collect::<Vec<_>>()
            .join(" · "),
        groups: run
            .groups
            .iter()
            .map(|g| {
                let mut line = format!("{} × {} {}", g.count, g.severity.as_str(), g.category);
                if let Some(ns) = &g.namespace {
                    line.push_str(&format!(" in {ns}"));
                }
                if !g.missing_from.is_empty() {
                    line.push_str(&format!(": missing from {}", g.missing_from.join(", ")));
                }
                if !g.present_in.is_empty() {
                    line.push_str(&format!(" (present in {})", g.present_in.join(", ")));
                }
                line
            })
            .collect(),
    }
}

struct ReportRow {
    commit: String,
    short: String,
    branch: String,
    when: String,
    violations: u64,
    passed: bool,
    health: &'static str,
    pipeline_url: Option<String>,
    cli_version: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
pub(super) struct ReportsPage {
    layout: Layout,
    head: Head,
    rows: Vec<ReportRow>,
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct ReportsQuery {
    before: Option<String>,
}

const PAGE: u32 = 50;

pub async fn reports(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    Query(q): Query<ReportsQuery>,
) -> Result<Page<ReportsPage>, DashError> {
    let org = &viewer.user.org_id;
    let integration = state.store.integration(org, &id).await?;
    let before = q.before.as_deref().map(CommitSha::parse).transpose().map_err(|_| DashError::NotFound)?;
    let metas = state.store.reports(org, &id, ReportQuery { branch: None, limit: PAGE, before }).await?;
    let now = now_ms();
    let older =
        (metas.len() == PAGE as usize).then(|| metas.last().map(|m| m.commit_sha.to_string())).flatten();
    let rows = metas
        .into_iter()
        .map(|m| ReportRow {
            commit: m.commit_sha.to_string(),
            short: short(&m.commit_sha),
            branch: if m.branch.is_empty() { "(detached)".into() } else { m.branch },
            when: ago(m.commit_timestamp, now),
            violations: m.violations,
            passed: m.passed,
            health: m.worst_health.map(|h| h.as_str()).unwrap_or("none"),
            pipeline_url: m.pipeline_url,
            cli_version: m.cli_version.unwrap_or_default(),
        })
        .collect();
    Ok(Page(ReportsPage {
        layout: viewer.layout("integrations", integration.name.clone()),
        head: Head::of(&integration, "reports"),
        rows,
        older,
    }))
}

/// An admin deletes one report; the head and alerts are re-derived (and it is audited).
pub async fn delete_report(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, sha)): Path<(IntegrationId, String)>,
    DashForm(f): DashForm<super::session::CsrfForm>,
) -> Result<axum::response::Response, DashError> {
    viewer.may_manage(&f.csrf)?;
    state.store.delete_report(&viewer.actor(), &id, &sha).await?;
    Ok(axum::response::Redirect::to(&format!("/integrations/{id}/reports")).into_response())
}
