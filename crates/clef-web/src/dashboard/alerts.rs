//! The alert inbox (every integration's alerts, or one integration's), one alert's timeline,
//! and acknowledging — one alert or many, with a reason and an optional snooze.

use super::integration::Head;
use super::session::Viewer;
use super::{DashError, DashForm, Layout, Page, Stamp, short};
use crate::{AppState, now_ms};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use clef_core::ids::*;
use clef_core::{Acknowledgement, AlertStatus, CommitSha, Millis, Severity};
use clef_store::{
    AlertCursor, AlertEventKind, AlertQuery, AlertSort, AlertTimeline, DeliveryStatus, Integration,
    ReportQuery, StoredAlert, TIMELINE_REPORTS,
};
use serde::Deserialize;
use std::collections::HashMap;

const DAY_MS: Millis = 86_400_000;

pub struct AlertRow {
    id: String,
    integration_id: String,
    integration_name: String,
    severity: &'static str,
    rule_name: String,
    rule_id: String,
    scope: String,
    message: String,
    open: bool,
    /// Acknowledged now (a snooze that ended is not).
    acked: bool,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<Stamp>,
    ack_reason: Option<String>,
    snoozed_until: Option<Stamp>,
    introduced: String,
    introduced_short: String,
    introduced_ci: Option<String>,
    resolved: Option<String>,
    resolved_short: String,
    first_seen: Stamp,
    /// "4 d" for an open alert, the time it took to resolve for a resolved one.
    age: String,
    last_seen: Stamp,
    resolved_at: Option<Stamp>,
    occurrences: u64,
}

/// "3 d 4 h", for a duration.
fn span(ms: Millis) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "under a minute".into(),
        1..=59 => format!("{minutes} min"),
        60..=1439 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} d {} h", minutes / 1440, (minutes % 1440) / 60),
    }
}

fn row(
    a: StoredAlert,
    names: &HashMap<IntegrationId, String>,
    ci: &HashMap<String, String>,
    now: Millis,
) -> AlertRow {
    let s = a.alert;
    let acked = s.is_acknowledged(now);
    let ack = s.acknowledgement.as_ref();
    AlertRow {
        id: s.id.into(),
        integration_name: names.get(&a.integration_id).cloned().unwrap_or_default(),
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
        acked,
        acknowledged_by: ack.map(|k| k.by.clone()),
        acknowledged_at: ack.map(|k| Stamp::new(k.at, now)),
        ack_reason: ack.and_then(|k| k.reason.clone()),
        snoozed_until: ack.and_then(|k| k.until).map(|u| Stamp::new(u, now)),
        introduced_ci: ci.get(s.introduced_by_commit.as_str()).cloned(),
        introduced_short: short(&s.introduced_by_commit),
        introduced: s.introduced_by_commit.to_string(),
        resolved_short: s.resolved_by_commit.as_ref().map(short).unwrap_or_default(),
        resolved: s.resolved_by_commit.map(|c| c.to_string()),
        age: span(s.resolved_at.unwrap_or(now) - s.first_seen_at),
        first_seen: Stamp::new(s.first_seen_at, now),
        last_seen: Stamp::new(s.last_seen_at, now),
        resolved_at: s.resolved_at.map(|t| Stamp::new(t, now)),
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
        state.store.reports(org, integration, ReportQuery { limit: 200, ..Default::default() }).await?;
    Ok(recent.into_iter().filter_map(|m| m.pipeline_url.map(|u| (m.commit_sha.to_string(), u))).collect())
}

/// The inbox's filters as the query string carries them; unknown values are ignored, as a
/// person expects of a filter form.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct Filters {
    integration: String,
    /// Empty: open.
    status: String,
    acknowledged: String,
    severity: String,
    rule: String,
    namespace: String,
    environment: String,
    q: String,
    sort: String,
    cursor: String,
}

impl Filters {
    pub(super) fn query(&self, integration: Option<&IntegrationId>, now: Millis) -> AlertQuery {
        let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        AlertQuery {
            integration_id: integration.cloned().or_else(|| given(&self.integration).map(Into::into)),
            status: match self.status.as_str() {
                "" => Some(AlertStatus::Open),
                other => AlertStatus::parse_filter(other).ok().flatten(),
            },
            acknowledged: match self.acknowledged.as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
            severity: Severity::parse(&self.severity).ok(),
            rule_id: given(&self.rule),
            namespace: given(&self.namespace),
            environment: given(&self.environment),
            text: given(&self.q).map(|q| q.chars().take(256).collect()),
            sort: AlertSort::parse(&self.sort).unwrap_or_default(),
            after: AlertCursor::parse(&self.cursor).ok(),
            limit: 50,
            now,
        }
    }

