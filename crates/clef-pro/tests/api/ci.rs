use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_batch_of_500_large_reports_is_stored_whole() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("big").await;
    let batch = json!({"reports": (1..=500).map(big_report).collect::<Vec<_>>()});
    let bytes = serde_json::to_vec(&batch).expect("json");
    assert!(bytes.len() > 10_000_000, "a realistic batch is about 12 MB, got {}", bytes.len());
    let (s, body) = app.post_raw("/api/v1/reports/batch", &key, bytes, "application/json").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["reportIds"].as_array().map(Vec::len), Some(500));
    let (_, i) = app.get(&format!("/api/v1/integrations/{id}"), &key).await;
    assert_eq!(i["lastCommitSha"], sha(500));
    let (_, m) = app.get(&format!("/api/v1/integrations/{id}/matrix"), &app.token).await;
    assert_eq!(
        (m["namespaces"].as_array().map(Vec::len), m["environments"].as_array().map(Vec::len)),
        (Some(20), Some(5))
    );
    // Five failing rule+scopes, each introduced by the batch's first commit.
    let alerts = app.alerts(&id, "status=open").await;
    assert_eq!(alerts.len(), 5);
    assert!(alerts.iter().all(|a| a["introducedByCommit"] == sha(1)));
}

#[tokio::test]
async fn an_identical_retry_returns_the_same_id_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let (_, first) = app.post("/api/v1/reports", &key, &report(7, &[("r", "x")])).await;
    let (_, again) = app.post("/api/v1/reports", &key, &report(7, &[("r", "x")])).await;
    assert_eq!(first["id"], again["id"]);
    let alerts = app.alerts(&id, "").await;
    assert_eq!((alerts.len(), alerts[0]["occurrences"].as_u64()), (1, Some(1)));
}

#[tokio::test]
async fn keys_open_only_their_own_integration_and_stop_when_revoked() {
    let app = TestApp::spawn().await;
    let (a, key_a) = app.integration("a").await;
    let (b, _key_b) = app.integration("b").await;
    assert_eq!(app.get(&format!("/api/v1/integrations/{a}"), &key_a).await.0, 200);
    let (s, body) = app.get(&format!("/api/v1/integrations/{b}"), &key_a).await;
    assert_eq!((s, body["error"]["code"].as_str()), (404, Some("not_found")));
    assert_eq!(app.get("/api/v1/integrations/no-such-id", &key_a).await.0, 404);
    // API keys are for CI endpoints only.
    assert_eq!(app.get("/api/v1/integrations", &key_a).await.0, 401);
    assert_eq!(app.get(&format!("/api/v1/integrations/{a}/alerts"), &key_a).await.0, 401);
    // No credential, a made-up one, and personal tokens on CI submission: 401.
    let r = app.client.get(app.url(&format!("/api/v1/integrations/{a}"))).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(app.post("/api/v1/reports", "clefk_madeup", &report(1, &[])).await.0, 401);
    assert_eq!(app.post("/api/v1/reports", &app.token, &report(1, &[])).await.0, 401);
    // Revocation takes effect at once.
    let (_, keys) = app.get(&format!("/api/v1/integrations/{a}/api-keys"), &app.token).await;
    let key_id = keys[0]["id"].as_str().expect("key id");
    assert!(keys[0]["lastUsedAt"].is_string());
    assert!(keys[0].get("key").is_none() && keys[0].get("keyHash").is_none());
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/integrations/{a}/api-keys/{key_id}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
    let (s, body) = app.post("/api/v1/reports", &key_a, &report(2, &[])).await;
    assert_eq!((s, body["error"]["code"].as_str()), (401, Some("unauthorized")));
}

