//! The newer CLI's push format: an OTLP/HTTP JSON `ExportLogsServiceRequest`. `clef report
//! --push` sends one `clef.report.summary` record and one `clef.report.issue` record per issue;
//! `clef lint --push` and `clef drift --push` send `clef.lint.*` and `clef.drift.*` records,
//! without any commit.

use super::wire::{WireCell, WireDrift, WirePolicyResult, WireReport, WireScope, WireSummary};
use super::{IssueCounts, Report, ReportSource};
use crate::check::{CheckCount, CheckGroup, CheckKind, CheckRun};
use crate::{FieldError, Health, Millis, Scope, Severity};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    #[serde(default)]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default)]
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs {
    #[serde(default)]
    log_records: Vec<LogRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord {
    #[serde(default)]
    time_unix_nano: Option<Value>,
    #[serde(default)]
    observed_time_unix_nano: Option<Value>,
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    body: Option<AnyValue>,
    #[serde(default)]
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: Option<AnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AnyValue {
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    bool_value: Option<bool>,
    /// int64 travels as a JSON string in OTLP/JSON, but some exporters send a number.
    #[serde(default)]
    int_value: Option<Value>,
}

impl AnyValue {
    fn text(&self) -> Option<&str> {
        self.string_value.as_deref()
    }
    fn int(&self) -> Option<i64> {
        match &self.int_value {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => self.string_value.as_deref().and_then(|s| s.parse().ok()),
        }
    }
    fn boolean(&self) -> Option<bool> {
        self.bool_value.or(match self.string_value.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        })
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

fn nanos_to_millis(v: &Value) -> Option<Millis> {
    let nanos: i128 = match v {
        Value::Number(n) => n.as_i64().map(i128::from)?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    Millis::try_from(nanos / 1_000_000).ok().filter(|ms| *ms > 0)
}

const SUMMARY: &str = "clef.report.summary";
const ISSUE: &str = "clef.report.issue";
const LINT_SUMMARY: &str = "clef.lint.summary";
const LINT_ISSUE: &str = "clef.lint.issue";
const DRIFT_SUMMARY: &str = "clef.drift.summary";
const DRIFT_ISSUE: &str = "clef.drift.issue";

/// What one OTLP push holds.
#[derive(Debug, Clone, PartialEq)]
pub enum OtlpPush {
    /// `clef report --push`: one commit's report.
    Report(Box<Report>),
    /// `clef lint --push` or `clef drift --push`: a run without a commit.
    Check(CheckRun),
}

impl LogRecord {
    /// The record's event name, wherever the exporter put it.
    fn kind(&self) -> Option<&str> {
        self.event_name
            .as_deref()
            .or_else(|| attr(&self.attributes, "event.name").and_then(AnyValue::text))
            .or_else(|| self.body.as_ref().and_then(AnyValue::text))
    }
}

/// Reads an OTLP logs export: a report, or a lint or drift run. `received_at` stands in for
/// the commit time when the records carry none (the CLI sends none).
pub fn parse_otlp(body: &[u8], received_at: Millis) -> Result<OtlpPush, FieldError> {
    let export: Export = crate::error::from_json(body)?;
    let has = |kind: &str| {
        export
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| &sl.log_records)
            .any(|r| r.kind() == Some(kind))
    };
    if has(SUMMARY) {
        report(&export, received_at).map(|r| OtlpPush::Report(Box::new(r)))
    } else if has(LINT_SUMMARY) {
        check(&export, CheckKind::Lint).map(OtlpPush::Check)
    } else if has(DRIFT_SUMMARY) {
        check(&export, CheckKind::Drift).map(OtlpPush::Check)
    } else {
        Err(FieldError::new(
            "resourceLogs",
            "no clef.report.summary, clef.lint.summary or clef.drift.summary log record",
        ))
    }
}

/// The version the CLI names as its `service.version` resource attribute.
fn cli_version(rl: &ResourceLogs) -> Option<String> {
    let attrs = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
    attr(attrs, "service.version").and_then(AnyValue::text).map(|v| v.chars().take(64).collect())
}

/// A lint or drift run: the summary's counts and the issues grouped, with nothing that names
/// a file or a key (`clef.file`, `clef.key`, `clef.fixCommand` and the messages are not read).
fn check(export: &Export, kind: CheckKind) -> Result<CheckRun, FieldError> {
    let (summary_kind, issue_kind, count_names): (&str, &str, &[&str]) = match kind {
        CheckKind::Lint => (
            LINT_SUMMARY,
            LINT_ISSUE,
            &["fileCount", "pendingCount", "errorCount", "warningCount", "infoCount"],
        ),
        CheckKind::Drift => {
            (DRIFT_SUMMARY, DRIFT_ISSUE, &["namespacesCompared", "namespacesClean", "issueCount"])
        }
    };
    let mut run = CheckRun { kind, cli_version: None, passed: true, counts: Vec::new(), groups: Vec::new() };
    let mut issues = 0usize;
    // Group index by everything kept: work in proportion to the issues.
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (ri, rl) in export.resource_logs.iter().enumerate() {
        run.cli_version = run.cli_version.take().or_else(|| cli_version(rl));
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            for (li, rec) in sl.log_records.iter().enumerate() {
                let path = format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]");
                let a = &rec.attributes;
                match rec.kind() {
                    Some(k) if k == summary_kind => {
                        run.counts = count_names
                            .iter()
                            .filter_map(|name| {
                                let value = attr(a, &format!("clef.{name}")).and_then(AnyValue::int)?;
                                Some(CheckCount { name: (*name).to_owned(), value: value.max(0) as u64 })
                            })
                            .collect();
                        run.passed = attr(a, "clef.passed").and_then(AnyValue::boolean).unwrap_or(true);
                    }
                    Some(k) if k == issue_kind => {
                        issues += 1;
                        if issues > super::validate::MAX_RESULTS {
                            return Err(FieldError::new(
                                "resourceLogs",
                                format!("at most {} issues per push", super::validate::MAX_RESULTS),
                            ));
                        }
                        let issue = check_issue(kind, a).map_err(|e| e.within(&path))?;
                        let key = serde_json::to_string(&(
                            issue.severity,
                            &issue.category,
                            &issue.namespace,
                            &issue.present_in,
                            &issue.missing_from,
                        ))
                        .unwrap_or_default();
                        match index.get(&key) {
                            Some(&g) => run.groups[g].count += 1,
                            None => {
                                index.insert(key, run.groups.len());
                                run.groups.push(issue);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(run)
}

/// One issue, reduced to what is kept. Its names follow the report's rules (`crate::text`).
fn check_issue(kind: CheckKind, a: &[KeyValue]) -> Result<CheckGroup, FieldError> {
    let text = |k: &str| attr(a, k).and_then(AnyValue::text).map(str::trim).filter(|t| !t.is_empty());
    let field = |k: &'static str| move |m: String| FieldError::new(format!("attributes.{k}"), m);
    let envs = |k: &'static str| -> Result<Vec<String>, FieldError> {
        let Some(list) = text(k) else { return Ok(Vec::new()) };
        let envs: Vec<&str> = list.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if envs.len() > super::validate::MAX_ENVIRONMENTS {
            return Err(FieldError::new(format!("attributes.{k}"), "too many environments"));
        }
        envs.into_iter().map(|e| crate::text::axis_name(e, Scope::MAX_PART).map_err(field(k))).collect()
    };
    Ok(match kind {
        CheckKind::Lint => CheckGroup {
            severity: Severity::parse(text("clef.severity").unwrap_or("error"))
                .map_err(field("clef.severity"))?,
            category: crate::text::name(text("clef.category").unwrap_or("issue"), super::validate::MAX_NAME)
                .map_err(field("clef.category"))?,
            namespace: None,
            present_in: Vec::new(),
            missing_from: Vec::new(),
            count: 1,
        },
        CheckKind::Drift => CheckGroup {
            severity: Severity::Warning,
            category: "drift".into(),
            namespace: text("clef.namespace")
                .map(|ns| crate::text::axis_name(ns, Scope::MAX_PART).map_err(field("clef.namespace")))
                .transpose()?,
            present_in: envs("clef.presentIn")?,
            missing_from: envs("clef.missingFrom")?,
            count: 1,
        },
    })
}

fn report(export: &Export, received_at: Millis) -> Result<Report, FieldError> {
    let mut commit: Option<&str> = None;
    let mut branch = None;
    let mut origin = None;
    let mut cli_version = None;
    let mut summary = None;
    let mut issues = Vec::new();
    for (ri, rl) in export.resource_logs.iter().enumerate() {
        let attrs = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        if let Some(sha) = attr(attrs, "clef.repo.commit").and_then(AnyValue::text) {
            if commit.is_some_and(|c| !c.eq_ignore_ascii_case(sha)) {
                return Err(FieldError::new("resourceLogs", "one export must describe one commit"));
            }
            commit = Some(sha);
        }
        branch = attr(attrs, "clef.repo.branch").and_then(AnyValue::text).or(branch);
        origin = attr(attrs, "clef.repo.origin").and_then(AnyValue::text).or(origin);
        cli_version = attr(attrs, "service.version").and_then(AnyValue::text).or(cli_version);
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            for (li, rec) in sl.log_records.iter().enumerate() {
                let path = format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]");
                match rec.kind() {
                    Some(SUMMARY) => summary = Some(rec),
                    Some(ISSUE) => issues.push(issue(rec).map_err(|e| e.within(&path))?),
                    _ => {}
                }
            }
        }
    }
    let commit_sha = commit.ok_or_else(|| {
        FieldError::new("resourceLogs", "no resource carries the clef.repo.commit attribute")
    })?;
    let summary_rec =
        summary.ok_or_else(|| FieldError::new("resourceLogs", "no clef.report.summary log record"))?;
    let sattrs = &summary_rec.attributes;
    let count = |k: &str| -> Result<u64, FieldError> {
        let n = attr(sattrs, k).and_then(AnyValue::int).unwrap_or(0);
        u64::try_from(n).map_err(|_| FieldError::new(format!("attributes.{k}"), "must not be negative"))
    };
    let time = summary_rec.time_unix_nano.as_ref().or(summary_rec.observed_time_unix_nano.as_ref());
    let commit_timestamp = match time {
        Some(t) => nanos_to_millis(t)
            .ok_or_else(|| FieldError::new("timeUnixNano", "must be nanoseconds since 1970"))?,
        None => received_at,
    };
    let issue_counts = IssueCounts {
        error: count("clef.errorCount")?,
        warning: count("clef.warningCount")?,
        info: count("clef.infoCount")?,
    };
    let drawn = DrawnMatrix::of(&issues);
    let passed = attr(sattrs, "clef.passed").and_then(AnyValue::boolean).unwrap_or(issue_counts.error == 0);
    // One validation for both paths: the OTLP report is checked as the report JSON is.
    let wire = WireReport {
        commit_sha: commit_sha.to_owned(),
        branch: branch.map(str::to_owned),
        commit_timestamp: serde_json::Value::from(commit_timestamp),
        cli_version: cli_version.map(str::to_owned),
        summary: WireSummary {
            files_scanned: Some(count("clef.matrixCells")?),
            namespaces: drawn.namespaces,
            environments: drawn.environments,
            cells: drawn.cells,
            violations: Some(issue_counts.error),
            passed: Some(passed),
        },
        drift: Some(drawn.drift),
        policy_results: Some(issues.into_iter().map(|i| i.result).collect()),
        ci_context: None,
    };
    let mut report = super::validate::validate_report(wire, received_at)?;
    report.repo_origin = origin
        .map(|o| crate::text::name(o, 512).map_err(|m| FieldError::new("clef.repo.origin", m)))
        .transpose()?;
    report.source = ReportSource::Otlp;
    report.issue_counts = Some(issue_counts);
    Ok(report)
}

/// One issue record as the CLI maps it to a policy result (ruleId `<category>/<severity>`,
/// passing unless an error), with what the matrix is drawn from. `clef.file` is never read.
struct Issue {
    severity: Severity,
    category: String,
    namespace: Option<String>,
    environment: Option<String>,
    result: WirePolicyResult,
}

fn issue(rec: &LogRecord) -> Result<Issue, FieldError> {
    let a = &rec.attributes;
    let text = |k: &str| attr(a, k).and_then(AnyValue::text).map(str::to_owned);
    let severity_raw = text("clef.severity").unwrap_or_else(|| "error".into());
    let severity =
        Severity::parse(&severity_raw).map_err(|m| FieldError::new("attributes.clef.severity", m))?;
    let category = text("clef.category").unwrap_or_else(|| "issue".into());
    let (namespace, environment) = (text("clef.namespace"), text("clef.environment"));
    Ok(Issue {
        result: WirePolicyResult {
            rule_id: format!("{category}/{}", severity.as_str()),
            rule_name: Some(category.clone()),
            passed: severity != Severity::Error && severity != Severity::Critical,
            severity: severity.as_str().to_owned(),
            message: text("clef.message"),
            scope: Some(WireScope::Parts { namespace: namespace.clone(), environment: environment.clone() }),
        },
        severity,
        category,
        namespace,
        environment,
    })
}

/// The category the CLI gives to cross-environment drift (keys present in some environments
/// of a namespace and missing from others).
const DRIFT: &str = "drift";

/// The matrix an OTLP report implies: the CLI sends issues, not cells. Each namespace ×
/// environment an issue names becomes a cell whose health is its worst issue (error →
/// critical, warning → warning, info → healthy); drift issues mark their namespace's row.
/// Cells no issue names are left out: the dashboard shows them as "no issues reported".
/// Drawn from the issues as sent; the report's validation then checks every name.
struct DrawnMatrix {
    namespaces: Vec<String>,
    environments: Vec<String>,
    cells: Vec<WireCell>,
    drift: Vec<WireDrift>,
}

impl DrawnMatrix {
    fn of(issues: &[Issue]) -> Self {
        let mut m =
            Self { namespaces: Vec::new(), environments: Vec::new(), cells: Vec::new(), drift: Vec::new() };
        // (namespace, environment) → counts by severity: [error, warning, info].
        let mut counts: Vec<((String, String), [u64; 3])> = Vec::new();
        let present =
            |p: &Option<String>| p.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
        for issue in issues {
            let (Some(ns), env) = (present(&issue.namespace), present(&issue.environment)) else { continue };
            push_unique(&mut m.namespaces, &ns);
            if let Some(env) = &env {
                push_unique(&mut m.environments, env);
            }
            if issue.category == DRIFT {
                match m.drift.iter_mut().find(|d| d.namespace == ns) {
                    Some(d) => d.drift_count = Some(d.drift_count.unwrap_or(0) + 1),
                    None => m.drift.push(WireDrift {
                        namespace: ns,
                        is_drifted: true,
                        drift_count: Some(1),
                        severity: Some(issue.severity.as_str().to_owned()),
                        summary: issue.result.message.clone(),
                    }),
                }
                continue;
            }
            let Some(env) = env else { continue };
            let slot = match issue.severity {
                Severity::Error | Severity::Critical => 0,
                Severity::Warning => 1,
                Severity::Info => 2,
            };
            let key = (ns, env);
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, c)) => c[slot] += 1,
                None => {
                    let mut c = [0; 3];
                    c[slot] = 1;
                    counts.push((key, c));
                }
            }
        }
        m.cells = counts
            .into_iter()
            .map(|((namespace, environment), [errors, warnings, infos])| {
                let health = if errors > 0 {
                    Health::Critical
                } else if warnings > 0 {
                    Health::Warning
                } else {
                    Health::Healthy
                };
                let parts: Vec<String> = [(errors, "error"), (warnings, "warning"), (infos, "info")]
                    .into_iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, word)| format!("{n} {word}{}", if n == 1 || word == "info" { "" } else { "s" }))
                    .collect();
                WireCell {
                    namespace,
                    environment,
                    health_status: health.as_str().to_owned(),
                    description: Some(parts.join(", ")),
                }
            })
            .collect();
        m
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(k: &str, v: serde_json::Value) -> serde_json::Value {
        json!({"key": k, "value": v})
    }

    #[test]
    fn maps_summary_and_issues_and_drops_the_file() {
        let body = json!({"resourceLogs": [{
            "resource": {"attributes": [
                kv("clef.repo.commit", json!({"stringValue": "A".repeat(40)})),
                kv("clef.repo.branch", json!({"stringValue": "main"})),
                kv("clef.repo.origin", json!({"stringValue": "github.com/acme/secrets"}))]},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": "1732400000000000000", "body": {"stringValue": "clef.report.summary"},
                 "attributes": [kv("clef.errorCount", json!({"intValue": "1"})),
                                kv("clef.passed", json!({"boolValue": false}))]},
                {"eventName": "clef.report.issue", "attributes": [
                    kv("clef.severity", json!({"stringValue": "error"})),
                    kv("clef.category", json!({"stringValue": "schema"})),
                    kv("clef.message", json!({"stringValue": "2 keys fail"})),
                    kv("clef.namespace", json!({"stringValue": "database"})),
                    kv("clef.environment", json!({"stringValue": "production"})),
                    kv("clef.file", json!({"stringValue": "secrets/database/production.enc.yaml"}))]},
                {"eventName": "clef.report.issue", "attributes": [
                    kv("clef.severity", json!({"stringValue": "warning"})),
                    kv("clef.category", json!({"stringValue": "rotation"}))]}
            ]}]
        }]});
        let Ok(OtlpPush::Report(r)) =
            parse_otlp(&serde_json::to_vec(&body).unwrap_or_default(), 1_800_000_000_000)
        else {
            panic!("a report")
        };
        assert_eq!(r.commit_sha.as_str(), "a".repeat(40));
        assert_eq!(r.commit_timestamp, 1_732_400_000_000);
        assert!(!r.summary.passed);
        assert_eq!(r.policy_results.len(), 2);
        assert_eq!(r.policy_results[0].rule_id, "schema/error");
        assert!(!r.policy_results[0].passed);
        assert_eq!(r.policy_results[0].scope.canonical(), "database/production");
        assert!(r.policy_results[1].passed);
        let stored = serde_json::to_string(&r).unwrap_or_default();
        assert!(!stored.contains("enc.yaml"));
    }

    #[test]
    fn a_missing_commit_is_an_error() {
        let body =
            br#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"eventName": "clef.report.summary"}]}]}]}"#;
        let err = parse_otlp(body, 0).expect_err("no commit");
        assert_eq!(err.path, "resourceLogs");
    }
}
