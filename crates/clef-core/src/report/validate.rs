//! Wire → model: every check names the field path of what is wrong.

use super::wire::{
    WireBatch, WireCell, WireCiContext, WireDrift, WirePolicyResult, WireReport, WireScope, WireSummary,
};
use super::{Cell, CiContext, Drift, PolicyResult, Report, Summary};
use crate::{CommitSha, FieldError, Health, Millis, Scope, Severity};
use std::collections::HashSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Reports in one batch request, at most.
pub const MAX_BATCH: usize = 500;

pub(super) const MAX_NAME: usize = 256;
const MAX_TEXT: usize = 2048;
const MAX_URL: usize = 2048;
const MAX_SHORT: usize = 64;
/// Distinct namespaces and environments in one report, at most: the matrix has at most
/// 200 × 50 = 10,000 slots, the most cells a report may carry.
pub const MAX_NAMESPACES: usize = 200;
pub const MAX_ENVIRONMENTS: usize = 50;
const MAX_CELLS: usize = 10_000;
pub(super) const MAX_RESULTS: usize = 10_000;
/// Counts (files scanned, violations, drift), at most: far beyond any repository, well within
/// what storage holds.
const MAX_COUNT: u64 = 1_000_000_000_000;
/// The earliest commit time accepted (2005-01-01, before git existed).
pub const MIN_COMMIT_TIME_MS: Millis = 1_104_537_600_000;
/// How far ahead of the server's clock a commit time may be: clocks drift, commits do not
/// come from the future. A time beyond would pin the head for ever.
pub const MAX_CLOCK_SKEW_MS: Millis = 24 * 3600 * 1000;

/// Parses one report from the bytes of a request body; `now` is the server's clock.
pub fn parse_report(body: &[u8], now: Millis) -> Result<Report, FieldError> {
    let wire: WireReport = deserialize(body)?;
    validate_report(wire, now)
}

/// Parses a `{"reports": […]}` batch: 1 to [`MAX_BATCH`] reports, all valid, or an error.
pub fn parse_batch(body: &[u8], now: Millis) -> Result<Vec<Report>, FieldError> {
    let wire: WireBatch = deserialize(body)?;
    if wire.reports.is_empty() {
        return Err(FieldError::new("reports", "a batch needs at least one report"));
    }
    if wire.reports.len() > MAX_BATCH {
        return Err(FieldError::new(
            "reports",
            format!("a batch holds at most {MAX_BATCH} reports, got {}", wire.reports.len()),
        ));
    }
    wire.reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| validate_report(r, now).map_err(|e| e.within(&format!("reports[{i}]"))))
        .collect()
}

use crate::error::from_json as deserialize;

/// The one validation of a report, whichever way it came (the OTLP path builds the same
/// wire shape from its records).
pub(super) fn validate_report(w: WireReport, now: Millis) -> Result<Report, FieldError> {
    let commit_sha = CommitSha::parse(&w.commit_sha).map_err(|m| FieldError::new("commitSha", m))?;
    // Empty for a detached checkout.
    let branch = opt_name("branch", w.branch, MAX_NAME)?.unwrap_or_default();
    let commit_timestamp = timestamp(&w.commit_timestamp, now)?;
    let cli_version = opt_name("cliVersion", w.cli_version, MAX_SHORT)?;
    let policy_results =
        list("policyResults", w.policy_results.unwrap_or_default(), MAX_RESULTS, policy_result)?;
    let summary = summary(w.summary, &policy_results).map_err(|e| e.within("summary"))?;
    let drift = list("drift", w.drift.unwrap_or_default(), MAX_NAMESPACES, drift)?;
    let ci_context = w.ci_context.map(ci_context).transpose().map_err(|e| e.within("ciContext"))?;
    Ok(Report {
        commit_sha,
        branch,
        commit_timestamp,
        cli_version,
        repo_origin: None,
        summary,
        drift,
        policy_results,
        ci_context,
        source: super::ReportSource::Json,
        issue_counts: None,
    })
}

