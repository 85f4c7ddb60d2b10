//! Trends over a window of days, from the alerts' lifetimes alone: how many were open at the
//! end of each day by severity, how long resolving took, and how long each matrix cell was in
//! violation. Pure: the spans and the window's end come in as parameters.

use crate::{IntegrationId, Millis, Severity, SeverityCounts};
use serde::Serialize;
use std::collections::BTreeMap;

pub const DAY: Millis = 86_400_000;

/// The windows a trend can cover, in days.
pub const WINDOWS: [u32; 3] = [7, 30, 90];

/// Checks a window length in days.
pub fn window_days(raw: u32) -> Result<u32, String> {
    if WINDOWS.contains(&raw) { Ok(raw) } else { Err(format!("the window is 7, 30 or 90 days, not {raw}")) }
}

/// One alert's lifetime, as the trends need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSpan {
    pub integration_id: IntegrationId,
    pub severity: Severity,
    pub namespace: Option<String>,
    pub environment: Option<String>,
    /// The introducing commit's time.
    pub opened: Millis,
    /// The fixing commit's time, while resolved.
    pub resolved: Option<Millis>,
}

impl AlertSpan {
    fn open_at(&self, t: Millis) -> bool {
        self.opened <= t && self.resolved.is_none_or(|r| r > t)
    }
}

/// How long resolving took for one group of alerts resolved in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveTime {
    /// `severity`, `namespace` or `environment`.
    pub by: &'static str,
    pub group: String,
    pub resolved: u64,
    pub median_ms: Millis,
    pub p90_ms: Millis,
}

/// How long one matrix cell had at least one open alert in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CellViolation {
    pub integration_id: IntegrationId,
    pub namespace: String,
    pub environment: String,
    pub violated_ms: Millis,
    /// Of the window, in thousandths.
    pub share_permille: u32,
}

/// Open alerts at one moment, by severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenAt {
    pub at: Millis,
    pub open: SeverityCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trends {
    pub from: Millis,
    pub to: Millis,
    pub days: u32,
    /// One point per day end, the window's start first and its end last.
    pub open: Vec<OpenAt>,
    /// Opened and resolved within the window.
    pub opened: u64,
    pub resolved: u64,
    /// By severity (most severe first), then namespace and environment (slowest first).
    pub resolve_times: Vec<ResolveTime>,
    /// Cells that were in violation at all, longest first.
    pub cells: Vec<CellViolation>,
}

/// Where a window of `days` ending at `to` starts.
pub fn window_start(to: Millis, days: u32) -> Millis {
    to - Millis::from(days) * DAY
}

/// The trends of `spans` over the `days` before `to`.
pub fn trends(spans: &[AlertSpan], to: Millis, days: u32) -> Trends {
    let from = window_start(to, days);
    let open = (0..=days)
        .map(|i| {
            let at = from + Millis::from(i) * DAY;
            let mut open = SeverityCounts::default();
            for s in spans.iter().filter(|s| s.open_at(at)) {
                open.add(s.severity, 1);
            }
            OpenAt { at, open }
        })
        .collect();
    let in_window = |t: Millis| t > from && t <= to;
    let resolved: Vec<(&AlertSpan, Millis)> = spans
        .iter()
        .filter_map(|s| s.resolved.filter(|r| in_window(*r)).map(|r| (s, (r - s.opened).max(0))))
        .collect();
    Trends {
        from,
        to,
        days,
        open,
        opened: spans.iter().filter(|s| in_window(s.opened)).count() as u64,
        resolved: resolved.len() as u64,
        resolve_times: resolve_times(&resolved),
        cells: cells(spans, from, to),
    }
}

