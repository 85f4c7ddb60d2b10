//! The Clef CLI as it ships (0.1.30), replayed byte for byte: its OTLP payloads are built
//! here exactly as `reportToOtlp`, `lintResultToOtlp` and `driftResultToOtlp` build them
//! (packages/cli/src/output/otlp.ts), and its Cloud API batches as 0.1.6-alpha.27 sent them.

use crate::helpers::*;
use serde_json::{Value, json};

fn str_attr(key: &str, v: &str) -> Value {
    json!({"key": key, "value": {"stringValue": v}})
}
fn int_attr(key: &str, v: u64) -> Value {
    json!({"key": key, "value": {"intValue": v.to_string()}})
}
fn bool_attr(key: &str, v: bool) -> Value {
    json!({"key": key, "value": {"boolValue": v}})
}

/// `Date.now() * 1_000_000`, as a string.
fn now_nano() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    (ms * 1_000_000).to_string()
}

fn record(event: &str, body: &str, sev: (u32, &str), mut attrs: Vec<Value>) -> Value {
    attrs.insert(0, str_attr("event.name", event));
    json!({"timeUnixNano": now_nano(), "severityNumber": sev.0, "severityText": sev.1,
           "body": {"stringValue": body}, "attributes": attrs})
}

fn wrap(records: Vec<Value>, resource: Vec<Value>) -> Value {
    json!({"resourceLogs": [{"resource": {"attributes": resource},
        "scopeLogs": [{"scope": {"name": "clef.cli", "version": "0.1.30"}, "logRecords": records}]}]})
}

fn sev(s: &str) -> (u32, &'static str) {
    match s {
        "error" => (17, "ERROR"),
        "warning" => (13, "WARN"),
        _ => (9, "INFO"),
    }
}

/// A report issue as the CLI's sanitizer leaves it: (severity, category, namespace, environment).
pub type Issue<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// `reportToOtlp`: one summary record, one record per issue, repo identity as resource.
pub fn otlp_report(commit: &str, branch: &str, issues: &[Issue]) -> Value {
    let count = |s: &str| issues.iter().filter(|i| i.0 == s).count() as u64;
    let errors = count("error");
    let resource = vec![
        str_attr("service.name", "clef-cli"),
        str_attr("service.version", "0.1.30"),
        str_attr("clef.repo.origin", "github.com/acme/secrets"),
        str_attr("clef.repo.commit", commit),
        str_attr("clef.repo.branch", branch),
    ];
    let mut records = vec![record(
        "clef.report.summary",
        "report.summary",
        if errors > 0 { sev("error") } else { sev("info") },
        vec![
            int_attr("clef.errorCount", errors),
            int_attr("clef.warningCount", count("warning")),
            int_attr("clef.infoCount", count("info")),
            int_attr("clef.matrixCells", 6),
            bool_attr("clef.passed", errors == 0),
        ],
    )];
    for (severity, category, ns, env) in issues {
        let mut attrs = vec![
            str_attr("clef.severity", severity),
            str_attr("clef.category", category),
            str_attr("clef.message", &format!("2 keys fail {category} validation")),
        ];
        if let (Some(ns), Some(env)) = (ns, env) {
            attrs.push(str_attr("clef.file", &format!("secrets/{ns}/{env}.enc.yaml")));
        }
        if let Some(ns) = ns {
            attrs.push(str_attr("clef.namespace", ns));
        }
        if let Some(env) = env {
            attrs.push(str_attr("clef.environment", env));
        }
        records.push(record("clef.report.issue", "2 keys fail validation", sev(severity), attrs));
    }
    wrap(records, resource)
}

fn default_resource() -> Vec<Value> {
    vec![str_attr("service.name", "clef-cli"), str_attr("service.version", "0.1.30")]
}

/// `lintResultToOtlp` for a run with these issues: (severity, category, file, key).
pub fn otlp_lint(issues: &[(&str, &str, &str, Option<&str>)]) -> Value {
    let count = |s: &str| issues.iter().filter(|i| i.0 == s).count() as u64;
    let errors = count("error");
    let mut records = vec![record(
        "clef.lint.summary",
        "lint.summary",
        if errors > 0 { sev("error") } else { sev("info") },
        vec![
            int_attr("clef.fileCount", 6),
            int_attr("clef.pendingCount", 1),
            int_attr("clef.errorCount", errors),
            int_attr("clef.warningCount", count("warning")),
            int_attr("clef.infoCount", count("info")),
            bool_attr("clef.passed", errors == 0),
        ],
    )];
    for (severity, category, file, key) in issues {
        let message = match key {
            Some(k) => format!("Key '{k}' has no schema definition."),
            None => "File is missing valid SOPS encryption metadata.".into(),
        };
        let mut attrs = vec![
            str_attr("clef.severity", severity),
            str_attr("clef.category", category),
            str_attr("clef.file", file),
            str_attr("clef.message", &message),
        ];
        if let Some(k) = key {
            attrs.push(str_attr("clef.key", k));
            attrs.push(str_attr("clef.fixCommand", &format!("clef set database/dev {k}")));
        }
        records.push(record("clef.lint.issue", &message, sev(severity), attrs));
    }
    wrap(records, default_resource())
}