fn summary(w: WireSummary, results: &[PolicyResult]) -> Result<Summary, FieldError> {
    let namespaces = list("namespaces", w.namespaces, MAX_NAMESPACES, |n| axis("", n))?;
    let environments = list("environments", w.environments, MAX_ENVIRONMENTS, |n| axis("", n))?;
    let cells = list("cells", w.cells, MAX_CELLS, cell)?;
    let mut seen = HashSet::with_capacity(cells.len());
    let mut all_ns: HashSet<&str> = namespaces.iter().map(String::as_str).collect();
    let mut all_env: HashSet<&str> = environments.iter().map(String::as_str).collect();
    for (i, c) in cells.iter().enumerate() {
        if !seen.insert((c.namespace.as_str(), c.environment.as_str())) {
            return Err(FieldError::new(
                format!("cells[{i}]"),
                format!("duplicate cell {}/{}", c.namespace, c.environment),
            ));
        }
        all_ns.insert(&c.namespace);
        all_env.insert(&c.environment);
        // The matrix is namespaces × environments: its size is capped, not just the cells'.
        if all_ns.len() > MAX_NAMESPACES {
            return Err(FieldError::new(
                format!("cells[{i}].namespace"),
                format!("a report names at most {MAX_NAMESPACES} distinct namespaces"),
            ));
        }
        if all_env.len() > MAX_ENVIRONMENTS {
            return Err(FieldError::new(
                format!("cells[{i}].environment"),
                format!("a report names at most {MAX_ENVIRONMENTS} distinct environments"),
            ));
        }
    }
    let failing = results.iter().filter(|r| !r.passed).count() as u64;
    let violations = count("violations", w.violations)?.unwrap_or(failing);
    Ok(Summary {
        files_scanned: count("filesScanned", w.files_scanned)?.unwrap_or(0),
        namespaces,
        environments,
        cells,
        violations,
        passed: w.passed.unwrap_or(violations == 0),
    })
}

fn cell(w: WireCell) -> Result<Cell, FieldError> {
    Ok(Cell {
        namespace: axis("namespace", w.namespace)?,
        environment: axis("environment", w.environment)?,
        health_status: Health::parse(&w.health_status).map_err(|m| FieldError::new("healthStatus", m))?,
        description: text("description", w.description.unwrap_or_default(), MAX_TEXT)?,
    })
}

fn drift(w: WireDrift) -> Result<Drift, FieldError> {
    Ok(Drift {
        namespace: axis("namespace", w.namespace)?,
        is_drifted: w.is_drifted,
        drift_count: count("driftCount", w.drift_count)?,
        severity: w
            .severity
            .map(|s| Severity::parse(&s))
            .transpose()
            .map_err(|m| FieldError::new("severity", m))?,
        summary: opt_text("summary", w.summary, MAX_TEXT)?,
    })
}

fn policy_result(w: WirePolicyResult) -> Result<PolicyResult, FieldError> {
    let rule_id = name("ruleId", &w.rule_id, MAX_NAME)?;
    let rule_name = opt_name("ruleName", w.rule_name, MAX_NAME)?.unwrap_or_else(|| rule_id.clone());
    let scope = match w.scope {
        None => Scope::integration(),
        Some(WireScope::Text(s)) => {
            if s.chars().count() > Scope::MAX_LEN {
                return Err(FieldError::new("scope", format!("at most {} characters", Scope::MAX_LEN)));
            }
            Scope::parse(&s).map_err(|e| FieldError::new("scope", e.to_string()))?
        }
        Some(WireScope::Parts { namespace, environment }) => {
            Scope::new(namespace.as_deref(), environment.as_deref())
                .map_err(|e| FieldError::new(format!("scope.{}", e.part), e.message))?
        }
    };
    Ok(PolicyResult {
        rule_id,
        rule_name,
        passed: w.passed,
        severity: Severity::parse(&w.severity).map_err(|m| FieldError::new("severity", m))?,
        message: text("message", w.message.unwrap_or_default(), MAX_TEXT)?,
        scope,
    })
}