    /// The query string of these filters with `change` applied (no cursor, no banner).
    fn link(&self, change: impl FnOnce(&mut Filters)) -> String {
        let mut f = Filters { cursor: String::new(), ..self.clone() };
        change(&mut f);
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("integration", &f.integration),
            ("status", &f.status),
            ("acknowledged", &f.acknowledged),
            ("severity", &f.severity),
            ("rule", &f.rule),
            ("namespace", &f.namespace),
            ("environment", &f.environment),
            ("q", &f.q),
            ("sort", &f.sort),
            ("cursor", &f.cursor),
        ] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

pub struct CountChip {
    severity: &'static str,
    n: u64,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "alerts.html")]
pub(super) struct AlertsPage {
    layout: Layout,
    /// Set on an integration's own alert page.
    head: Option<Head>,
    /// Every integration, for the filter (the inbox only).
    integrations: Vec<(String, String)>,
    f: Filters,
    /// Where the filter form and its links go.
    path: String,
    counts: Vec<CountChip>,
    total: u64,
    alerts: Vec<AlertRow>,
    next: Option<String>,
    /// The query string of this listing's download (the filters, the integration included).
    export: String,
    /// This page, to come back to after an action.
    back: String,
    snoozes: &'static [(&'static str, &'static str)],
}

/// The snooze choices of the acknowledgement forms: value (days) and label.
const SNOOZES: &[(&str, &str)] =
    &[("", "until it is resolved"), ("1", "for 1 day"), ("7", "for 7 days"), ("30", "for 30 days")];

async fn listing(
    state: &AppState,
    viewer: &Viewer,
    f: Filters,
    integration: Option<Integration>,
) -> Result<Page<AlertsPage>, DashError> {
    let org = &viewer.user.org_id;
    let now = now_ms();
    let all = state.store.integrations(org).await?;
    let names: HashMap<IntegrationId, String> = all.iter().map(|i| (i.id.clone(), i.name.clone())).collect();
    let query = f.query(integration.as_ref().map(|i| &i.id), now);
    // An integration filter naming something not ours shows nothing rather than an error.
    let counts = state.store.alert_counts(org, &query).await?;
    let page = state.store.alerts(org, query).await?;
    let ci = match &integration {
        Some(i) => pipeline_links(state, org, &i.id).await?,
        None => HashMap::new(),
    };
    let path = match &integration {
        Some(i) => format!("/integrations/{}/alerts", i.id),
        None => "/alerts".to_owned(),
    };
    let chip = |s: Severity, n: u64| CountChip {
        severity: s.as_str(),
        n,
        href: format!("{path}?{}", f.link(|f| f.severity = s.as_str().to_owned())),
        current: f.severity == s.as_str(),
    };
    let counts_view = vec![
        chip(Severity::Critical, counts.critical),
        chip(Severity::Error, counts.error),
        chip(Severity::Warning, counts.warning),
        chip(Severity::Info, counts.info),
    ];
    let next = page.next.map(|c| format!("{path}?{}", f.link(|f| f.cursor = c.encode())));
    let export = f.link(|f| {
        if let Some(i) = &integration {
            f.integration = i.id.to_string();
        }
    });
    let cursor = f.cursor.clone();
    let back = format!("{path}?{}", f.link(|f| f.cursor = cursor));
    let title = integration.as_ref().map_or_else(|| "Alerts".to_owned(), |i| format!("{} alerts", i.name));
    Ok(Page(AlertsPage {
        layout: viewer.layout(if integration.is_some() { "integrations" } else { "alerts" }, title),
        head: integration.as_ref().map(|i| Head::of(i, "alerts")),
        integrations: all.iter().map(|i| (i.id.to_string(), i.name.clone())).collect(),
        total: counts.total(),
        counts: counts_view,
        alerts: page.alerts.into_iter().map(|a| row(a, &names, &ci, now)).collect(),
        next,
        export,
        back,
        path,
        f,
        snoozes: SNOOZES,
    }))
}

