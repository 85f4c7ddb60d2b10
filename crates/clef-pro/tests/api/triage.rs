//! The inbox, alert timelines and acknowledgement over HTTP.

use crate::helpers::*;
use serde_json::{Value, json};

fn rules(page: &Value) -> Vec<String> {
    page["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["ruleId"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn the_inbox_spans_integrations_filters_counts_and_pages() {
    let app = TestApp::spawn().await;
    let (payments, pay_key) = app.integration("payments").await;
    let (_billing, bill_key) = app.integration("billing").await;
    app.post("/api/v1/reports", &pay_key, &report(1, &[("rotation", "oauth/production")])).await;
    app.post(
        "/api/v1/reports",
        &pay_key,
        &report(2, &[("rotation", "oauth/production"), ("missing_keys", "database/dev")]),
    )
    .await;
    app.post("/api/v1/reports", &bill_key, &report(3, &[("rotation", "cards/production")])).await;

    let (s, inbox) = app.get("/api/v1/alerts", &app.token).await;
    assert_eq!(s, 200, "{inbox}");
    assert_eq!(rules(&inbox), ["rotation", "missing_keys", "rotation"], "newest first across integrations");
    assert_eq!(inbox["counts"]["critical"], 3);
    assert_eq!(inbox["counts"]["total"], 3);
    assert!(inbox["next"].is_null());
    let first = &inbox["alerts"][0];
    assert_eq!(first["namespace"], "cards");
    assert_eq!(first["environment"], "production");
    assert_eq!(first["firstSeenAt"], "2024-11-23T22:13:23Z", "the commit's own time");

    for (query, expect) in [
        (format!("integration={payments}"), vec!["missing_keys", "rotation"]),
        ("namespace=oauth".to_owned(), vec!["rotation"]),
        ("environment=production".to_owned(), vec!["rotation", "rotation"]),
        ("rule=missing_keys".to_owned(), vec!["missing_keys"]),
        ("q=DATABASE".to_owned(), vec!["missing_keys"]),
        ("severity=warning".to_owned(), vec![]),
        ("status=resolved".to_owned(), vec![]),
    ] {
        let (s, page) = app.get(&format!("/api/v1/alerts?{query}"), &app.token).await;
        assert_eq!((s, rules(&page)), (200, expect.iter().map(|r| r.to_string()).collect()), "{query}");
    }

    // Paging with the cursor, one at a time, in both orders.
    for sort in ["newest", "severity"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (s, page) =
                app.get(&format!("/api/v1/alerts?limit=1&sort={sort}&cursor={cursor}"), &app.token).await;
            assert_eq!(s, 200, "{page}");
            seen.extend(rules(&page));
            match page["next"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3, "{sort}: {seen:?}");
    }
    // An integration's own list pages with a Link header, which keeps the filters.
    let mut next = Some(format!("/api/v1/integrations/{payments}/alerts?status=open&limit=1"));
    let mut listed = Vec::new();
    while let Some(path) = next.take() {
        let r =
            reqwest::Client::new().get(app.url(&path)).bearer_auth(&app.token).send().await.expect("request");
        let link = r.headers().get("link").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let page: Vec<Value> = r.json().await.expect("json");
        listed.extend(page.iter().map(|a| (a["ruleId"].clone(), a["status"].clone())));
        if let Some(link) = link {
            assert!(link.contains("status=open") && link.ends_with("rel=\"next\""), "{link}");
            next = link.strip_prefix('<').and_then(|l| l.split_once('>')).map(|(p, _)| p.to_owned());
        }
    }
    assert!(listed.len() == 2 && listed.iter().all(|(_, s)| s == "open"), "{listed:?}");

    // Bad filters are 400 naming the parameter.
    for (query, path) in [
        ("status=maybe", "status"),
        ("sort=oldest", "sort"),
        ("cursor=abc", "cursor"),
        ("severity=fatal", "severity"),
    ] {
        let (s, body) = app.get(&format!("/api/v1/alerts?{query}"), &app.token).await;
        assert!(matches!(s, 400 | 422), "{query}: {s} {body}");
        assert_eq!(body["error"]["path"], path, "{query}: {body}");
    }
}

#[tokio::test]
async fn acknowledgements_carry_reasons_snoozes_and_a_history_on_the_timeline() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("payments").await;
    app.post("/api/v1/reports", &key, &report(1, &[("a", "oauth/production"), ("b", "database/dev")])).await;
    app.post("/api/v1/reports", &key, &report(2, &[("a", "oauth/production"), ("b", "database/dev")])).await;
    let alerts = app.alerts(&id, "").await;
    let id_of = |rule: &str| {
        alerts.iter().find(|a| a["ruleId"] == rule).and_then(|a| a["id"].as_str()).expect(rule).to_owned()
    };
    let (a, b) = (id_of("a"), id_of("b"));

    // A snooze in the past, a reason too long and an unknown field are refused and change nothing.
    for (body, path) in [
        (json!({"until": "2020-01-01T00:00:00Z"}), "until"),
        (json!({"until": "tomorrow"}), "until"),
        (json!({"reason": "x".repeat(501)}), "reason"),
    ] {
        let (s, e) = app.post(&format!("/api/v1/alerts/{a}/acknowledge"), &app.token, &body).await;
        assert_eq!((s, e["error"]["path"].as_str()), (422, Some(path)), "{e}");
    }
    let (s, e) =
        app.post(&format!("/api/v1/alerts/{a}/acknowledge"), &app.token, &json!({"because": "x"})).await;
    assert!(matches!(s, 400 | 422), "{e}");
    assert_eq!(app.get(&format!("/api/v1/alerts/{a}"), &app.token).await.1["acknowledged"], false);

    let (s, acked) = app
        .post(
            &format!("/api/v1/alerts/{a}/acknowledge"),
            &app.token,
            &json!({"reason": "rotating on Friday", "until": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, 200, "{acked}");
    assert_eq!(
        (
            acked["acknowledged"].as_bool(),
            acked["acknowledgedReason"].as_str(),
            acked["acknowledgedUntil"].as_str()
        ),
        (Some(true), Some("rotating on Friday"), Some("2099-01-01T00:00:00Z"))
    );
    app.post(&format!("/api/v1/alerts/{a}/unacknowledge"), &app.token, &json!({})).await;
    // The body is optional.
    let (s, _) = app
        .post_raw(&format!("/api/v1/alerts/{a}/acknowledge"), &app.token, vec![], "application/json")
        .await;
    assert_eq!(s, 200);

    let (s, t) = app.get(&format!("/api/v1/alerts/{a}/timeline"), &app.token).await;
    assert_eq!(s, 200, "{t}");
    let kinds: Vec<&str> = t["acknowledgements"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["acknowledged", "unacknowledged", "acknowledged"]);
    assert_eq!(t["acknowledgements"][0]["reason"], "rotating on Friday");
    assert_eq!(t["acknowledgements"][0]["by"], "owner@acme.example");
    let seen: Vec<&str> =
        t["reports"].as_array().expect("reports").iter().filter_map(|r| r["commitSha"].as_str()).collect();
    assert_eq!(seen, [sha(2), sha(1)]);
    assert_eq!(t["alert"]["occurrences"], 2);
    let (_, older) = app.get(&format!("/api/v1/alerts/{a}/reports?before={}", sha(2)), &app.token).await;
    assert_eq!(older.as_array().map(Vec::len), Some(1));

    // Bulk: all or none. A resolved alert in the list refuses the lot.
    app.post("/api/v1/reports", &key, &report(3, &[("b", "database/dev")])).await;
    let (s, e) =
        app.post("/api/v1/alerts/acknowledge", &app.token, &json!({"ids": [b.clone(), a.clone()]})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(app.get(&format!("/api/v1/alerts/{b}"), &app.token).await.1["acknowledged"], false);
    let (s, e) = app.post("/api/v1/alerts/acknowledge", &app.token, &json!({"ids": []})).await;
    assert_eq!((s, e["error"]["path"].as_str()), (422, Some("ids")));
    let (s, done) = app
        .post("/api/v1/alerts/acknowledge", &app.token, &json!({"ids": [b.clone()], "reason": "known"}))
        .await;
    assert_eq!((s, done[0]["acknowledgedReason"].as_str()), (200, Some("known")), "{done}");
    let (_, inbox) = app.get("/api/v1/alerts?acknowledged=false", &app.token).await;
    assert!(rules(&inbox).is_empty(), "{inbox}");
}

#[tokio::test]
async fn trends_and_exports_answer_over_http() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("payments").await;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    // Opened four days ago, one fixed a day later, the other still failing.
    for (n, days_ago, failing) in [
        (1, 4, vec![("leak", "db/prod"), ("rotation", "api/dev")]),
        (2, 3, vec![("rotation", "api/dev")]),
        (3, 0, vec![("rotation", "api/dev")]),
    ] {
        let mut r = report(n, &failing);
        r["commitTimestamp"] = json!(now - days_ago * 86_400_000);
        assert_eq!(app.post("/api/v1/reports", &key, &r).await.0, 200);
    }
    let (s, t) = app.get(&format!("/api/v1/trends?days=7&integration={id}"), &app.token).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["open"].as_array().map(Vec::len), Some(8), "one point per day end and the start");
    assert_eq!(t["open"][7]["critical"], 1);
    assert_eq!(t["open"][3]["critical"], 2, "both open four days ago: {t}");
    assert_eq!((t["opened"].as_u64(), t["resolved"].as_u64()), (Some(2), Some(1)));
    let critical = &t["resolveTimes"][0];
    assert_eq!((critical["by"].as_str(), critical["group"].as_str()), (Some("severity"), Some("critical")));
    assert_eq!(critical["medianSeconds"], 86_400);
    let cells: Vec<&str> =
        t["cells"].as_array().expect("cells").iter().filter_map(|c| c["namespace"].as_str()).collect();
    assert_eq!(cells, ["api", "db"], "the longest violation first");
    let (s, e) = app.get("/api/v1/trends?days=10", &app.token).await;
    assert_eq!((s, e["error"]["path"].as_str()), (422, Some("days")), "{e}");
    let (s, _) = app.get("/api/v1/trends?integration=nope", &app.token).await;
    assert_eq!(s, 404);

    let download = |path: String| {
        let r = app.client.get(app.url(&path)).bearer_auth(&app.token);
        async move {
            let r = r.send().await.expect("request");
            let kind =
                r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            (r.status().as_u16(), kind, r.text().await.expect("body"))
        }
    };
    let (s, kind, csv) = download(format!("/api/v1/alerts/export?status=any&integration={id}")).await;
    assert_eq!((s, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("id,integrationId,ruleId,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "a header and two alerts: {csv}");
    let (_, kind, json_text) = download("/api/v1/alerts/export?format=json&status=open".into()).await;
    let alerts: Vec<Value> = serde_json::from_str(&json_text).expect("json");
    assert_eq!((kind.as_str(), alerts.len()), ("application/json", 1));
    let (s, _, csv) = download(format!("/api/v1/integrations/{id}/reports/export")).await;
    assert_eq!(s, 200);
    assert!(csv.starts_with("id,commitSha,branch,") && csv.lines().count() == 4, "{csv}");
    let (s, _, e) = download("/api/v1/alerts/export?format=xml".into()).await;
    assert!(s == 422 && e.contains("\"format\""), "{s} {e}");
}
