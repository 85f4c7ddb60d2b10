use crate::helpers::*;
use serde_json::json;

/// The concept document's example, step by step, through the HTTP API.
#[tokio::test]
async fn the_concept_lifecycle_end_to_end() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("oauth-service").await;
    let failing = [("missing_keys", "oauth/production")];
    let (abc, def, ghi, jkl, mno) = (0xabc, 0xdef, 0xe01, 0xe02, 0xe03);

    // abc: the violation appears → one open, unacknowledged alert introduced by abc.
    let (s, body) = app.post("/api/v1/reports", &key, &report(abc, &failing)).await;
    assert_eq!((s, body["commitSha"].as_str()), (200, Some(sha(abc).as_str())));
    let alerts = app.alerts(&id, "").await;
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    let alert_id = alert["id"].as_str().expect("id").to_owned();
    assert_eq!((alert["status"].as_str(), alert["acknowledged"].as_bool()), (Some("open"), Some(false)));
    assert_eq!(alert["introducedByCommit"], sha(abc));
    assert_eq!(alert["scope"], "oauth/production");

    // def: still there → the same alert, seen again.
    app.post("/api/v1/reports", &key, &report(def, &failing)).await;
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert_id}"), &app.token).await;
    assert_eq!(
        (a["status"].as_str(), a["lastSeenCommit"].as_str(), a["occurrences"].as_u64()),
        (Some("open"), Some(sha(def).as_str()), Some(2))
    );

    // The user acknowledges → still open, now acknowledged, with who and when.
    let (s, a) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &app.token, &json!({})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!((a["status"].as_str(), a["acknowledged"].as_bool()), (Some("open"), Some(true)));
    assert_eq!(a["acknowledgedBy"], "owner@acme.example");
    assert!(a["acknowledgedAt"].is_string());

    // ghi: still there → unchanged, still acknowledged.
    app.post("/api/v1/reports", &key, &report(ghi, &failing)).await;
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert_id}"), &app.token).await;
    assert_eq!((a["status"].as_str(), a["acknowledged"].as_bool()), (Some("open"), Some(true)));

    // jkl: fixed → resolved by jkl.
    app.post("/api/v1/reports", &key, &report(jkl, &[])).await;
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert_id}"), &app.token).await;
    assert_eq!(
        (a["status"].as_str(), a["resolvedByCommit"].as_str()),
        (Some("resolved"), Some(sha(jkl).as_str()))
    );
    // A resolved alert has nothing left to silence: acknowledging it is a conflict that says so.
    let (s, body) =
        app.post(&format!("/api/v1/alerts/{alert_id}/unacknowledge"), &app.token, &json!({})).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &app.token, &json!({})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("resolved")), "{body}");

    // mno: back again → a new alert with a fresh lifecycle.
    app.post("/api/v1/reports", &key, &report(mno, &failing)).await;
    let open = app.alerts(&id, "status=open").await;
    assert_eq!(open.len(), 1);
    assert_ne!(open[0]["id"], alert_id.as_str());
    assert_eq!(
        (open[0]["introducedByCommit"].as_str(), open[0]["acknowledged"].as_bool()),
        (Some(sha(mno).as_str()), Some(false))
    );
    assert_eq!(app.alerts(&id, "status=resolved").await.len(), 1);
    // The dashboard's "any" filter is understood by the API too.
    assert_eq!(app.alerts(&id, "status=any").await.len(), 2);
    assert_eq!(app.alerts(&id, "status=all").await.len(), 2);
    let (status, body) =
        app.get(&format!("/api/v1/integrations/{id}/alerts?status=closed"), &app.token).await;
    assert_eq!((status, body["error"]["path"].as_str()), (422, Some("status")), "{body}");

    // The matrix follows the head; the integration tells the CLI where to backfill from.
    let (_, i) = app.get(&format!("/api/v1/integrations/{id}"), &key).await;
    assert_eq!(i["lastCommitSha"], sha(mno));
    let (_, m) = app.get(&format!("/api/v1/integrations/{id}/matrix?commit={}", sha(jkl)), &app.token).await;
    assert_eq!(
        (m["isHead"].as_bool(), m["rows"][0]["cells"][1]["healthStatus"].as_str()),
        (Some(false), Some("healthy"))
    );
}

#[tokio::test]
async fn a_backfilled_batch_attributes_the_real_commits_and_is_one_evaluation() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    app.post("/api/v1/reports", &key, &report(1, &[("fixed", "db/prod")])).await;
    let batch = json!({"reports": [
        report(2, &[("fixed", "db/prod")]),
        report(3, &[("new", "oauth")]),
        report(4, &[("new", "oauth")]),
        report(5, &[("new", "oauth")]),
    ]});
    let (s, body) = app.post("/api/v1/reports/batch", &key, &batch).await;
    assert_eq!((s, body["accepted"].as_u64()), (200, Some(4)), "{body}");
    let alerts = app.alerts(&id, "").await;
    let by_rule = |r: &str| alerts.iter().find(|a| a["ruleId"] == r).expect("alert").clone();
    assert_eq!(by_rule("fixed")["resolvedByCommit"], sha(3));
    assert_eq!(by_rule("new")["introducedByCommit"], sha(3));
    // Failed in the three reports 3, 4 and 5, however they arrived.
    assert_eq!(by_rule("new")["occurrences"], 3);
}

/// The same batch sent by 8 clients at once ends as if sent once.
#[tokio::test]
async fn eight_concurrent_clients_sending_one_batch_equal_one_send() {
    let app = TestApp::spawn().await;
    let (racing, key) = app.integration("racing").await;
    let (once, once_key) = app.integration("once").await;
    let batch =
        json!({"reports": (1..=40).map(|n| report(n, &[("r", "a/b"), ("q", "c")])).collect::<Vec<_>>()});
    let sends = (0..8).map(|_| app.post("/api/v1/reports/batch", &key, &batch));
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == 200));
    let ids = &answers[0].1["reportIds"];
    assert!(answers.iter().all(|(_, b)| &b["reportIds"] == ids));
    app.post("/api/v1/reports/batch", &once_key, &batch).await;

    let shape = |alerts: Vec<serde_json::Value>| {
        let mut v: Vec<String> = alerts
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} {} {}",
                    a["ruleId"], a["scope"], a["status"], a["introducedByCommit"], a["occurrences"]
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(shape(app.alerts(&racing, "").await), shape(app.alerts(&once, "").await));
    let (_, reports) = app.get(&format!("/api/v1/integrations/{racing}/reports?limit=500"), &app.token).await;
    assert_eq!(reports.as_array().map(Vec::len), Some(40));
}
