//! Slack, Microsoft Teams, PagerDuty and signed webhooks through the real server, against a
//! local receiver that answers as each service documents.

use crate::helpers::*;
use crate::notifications::wait_deliveries;
use crate::receiver::{Received, Receiver, Reply};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const SLACK: &str = "/slack/T000/B000/SLACKs3cr3tpath1";
const TEAMS: &str = "/teams/workflows/TEAMSs3cr3tsig2";
const HOOK: &str = "/hook/HOOKs3cr3t3";
const PD_KEY: &str = "PDR0UT1NGKEYs3cr3t00000000000004";

async fn spawn_for(receiver: &Receiver, extra: &[&str]) -> TestApp {
    let pd = receiver.url("/pd");
    let mut args = vec!["--pagerduty-events-url", &pd, "--http-timeout-secs", "2"];
    args.extend_from_slice(&QUICK_DELIVERY);
    args.extend_from_slice(extra);
    TestApp::spawn_with(&args).await
}

async fn add_channel(app: &TestApp, integration: &str, body: Value) -> Value {
    let (s, ch) = app.post(&format!("/api/v1/integrations/{integration}/channels"), &app.token, &body).await;
    assert_eq!(s, 201, "{ch}");
    ch
}

fn settled(d: &[Value]) -> bool {
    d.iter().all(|m| m["status"] != "pending")
}

