//! Notifications over a real SMTP conversation with a real SMTP server.

use crate::helpers::*;
use crate::smtp::SmtpSink;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn spawn_mailing(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    let mut args = vec!["--smtp-url", &url];
    args.extend_from_slice(&QUICK_DELIVERY);
    TestApp::spawn_with(&args).await
}

async fn channel(app: &TestApp, integration: &str, target: &str, min: &str) -> String {
    let body = json!({"channel": "email", "target": target, "minSeverity": min});
    let (s, ch) = app.post(&format!("/api/v1/integrations/{integration}/channels"), &app.token, &body).await;
    assert_eq!(s, 201, "{ch}");
    ch["id"].as_str().expect("id").to_owned()
}

/// A report failing each (rule, scope, severity).
fn failing(n: u32, results: &[(&str, &str, &str)]) -> Value {
    let pairs: Vec<(&str, &str)> = results.iter().map(|(r, s, _)| (*r, *s)).collect();
    let mut r = report(n, &pairs);
    for (i, (_, _, severity)) in results.iter().enumerate() {
        r["policyResults"][i]["severity"] = json!(severity);
    }
    r
}

pub(crate) async fn deliveries(app: &TestApp, integration: &str) -> Vec<Value> {
    let (s, d) = app.get(&format!("/api/v1/integrations/{integration}/deliveries"), &app.token).await;
    assert_eq!(s, 200, "{d}");
    d.as_array().expect("array").clone()
}

/// Polls the delivery log until `done` holds (at most 30 s).
pub(crate) async fn wait_deliveries(
    app: &TestApp,
    integration: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let d = deliveries(app, integration).await;
        if done(&d) || start.elapsed() > Duration::from_secs(30) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for `total` messages in all and checks no more came.
async fn arrived(sink: &SmtpSink, total: usize) {
    let mails = sink.wait_for(total).await;
    let seen: Vec<_> = mails.iter().map(|m| (&m.to, &m.subject)).collect();
    assert_eq!(mails.len(), total, "messages so far: {seen:#?}");
}

fn unique_ids(mails: &[crate::smtp::Mail]) -> usize {
    mails.iter().map(|m| m.message_id.clone()).collect::<HashSet<_>>().len()
}

/// The concept document's lifecycle with two channels: who hears what at each step.
#[tokio::test]
async fn each_mailbox_hears_the_lifecycle_as_its_severity_and_acknowledgements_say() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink).await;
    let (id, key) = app.integration("oauth-service").await;
    let (sec, dev) = ("security@acme.example", "dev-lead@acme.example");
    channel(&app, &id, sec, "critical").await;
    channel(&app, &id, dev, "warning").await;
    let both = |n| {
        failing(
            n,
            &[
                ("missing_keys", "oauth/production", "critical"),
                ("rotation_max_age", "api-keys/production", "warning"),
            ],
        )
    };
    let rotation = |n| failing(n, &[("rotation_max_age", "api-keys/production", "warning")]);

    // abc: both violations appear → security hears the critical one, dev-lead both.
    app.post("/api/v1/reports", &key, &both(0xabc)).await;
    arrived(&sink, 2).await;
    let s1 = &sink.mails_to(sec)[0];
    assert!(
        s1.subject.contains("oauth-service")
            && s1.subject.contains("1 new")
            && s1.subject.contains(&sha(0xabc)[..7]),
        "{}",
        s1.subject
    );
    assert!(s1.body.contains("missing_keys") && !s1.body.contains("rotation_max_age"));
    assert!(s1.body.contains("https://ci.example/run/2748"), "the CI pipeline link");
    assert!(s1.body.contains("https://clef.acme.example/alerts/"), "a link to the alert");
    let d1 = &sink.mails_to(dev)[0];
    assert!(d1.body.contains("missing_keys") && d1.body.contains("rotation_max_age"));

    // def: still failing, nobody acknowledged → both hear it again.
    app.post("/api/v1/reports", &key, &both(0xdef)).await;
    arrived(&sink, 4).await;
    assert!(sink.mails_to(sec)[1].subject.contains("1 still failing"), "{}", sink.mails_to(sec)[1].subject);

    // Security acknowledges the critical alert.
    let missing =
        app.alerts(&id, "status=open&severity=critical").await[0]["id"].as_str().expect("id").to_owned();
    app.post(&format!("/api/v1/alerts/{missing}/acknowledge"), &app.token, &json!({})).await;

    // ghi: still failing → security hears nothing; dev-lead only the unacknowledged warning.
    app.post("/api/v1/reports", &key, &both(0xe01)).await;
    arrived(&sink, 5).await;
    let d3 = &sink.mails_to(dev)[2];
    assert!(d3.body.contains("rotation_max_age") && !d3.body.contains("missing_keys"), "{}", d3.body);
    assert_eq!(sink.mails_to(sec).len(), 2);

    // jkl: the critical one is fixed → resolution is silent; dev-lead hears the warning again.
    app.post("/api/v1/reports", &key, &rotation(0xe02)).await;
    arrived(&sink, 6).await;
    assert_eq!(sink.mails_to(sec).len(), 2);

    // mno: the critical one is back → a fresh alert, and security hears of it again.
    app.post("/api/v1/reports", &key, &both(0xe03)).await;
    arrived(&sink, 8).await;
    let s3 = &sink.mails_to(sec)[2];
    assert!(s3.subject.contains("1 new") && s3.body.contains(&sha(0xe03)[..7]), "{}", s3.subject);
    let d5 = &sink.mails_to(dev)[4];
    let (new_at, recurring_at) = (d5.body.find("missing_keys"), d5.body.find("rotation_max_age"));
    assert!(new_at.is_some() && new_at < recurring_at, "new alerts come first: {}", d5.body);

    // Nothing more arrives, nothing arrived twice, and the log agrees.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let all = sink.mails();
    assert_eq!((sink.mails_to(sec).len(), sink.mails_to(dev).len()), (3, 5));
    assert_eq!(unique_ids(&all), 8);
    let log = deliveries(&app, &id).await;
    assert_eq!(log.len(), 8);
    assert!(log.iter().all(|d| d["status"] == "sent"
        && d["attempts"][0]["detail"].as_str().is_some_and(|a| a.starts_with("250"))));
}