fn ci_context(w: WireCiContext) -> Result<CiContext, FieldError> {
    let pipeline_url = opt_name("pipelineUrl", w.pipeline_url, MAX_URL)?;
    if let Some(url) = &pipeline_url {
        // The dashboard and e-mails render this as a link: only web URLs may pass.
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(FieldError::new("pipelineUrl", "must be an http:// or https:// URL"));
        }
    }
    Ok(CiContext {
        provider: opt_name("provider", w.provider, MAX_SHORT)?,
        pipeline_url,
        trigger: opt_name("trigger", w.trigger, MAX_SHORT)?,
    })
}

fn timestamp(v: &serde_json::Value, now: Millis) -> Result<Millis, FieldError> {
    let err = |m: &str| FieldError::new("commitTimestamp", m);
    let ms = match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| err("must be epoch milliseconds"))?,
        serde_json::Value::String(s) => {
            let t = OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|_| err("must be epoch milliseconds or an RFC 3339 date-time"))?;
            (t.unix_timestamp_nanos() / 1_000_000) as i64
        }
        serde_json::Value::Null => return Err(err("is required")),
        _ => return Err(err("must be epoch milliseconds or an RFC 3339 date-time")),
    };
    if ms < MIN_COMMIT_TIME_MS {
        return Err(err("is before 2005: not a commit time"));
    }
    if ms > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(err("is more than a day ahead of the server's clock"));
    }
    Ok(ms)
}

/// Validates each element, prefixing errors with `field[i]`.
fn list<W, T>(
    field: &str,
    items: Vec<W>,
    max: usize,
    each: impl Fn(W) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    if items.len() > max {
        return Err(FieldError::new(field, format!("at most {max} entries, got {}", items.len())));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, w)| each(w).map_err(|e| e.within(&format!("{field}[{i}]"))))
        .collect()
}

/// Free text (messages, descriptions): hidden characters become spaces.
fn text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
    crate::text::free_text(&value, max).map_err(|m| FieldError::new(field, m))
}

fn opt_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    value.map(|v| text(field, v, max)).transpose().map(|v| v.filter(|s| !s.trim().is_empty()))
}

/// A name (identifiers): NFC, nothing hidden, not empty.
fn name(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    crate::text::name(value, max).map_err(|m| FieldError::new(field, m))
}

/// An optional name; blank counts as absent.
fn opt_name(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => name(field, &v, max).map(Some),
        _ => Ok(None),
    }
}

/// A namespace or environment.
fn axis(field: &str, value: String) -> Result<String, FieldError> {
    crate::text::axis_name(&value, Scope::MAX_PART).map_err(|m| FieldError::new(field, m))
}