/// The organisation's inbox: the first page after logging in.
pub async fn inbox(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(f): Query<Filters>,
) -> Result<Page<AlertsPage>, DashError> {
    listing(&state, &viewer, f, None).await
}

/// One integration's alerts: the inbox's filters with the integration fixed.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<IntegrationId>,
    Query(f): Query<Filters>,
) -> Result<Page<AlertsPage>, DashError> {
    let integration = state.store.integration(&viewer.user.org_id, &id).await?;
    listing(&state, &viewer, f, Some(integration)).await
}

/// One moment of an alert's life, as the timeline lists it.
pub struct Moment {
    at: Stamp,
    /// `opened`, `acknowledged`, `unacknowledged`, `notified`, `failed`, `suppressed`,
    /// `pending`, `resolved`.
    kind: &'static str,
    what: String,
    commit: Option<(String, String)>,
}

pub struct SeenIn {
    sha: String,
    short: String,
    committed: Stamp,
    pipeline_url: Option<String>,
}

#[derive(Template)]
#[template(path = "alert.html")]
pub(super) struct AlertPage {
    layout: Layout,
    a: AlertRow,
    moments: Vec<Moment>,
    seen: Vec<SeenIn>,
    seen_more: Option<String>,
    back: String,
    snoozes: &'static [(&'static str, &'static str)],
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    /// Reports older than this commit (paging the reports that saw it).
    before: String,
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
    Query(q): Query<DetailQuery>,
) -> Result<Page<AlertPage>, DashError> {
    let org = &viewer.user.org_id;
    let store = &state.store;
    let before = CommitSha::parse(&q.before).ok();
    let AlertTimeline { alert: stored, events, reports: seen, deliveries } =
        store.alert_timeline(org, &id, before, TIMELINE_REPORTS).await?;
    let integration = store.integration(org, &stored.integration_id).await?;
    let now = now_ms();
    let names = HashMap::from([(integration.id.clone(), integration.name.clone())]);
    let ci: HashMap<String, String> =
        seen.iter().filter_map(|m| m.pipeline_url.clone().map(|u| (m.commit_sha.to_string(), u))).collect();
    let alert = &stored.alert;

    let mut moments = vec![Moment {
        at: Stamp::new(alert.first_seen_at, now),
        kind: "opened",
        what: "Opened: the policy first failed in this commit".into(),
        commit: Some((alert.introduced_by_commit.to_string(), short(&alert.introduced_by_commit))),
    }];
    for e in &events {
        let mut what = match e.kind {
            AlertEventKind::Acknowledged => format!("Acknowledged by {}", e.actor),
            AlertEventKind::Unacknowledged => format!("Acknowledgement withdrawn by {}", e.actor),
        };
        if let Some(until) = e.until {
            what.push_str(&format!(", snoozed until {}", Stamp::new(until, now).abs));
        }
        if let Some(reason) = &e.reason {
            what.push_str(&format!(": “{reason}”"));
        }
        let kind = match e.kind {
            AlertEventKind::Acknowledged => "acknowledged",
            AlertEventKind::Unacknowledged => "unacknowledged",
        };
        moments.push(Moment { at: Stamp::new(e.at, now), kind, what, commit: None });
    }
    for d in &deliveries {
        let (kind, outcome) = match d.status {
            DeliveryStatus::Sent => ("notified", "sent"),
            DeliveryStatus::Failed => ("failed", "failed"),
            DeliveryStatus::Pending => ("pending", "pending"),
            DeliveryStatus::Suppressed => ("suppressed", "not sent: acknowledged before sending"),
        };
        let detail = d.attempts.last().map(|a| format!(" ({})", a.detail)).unwrap_or_default();
        moments.push(Moment {
            at: Stamp::new(d.finished_at.unwrap_or(d.created_at), now),
            kind,
            what: format!("{} to {}: {outcome}{detail}", d.channel_kind.label(), d.target),
            commit: None,
        });
    }
    if let (Some(at), Some(by)) = (alert.resolved_at, &alert.resolved_by_commit) {
        moments.push(Moment {
            at: Stamp::new(at, now),
            kind: "resolved",
            what: "Resolved: the policy passes from this commit on".into(),
            commit: Some((by.to_string(), short(by))),
        });
    }
    moments.sort_by_key(|m| m.at.ms);

    let seen_more = (seen.len() == TIMELINE_REPORTS as usize)
        .then(|| seen.last().map(|m| format!("/alerts/{id}?before={}#seen", m.commit_sha)))
        .flatten();
    let seen = seen
        .into_iter()
        .map(|m| SeenIn {
            sha: m.commit_sha.to_string(),
            short: short(&m.commit_sha),
            committed: Stamp::new(m.commit_timestamp, now),
            pipeline_url: m.pipeline_url,
        })
        .collect();
    let a = row(stored, &names, &ci, now);
    Ok(Page(AlertPage {
        layout: viewer.layout("alerts", format!("{} · {}", a.rule_name, integration.name)),
        back: format!("/alerts/{}", a.id),
        a,
        moments,
        seen,
        seen_more,
        snoozes: SNOOZES,
    }))
}