#[tokio::test]
async fn with_the_mail_server_down_ingest_succeeds_and_every_message_arrives_once_later() {
    let mut sink = SmtpSink::start();
    sink.stop();
    let app = spawn_mailing(&sink).await;
    let (id, key) = app.integration("svc").await;
    channel(&app, &id, "ops@acme.example", "info").await;
    for n in 1..=5 {
        let rule = format!("rule_{n}");
        let (s, body) = app.post("/api/v1/reports", &key, &failing(n, &[(&rule, "db/prod", "error")])).await;
        assert_eq!(s, 200, "{body}");
    }
    let log = wait_deliveries(&app, &id, |d| {
        d.len() == 5 && d.iter().all(|m| !m["attempts"].as_array().is_none_or(Vec::is_empty))
    })
    .await;
    assert!(
        log.iter().all(|m| m["status"] == "pending" && m["attempts"][0]["outcome"] == "transient"),
        "{log:#?}"
    );

    sink.resume();
    let mails = sink.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 5);
    assert_eq!(unique_ids(&mails), 5);
    let log = wait_deliveries(&app, &id, |d| d.iter().all(|m| m["status"] == "sent")).await;
    assert!(log.iter().all(|m| m["status"] == "sent"), "{log:#?}");
}

#[tokio::test]
async fn a_rejected_message_becomes_a_visible_dead_letter_and_a_deferred_one_is_retried() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink).await;
    let (id, key) = app.integration("svc").await;
    channel(&app, &id, "nobody@acme.example", "info").await;

    sink.set_mode("reject");
    app.post("/api/v1/reports", &key, &failing(1, &[("r1", "a", "critical")])).await;
    let log = wait_deliveries(&app, &id, |d| d.first().is_some_and(|m| m["status"] == "failed")).await;
    let dead = &log[0];
    assert_eq!(dead["status"], "failed", "{dead:#}");
    let attempts = dead["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "{dead:#}");
    assert!(
        attempts
            .iter()
            .all(|a| a["outcome"] == "permanent" && a["detail"].as_str().is_some_and(|d| d.contains("550")))
    );

    sink.set_mode("tempfail");
    app.post("/api/v1/reports", &key, &failing(2, &[("r2", "a", "critical")])).await;
    wait_deliveries(&app, &id, |d| d.len() == 2 && d[0]["attempts"].as_array().is_some_and(|a| a.len() >= 2))
        .await;
    sink.set_mode("accept");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let log = wait_deliveries(&app, &id, |d| d[0]["status"] == "sent").await;
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert!(attempts.len() >= 3, "{:#}", log[0]);
    assert!(
        attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a["outcome"] == "transient" && a["detail"].as_str().is_some_and(|d| d.contains("451")))
    );
    assert_eq!(attempts[attempts.len() - 1]["outcome"], "sent");
}

