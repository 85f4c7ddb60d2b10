use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn viewers_read_members_acknowledge_admins_manage() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    app.post("/api/v1/reports", &key, &report(1, &[("r", "a")])).await;
    let alert_id = app.alerts(&id, "").await[0]["id"].as_str().expect("id").to_owned();
    let viewer = add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let member = add_user(&app.data_dir(), "member@acme.example", "acme", "member");

    assert_eq!(app.get(&format!("/api/v1/integrations/{id}/alerts"), &viewer).await.0, 200);
    let (s, a) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &viewer, &json!({})).await;
    assert_eq!((s, a["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, a) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &member, &json!({})).await;
    assert_eq!((s, a["acknowledgedBy"].as_str()), (200, Some("member@acme.example")));
    let (s, _) = app.post(&format!("/api/v1/integrations/{id}/api-keys"), &member, &json!({})).await;
    assert_eq!(s, 403);
    let (s, _) = app.post("/api/v1/integrations", &viewer, &json!({"name": "x"})).await;
    assert_eq!(s, 403);
    // An admin manages what a member cannot: integrations, keys, channels, policies.
    let admin = add_user(&app.data_dir(), "admin@acme.example", "acme", "admin");
    let (s, made) = app.post("/api/v1/integrations", &admin, &json!({"name": "by-admin"})).await;
    assert_eq!(s, 201, "{made}");
    let (s, _) = app.post(&format!("/api/v1/integrations/{id}/api-keys"), &admin, &json!({})).await;
    assert_eq!(s, 201);
    let channel = json!({"channel": "email", "target": "ops@acme.example", "minSeverity": "info"});
    assert_eq!(app.post(&format!("/api/v1/integrations/{id}/channels"), &admin, &channel).await.0, 201);
    // The same kind and target again is refused, whatever the letter case.
    let again = json!({"channel": "email", "target": "OPS@acme.example", "minSeverity": "critical"});
    let (s, body) = app.post(&format!("/api/v1/integrations/{id}/channels"), &admin, &again).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    assert_eq!(app.post(&format!("/api/v1/integrations/{id}/channels"), &member, &channel).await.0, 403);
    let (s, a) = app.post(&format!("/api/v1/alerts/{alert_id}/unacknowledge"), &admin, &json!({})).await;
    assert_eq!((s, a["acknowledged"].as_bool(), a["status"].as_str()), (200, Some(false), Some("open")));
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    let actions: Vec<&str> =
        log.as_array().expect("log").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions[0], "alert.unacknowledge");
    assert!(actions.contains(&"alert.acknowledge") && actions.contains(&"channel.create"), "{actions:?}");
    // Paged with `before`: two pages of two are the first four entries.
    let (_, first) = app.get("/api/v1/audit-log?limit=2", &app.token).await;
    let last = first[1]["id"].as_i64().expect("id");
    let (_, second) = app.get(&format!("/api/v1/audit-log?limit=2&before={last}"), &app.token).await;
    let paged: Vec<&serde_json::Value> =
        first.as_array().into_iter().chain(second.as_array()).flatten().collect();
    assert_eq!(paged, log.as_array().expect("log").iter().take(4).collect::<Vec<_>>());
    let by_admin: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter(|e| e["actor"] == "admin@acme.example")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["integration.create", "channel.create", "alert.unacknowledge"] {
        assert!(by_admin.contains(&action), "{action} by the admin is audited under its name: {by_admin:?}");
    }
}

/// Authenticating is a read: an API key's last use moves at most once a minute.
#[tokio::test]
async fn a_keys_last_use_moves_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let last_use = || async {
        let (_, keys) = app.get(&format!("/api/v1/integrations/{id}/api-keys"), &app.token).await;
        keys[0]["lastUsedAt"].clone()
    };
    assert!(last_use().await.is_null(), "never used yet");
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[])).await.0, 200);
    let first = last_use().await;
    assert!(first.is_string(), "the first use is recorded: {first}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for n in 2..=4 {
        assert_eq!(app.post("/api/v1/reports", &key, &report(n, &[])).await.0, 200);
    }
    assert_eq!(last_use().await, first, "uses within the minute write nothing");
}