/// `driftResultToOtlp` for these issues: (namespace, key, presentIn, missingFrom).
pub fn otlp_drift(issues: &[(&str, &str, &[&str], &[&str])]) -> Value {
    let mut records = vec![record(
        "clef.drift.summary",
        "drift.summary",
        if issues.is_empty() { sev("info") } else { sev("warning") },
        vec![
            int_attr("clef.namespacesCompared", 3),
            int_attr("clef.namespacesClean", 2),
            int_attr("clef.issueCount", issues.len() as u64),
            bool_attr("clef.passed", issues.is_empty()),
        ],
    )];
    for (ns, key, present, missing) in issues {
        let message = format!(
            "Key '{key}' in namespace '{ns}' exists in [{}] but is missing from [{}]",
            present.join(", "),
            missing.join(", ")
        );
        records.push(record(
            "clef.drift.issue",
            &message,
            sev("warning"),
            vec![
                str_attr("clef.namespace", ns),
                str_attr("clef.key", key),
                str_attr("clef.presentIn", &present.join(", ")),
                str_attr("clef.missingFrom", &missing.join(", ")),
                str_attr("clef.message", &message),
            ],
        ));
    }
    wrap(records, default_resource())
}

const SCHEMA_ERROR: Issue = ("error", "schema", Some("database"), Some("production"));

#[tokio::test]
async fn an_otlp_gap_fill_attributes_the_alert_to_the_commit_that_introduced_it() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("secrets").await;
    // The first run: HEAD only.
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(1), "main", &[])).await.0, 200);
    let (status, checkpoint) = app.get("/v1/checkpoint", &key).await;
    assert_eq!((status, checkpoint["lastCommitSha"].as_str()), (200, Some(sha(1).as_str())));
    // The next run fills the gap 2..=5, oldest first; all but HEAD come from detached worktrees.
    for n in 2..=4 {
        let issues: &[Issue] = if n >= 3 { &[SCHEMA_ERROR] } else { &[] };
        assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(n), "", issues)).await.0, 200);
    }
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(5), "main", &[SCHEMA_ERROR])).await.0, 200);
    let alerts = app.alerts(&id, "status=open").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["ruleId"], "schema/error");
    assert_eq!(alerts[0]["introducedByCommit"], sha(3), "not the run's HEAD");

    // Fixed in the middle of the next gap.
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(6), "", &[SCHEMA_ERROR])).await.0, 200);
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(7), "", &[])).await.0, 200);
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(8), "main", &[])).await.0, 200);
    let resolved = app.alerts(&id, "status=resolved").await;
    assert_eq!(resolved[0]["resolvedByCommit"], sha(7));

    // A detached build of anything else is kept but moves nothing, and an old commit pushed
    // again keeps its place in history.
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(90), "", &[SCHEMA_ERROR])).await.0, 200);
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(2), "main", &[])).await.0, 200);
    let (_, checkpoint) = app.get("/v1/checkpoint", &key).await;
    assert_eq!(checkpoint["lastCommitSha"], sha(8));
    assert!(app.alerts(&id, "status=open").await.is_empty());
}

#[tokio::test]
async fn a_cloud_api_gap_fill_attributes_the_alert_to_the_commit_that_introduced_it() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("secrets").await;
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[])).await.0, 200);
    let mut gap: Vec<Value> =
        (2..=5).map(|n| report(n, if n >= 3 { &[("schema", "database/production")] } else { &[] })).collect();
    for r in &mut gap[..3] {
        r["branch"] = json!("");
    }
    let (status, body) = app.post("/api/v1/reports/batch", &key, &json!({ "reports": gap })).await;
    assert_eq!(status, 200, "{body}");
    let alerts = app.alerts(&id, "status=open").await;
    assert_eq!(alerts[0]["introducedByCommit"], sha(3));
}