/// Verifies a delivered webhook with the `standardwebhooks` package, as if `shift_minutes`
/// later; "ok" or its refusal.
fn verify(secret: &str, r: &Received, shift_minutes: i64) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_webhook.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let input =
        json!({"secret": secret, "body": r.body, "headers": r.headers, "shift_minutes": shift_minutes});
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write");
    let out = child.wait_with_output().expect("verifier");
    assert!(out.status.success(), "the verifier failed: is standardwebhooks installed?");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn each_kind_follows_the_alert_lifecycle_and_keeps_its_secret() {
    let receiver = Receiver::start().await;
    let app = spawn_for(&receiver, &["--allow-private-targets"]).await;
    let (id, key) = app.integration("payments").await;
    let slack = add_channel(
        &app,
        &id,
        json!({"channel": "slack", "target": receiver.url(SLACK), "minSeverity": "warning"}),
    )
    .await;
    assert_eq!(slack["target"], "\u{2026}ath1", "only a hint comes back");
    add_channel(
        &app,
        &id,
        json!({"channel": "teams", "target": receiver.url(TEAMS), "minSeverity": "warning"}),
    )
    .await;
    add_channel(&app, &id, json!({"channel": "pagerduty", "target": PD_KEY, "minSeverity": "warning"})).await;
    let hook = add_channel(
        &app,
        &id,
        json!({"channel": "webhook", "target": receiver.url(HOOK), "minSeverity": "info", "notifyOnResolve": true}),
    )
    .await;
    let secret = hook["signingSecret"].as_str().expect("the signing secret, shown once").to_owned();
    assert!(secret.starts_with("whsec_"));
    let (_, listed) = app.get(&format!("/api/v1/integrations/{id}/channels"), &app.token).await;
    assert!(!listed.to_string().contains("s3cr3t") && !listed.to_string().contains("whsec_"), "{listed}");

    // Commit 1: the violation appears. Slack is rate limited once and retried after Retry-After.
    receiver.script(SLACK, &[Reply::Answer(429, "rate_limited", Some(1))]);
    let (s, _) = app.post("/api/v1/reports", &key, &report(1, &[("no-plaintext", "oauth/production")])).await;
    assert_eq!(s, 200);
    let slack_in = receiver.wait_for(SLACK, 2).await;
    assert_eq!(slack_in.len(), 2, "one 429, one retry");
    let blocks = slack_in[1].json();
    assert!(blocks["text"].as_str().is_some_and(|t| t.contains("payments: 1 new alert")), "{blocks}");
    assert!(blocks.to_string().contains("https://clef.acme.example/alerts/"), "links to the alert");
    assert!(blocks.to_string().contains("https://ci.example/run/1"), "links to the pipeline");
    let card = receiver.wait_for(TEAMS, 1).await[0].json();
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    let alert_id = app.alerts(&id, "").await[0]["id"].as_str().expect("id").to_owned();
    let pd = receiver.wait_for("/pd", 1).await;
    assert_eq!(pd[0].json()["event_action"], "trigger");
    assert_eq!(pd[0].json()["dedup_key"], alert_id.as_str());
    assert_eq!(pd[0].json()["routing_key"], PD_KEY);
    assert_eq!(pd[0].json()["payload"]["severity"], "critical");
    let hooks = receiver.wait_for(HOOK, 1).await;
    assert_eq!(verify(&secret, &hooks[0], 0), "ok");
    assert_eq!(
        verify(&secret, &hooks[0], 10),
        "refused: Message timestamp too old",
        "a replay later is refused"
    );
    assert_eq!(hooks[0].json()["type"], "alerts.changed");
    assert_eq!(hooks[0].json()["data"]["alerts"][0]["id"], alert_id.as_str());

    // Commit 2: still failing. Everyone hears it again; PagerDuty folds it into its incident.
    app.post("/api/v1/reports", &key, &report(2, &[("no-plaintext", "oauth/production")])).await;
    assert_eq!(receiver.wait_for(SLACK, 3).await.len(), 3);
    assert_eq!(receiver.wait_for(TEAMS, 2).await.len(), 2);
    assert_eq!(receiver.wait_for("/pd", 2).await[1].json()["dedup_key"], alert_id.as_str());

    // Acknowledged here: PagerDuty and the webhook hear it; chat does not.
    let (s, _) = app.post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), &app.token, &json!({})).await;
    assert_eq!(s, 200);
    let pd = receiver.wait_for("/pd", 3).await;
    assert_eq!(
        (pd[2].json()["event_action"].as_str(), pd[2].json()["dedup_key"].as_str()),
        (Some("acknowledge"), Some(alert_id.as_str()))
    );
    let hooks = receiver.wait_for(HOOK, 3).await;
    assert_eq!(hooks[2].json()["type"], "alert.acknowledged");

    // Commit 3: fixed. PagerDuty always resolves; the webhook opted in; chat did not.
    app.post("/api/v1/reports", &key, &report(3, &[])).await;
    let pd = receiver.wait_for("/pd", 4).await;
    assert_eq!(
        (pd[3].json()["event_action"].as_str(), pd[3].json()["dedup_key"].as_str()),
        (Some("resolve"), Some(alert_id.as_str()))
    );
    let hooks = receiver.wait_for(HOOK, 4).await;
    assert_eq!(hooks[3].json()["data"]["alerts"][0]["change"], "resolved");
    for h in &hooks {
        assert_eq!(verify(&secret, h, 0), "ok");
    }
    assert_eq!(
        [
            receiver.received(SLACK).len(),
            receiver.received(TEAMS).len(),
            receiver.received("/pd").len(),
            hooks.len()
        ],
        [3, 2, 4, 4],
        "exactly these, and nothing more"
    );

    let log = wait_deliveries(&app, &id, settled).await;
    assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
    let first_slack = log.iter().rev().find(|d| d["channel"] == "slack").expect("slack delivery");
    let outcomes: Vec<&str> = first_slack["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["transient", "sent"], "{first_slack:#}");
    assert!(
        log.iter().all(|d| !d["target"].as_str().unwrap_or_default().contains("s3cr3t")),
        "the log shows hints"
    );

    // The dashboard shows hints only.
    let cookie = session_cookie(&app, "owner@acme.example", "a long password").await;
    let page = app.page(&format!("/integrations/{id}/settings"), &cookie).await;
    assert!(
        page.contains("Microsoft Teams") && page.contains("\u{2026}ath1"),
        "the settings list the channels"
    );
    for secret_part in ["s3cr3t", "whsec_", PD_KEY] {
        assert!(!page.contains(secret_part), "{secret_part} shown on the settings page");
    }

    // No byte of any channel secret in the database, its WAL or the server's log.
    let dir = app.data_dir();
    let mut stored = Vec::new();
    for f in ["clef-pro.db", "clef-pro.db-wal", "server.log"] {
        stored.extend(std::fs::read(dir.join(f)).unwrap_or_default());
    }
    let haystack = String::from_utf8_lossy(&stored);
    assert!(haystack.contains("payments"), "the files are the right ones");
    for secret_part in ["SLACKs3cr3t", "TEAMSs3cr3t", "HOOKs3cr3t", PD_KEY, &secret[6..]] {
        assert!(!haystack.contains(secret_part), "{secret_part} stored or logged in the clear");
    }
}

#[tokio::test]
async fn failures_follow_each_services_rules_and_end_visibly() {
    let receiver = Receiver::start().await;
    let app = spawn_for(&receiver, &["--allow-private-targets"]).await;
    let (id, _) = app.integration("payments").await;
    let ch = |body: Value| {
        let app = &app;
        let id = id.clone();
        async move { add_channel(app, &id, body).await["id"].as_str().expect("id").to_owned() }
    };
    // Slack says the channel is archived (final); PagerDuty says the event is invalid (final);
    // the endpoint hangs, then fails with 503, then takes it.
    receiver.script("/slack/archived", &[Reply::Answer(410, "channel_is_archived", None)]);
    receiver.script(
        "/pd",
        &[Reply::Answer(400, r#"{"status":"invalid event","message":"Event object is invalid"}"#, None)],
    );
    receiver.script("/hook/flaky", &[Reply::Hang, Reply::Answer(503, "", None)]);
    let slack =
        ch(json!({"channel": "slack", "target": receiver.url("/slack/archived"), "minSeverity": "info"}))
            .await;
    let pd = ch(json!({"channel": "pagerduty", "target": PD_KEY, "minSeverity": "info"})).await;
    let hook =
        ch(json!({"channel": "webhook", "target": receiver.url("/hook/flaky"), "minSeverity": "info"})).await;
    for c in [&slack, &pd, &hook] {
        let (s, body) =
            app.post(&format!("/api/v1/integrations/{id}/channels/{c}/test"), &app.token, &json!({})).await;
        assert_eq!(s, 202, "{body}");
    }
    let log = wait_deliveries(&app, &id, |d| d.len() == 3 && settled(d)).await;
    let of = |c: &str| log.iter().find(|d| d["channelId"] == c).expect("delivery").clone();
    let attempts = |d: &Value| -> Vec<(String, String)> {
        d["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| {
                (
                    a["outcome"].as_str().unwrap_or_default().to_owned(),
                    a["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let slack = of(&slack);
    assert_eq!(slack["status"], "failed");
    assert_eq!(
        attempts(&slack),
        [("permanent".to_owned(), "Slack answered 410: channel_is_archived".to_owned())]
    );
    let pd = of(&pd);
    assert_eq!(pd["status"], "failed");
    assert_eq!(attempts(&pd).len(), 1);
    assert!(attempts(&pd)[0].1.contains("400"), "{pd:#}");
    let hook = of(&hook);
    assert_eq!(hook["status"], "sent", "{hook:#}");
    let tries = attempts(&hook);
    assert_eq!(tries.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["transient", "transient", "sent"]);
    assert!(tries[0].1.contains("timed out"), "{tries:?}");
    assert!(tries[1].1.contains("503"), "{tries:?}");
    // The same message id each time, so the receiver can tell a retry from a new message.
    let ids: Vec<String> =
        receiver.received("/hook/flaky").iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| i == &ids[0]));
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let receiver = Receiver::start().await;
    let app = spawn_for(&receiver, &["--allow-private-targets"]).await;
    let (id, _) = app.integration("payments").await;
    let hook = add_channel(
        &app,
        &id,
        json!({"channel": "webhook", "target": receiver.url(HOOK), "minSeverity": "info"}),
    )
    .await;
    let (hook_id, first) = (
        hook["id"].as_str().expect("id").to_owned(),
        hook["signingSecret"].as_str().expect("secret").to_owned(),
    );
    let send = |n: usize| {
        let (app, id, hook_id, receiver) = (&app, &id, &hook_id, &receiver);
        async move {
            let (s, _) = app
                .post(&format!("/api/v1/integrations/{id}/channels/{hook_id}/test"), &app.token, &json!({}))
                .await;
            assert_eq!(s, 202);
            receiver.wait_for(HOOK, n).await.remove(n - 1)
        }
    };
    let rotate = |hours: u32| {
        let (app, id, hook_id) = (&app, &id, &hook_id);
        async move {
            let path = format!("/api/v1/integrations/{id}/channels/{hook_id}/rotate-secret");
            let (s, body) = app.post(&path, &app.token, &json!({"overlapHours": hours})).await;
            assert_eq!(s, 200, "{body}");
            body["signingSecret"].as_str().expect("secret").to_owned()
        }
    };
    let m = send(1).await;
    assert_eq!(m.json()["type"], "test");
    assert_eq!(verify(&first, &m, 0), "ok");

    let second = rotate(1).await;
    let m = send(2).await;
    assert_eq!(m.headers["webhook-signature"].split(' ').count(), 2, "both secrets sign during the overlap");
    assert_eq!((verify(&first, &m, 0), verify(&second, &m, 0)), ("ok".into(), "ok".into()));

    // No overlap: only the newest signs, and the older ones no longer verify.
    let third = rotate(0).await;
    let m = send(3).await;
    assert_eq!(verify(&third, &m, 0), "ok");
    assert_eq!(verify(&second, &m, 0), "refused: No matching signature found");
    assert_eq!(verify(&first, &m, 0), "refused: No matching signature found");

    // E-mail channels do not sign; a rotation there is refused.
    let mail = add_channel(
        &app,
        &id,
        json!({"channel": "email", "target": "a@acme.example", "minSeverity": "info"}),
    )
    .await;
    let path =
        format!("/api/v1/integrations/{id}/channels/{}/rotate-secret", mail["id"].as_str().expect("id"));
    let (s, body) = app.post(&path, &app.token, &json!({})).await;
    assert_eq!(s, 409, "{body}");
    let (s, body) = app
        .post(
            &format!("/api/v1/integrations/{id}/channels/{hook_id}/rotate-secret"),
            &app.token,
            &json!({"overlapHours": 1000}),
        )
        .await;
    assert_eq!((s, body["error"]["path"].as_str()), (422, Some("overlapHours")), "{body}");
}

#[tokio::test]
async fn internal_addresses_are_refused_without_the_flag() {
    let receiver = Receiver::start().await;
    let app = spawn_for(&receiver, &[]).await;
    let (id, _) = app.integration("payments").await;
    let port = receiver.base.rsplit(':').next().expect("port").to_owned();
    for host in ["127.0.0.1", "127.0.0.2", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "10.0.0.1"] {
        let body = json!({"channel": "slack", "target": format!("http://{host}:{port}/slack/x"), "minSeverity": "info"});
        let (s, err) = app.post(&format!("/api/v1/integrations/{id}/channels"), &app.token, &body).await;
        assert_eq!(s, 422, "{host}: {err}");
        assert_eq!(err["error"]["path"], "target", "{err}");
        assert!(err.to_string().contains("--allow-private-targets"), "{err}");
    }
    // A name is judged by what it resolves to, when sending: `localhost` is loopback.
    let hook = add_channel(&app, &id, json!({"channel": "webhook", "target": format!("http://localhost:{port}/hook/x"), "minSeverity": "info"})).await;
    let pd = add_channel(&app, &id, json!({"channel": "pagerduty", "target": PD_KEY, "minSeverity": "info"}))
        .await;
    for c in [&hook, &pd] {
        let c = c["id"].as_str().expect("id");
        app.post(&format!("/api/v1/integrations/{id}/channels/{c}/test"), &app.token, &json!({})).await;
    }
    let log = wait_deliveries(&app, &id, |d| d.len() == 2 && settled(d)).await;
    for d in &log {
        assert_eq!(d["status"], "failed", "{d:#}");
        let detail = d["attempts"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("refused") && detail.contains("loopback"), "{detail}");
        assert_eq!(d["attempts"].as_array().map(Vec::len), Some(1), "refused at once");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        receiver.received("/hook/x").is_empty() && receiver.received("/pd").is_empty(),
        "no connection was made"
    );
}
