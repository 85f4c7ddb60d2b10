//! Three replicas on one PostgreSQL database, CI clients racing on them, one replica killed
//! with SIGKILL half way. Afterwards every report is stored once, the alerts equal those of a
//! single node, and the mail server received every message exactly once.
//!
//! PostgreSQL comes from CLEF_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
//! unreachable, the test is skipped, except under CI=true, where it fails.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;
#[path = "../api/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "../api/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use helpers::{BIN, TestDb, answer, clef, sha};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_replica(dir: &std::path::Path, db: &str, smtp: &str) -> Replica {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", db, "serve", "--listen", "127.0.0.1:0", "--smtp-url", smtp])
        .args(["--delivery-retry-base-ms", "200", "--delivery-poll-ms", "100", "--delivery-lease-secs", "3"])
        .args(["--allow-private-targets", "--http-timeout-secs", "2"])
        .env("CLEF_PRO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a replica");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("address");
    Replica { child, base: line.trim().rsplit(' ').next().expect("address").to_owned() }
}

/// Commit `n`: rule `steady` fails from commit 5 on; rule `flaky` fails on commits whose tens
/// digit is odd; `gone` fails until commit 30.
fn report(n: u32) -> Value {
    let mut failing = vec![];
    if n >= 5 {
        failing.push(("steady", "db/prod"));
    }
    if (n / 10) % 2 == 1 {
        failing.push(("flaky", "oauth"));
    }
    if n <= 30 {
        failing.push(("gone", "api-keys/staging"));
    }
    helpers::report(n, &failing)
}

fn batch(range: std::ops::RangeInclusive<u32>) -> Value {
    json!({ "reports": range.map(report).collect::<Vec<_>>() })
}

/// Sends like the CLI, but keeps trying the other replicas until one answers 2xx.
async fn send(client: &reqwest::Client, bases: &[String], start: usize, key: &str, body: &Value) {
    for attempt in 0..12 {
        let base = &bases[(start + attempt) % bases.len()];
        let sent =
            client.post(format!("{base}/api/v1/reports/batch")).bearer_auth(key).json(body).send().await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) if r.status().is_client_error() => panic!("a client error: {}", r.status()),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no replica accepted the batch");
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    answer(client.get(url).bearer_auth(token).send().await.expect("request")).await.1
}