#[tokio::test]
async fn another_organisation_sees_nothing_of_this_one() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    app.post("/api/v1/reports", &key, &report(1, &[("r", "a")])).await;
    let alert_id = app.alerts(&id, "").await[0]["id"].as_str().expect("id").to_owned();
    let other = add_user(&app.data_dir(), "owner@other.example", "other", "owner");
    for path in [
        format!("/api/v1/integrations/{id}"),
        format!("/api/v1/integrations/{id}/alerts"),
        format!("/api/v1/integrations/{id}/reports"),
        format!("/api/v1/integrations/{id}/reports/{}", sha(1)),
        format!("/api/v1/integrations/{id}/matrix"),
        format!("/api/v1/integrations/{id}/api-keys"),
        format!("/api/v1/integrations/{id}/policies"),
        format!("/api/v1/alerts/{alert_id}"),
    ] {
        let (s, body) = app.get(&path, &other).await;
        assert_eq!(s, 404, "{path}: {body}");
    }
    let (s, _) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &other, &json!({})).await;
    assert_eq!(s, 404);
    let (_, list) = app.get("/api/v1/integrations", &other).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn integrations_policies_and_history_round_trip() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("svc").await;
    let t = &app.token;
    let rules = json!({"rules": [{"ruleId": "rotation_max_age", "ruleName": "Key rotation max age",
        "severity": "warning", "params": {"maxAgeDays": 90}}]});
    let r = app
        .client
        .put(app.url(&format!("/api/v1/integrations/{id}/policies")))
        .bearer_auth(t)
        .json(&rules)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let (_, i) = app.get(&format!("/api/v1/integrations/{id}"), &key).await;
    assert_eq!(i["policies"]["rules"][0]["params"]["maxAgeDays"], 90);
    assert_eq!(i["config"]["collectCIContext"], true);
    assert!(i["lastCommitSha"].is_null());

    for n in 1..=5 {
        app.post("/api/v1/reports", &key, &report(n, &[])).await;
    }
    let (_, page) = app.get(&format!("/api/v1/integrations/{id}/reports?limit=2"), t).await;
    let shas: Vec<&str> =
        page.as_array().expect("page").iter().filter_map(|r| r["commitSha"].as_str()).collect();
    assert_eq!(shas, [sha(5), sha(4)]);
    let (_, next) = app.get(&format!("/api/v1/integrations/{id}/reports?limit=2&before={}", sha(4)), t).await;
    assert_eq!(next[0]["commitSha"], sha(3));
    let (_, full) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(2)), t).await;
    assert_eq!(
        (full["summary"]["cells"][0]["description"].as_str(), full["drift"][0]["driftCount"].as_u64()),
        (Some("3 key(s)"), Some(2))
    );

    let r = app
        .client
        .patch(app.url(&format!("/api/v1/integrations/{id}")))
        .bearer_auth(t)
        .json(&json!({"name": "renamed", "trackedBranch": "release"}))
        .send()
        .await
        .expect("send");
    let (s, i) = answer(r).await;
    assert_eq!((s, i["name"].as_str(), i["trackedBranch"].as_str()), (200, Some("renamed"), Some("release")));
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/integrations/{id}")))
        .bearer_auth(t)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(app.get(&format!("/api/v1/integrations/{id}"), t).await.0, 404);
}

#[tokio::test]
async fn health_probes_and_the_openapi_document_are_served() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let r = app.client.get(app.url(path)).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let (s, doc) = app.get("/api/openapi.json", "").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/api/v1/reports",
        "/api/v1/reports/batch",
        "/api/v1/integrations/{id}",
        "/api/v1/alerts/{alertId}/acknowledge",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let out = clef(&app.data_dir(), &["healthcheck", "--url", &app.url("/readyz")], None);
    assert_eq!(out.trim(), "ready");
}
