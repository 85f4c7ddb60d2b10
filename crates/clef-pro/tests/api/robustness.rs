//! Inputs that used to wedge an integration, pin its head or slip past validation: each class
//! is refused with a 4xx naming the field, on both paths, and the integration keeps working.

use crate::cli_today::otlp_report;
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn refused(app: &TestApp, path: &str, key: &str, body: &Value) -> String {
    let (status, answer) = app.post(path, key, body).await;
    assert_eq!(status, 422, "{answer}");
    answer["error"]["path"].as_str().unwrap_or_default().to_owned()
}

/// An OTLP report whose one issue has these attributes.
fn otlp_with_issue(commit: &str, ns: &str, env: &str) -> Value {
    let mut body = otlp_report(commit, "main", &[("error", "schema", Some("x"), Some("y"))]);
    let attrs =
        body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1]["attributes"].as_array_mut().expect("attrs");
    for a in attrs.iter_mut() {
        match a["key"].as_str() {
            Some("clef.namespace") => a["value"]["stringValue"] = json!(ns),
            Some("clef.environment") => a["value"]["stringValue"] = json!(env),
            _ => {}
        }
    }
    body
}

#[tokio::test]
async fn a_scope_that_does_not_read_back_is_refused_and_never_wedges_the_integration() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let mut r = report(1, &[("leak", "db/prod")]);
    r["policyResults"][0]["scope"] = json!({"namespace": "team/app", "environment": "prod"});
    assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "policyResults[0].scope.namespace");
    r["policyResults"][0]["scope"] = json!({"namespace": "db/"});
    assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "policyResults[0].scope.namespace");
    r["policyResults"][0]["scope"] = json!("team/app/prod");
    assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "policyResults[0].scope");
    let path = refused(&app, "/v1/logs", &key, &otlp_with_issue(&sha(1), "team/app", "prod")).await;
    assert_eq!(path, "policyResults[0].scope.namespace");

    // One rule, the same scope in object and in text form: one alert, and every later report
    // that still carries it goes through.
    let mut r = report(2, &[("leak", "db/prod"), ("leak", "db/prod")]);
    r["policyResults"][1]["scope"] = json!({"namespace": "db", "environment": "prod"});
    assert_eq!(app.post("/api/v1/reports", &key, &r).await.0, 200);
    for n in 3..6 {
        assert_eq!(app.post("/api/v1/reports", &key, &report(n, &[("leak", "db/prod")])).await.0, 200);
    }
    let open = app.alerts(&id, "status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!((open[0]["occurrences"].as_u64(), open[0]["scope"].as_str()), (Some(4), Some("db/prod")));
}

#[tokio::test]
async fn commit_times_outside_a_sane_window_are_refused_on_both_paths() {
    let app = TestApp::spawn().await;
    let (_, key) = app.integration("svc").await;
    for ts in [
        json!(253_402_300_799_999_i64),
        json!("9999-12-31T23:59:59Z"),
        json!(1_000),
        json!("2001-01-01T00:00:00Z"),
    ] {
        let mut r = report(1, &[]);
        r["commitTimestamp"] = ts;
        assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "commitTimestamp");
    }
    let mut far = otlp_report(&sha(1), "main", &[]);
    far["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = json!("9223372036854775807");
    assert_eq!(refused(&app, "/v1/logs", &key, &far).await, "commitTimestamp");
    // The head still moves with ordinary reports.
    assert_eq!(app.post("/api/v1/reports", &key, &report(2, &[])).await.0, 200);
    let (_, checkpoint) = app.get("/v1/checkpoint", &key).await;
    assert_eq!(checkpoint["lastCommitSha"], sha(2));
}

#[tokio::test]
async fn the_otlp_path_has_the_json_paths_limits() {
    let app = TestApp::spawn().await;
    let (_, key) = app.integration("svc").await;
    let long = "n".repeat(200_000);
    assert_eq!(
        refused(&app, "/v1/logs", &key, &otlp_with_issue(&sha(1), &long, "prod")).await,
        "policyResults[0].scope.namespace"
    );
    let control = otlp_with_issue(&sha(1), "db\u{1b}[31m", "prod");
    assert_eq!(refused(&app, "/v1/logs", &key, &control).await, "policyResults[0].scope.namespace");
    let issues: Vec<(&str, &str, Option<&str>, Option<&str>)> =
        vec![("warning", "schema", None, None); 10_001];
    let (status, body) = app.post("/v1/logs", &key, &otlp_report(&sha(1), "main", &issues)).await;
    assert_eq!((status, body["error"]["path"].as_str()), (422, Some("policyResults")), "{body}");
}