/// SIGTERM mid-backlog: the send in progress completes, the rest waits, nothing twice.
#[tokio::test]
async fn a_restart_in_the_middle_of_a_backlog_of_200_delivers_each_exactly_once() {
    let sink = SmtpSink::start();
    sink.set_mode("slow 0.01");
    let mut app = spawn_mailing(&sink).await;
    let (id, _) = app.integration("svc").await;
    let ch = channel(&app, &id, "ops@acme.example", "info").await;
    for _ in 0..200 {
        let (s, _) =
            app.post(&format!("/api/v1/integrations/{id}/channels/{ch}/test"), &app.token, &json!({})).await;
        assert_eq!(s, 202);
    }
    let start = Instant::now();
    while sink.mails().len() < 30 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = app.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    assert!(app.wait_exit().await, "clef-pro exits 0 after SIGTERM");
    let before_restart = sink.mails().len();
    assert!(before_restart < 200, "the backlog was not drained before the restart");

    app.restart().await;
    sink.wait_for(200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 200);
    assert_eq!(unique_ids(&mails), 200);
    assert!(mails.iter().all(|m| m.subject == "[Clef Pro] Test message for svc"));
}

#[tokio::test]
async fn test_sends_are_limited_per_channel() {
    let app = TestApp::spawn().await;
    let (id, _) = app.integration("svc").await;
    let ch = channel(&app, &id, "ops@acme.example", "info").await;
    let path = format!("/api/v1/integrations/{id}/channels/{ch}/test");
    for _ in 0..5 {
        assert_eq!(app.post(&path, &app.token, &json!({})).await.0, 202);
    }
    let r =
        app.client.post(app.url(&path)).bearer_auth(&app.token).json(&json!({})).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Another channel has its own allowance.
    let other = channel(&app, &id, "dev@acme.example", "info").await;
    let (s, _) =
        app.post(&format!("/api/v1/integrations/{id}/channels/{other}/test"), &app.token, &json!({})).await;
    assert_eq!(s, 202);
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let app = TestApp::spawn().await;
    let (id, _) = app.integration("svc").await;
    let ch = channel(&app, &id, "ops@acme.example", "info").await;
    let (s, queued) =
        app.post(&format!("/api/v1/integrations/{id}/channels/{ch}/test"), &app.token, &json!({})).await;
    assert_eq!(s, 202, "{queued}");
    let log = wait_deliveries(&app, &id, |d| d.first().is_some_and(|m| m["status"] == "sent")).await;
    assert_eq!(
        (log[0]["id"].as_str(), log[0]["kind"].as_str()),
        (queued["deliveryId"].as_str(), Some("test"))
    );
    let files: Vec<_> =
        std::fs::read_dir(app.data_dir().join("mail")).expect("mail folder").filter_map(Result::ok).collect();
    assert_eq!(files.len(), 1);
    let mail = std::fs::read_to_string(files[0].path()).expect("eml");
    assert!(
        mail.contains("Subject: [Clef Pro] Test message for svc") && mail.contains("To: ops@acme.example"),
        "{mail}"
    );
    // The log, shown to every member, names the file but not the server's folders.
    let detail = log[0]["attempts"][0]["detail"].as_str().expect("detail");
    let folder = app.data_dir().display().to_string();
    assert!(detail.ends_with("(no SMTP server set)") && !detail.contains(&folder), "{detail}");
}