#[tokio::test]
async fn otlp_logs_are_a_report_and_the_checkpoint_follows_the_head() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("otel").await;
    assert_eq!(app.get("/v1/checkpoint", &key).await.0, 404);
    let kv = |k: &str, v: serde_json::Value| json!({"key": k, "value": v});
    let export = json!({"resourceLogs": [{
        "resource": {"attributes": [
            kv("clef.repo.commit", json!({"stringValue": sha(42)})),
            kv("clef.repo.branch", json!({"stringValue": "main"}))]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": "1732400000000000000", "body": {"stringValue": "clef.report.summary"},
             "attributes": [kv("clef.errorCount", json!({"intValue": "1"})), kv("clef.passed", json!({"boolValue": false}))]},
            {"body": {"stringValue": "clef.report.issue"}, "attributes": [
                kv("clef.severity", json!({"stringValue": "error"})), kv("clef.category", json!({"stringValue": "schema"})),
                kv("clef.message", json!({"stringValue": "2 keys fail schema"})),
                kv("clef.namespace", json!({"stringValue": "database"})),
                kv("clef.file", json!({"stringValue": "secrets/database/prod.enc.yaml"}))]}]}]}]});
    let (s, body) = app.post("/v1/logs", &key, &export).await;
    assert_eq!(s, 200, "{body}");
    let (s, cp) = app.get("/v1/checkpoint", &key).await;
    assert_eq!((s, cp["lastCommitSha"].as_str()), (200, Some(sha(42).as_str())));
    let alerts = app.alerts(&id, "").await;
    assert_eq!(
        (alerts[0]["ruleId"].as_str(), alerts[0]["scope"].as_str()),
        (Some("schema/error"), Some("database"))
    );
    let (_, stored) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(42)), &app.token).await;
    assert!(!stored.to_string().contains("enc.yaml"));
}

#[tokio::test]
async fn ci_context_is_dropped_when_the_integration_does_not_collect_it() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("quiet").await;
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/integrations/{id}")))
        .bearer_auth(&app.token)
        .json(&json!({"config": {"collectCIContext": false}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[])).await.0, 200);
    let (s, stored) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(1)), &app.token).await;
    assert_eq!(s, 200, "{stored}");
    assert!(stored["ciContext"].is_null(), "{stored}");
    // The control: an integration that collects keeps what the same report carries.
    let (loud, loud_key) = app.integration("loud").await;
    assert_eq!(app.post("/api/v1/reports", &loud_key, &report(1, &[])).await.0, 200);
    let (s, stored) = app.get(&format!("/api/v1/integrations/{loud}/reports/{}", sha(1)), &app.token).await;
    assert_eq!(s, 200, "{stored}");
    assert_eq!(stored["ciContext"]["pipelineUrl"], "https://ci.example/run/1", "{stored}");
}

/// Neither keys nor report contents reach the logs, even at debug level.
#[tokio::test]
async fn logs_carry_no_key_and_no_report_content() {
    let app = TestApp::spawn().await;
    let (_, key) = app.integration("svc").await;
    let mut r = report(1, &[("canary_rule", "canary-namespace/production")]);
    r["summary"]["cells"][0]["description"] = json!("canary-description-5f1e");
    r["filePath"] = json!("canary/secret/path.enc.yaml");
    app.post("/api/v1/reports", &key, &r).await;
    app.post("/api/v1/reports", &key, &json!({"commitSha": "canary-bad-sha"})).await;
    let log = app.server_log();
    assert!(log.contains("reports ingested"), "the log is being written");
    for secret in [key.as_str(), &key[6..], app.token.as_str(), "canary"] {
        assert!(!log.contains(secret), "log leaks {secret}");
    }
}

/// SIGTERM stops accepting, lets the request in flight finish and commit, then exits 0.
#[tokio::test]
async fn graceful_shutdown_finishes_the_batch_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let body =
        serde_json::to_vec(&json!({"reports": (1..=500).map(big_report).collect::<Vec<_>>()})).expect("json");
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/reports/batch HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.expect("write first half");
    // The request is now surely accepted and half read when the signal arrives.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let pid = app.pid();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stream.write_all(rest).await.expect("write second half");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", answer.lines().next().unwrap_or_default());
    assert!(app.wait_exit().await, "clef-pro exits 0 after SIGTERM");
    // A clean stop folds the write-ahead log into the database file, so the file alone (what
    // people copy as a backup) holds everything.
    let db = app.data_dir().join("clef-pro.db");
    let wal = app.data_dir().join("clef-pro.db-wal");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the WAL was checkpointed");
    let _ = std::fs::remove_file(&wal);
    let _ = std::fs::remove_file(app.data_dir().join("clef-pro.db-shm"));
    assert!(std::fs::metadata(&db).expect("db file").len() > 200_000, "the reports are in the file");
    // The batch was committed: a new server on the same data sees all of it.
    app.restart().await;
    let (_, reports) = app.get(&format!("/api/v1/integrations/{id}/reports?limit=500"), &app.token).await;
    assert_eq!(reports.as_array().map(Vec::len), Some(500));
}