#[tokio::test]
async fn an_otlp_only_integration_shows_a_matrix_drawn_from_its_issues() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("secrets").await;
    let issues: &[Issue] = &[
        SCHEMA_ERROR,
        ("warning", "schema", Some("database"), Some("production")),
        ("warning", "sops", Some("payments"), Some("dev")),
        ("info", "metadata", Some("payments"), Some("production")),
        ("warning", "drift", Some("payments"), Some("production")),
    ];
    assert_eq!(app.post("/v1/logs", &key, &otlp_report(&sha(1), "main", issues)).await.0, 200);
    let (status, m) = app.get(&format!("/api/v1/integrations/{id}/matrix"), &app.token).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!((m["source"].as_str(), m["timeIsPushTime"].as_bool()), (Some("otlp"), Some(true)));
    assert_eq!(m["issueCounts"], json!({"error": 1, "warning": 3, "info": 1}));
    assert_eq!(m["namespaces"], json!(["database", "payments"]));
    assert_eq!(m["environments"], json!(["production", "dev"]));
    let cell = |row: usize, col: usize| m["rows"][row]["cells"][col].clone();
    assert_eq!(cell(0, 0)["healthStatus"], "critical");
    assert_eq!(cell(0, 0)["description"], "1 error, 1 warning");
    assert_eq!(cell(0, 1), Value::Null, "no issue names database/dev");
    assert_eq!(cell(1, 1)["healthStatus"], "warning");
    assert_eq!(cell(1, 0)["healthStatus"], "healthy");
    assert_eq!(m["rows"][1]["drift"]["isDrifted"], true);
    let (_, i) = app.get(&format!("/api/v1/integrations/{id}"), &app.token).await;
    assert_eq!(i["head"]["worstHealth"], "critical", "{i}");

    let cookie = session_cookie(&app, "owner@acme.example", "a long password").await;
    let page = app.page(&format!("/integrations/{id}"), &cookie).await;
    assert!(page.contains("no issues reported"), "{page}");
    assert!(page.contains("when the CLI pushed"));
    assert!(page.contains("1 error, 3 warnings, 1 info"));
}

#[tokio::test]
async fn lint_and_drift_pushes_are_kept_and_shown_without_files_or_keys() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("secrets").await;
    let lint = otlp_lint(&[
        ("error", "sops", "secrets/database/production.enc.yaml", None),
        ("warning", "schema", "secrets/database/dev.enc.yaml", Some("STRIPE_SECRET_KEY")),
        ("warning", "schema", "secrets/payments/dev.enc.yaml", Some("DB_PASSWORD")),
    ]);
    let (status, body) = app.post("/v1/logs", &key, &lint).await;
    assert_eq!(status, 200, "a lint push carries no commit and is still accepted: {body}");
    let drift = otlp_drift(&[("payments", "WEBHOOK_TOKEN", &["dev", "staging"], &["production"])]);
    assert_eq!(app.post("/v1/logs", &key, &drift).await.0, 200);

    let (status, checks) = app.get(&format!("/api/v1/integrations/{id}/checks"), &app.token).await;
    assert_eq!(status, 200, "{checks}");
    let lint = &checks[0];
    assert_eq!((lint["kind"].as_str(), lint["passed"].as_bool()), (Some("lint"), Some(false)));
    assert!(lint["counts"].as_array().expect("counts").contains(&json!({"name": "errorCount", "value": 1})));
    assert_eq!(
        lint["groups"][1],
        json!({"severity": "warning", "category": "schema", "namespace": null,
        "presentIn": [], "missingFrom": [], "count": 2})
    );
    let drift = &checks[1];
    assert_eq!(drift["groups"][0]["missingFrom"], json!(["production"]));
    assert_eq!(drift["groups"][0]["namespace"], "payments");
    let text = checks.to_string();
    for secret in ["STRIPE_SECRET_KEY", "DB_PASSWORD", "WEBHOOK_TOKEN", "enc.yaml", "clef set"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // A later run replaces the earlier one of its kind.
    assert_eq!(app.post("/v1/logs", &key, &otlp_lint(&[])).await.0, 200);
    let (_, checks) = app.get(&format!("/api/v1/integrations/{id}/checks"), &app.token).await;
    assert_eq!((checks[0]["passed"].as_bool(), checks.as_array().map(Vec::len)), (Some(true), Some(2)));
}

#[tokio::test]
async fn a_push_without_a_credential_says_which_variable_the_cli_reads() {
    let app = TestApp::spawn().await;
    for path in ["/v1/checkpoint", "/v1/logs"] {
        let r = if path.ends_with("logs") {
            app.client.post(app.url(path)).json(&otlp_report(&sha(1), "main", &[])).send().await
        } else {
            app.client.get(app.url(path)).send().await
        }
        .expect("request");
        let (status, body) = answer(r).await;
        assert_eq!(status, 401);
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("CLEF_TELEMETRY_HEADERS=\"Authorization=Bearer <api key>\""), "{message}");
        assert!(message.contains("CLEF_TELEMETRY_TOKEN"), "{message}");
    }
}
