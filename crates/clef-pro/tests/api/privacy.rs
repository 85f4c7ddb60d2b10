//! "It must never learn what a secret is called or where it lives": canary strings in every
//! place a careless CLI or an attacker could put them must not reach any byte on disk or in
//! the logs, and neither may our own secrets in plain text.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::Path;

fn canary(place: &str) -> String {
    format!("CANARY7f3a-{place}")
}

/// A valid report carrying canaries in unknown fields at every level.
fn laced_report(n: u32) -> Value {
    let mut r = report(n, &[("missing_keys", "oauth/production")]);
    for field in ["filePath", "keys", "recipients", "fingerprint", "sopsVersion", "keyType", "env"] {
        r[field] = json!(canary(&format!("top-{field}")));
    }
    r["summary"]["files"] = json!([canary("summary-files")]);
    r["summary"]["cells"][0]["filePath"] = json!(canary("cell-filePath"));
    r["summary"]["cells"][0]["keys"] = json!([canary("cell-keys")]);
    r["summary"]["cells"][0]["recipients"] = json!([{"fingerprint": canary("cell-fingerprint")}]);
    r["drift"][0]["recipients"] = json!([canary("drift-recipients")]);
    r["drift"][0]["keyNames"] = json!([canary("drift-keynames")]);
    r["policyResults"][0]["file"] = json!(canary("result-file"));
    r["policyResults"][0]["keyName"] = json!(canary("result-keyname"));
    r["policyResults"][0]["scope"] =
        json!({"namespace": "oauth", "environment": "production", "file": canary("scope-file")});
    r["ciContext"]["token"] = json!(canary("ci-token"));
    r["ciContext"]["env"] = json!({"AWS_SECRET_ACCESS_KEY": canary("ci-env")});
    r
}

pub fn grep_tree(dir: &Path, needle: &[u8], hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            grep_tree(&path, needle, hits);
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(path.display().to_string());
        }
    }
}