#[tokio::test]
async fn numbers_out_of_range_are_refused_not_zeroed() {
    let app = TestApp::spawn().await;
    let (_, key) = app.integration("svc").await;
    for (field, path) in [("filesScanned", "summary.filesScanned"), ("violations", "summary.violations")] {
        let mut r = report(1, &[]);
        r["summary"][field] = json!(9_223_372_036_854_775_808_u64);
        assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, path);
    }
}

#[tokio::test]
async fn hidden_characters_are_refused_in_names_and_neutralised_in_text() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let mut r = report(1, &[("leak", "db/prod")]);
    r["branch"] = json!("main\n");
    assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "branch");
    let mut r = report(1, &[("leak", "db/prod")]);
    r["policyResults"][0]["ruleId"] = json!("leak\u{202e}");
    assert_eq!(refused(&app, "/api/v1/reports", &key, &r).await, "policyResults[0].ruleId");
    // Lookalikes are one scope: NFD and NFC, one alert.
    let mut r = report(1, &[("leak", "caf\u{e9}/prod")]);
    r["policyResults"][0]["message"] = json!("2 keys\nPipeline: https://evil.example\r");
    assert_eq!(app.post("/api/v1/reports", &key, &r).await.0, 200);
    assert_eq!(app.post("/api/v1/reports", &key, &report(2, &[("leak", "cafe\u{301}/prod")])).await.0, 200);
    let open = app.alerts(&id, "status=open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let (_, stored) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(1)), &app.token).await;
    assert_eq!(stored["policyResults"][0]["message"], "2 keys Pipeline: https://evil.example ");
}

#[tokio::test]
async fn a_huge_scattered_matrix_is_refused_and_the_largest_allowed_is_fast() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    // 2,000 cells on a diagonal: 2,000 × 2,000 slots.
    let mut r = report(1, &[]);
    r["summary"]["cells"] = json!((0..2000)
        .map(|i| json!({"namespace": format!("ns{i}"), "environment": format!("env{i}"), "healthStatus": "healthy"}))
        .collect::<Vec<_>>());
    let path = refused(&app, "/api/v1/reports", &key, &r).await;
    assert!(path.starts_with("summary.cells["), "{path}");

    // The largest matrix allowed, 200 × 50, every cell present.
    let mut r = report(2, &[]);
    r["summary"]["namespaces"] = json!([]);
    r["summary"]["environments"] = json!([]);
    r["drift"] = json!([]);
    r["summary"]["cells"] = json!(
        (0..200)
            .flat_map(|n| (0..50).map(
                move |e| json!({"namespace": format!("namespace-{n}"), "environment": format!("env-{e}"),
            "healthStatus": "warning", "description": "4 key(s), rotated 12d ago"})
            ))
            .collect::<Vec<_>>()
    );
    let (status, body) = app.post("/api/v1/reports", &key, &r).await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    let (status, m) = app.get(&format!("/api/v1/integrations/{id}/matrix"), &app.token).await;
    assert_eq!((status, m["rows"].as_array().map(Vec::len)), (200, Some(200)));
    let api = started.elapsed();
    // While two large pages render, the server still answers at once.
    let health = async {
        let t = Instant::now();
        let r = app.client.get(app.url("/healthz")).send().await.expect("healthz");
        (r.status().as_u16(), t.elapsed())
    };
    let matrix = format!("/api/v1/integrations/{id}/matrix");
    let ((s1, _), (s2, _), (hs, ht)) =
        tokio::join!(app.get(&matrix, &app.token), app.get(&matrix, &app.token), health);
    assert_eq!((s1, s2, hs), (200, 200, 200));
    assert!(api < Duration::from_secs(1), "the matrix API took {api:?}");
    assert!(ht < Duration::from_millis(500), "healthz took {ht:?} while matrices rendered");
}

#[tokio::test]
async fn an_admin_deletes_a_report_and_the_head_and_alerts_follow() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[])).await.0, 200);
    assert_eq!(app.post("/api/v1/reports", &key, &report(2, &[("leak", "db/prod")])).await.0, 200);
    let viewer = add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let url = app.url(&format!("/api/v1/integrations/{id}/reports/{}", sha(2)));
    let client = app.client.clone();
    let delete = |token: String| {
        let (client, url) = (client.clone(), url.clone());
        async move { client.delete(url).bearer_auth(token).send().await.expect("delete").status().as_u16() }
    };
    assert_eq!(delete(viewer).await, 403);
    assert_eq!(delete(app.token.clone()).await, 204);
    assert_eq!(delete(app.token.clone()).await, 404);
    let (_, checkpoint) = app.get("/v1/checkpoint", &key).await;
    assert_eq!(checkpoint["lastCommitSha"], sha(1));
    let resolved = app.alerts(&id, "status=resolved").await;
    assert_eq!(resolved[0]["resolvedByCommit"], sha(1));
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    assert_eq!(log[0]["action"], "report.delete", "{log}");
}