/// Alerts as comparable lines.
async fn alert_lines(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    only_open: bool,
) -> Vec<String> {
    let q = if only_open { "?status=open" } else { "" };
    let alerts = get(client, format!("{base}/api/v1/integrations/{id}/alerts{q}"), token).await;
    let mut lines: Vec<String> = alerts
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a["ruleId"], a["scope"], a["status"], a["introducedByCommit"], a["resolvedByCommit"]
            )
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_racing_and_one_killed_keep_every_guarantee() {
    let Some(db) = TestDb::create().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sink = smtp::SmtpSink::start();
    sink.stop(); // Down during the race: no send is in flight when a replica dies.
    let hooks = receiver::Receiver::start().await;
    hooks.set_down(true);
    let url = db.url.clone();
    clef(
        dir.path(),
        &["--database-url", &url, "user", "create", "--email", "ops@acme.example", "--org", "acme"],
        Some("a long password\n"),
    );
    let token =
        clef(dir.path(), &["--database-url", &url, "token", "create", "--email", "ops@acme.example"], None)
            .trim()
            .to_owned();
    let mut replicas: Vec<Option<Replica>> =
        (0..3).map(|_| Some(start_replica(dir.path(), &url, &sink.url()))).collect();
    let bases: Vec<String> = replicas.iter().flatten().map(|r| r.base.clone()).collect();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    for base in &bases {
        let start = Instant::now();
        while client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
        {
            assert!(start.elapsed() < Duration::from_secs(20), "replica {base} never ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Four integrations: two raced on, two fed once by a single node as the reference.
    let mut made = Vec::new();
    for name in ["same", "different", "same-reference", "different-reference"] {
        let base = &bases[made.len() % 3];
        let r = client
            .post(format!("{base}/api/v1/integrations"))
            .bearer_auth(&token)
            .json(&json!({"name": name}))
            .send()
            .await
            .expect("create");
        let id = answer(r).await.1["id"].as_str().expect("id").to_owned();
        let r = client
            .post(format!("{base}/api/v1/integrations/{id}/api-keys"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("key");
        let key = answer(r).await.1["key"].as_str().expect("key").to_owned();
        for body in [
            json!({"channel": "email", "target": format!("{name}@acme.example"), "minSeverity": "info"}),
            json!({"channel": "webhook", "target": hooks.url(&format!("/hook/{name}")), "minSeverity": "info"}),
        ] {
            let r = client
                .post(format!("{base}/api/v1/integrations/{id}/channels"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("channel");
            assert_eq!(r.status().as_u16(), 201);
        }
        made.push((id, key));
    }
    let [
        (same, same_key),
        (different, different_key),
        (same_ref, same_ref_key),
        (different_ref, different_ref_key),
    ] = <[(String, String); 4]>::try_from(made).expect("four");

    // The race: 8 clients send one batch to "same"; 8 send cumulative backfills 1..20k to
    // "different" (as CI runs that last saw different heads would). Replica 1 dies half way.
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..16usize {
        let (client, bases, done) = (client.clone(), bases.clone(), done.clone());
        let (key, body) = if c < 8 {
            (same_key.clone(), batch(1..=60))
        } else {
            (different_key.clone(), batch(1..=(20 * (c as u32 - 7))))
        };
        tasks.push(tokio::spawn(async move {
            send(&client, &bases, c, &key, &body).await;
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    while done.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut victim = replicas[1].take().expect("replica 1");
    victim.child.kill().expect("SIGKILL replica 1");
    let _ = victim.child.wait();
    for t in tasks {
        t.await.expect("client");
    }

    // The single-node reference: the same reports, sent once, in order, to one replica.
    let survivor = bases[0].clone();
    send(&client, std::slice::from_ref(&survivor), 0, &same_ref_key, &batch(1..=60)).await;
    for k in 1..=8u32 {
        send(&client, std::slice::from_ref(&survivor), 0, &different_ref_key, &batch(1..=20 * k)).await;
    }

    // Every report stored exactly once.
    for (id, expected) in [(&same, 60), (&different, 160)] {
        let reports =
            get(&client, format!("{survivor}/api/v1/integrations/{id}/reports?limit=500"), &token).await;
        let shas: Vec<&str> =
            reports.as_array().expect("reports").iter().filter_map(|r| r["commitSha"].as_str()).collect();
        assert_eq!(shas.len(), expected);
        assert_eq!(shas.iter().collect::<HashSet<_>>().len(), expected);
        let head = get(&client, format!("{survivor}/api/v1/integrations/{id}"), &token).await;
        assert_eq!(head["lastCommitSha"], sha(expected as u32));
    }
    // The alerts equal those of a single node: all of them for the identical batch; the open
    // ones (what the head says, with the commits that introduced them) for racing backfills,
    // whose intermediate heads depend on arrival order.
    assert_eq!(
        alert_lines(&client, &survivor, &token, &same, false).await,
        alert_lines(&client, &survivor, &token, &same_ref, false).await
    );
    let open = alert_lines(&client, &survivor, &token, &different, true).await;
    assert_eq!(open, alert_lines(&client, &survivor, &token, &different_ref, true).await);
    assert!(!open.is_empty());

    // The mail server comes back: each queued message arrives once, including those the dead
    // replica had claimed (its leases run out and a survivor takes them over).
    sink.resume();
    hooks.set_down(false);
    let start = Instant::now();
    let (expected_mail, expected_hooks) = loop {
        let (mut pending, mut mail, mut webhook) = (0, 0, HashSet::new());
        for id in [&same, &different, &same_ref, &different_ref] {
            let log =
                get(&client, format!("{survivor}/api/v1/integrations/{id}/deliveries?limit=500"), &token)
                    .await;
            for d in log.as_array().expect("log") {
                if d["channel"] == "webhook" {
                    webhook.insert(d["id"].as_str().expect("id").to_owned());
                } else {
                    mail += 1;
                }
                if d["status"] != "sent" {
                    pending += 1;
                }
            }
        }
        if pending == 0 || start.elapsed() > Duration::from_secs(60) {
            assert_eq!(pending, 0, "messages still unsent");
            break (mail, webhook);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), expected_mail, "each message arrives exactly once");
    assert_eq!(mails.iter().map(|m| m.message_id.clone()).collect::<HashSet<_>>().len(), expected_mail);
    assert!(expected_mail >= 4);
    // Webhooks too: each message accepted once, under its own id (refused attempts during the
    // outage carried the same id and were retried).
    let accepted: Vec<String> = hooks
        .all()
        .into_iter()
        .filter(|r| r.status < 300 && r.status > 0)
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(accepted.len(), expected_hooks.len(), "each webhook message accepted exactly once");
    assert_eq!(accepted.into_iter().collect::<HashSet<_>>(), expected_hooks);
    assert_eq!(expected_hooks.len(), expected_mail, "both channels heard the same evaluations");

    drop(replicas);
    db.drop_now().await;
}