/// The notification mails the server wrote, decoded as a reader sees them (their parts are
/// quoted-printable, which can split or escape a string on disk).
fn written_mails(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("mail"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| {
                    crate::smtp::decode_quoted_printable(&std::fs::read_to_string(e.path()).expect("mail"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn canaries_and_our_own_secrets_never_reach_disk_or_logs() {
    let mut app = TestApp::spawn().await;
    let laced = submit_laced_reports(&mut app).await;
    // Controls: the scan sees what is stored, in the database file and in the decoded mail.
    let mut hits = Vec::new();
    grep_tree(&app.data_dir(), b"missing_keys", &mut hits);
    assert!(hits.iter().any(|h| h.ends_with("clef-pro.db")), "the scan must see stored reports: {hits:?}");
    let mails = written_mails(&app.data_dir());
    assert!(!mails.is_empty() && mails.iter().all(|m| m.contains("missing_keys")), "a mail was written");
    for needle in &laced.needles {
        let mut hits = Vec::new();
        grep_tree(&app.data_dir(), needle.as_bytes(), &mut hits);
        assert!(hits.is_empty(), "{needle} leaked into {hits:?}");
        assert!(mails.iter().all(|m| !m.contains(needle.as_str())), "{needle} is in a mail");
    }
    check_still_useful(&mut app, &laced.integration).await;
}

/// The same on PostgreSQL: nothing in a full dump of the database, nor in the logs.
#[tokio::test]
async fn canaries_never_reach_a_postgres_dump() {
    let Some(db) = TestDb::create().await else { return };
    let mut app = TestApp::spawn_on(Some(&db.url), &[]).await;
    let laced = submit_laced_reports(&mut app).await;
    let dump = std::process::Command::new("pg_dump").arg(&db.url).output().expect("pg_dump");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(String::from_utf8_lossy(&dump.stdout).contains("missing_keys"), "the dump holds the reports");
    for needle in &laced.needles {
        assert!(
            !dump.stdout.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the dump"
        );
        let mut hits = Vec::new();
        grep_tree(&app.data_dir(), needle.as_bytes(), &mut hits);
        assert!(hits.is_empty(), "{needle} leaked into {hits:?}");
    }
    check_still_useful(&mut app, &laced.integration).await;
    drop(app);
    db.drop_now().await;
}

/// What was sent, and the strings that must not be found anywhere afterwards.
struct Laced {
    integration: String,
    needles: Vec<String>,
}

/// Sends every kind of laced input, then stops the server (so the WAL is checkpointed).
async fn submit_laced_reports(app: &mut TestApp) -> Laced {
    let (id, key) = app.integration("svc").await;
    let body = json!({"channel": "email", "target": "ops@acme.example", "minSeverity": "info"});
    assert_eq!(app.post(&format!("/api/v1/integrations/{id}/channels"), &app.token, &body).await.0, 201);
    // Channel secrets: a Slack URL and a PagerDuty key carrying the canary, a webhook's signing secret.
    let channels = format!("/api/v1/integrations/{id}/channels");
    for (kind, target) in [
        ("slack", "https://hooks.slack.example/services/T0/B0/CANARY7f3a-slack".to_owned()),
        ("pagerduty", "CANARY7f3aPDKEY0000000000000000x".to_owned()),
    ] {
        let body = json!({"channel": kind, "target": target, "minSeverity": "info"});
        assert_eq!(app.post(&channels, &app.token, &body).await.0, 201, "{kind}");
    }
    let body = json!({"channel": "webhook", "target": "https://hooks.example/CANARY7f3a-hook", "minSeverity": "info"});
    let (s, hook) = app.post(&channels, &app.token, &body).await;
    assert_eq!(s, 201);
    let signing_secret = hook["signingSecret"].as_str().expect("signing secret")["whsec_".len()..].to_owned();

    // Accepted reports with canaries in unknown fields.
    assert_eq!(app.post("/api/v1/reports", &key, &laced_report(1)).await.0, 200);
    let batch = json!({"reports": [laced_report(2), laced_report(3)], "note": canary("batch-extra")});
    assert_eq!(app.post("/api/v1/reports/batch", &key, &batch).await.0, 200);
    // Rejected reports whose canaries sit in modelled fields.
    let mut bad = laced_report(4);
    bad["branch"] = json!(canary("rejected-branch"));
    bad["commitSha"] = json!("not-a-commit");
    assert_eq!(app.post("/api/v1/reports", &key, &bad).await.0, 422);
    let mut bad_second = laced_report(6);
    bad_second["summary"]["cells"][0]["healthStatus"] = json!(canary("rejected-health"));
    let mut good_first = laced_report(5);
    good_first["branch"] = json!(canary("rejected-batch-branch"));
    assert_eq!(
        app.post("/api/v1/reports/batch", &key, &json!({"reports": [good_first, bad_second]})).await.0,
        422
    );
    assert_eq!(
        app.post_raw("/api/v1/reports", &key, canary("not-json").into_bytes(), "application/json").await.0,
        400
    );
    // The OTLP variant: `clef.file` and unknown attributes are dropped.
    let kv = |k: &str, v: String| json!({"key": k, "value": {"stringValue": v}});
    let export = json!({"resourceLogs": [{"resource": {"attributes": [kv("clef.repo.commit", sha(9)), kv("clef.secret", canary("otlp-resource"))]},
        "scopeLogs": [{"logRecords": [
            {"body": {"stringValue": "clef.report.summary"}, "attributes": [kv("clef.keys", canary("otlp-summary"))]},
            {"body": {"stringValue": "clef.report.issue"}, "attributes": [kv("clef.severity", "error".into()), kv("clef.category", "schema".into()),
                kv("clef.file", canary("otlp-file")), kv("clef.keyName", canary("otlp-keyname"))]}]}]}]});
    assert_eq!(app.post("/v1/logs", &key, &export).await.0, 200);
    // `clef lint --push` and `clef drift --push`: files, keys and messages that quote keys.
    let lint = crate::cli_today::otlp_lint(&[
        ("error", "schema", &canary("lint-file"), Some(&canary("lint-key"))),
        ("warning", "sops", &canary("lint-file-2"), None),
    ]);
    assert_eq!(app.post("/v1/logs", &key, &lint).await.0, 200);
    let drift = crate::cli_today::otlp_drift(&[("oauth", &canary("drift-key"), &["dev"], &["production"])]);
    assert_eq!(app.post("/v1/logs", &key, &drift).await.0, 200);
    // A dashboard session: its token and the password that opened it are our secrets too.
    let cookie = session_cookie(app, "owner@acme.example", "a long password").await;
    let session =
        cookie.split_once('=').map(|(_, v)| v.split(';').next().unwrap_or(v).to_owned()).expect("session");
    assert!(session.len() >= 32, "{cookie}");
    // Let the worker write its mail, then stop the server so the WAL is checkpointed and read too.
    crate::notifications::wait_deliveries(app, &id, |d| {
        d.iter().any(|m| m["channel"] == "email" && m["status"] == "sent")
    })
    .await;
    let pid = app.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    assert!(app.wait_exit().await);

    let needles = vec![
        String::from("CANARY7f3a"),
        key.clone(),
        key[6..].to_owned(),
        app.token.clone(),
        app.token[6..].to_owned(),
        signing_secret,
        session,
        String::from("a long password"),
    ];
    Laced { integration: id, needles }
}

/// The stored report still has everything it should.
async fn check_still_useful(app: &mut TestApp, id: &str) {
    app.restart().await;
    let (_, stored) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(1)), &app.token).await;
    assert_eq!(stored["policyResults"][0]["scope"], "oauth/production");
    assert_eq!(stored["summary"]["cells"][0]["description"], "3 key(s)");
}