fn resolve_times(resolved: &[(&AlertSpan, Millis)]) -> Vec<ResolveTime> {
    let mut out = Vec::new();
    for severity in Severity::ALL.into_iter().rev() {
        let took: Vec<Millis> =
            resolved.iter().filter(|(s, _)| s.severity == severity).map(|(_, t)| *t).collect();
        out.extend(stat("severity", severity.as_str().to_owned(), took));
    }
    type Axis = fn(&AlertSpan) -> Option<&String>;
    let axes: [(&'static str, Axis); 2] =
        [("namespace", |s| s.namespace.as_ref()), ("environment", |s| s.environment.as_ref())];
    for (by, axis) in axes {
        let mut groups: BTreeMap<&str, Vec<Millis>> = BTreeMap::new();
        for (s, t) in resolved {
            if let Some(name) = axis(s) {
                groups.entry(name).or_default().push(*t);
            }
        }
        let mut stats: Vec<ResolveTime> =
            groups.into_iter().filter_map(|(name, took)| stat(by, name.to_owned(), took)).collect();
        stats.sort_by(|a, b| b.median_ms.cmp(&a.median_ms).then_with(|| a.group.cmp(&b.group)));
        out.extend(stats);
    }
    out
}

/// Median and 90th percentile by the nearest-rank method; `None` for an empty group.
fn stat(by: &'static str, group: String, mut took: Vec<Millis>) -> Option<ResolveTime> {
    if took.is_empty() {
        return None;
    }
    took.sort_unstable();
    let rank = |p: usize| took[(took.len() * p).div_ceil(100).max(1) - 1];
    Some(ResolveTime { by, group, resolved: took.len() as u64, median_ms: rank(50), p90_ms: rank(90) })
}

/// For each cell, the length of the union of its alerts' lifetimes clipped to the window.
fn cells(spans: &[AlertSpan], from: Millis, to: Millis) -> Vec<CellViolation> {
    type CellKey<'a> = (&'a IntegrationId, &'a str, &'a str);
    let mut by_cell: BTreeMap<CellKey, Vec<(Millis, Millis)>> = BTreeMap::new();
    for s in spans {
        let (Some(ns), Some(env)) = (&s.namespace, &s.environment) else { continue };
        let (start, end) = (s.opened.max(from), s.resolved.unwrap_or(to).min(to));
        if start < end {
            by_cell.entry((&s.integration_id, ns, env)).or_default().push((start, end));
        }
    }
    let window = (to - from).max(1);
    let mut out: Vec<CellViolation> = by_cell
        .into_iter()
        .map(|((integration_id, ns, env), mut spans)| {
            spans.sort_unstable();
            let (mut total, mut reach) = (0, Millis::MIN);
            for (start, end) in spans {
                let start = start.max(reach);
                if end > start {
                    total += end - start;
                }
                reach = reach.max(end);
            }
            CellViolation {
                integration_id: integration_id.clone(),
                namespace: ns.to_owned(),
                environment: env.to_owned(),
                violated_ms: total,
                share_permille: ((total * 1000) / window).clamp(0, 1000) as u32,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.violated_ms
            .cmp(&a.violated_ms)
            .then_with(|| (&a.namespace, &a.environment).cmp(&(&b.namespace, &b.environment)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 100 * DAY;

    fn span(
        severity: Severity,
        cell: Option<(&str, &str)>,
        opened: Millis,
        resolved: Option<Millis>,
    ) -> AlertSpan {
        AlertSpan {
            integration_id: "i".into(),
            severity,
            namespace: cell.map(|c| c.0.to_owned()),
            environment: cell.map(|c| c.1.to_owned()),
            opened,
            resolved,
        }
    }

    #[test]
    fn open_alerts_are_counted_at_each_day_end_by_severity() {
        let spans = [
            span(Severity::Critical, None, T - 10 * DAY, None),
            span(Severity::Warning, None, T - 5 * DAY, Some(T - 2 * DAY)),
            // Resolved at the very moment of a sample: no longer open then.
            span(Severity::Info, None, T - 3 * DAY, Some(T - DAY)),
        ];
        let t = trends(&spans, T, 7);
        assert_eq!(t.open.len(), 8);
        assert_eq!((t.open[0].at, t.open[7].at), (T - 7 * DAY, T));
        let totals: Vec<u64> = t.open.iter().map(|p| p.open.total()).collect();
        assert_eq!(totals, [1, 1, 2, 2, 3, 2, 1, 1]);
        assert_eq!(t.open[4].open.warning, 1);
        assert_eq!((t.opened, t.resolved), (2, 2));
    }

    #[test]
    fn resolve_times_take_the_median_and_p90_by_nearest_rank() {
        // Ten criticals resolved after 1..=10 hours: median 5 h, p90 9 h.
        let h = 3_600_000;
        let spans: Vec<AlertSpan> = (1..=10)
            .map(|n| span(Severity::Critical, Some(("db", "prod")), T - DAY, Some(T - DAY + n * h)))
            .collect();
        let t = trends(&spans, T, 7);
        let by_severity = &t.resolve_times[0];
        assert_eq!((by_severity.group.as_str(), by_severity.resolved), ("critical", 10));
        assert_eq!((by_severity.median_ms, by_severity.p90_ms), (5 * h, 9 * h));
        let groups: Vec<(&str, &str)> = t.resolve_times.iter().map(|r| (r.by, r.group.as_str())).collect();
        assert_eq!(groups, [("severity", "critical"), ("namespace", "db"), ("environment", "prod")]);
        // Resolved before the window: not counted.
        let old = [span(Severity::Info, None, T - 30 * DAY, Some(T - 20 * DAY))];
        assert!(trends(&old, T, 7).resolve_times.is_empty());
        assert_eq!(stat("x", "one".into(), vec![7]).map(|s| (s.median_ms, s.p90_ms)), Some((7, 7)));
    }

    #[test]
    fn a_cell_in_violation_counts_overlapping_alerts_once_and_only_inside_the_window() {
        let spans = [
            // Two overlapping alerts in db/prod: days -6..-2 and -4..-1 → 5 days.
            span(Severity::Critical, Some(("db", "prod")), T - 6 * DAY, Some(T - 2 * DAY)),
            span(Severity::Warning, Some(("db", "prod")), T - 4 * DAY, Some(T - DAY)),
            // Open since long before the window: the whole week.
            span(Severity::Info, Some(("api", "dev")), T - 40 * DAY, None),
            // No cell (a namespace-wide alert): not in the cell table.
            span(Severity::Info, None, T - 3 * DAY, None),
        ];
        let t = trends(&spans, T, 7);
        let cells: Vec<(&str, Millis, u32)> =
            t.cells.iter().map(|c| (c.namespace.as_str(), c.violated_ms, c.share_permille)).collect();
        assert_eq!(cells, [("api", 7 * DAY, 1000), ("db", 5 * DAY, 714)]);
    }

    #[test]
    fn only_the_offered_windows_are_accepted() {
        assert_eq!(window_days(30), Ok(30));
        assert!(window_days(31).is_err());
    }
}
