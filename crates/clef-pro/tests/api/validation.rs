use crate::helpers::*;
use serde_json::{Value, json};

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    *v.pointer_mut(pointer).expect("pointer exists") = value;
    v
}

/// Every malformed submission is a 4xx naming the field, and writes nothing.
#[tokio::test]
async fn malformed_reports_are_4xx_with_the_field_path_and_write_nothing() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let good = report(1, &[("r", "a/b")]);
    let long = "x".repeat(5000);
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(good.clone(), "/commitSha", json!("abc")), 422, "commitSha"),
        (with(good.clone(), "/commitSha", json!("g".repeat(40))), 422, "commitSha"),
        (with(good.clone(), "/commitSha", json!(12)), 422, "commitSha"),
        (
            with(good.clone(), "/summary/cells/1/healthStatus", json!("sick")),
            422,
            "summary.cells[1].healthStatus",
        ),
        (with(good.clone(), "/policyResults/0/severity", json!("fatal")), 422, "policyResults[0].severity"),
        (with(good.clone(), "/policyResults/0/passed", json!("no")), 422, "policyResults[0].passed"),
        (with(good.clone(), "/policyResults/0/scope", json!([1])), 422, "policyResults[0].scope"),
        (with(good.clone(), "/summary/filesScanned", json!(-3)), 422, "summary.filesScanned"),
        (with(good.clone(), "/summary/cells", json!({})), 422, "summary.cells"),
        (with(good.clone(), "/commitTimestamp", json!("yesterday")), 422, "commitTimestamp"),
        (with(good.clone(), "/drift/0/isDrifted", json!(null)), 422, "drift[0].isDrifted"),
        (with(good.clone(), "/policyResults/0/message", json!(long)), 422, "policyResults[0].message"),
        (
            with(good.clone(), "/ciContext/pipelineUrl", json!("javascript:alert(1)")),
            422,
            "ciContext.pipelineUrl",
        ),
        (json!({"branch": "main"}), 422, ""),
        (json!([1, 2]), 422, ""),
    ];
    for (body, status, path) in cases {
        let (s, answer) = app.post("/api/v1/reports", &key, &body).await;
        assert_eq!(s, status, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        if !path.is_empty() {
            assert_eq!(answer["error"]["path"], path, "{answer}");
        }
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    for raw in [&b"{"[..], b"", b"not json", b"\xff\xfe{}"] {
        let (s, answer) = app.post_raw("/api/v1/reports", &key, raw.to_vec(), "application/json").await;
        assert_eq!((s, answer["error"]["code"].as_str()), (400, Some("malformed_json")), "{answer}");
    }
    let (s, answer) = app.post_raw("/api/v1/reports", &key, b"commitSha=1".to_vec(), "text/plain").await;
    assert_eq!((s, answer["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let (_, reports) = app.get(&format!("/api/v1/integrations/{id}/reports"), &app.token).await;
    assert_eq!(reports, json!([]));
}

#[tokio::test]
async fn a_batch_with_a_bad_fourth_report_names_it_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let mut reports: Vec<Value> = (1..=6).map(|n| report(n, &[("r", "a")])).collect();
    reports[3] = with(reports[3].clone(), "/summary/cells/1/healthStatus", json!("purple"));
    let (s, answer) = app.post("/api/v1/reports/batch", &key, &json!({ "reports": reports })).await;
    assert_eq!(s, 422);
    assert_eq!(answer["error"]["path"], "reports[3].summary.cells[1].healthStatus");
    let (_, listed) = app.get(&format!("/api/v1/integrations/{id}/reports"), &app.token).await;
    assert_eq!(listed, json!([]));
    assert!(app.alerts(&id, "").await.is_empty());

    let (s, answer) = app.post("/api/v1/reports/batch", &key, &json!({"reports": []})).await;
    assert_eq!((s, answer["error"]["path"].as_str()), (422, Some("reports")));
    let too_many: Vec<Value> = (1..=501).map(|n| report(n, &[])).collect();
    let (s, answer) = app.post("/api/v1/reports/batch", &key, &json!({ "reports": too_many })).await;
    assert_eq!((s, answer["error"]["path"].as_str()), (422, Some("reports")));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn_with(&["--body-limit", "100000"]).await;
    let (_, key) = app.integration("svc").await;
    let batch = json!({"reports": (1..=10).map(big_report).collect::<Vec<_>>()});
    let (s, answer) = app.post("/api/v1/reports/batch", &key, &batch).await;
    assert_eq!((s, answer["error"]["code"].as_str()), (413, Some("payload_too_large")), "{answer}");
}

#[tokio::test]
async fn management_input_errors_are_4xx() {
    let app = TestApp::spawn().await;
    let (id, _) = app.integration("svc").await;
    let t = &app.token;
    let (s, a) = app.post("/api/v1/integrations", t, &json!({"name": ""})).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("name")));
    let (s, _) = app.post("/api/v1/integrations", t, &json!({"name": "svc"})).await;
    assert_eq!(s, 409);
    let (s, a) = app.post("/api/v1/integrations", t, &json!({"name": 5})).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("name")));
    let (s, a) = app.get(&format!("/api/v1/integrations/{id}/alerts?severity=loud"), t).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("severity")));
    let (s, _) = app.get(&format!("/api/v1/integrations/{id}/alerts?acknowledged=maybe"), t).await;
    assert_eq!(s, 400);
    let (s, a) = app.get(&format!("/api/v1/integrations/{id}/reports?limit=0"), t).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("limit")));
    let (s, a) = app.get(&format!("/api/v1/integrations/{id}/reports?before=xyz"), t).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("before")));
    let (s, _) = app.get(&format!("/api/v1/integrations/{id}/matrix"), t).await;
    assert_eq!(s, 404);
    let r = app
        .client
        .put(app.url(&format!("/api/v1/integrations/{id}/policies")))
        .bearer_auth(t)
        .json(&json!({"rules": [{"ruleId": "x", "severity": "loud"}]}))
        .send()
        .await
        .expect("send");
    let (s, a) = answer(r).await;
    assert_eq!((s, a["error"]["path"].as_str()), (422, Some("rules[0].severity")));
    let (s, a) = app.get("/no/such/route", t).await;
    assert_eq!((s, a["error"]["code"].as_str()), (404, Some("not_found")));
    let r = app.client.delete(app.url("/api/v1/reports")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 405);
}