#[tokio::test]
async fn channels_are_validated_and_managed_by_admins_only() {
    let app = TestApp::spawn().await;
    let (id, _) = app.integration("svc").await;
    let path = format!("/api/v1/integrations/{id}/channels");
    let cases = [
        (json!({"channel": "email", "target": "not an address", "minSeverity": "critical"}), "target"),
        (json!({"channel": "email", "target": "a@b.example", "minSeverity": "loud"}), "minSeverity"),
        (json!({"channel": "pager", "target": "a@b.example", "minSeverity": "info"}), "channel"),
        (json!({"channel": "email", "minSeverity": "info"}), ""),
    ];
    for (body, field) in cases {
        let (s, a) = app.post(&path, &app.token, &body).await;
        assert_eq!(s, 422, "{a}");
        if !field.is_empty() {
            assert_eq!(a["error"]["path"], field, "{a}");
        }
    }
    let ch = channel(&app, &id, "a@b.example", "warning").await;
    let r = app
        .client
        .patch(app.url(&format!("{path}/{ch}")))
        .bearer_auth(&app.token)
        .json(&json!({"minSeverity": "critical", "notifyOnResolve": true}))
        .send()
        .await
        .expect("send");
    let (s, updated) = answer(r).await;
    assert_eq!(
        (s, updated["minSeverity"].as_str(), updated["notifyOnResolve"].as_bool()),
        (200, Some("critical"), Some(true))
    );
    let r = app
        .client
        .patch(app.url(&format!("{path}/no-such-channel")))
        .bearer_auth(&app.token)
        .json(&json!({"target": "x@y.example"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
    let viewer = add_user(&app.data_dir(), "v@acme.example", "acme", "viewer");
    assert_eq!(
        app.post(
            &path,
            &viewer,
            &json!({"channel": "email", "target": "x@y.example", "minSeverity": "info"})
        )
        .await
        .0,
        403
    );
    assert_eq!(app.get(&path, &viewer).await.0, 200);
    let other = add_user(&app.data_dir(), "o@other.example", "other", "owner");
    assert_eq!(app.get(&path, &other).await.0, 404);
    assert_eq!(app.post(&format!("{path}/{ch}/test"), &other, &json!({})).await.0, 404);
    assert_eq!(app.get(&format!("/api/v1/integrations/{id}/deliveries"), &other).await.0, 404);
    let r = app
        .client
        .delete(app.url(&format!("{path}/{ch}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
}

/// The SMTP URL's password is used, never shown: not in the log (even at debug level, even when
/// the server refuses the login), the delivery log, `--help` or `config show`.
#[tokio::test]
async fn the_smtp_password_is_never_logged_or_shown() {
    const PASSWORD: &str = "pw-5ecret-9d2";
    let sink = SmtpSink::start();
    let url = format!("smtp://mailer:{PASSWORD}@127.0.0.1:{}", sink.port);
    let mut args = vec!["--smtp-url", url.as_str()];
    args.extend_from_slice(&QUICK_DELIVERY);
    let app = TestApp::spawn_with(&args).await;
    let (id, key) = app.integration("svc").await;
    channel(&app, &id, "ops@acme.example", "info").await;
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[("r", "db/prod")])).await.0, 200);
    // The sink offers no login, so every attempt fails and is logged and recorded.
    let log = wait_deliveries(&app, &id, |d| {
        d.iter().any(|m| m["attempts"].as_array().is_some_and(|a| a.len() >= 2))
    })
    .await;
    assert!(log[0]["attempts"].as_array().is_some_and(|a| !a.is_empty()), "attempts were made: {log:?}");
    assert!(app.server_log().contains("delivery attempt"), "the attempts are in the log");
    assert!(!app.server_log().contains(PASSWORD), "the server log shows the SMTP password");
    assert!(!serde_json::to_string(&log).expect("json").contains(PASSWORD), "the delivery log shows it");
    let help = std::process::Command::new(BIN)
        .args(["serve", "--help"])
        .env("CLEF_PRO_SMTP_URL", &url)
        .output()
        .expect("help");
    assert!(!String::from_utf8_lossy(&help.stdout).contains(PASSWORD), "--help shows it");
    let shown = std::process::Command::new(BIN)
        .args(["config", "show"])
        .env("CLEF_PRO_SMTP_URL", &url)
        .output()
        .expect("show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("smtp://mailer:****@127.0.0.1") && !shown.contains(PASSWORD), "{shown}");
}

/// An acknowledgement made while a message waits for the mail server leaves the alert out of
/// it; a message left with nothing to say is recorded as suppressed and never sent.
#[tokio::test]
async fn an_alert_acknowledged_before_its_mail_goes_out_is_left_out_of_it() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink).await;
    let (id, key) = app.integration("svc").await;
    channel(&app, &id, "ops@acme.example", "info").await;
    sink.set_mode("tempfail");
    app.post("/api/v1/reports", &key, &failing(1, &[("leak", "db/prod", "critical")])).await;
    wait_deliveries(&app, &id, |d| {
        d.first().is_some_and(|m| m["attempts"].as_array().is_some_and(|a| !a.is_empty()))
    })
    .await;
    let alert = app.alerts(&id, "status=open").await[0]["id"].as_str().expect("id").to_owned();
    let (s, body) = app
        .post(&format!("/api/v1/alerts/{alert}/acknowledge"), &app.token, &json!({"reason": "on it"}))
        .await;
    assert_eq!(s, 200, "{body}");
    sink.set_mode("accept");
    let log = wait_deliveries(&app, &id, |d| d.first().is_some_and(|m| m["status"] == "suppressed")).await;
    assert_eq!(log[0]["status"], "suppressed", "{:#}", log[0]);
    // A later, unrelated alert still arrives: the queue flows, and the suppressed one never came.
    app.post(
        "/api/v1/reports",
        &key,
        &failing(2, &[("leak", "db/prod", "critical"), ("other", "db/prod", "critical")]),
    )
    .await;
    let mails = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 1, "{mails:#?}");
    assert!(
        !mails[0].body.contains("leak failing"),
        "the acknowledged alert is not repeated: {}",
        mails[0].body
    );
    assert!(mails[0].subject.contains("1 new"), "{}", mails[0].subject);
}

/// A channel with a repeat interval hears a still-failing alert once per interval; one without
/// hears it with every report; a digest lists the 25 most severe and links to the rest.
#[tokio::test]
async fn a_repeat_interval_and_the_digest_cap_keep_mail_short_and_rare() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink).await;
    let (id, key) = app.integration("svc").await;
    let path = format!("/api/v1/integrations/{id}/channels");
    let daily = json!({"channel": "email", "target": "daily@acme.example", "minSeverity": "info",
        "repeatIntervalSeconds": 86400});
    let (s, ch) = app.post(&path, &app.token, &daily).await;
    assert_eq!((s, ch["repeatIntervalSeconds"].as_i64()), (201, Some(86400)), "{ch}");
    channel(&app, &id, "every@acme.example", "info").await;
    let many: Vec<(String, &str, &str)> = (0..60)
        .map(|i| (format!("rule_{i:02}"), "db/prod", if i % 3 == 0 { "critical" } else { "info" }))
        .collect();
    let many: Vec<(&str, &str, &str)> = many.iter().map(|(r, s, v)| (r.as_str(), *s, *v)).collect();
    for n in 1..=2 {
        let (s, body) = app.post("/api/v1/reports", &key, &failing(n, &many)).await;
        assert_eq!(s, 200, "{body}");
    }
    arrived(&sink, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails_to("every@acme.example").len(), 2);
    let daily = sink.mails_to("daily@acme.example");
    assert_eq!(daily.len(), 1, "the daily channel heard the recurring alerts only once");
    // 60 alerts: the 25 most severe (all 20 critical ones first) and a link to the rest.
    let body = &daily[0].body;
    assert!(body.contains("35 more"), "{body}");
    let listed = (0..60).filter(|i| body.contains(&format!("rule_{i:02} failing"))).collect::<Vec<_>>();
    assert_eq!(listed.len(), 25, "{listed:?}");
    assert!((0..60).step_by(3).all(|i| listed.contains(&i)), "critical ones first: {listed:?}");
    assert!(daily[0].body.len() < 40_000, "{} bytes", daily[0].body.len());
}