#[derive(Deserialize)]
pub struct AckForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    reason: String,
    /// Days of snooze; empty for an acknowledgement without end.
    #[serde(default)]
    snooze: String,
}

/// The acknowledgement a form asks for.
fn acknowledgement(viewer: &Viewer, reason: &str, snooze: &str) -> Result<Acknowledgement, DashError> {
    let now = now_ms();
    let until = match snooze.trim() {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d @ 1..=365) => Some(now + d * DAY_MS),
            _ => return Err(DashError::BadRequest("A snooze lasts 1 to 365 days.".into())),
        },
    };
    Acknowledgement::new(&viewer.user.email, now, Some(reason), until)
        .map_err(|e| DashError::BadRequest(format!("Not acknowledged: {e}.")))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
    DashForm(form): DashForm<AckForm>,
) -> Result<Redirect, DashError> {
    viewer.may_acknowledge(&form.csrf)?;
    let ack = acknowledgement(&viewer, &form.reason, &form.snooze)?;
    let done = if ack.until.is_some() { "snoozed" } else { "acknowledged" };
    state.store.set_acknowledgement(&viewer.actor(), std::slice::from_ref(&id), Some(ack)).await?;
    Ok(super::back_to(&form.back, format!("/alerts/{id}"), done))
}

pub async fn unacknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
    DashForm(form): DashForm<AckForm>,
) -> Result<Redirect, DashError> {
    viewer.may_acknowledge(&form.csrf)?;
    state.store.set_acknowledgement(&viewer.actor(), std::slice::from_ref(&id), None).await?;
    Ok(super::back_to(&form.back, format!("/alerts/{id}"), "unacknowledged"))
}

/// The inbox's bulk form: the checked alerts (`id`, repeated) with one reason and snooze.
pub async fn acknowledge_many(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Redirect, DashError> {
    let (mut csrf, mut back, mut reason, mut snooze, mut ids) =
        (String::new(), String::new(), String::new(), String::new(), Vec::<AlertId>::new());
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "back" => back = v.into_owned(),
            "reason" => reason = v.into_owned(),
            "snooze" => snooze = v.into_owned(),
            "id" if ids.len() < 500 => ids.push(AlertId::from(v.into_owned())),
            _ => {}
        }
    }
    viewer.may_acknowledge(&csrf)?;
    if ids.is_empty() {
        return Err(DashError::BadRequest("Select at least one alert to acknowledge.".into()));
    }
    let ack = acknowledgement(&viewer, &reason, &snooze)?;
    state.store.set_acknowledgement(&viewer.actor(), &ids, Some(ack)).await?;
    Ok(super::back_to(&back, "/alerts".to_owned(), "bulk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(30_000), "under a minute");
        assert_eq!(span(5 * 60_000), "5 min");
        assert_eq!(span(125 * 60_000), "2 h 5 min");
        assert_eq!(span(3 * DAY_MS + 4 * 3_600_000), "3 d 4 h");
    }

    #[test]
    fn filter_links_keep_the_filters_and_drop_the_cursor() {
        let f = Filters {
            severity: "critical".into(),
            q: "a b&c".into(),
            cursor: "x".into(),
            ..Default::default()
        };
        assert_eq!(f.link(|_| {}), "severity=critical&q=a+b%26c");
        assert_eq!(f.link(|f| f.severity = "info".into()), "severity=info&q=a+b%26c");
    }
}
