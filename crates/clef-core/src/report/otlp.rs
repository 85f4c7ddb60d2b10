//! The newer CLI's push format: an OTLP/HTTP JSON `ExportLogsServiceRequest` holding one
//! `clef.report.summary` record and one `clef.report.issue` record per issue.

use super::{PolicyResult, Report, Summary};
use crate::{CommitSha, FieldError, Millis, Scope, Severity};
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

impl LogRecord {
    /// The record's event name, wherever the exporter put it.
    fn kind(&self) -> Option<&str> {
        self.event_name
            .as_deref()
            .or_else(|| attr(&self.attributes, "event.name").and_then(AnyValue::text))
            .or_else(|| self.body.as_ref().and_then(AnyValue::text))
    }
}

/// Builds a [`Report`] from an OTLP logs export. `received_at` stands in for the commit
/// time when the records carry none.
pub fn parse_otlp_logs(body: &[u8], received_at: Millis) -> Result<Report, FieldError> {
    let export: Export = crate::error::from_json(body)?;

    let mut commit = None;
    let mut branch = String::new();
    let mut origin = None;
    let mut cli_version = None;
    let mut summary = None;
    let mut results = Vec::new();
    for (ri, rl) in export.resource_logs.iter().enumerate() {
        let attrs = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        if let Some(sha) = attr(attrs, "clef.repo.commit").and_then(AnyValue::text) {
            let parsed = CommitSha::parse(sha).map_err(|m| {
                FieldError::new(format!("resourceLogs[{ri}].resource.attributes.clef.repo.commit"), m)
            })?;
            if commit.as_ref().is_some_and(|c| c != &parsed) {
                return Err(FieldError::new("resourceLogs", "one export must describe one commit"));
            }
            commit = Some(parsed);
        }
        if let Some(b) = attr(attrs, "clef.repo.branch").and_then(AnyValue::text) {
            branch = b.chars().take(256).collect();
        }
        if let Some(o) = attr(attrs, "clef.repo.origin").and_then(AnyValue::text) {
            origin = Some(o.chars().take(512).collect::<String>());
        }
        if let Some(v) = attr(attrs, "service.version").and_then(AnyValue::text) {
            cli_version = Some(v.chars().take(64).collect::<String>());
        }
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            for (li, rec) in sl.log_records.iter().enumerate() {
                let path = format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]");
                match rec.kind() {
                    Some(SUMMARY) => summary = Some(rec),
                    Some(ISSUE) => results.push(issue(rec).map_err(|e| e.within(&path))?),
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
    let count = |k: &str| attr(sattrs, k).and_then(AnyValue::int).unwrap_or(0).max(0) as u64;
    let commit_timestamp = summary_rec
        .time_unix_nano
        .as_ref()
        .or(summary_rec.observed_time_unix_nano.as_ref())
        .and_then(nanos_to_millis)
        .unwrap_or(received_at);
    let violations = count("clef.errorCount");
    Ok(Report {
        commit_sha,
        branch,
        commit_timestamp,
        cli_version,
        repo_origin: origin,
        summary: Summary {
            files_scanned: count("clef.matrixCells"),
            namespaces: Vec::new(),
            environments: Vec::new(),
            cells: Vec::new(),
            violations,
            passed: attr(sattrs, "clef.passed").and_then(AnyValue::boolean).unwrap_or(violations == 0),
        },
        drift: Vec::new(),
        policy_results: results,
        ci_context: None,
    })
}

/// One issue record → a policy result, as the CLI maps it. `clef.file` is never read.
fn issue(rec: &LogRecord) -> Result<PolicyResult, FieldError> {
    let a = &rec.attributes;
    let text = |k: &str| attr(a, k).and_then(AnyValue::text).map(str::to_owned);
    let severity_raw = text("clef.severity").unwrap_or_else(|| "error".into());
    let severity =
        Severity::parse(&severity_raw).map_err(|m| FieldError::new("attributes.clef.severity", m))?;
    let category = text("clef.category").unwrap_or_else(|| "issue".into());
    let category: String = category.chars().take(200).collect();
    Ok(PolicyResult {
        rule_id: format!("{category}/{}", severity.as_str()),
        rule_name: category,
        passed: severity != Severity::Error && severity != Severity::Critical,
        severity,
        message: text("clef.message").unwrap_or_default().chars().take(2048).collect(),
        scope: Scope::from_parts(text("clef.namespace").as_deref(), text("clef.environment").as_deref()),
    })
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
        let r = parse_otlp_logs(&serde_json::to_vec(&body).unwrap_or_default(), 5).expect("valid");
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
        let err = parse_otlp_logs(br#"{"resourceLogs": []}"#, 0).expect_err("no commit");
        assert_eq!(err.path, "resourceLogs");
    }
}