#[tokio::test]
async fn channel_thresholds_repeat_intervals_and_duplicates_are_checked() {
    let app = TestApp::spawn().await;
    let (id, _) = app.integration("svc").await;
    let path = format!("/api/v1/integrations/{id}/channels");
    // error and critical rank alike: one threshold, answered as critical.
    let (s, ch) = app
        .post(
            &path,
            &app.token,
            &json!({"channel": "email", "target": "a@acme.example", "minSeverity": "error"}),
        )
        .await;
    assert_eq!(
        (s, ch["minSeverity"].as_str(), &ch["repeatIntervalSeconds"]),
        (201, Some("critical"), &Value::Null)
    );
    let a = ch["id"].as_str().expect("id").to_owned();
    for seconds in [json!(59), json!(2_592_001), json!("daily")] {
        let body = json!({"channel": "email", "target": "b@acme.example", "minSeverity": "info", "repeatIntervalSeconds": seconds});
        let (s, e) = app.post(&path, &app.token, &body).await;
        assert_eq!(s, 422, "{seconds}: {e}");
        assert_eq!(e["error"]["path"], "repeatIntervalSeconds", "{e}");
    }
    let (s, e) = app
        .post(
            &path,
            &app.token,
            &json!({"channel": "email", "target": "A@acme.example", "minSeverity": "info"}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    let (s, b) = app
        .post(
            &path,
            &app.token,
            &json!({"channel": "email", "target": "b@acme.example", "minSeverity": "info"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let b = b["id"].as_str().expect("id").to_owned();
    let patch = |ch: String, body: Value| {
        let r = app.client.patch(app.url(&format!("{path}/{ch}"))).bearer_auth(&app.token).json(&body);
        async move { answer(r.send().await.expect("send")).await }
    };
    let (s, e) = patch(b.clone(), json!({"target": "a@acme.example"})).await;
    assert_eq!(s, 409, "moving onto another channel's target: {e}");
    let (s, c) = patch(b.clone(), json!({"repeatIntervalSeconds": 3600})).await;
    assert_eq!((s, c["repeatIntervalSeconds"].as_i64()), (200, Some(3600)), "{c}");
    let (s, c) = patch(b.clone(), json!({"minSeverity": "warning"})).await;
    assert_eq!((s, c["repeatIntervalSeconds"].as_i64()), (200, Some(3600)), "absent leaves it: {c}");
    let (s, c) = patch(b, json!({"repeatIntervalSeconds": null})).await;
    assert_eq!((s, &c["repeatIntervalSeconds"]), (200, &Value::Null), "null goes back to every report: {c}");
    let (s, _) = patch(a, json!({"target": "a@acme.example"})).await;
    assert_eq!(s, 200, "a channel keeps its own target");
}