/// A count within what storage keeps exactly.
fn count(field: &str, value: Option<u64>) -> Result<Option<u64>, FieldError> {
    match value {
        Some(n) if n > MAX_COUNT => Err(FieldError::new(field, format!("must be at most {MAX_COUNT}"))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server clock in these tests: 2027.
    const NOW: Millis = 1_800_000_000_000;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "commitSha": "9F2C".repeat(10), "branch": "main", "commitTimestamp": 1732400000000_i64,
            "cliVersion": "0.1.30",
            "summary": {
                "filesScanned": 6, "namespaces": ["database", "payments"],
                "environments": ["dev", "production"],
                "cells": [{"namespace": "database", "environment": "production",
                           "healthStatus": "healthy", "description": "4 key(s), no issues",
                           "filePath": "secrets/database/production.enc.yaml"}],
                "violations": 1, "passed": false
            },
            "drift": [{"namespace": "database", "isDrifted": true, "driftCount": 2},
                      {"namespace": "payments", "isDrifted": true, "severity": "warning",
                       "summary": "Development has an additional recipient"}],
            "policyResults": [
                {"ruleId": "schema/error", "ruleName": "schema", "passed": false, "severity": "error",
                 "message": "2 keys fail schema validation",
                 "scope": {"namespace": "database", "environment": "production", "file": "x"}},
                {"ruleId": "rotation_max_age", "ruleName": "Key rotation max age", "passed": false,
                 "severity": "warning", "message": "overdue", "scope": "api-keys/production"},
                {"ruleId": "min_recipients", "passed": true, "severity": "info"}
            ],
            "ciContext": {"provider": "github-actions", "pipelineUrl": "https://ci.example/1", "trigger": "push"},
            "keys": ["DATABASE_PASSWORD"]
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Report, FieldError> {
        parse_report(&serde_json::to_vec(v).unwrap_or_default(), NOW)
    }

    #[test]
    fn parses_the_documented_report_with_all_variants() {
        let r = parse(&sample()).expect("valid");
        assert_eq!(r.commit_sha.as_str(), "9f2c".repeat(10));
        assert_eq!(r.summary.cells[0].health_status, Health::Healthy);
        assert_eq!(r.drift[1].summary.as_deref(), Some("Development has an additional recipient"));
        assert_eq!(r.policy_results[0].scope.canonical(), "database/production");
        assert_eq!(r.policy_results[1].scope.canonical(), "api-keys/production");
        assert_eq!(r.policy_results[2].scope.canonical(), "");
        assert_eq!(r.policy_results[2].rule_name, "min_recipients");
    }

    #[test]
    fn unknown_fields_never_reach_the_model() {
        let r = parse(&sample()).expect("valid");
        let stored = serde_json::to_string(&r).unwrap_or_default();
        assert!(!stored.contains("filePath") && !stored.contains("secrets/database"));
        assert!(!stored.contains("DATABASE_PASSWORD"));
        assert!(!stored.contains("\"file\""));
    }

    #[test]
    fn rfc3339_timestamp_equals_epoch_millis() {
        let mut v = sample();
        v["commitTimestamp"] = json!("2024-11-23T22:13:20Z");
        assert_eq!(parse(&v).map(|r| r.commit_timestamp), Ok(1_732_400_000_000));
    }

    #[test]
    fn errors_name_the_field_path() {
        let cases = [
            ("/summary/cells/0/healthStatus", json!("sick"), "summary.cells[0].healthStatus"),
            ("/policyResults/1/severity", json!("fatal"), "policyResults[1].severity"),
            ("/commitSha", json!("abc"), "commitSha"),
            ("/summary/filesScanned", json!(-1), "summary.filesScanned"),
            ("/policyResults/0/scope", json!(5), "policyResults[0].scope"),
            ("/ciContext/pipelineUrl", json!("javascript:alert(1)"), "ciContext.pipelineUrl"),
            ("/commitTimestamp", json!(true), "commitTimestamp"),
            ("/branch", json!("x".repeat(300)), "branch"),
        ];
        for (pointer, value, path) in cases {
            let mut v = sample();
            if let Some(slot) = v.pointer_mut(pointer) {
                *slot = value;
            }
            let err = parse(&v).expect_err(pointer);
            assert_eq!(err.path, path, "{pointer}: {err}");
        }
    }

    #[test]
    fn batch_errors_are_prefixed_with_the_report_index() {
        let mut bad = sample();
        bad["summary"]["cells"][0]["healthStatus"] = json!("sick");
        let batch = json!({"reports": [sample(), sample(), sample(), bad]});
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap_or_default(), NOW).expect_err("bad");
        assert_eq!(err.path, "reports[3].summary.cells[0].healthStatus");
    }

    #[test]
    fn batch_size_is_bounded() {
        let empty = parse_batch(br#"{"reports": []}"#, NOW).expect_err("empty");
        assert_eq!(empty.path, "reports");
        let many = json!({"reports": vec![sample(); MAX_BATCH + 1]});
        let err = parse_batch(&serde_json::to_vec(&many).unwrap_or_default(), NOW).expect_err("big");
        assert_eq!(err.path, "reports");
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        for body in [&b""[..], b"{", b"[]", b"null", b"{\"commitSha\": 1}", b"\xff\xfe"] {
            assert!(parse_report(body, NOW).is_err());
        }
    }

    #[test]
    fn duplicate_cells_are_rejected() {
        let mut v = sample();
        let cell = v["summary"]["cells"][0].clone();
        v["summary"]["cells"] = json!([cell.clone(), cell]);
        assert_eq!(parse(&v).map_err(|e| e.path), Err("summary.cells[1]".to_owned()));
    }
}
