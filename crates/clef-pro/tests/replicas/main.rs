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

/// Creates the organisation's owner on the database at `url`; answers their token.
fn owner_token(dir: &std::path::Path, url: &str) -> String {
    clef(
        dir,
        &["--database-url", url, "user", "create", "--email", "ops@acme.example", "--org", "acme"],
        Some("a long password\n"),
    );
    clef(dir, &["--database-url", url, "token", "create", "--email", "ops@acme.example"], None)
        .trim()
        .to_owned()
}

/// Waits until the replica at `base` answers /readyz (at most 20 s).
async fn wait_ready(client: &reqwest::Client, base: &str) {
    let start = Instant::now();
    while client.get(format!("{base}/readyz")).send().await.map(|r| !r.status().is_success()).unwrap_or(true)
    {
        assert!(start.elapsed() < Duration::from_secs(20), "replica {base} never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// What the clients saw besides success, per replica.
#[derive(Default)]
struct Seen {
    /// Requests cut by the replica's death while under way (not refused connections).
    cut: [AtomicUsize; 3],
    /// 503s: the one documented 5xx (database busy or unreachable), retried.
    unavailable: AtomicUsize,
}

/// Sends like the CLI, but keeps trying the other replicas until one answers 2xx. Any 5xx but
/// a 503 is a failure: a broken per-integration lock must not hide behind retries.
async fn send(
    client: &reqwest::Client,
    bases: &[String],
    start: usize,
    key: &str,
    body: &Value,
    seen: &Seen,
) {
    for attempt in 0..12 {
        let at = (start + attempt) % bases.len();
        let sent = client
            .post(format!("{}/api/v1/reports/batch", bases[at]))
            .bearer_auth(key)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) if r.status().as_u16() == 503 => {
                seen.unavailable.fetch_add(1, Ordering::SeqCst);
            }
            Ok(r) => panic!("replica {at} answered {}: {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) if !e.is_connect() => {
                seen.cut[at].fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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
    let token = owner_token(dir.path(), &url);
    let mut replicas: Vec<Option<Replica>> =
        (0..3).map(|_| Some(start_replica(dir.path(), &url, &sink.url()))).collect();
    let bases: Vec<String> = replicas.iter().flatten().map(|r| r.base.clone()).collect();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    for base in &bases {
        wait_ready(&client, base).await;
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
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for c in 0..16usize {
        let (client, bases, done, seen) = (client.clone(), bases.clone(), done.clone(), seen.clone());
        let (key, body) = if c < 8 {
            (same_key.clone(), batch(1..=60))
        } else {
            (different_key.clone(), batch(1..=(20 * (c as u32 - 7))))
        };
        tasks.push(tokio::spawn(async move {
            send(&client, &bases, c, &key, &body, &seen).await;
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
    assert!(
        seen.cut[1].load(Ordering::SeqCst) > 0,
        "the kill should cut requests under way on replica 1, not only refuse new ones"
    );
    eprintln!(
        "requests cut by the kill: {}; 503s retried: {}",
        seen.cut[1].load(Ordering::SeqCst),
        seen.unavailable.load(Ordering::SeqCst)
    );

    // The single-node reference: the same reports, sent once, in order, to one replica.
    let survivor = bases[0].clone();
    let one = std::slice::from_ref(&survivor);
    send(&client, one, 0, &same_ref_key, &batch(1..=60), &seen).await;
    for k in 1..=8u32 {
        send(&client, one, 0, &different_ref_key, &batch(1..=20 * k), &seen).await;
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
    // And both equal what the rules say by hand: at the heads (60 and 160) only `steady` fails,
    // failing since commit 5; a batch is one evaluation, so `flaky` and `gone` never opened
    // for "same".
    let steady = format!(
        "{} {} {} {} {}",
        json!("steady"),
        json!("db/prod"),
        json!("open"),
        json!(sha(5)),
        Value::Null
    );
    let same_alerts = alert_lines(&client, &survivor, &token, &same, false).await;
    assert_eq!(same_alerts, std::slice::from_ref(&steady));
    assert_eq!(same_alerts, alert_lines(&client, &survivor, &token, &same_ref, false).await);
    let open = alert_lines(&client, &survivor, &token, &different, true).await;
    assert_eq!(open, [steady]);
    assert_eq!(open, alert_lines(&client, &survivor, &token, &different_ref, true).await);

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

/// The sink is up and slow to accept a recipient; the one replica running claims the message,
/// opens the conversation and is killed in the middle of it. A second replica, started after,
/// takes the message over once the lease has run out and it arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_send_hands_its_message_over_exactly_once() {
    let Some(db) = TestDb::create().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = smtp::SmtpSink::start();
    sink.set_mode("slow-rcpt 60");
    let url = db.url.clone();
    let token = owner_token(dir.path(), &url);
    let mut first = start_replica(dir.path(), &url, &sink.url());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let base = first.base.clone();
    let call = |method: &str, path: &str, bearer: &str, body: Option<Value>| {
        let mut r =
            client.request(method.parse().expect("method"), format!("{base}{path}")).bearer_auth(bearer);
        if let Some(body) = body {
            r = r.json(&body);
        }
        r.send()
    };
    wait_ready(&client, &base).await;
    let (_, made) = answer(
        call("POST", "/api/v1/integrations", &token, Some(json!({"name": "payments"}))).await.unwrap(),
    )
    .await;
    let id = made["id"].as_str().expect("id").to_owned();
    let (_, key) =
        answer(call("POST", &format!("/api/v1/integrations/{id}/api-keys"), &token, None).await.unwrap())
            .await;
    let key = key["key"].as_str().expect("key").to_owned();
    let channel = json!({"channel": "email", "target": "security@acme.example", "minSeverity": "info"});
    let (s, _) = answer(
        call("POST", &format!("/api/v1/integrations/{id}/channels"), &token, Some(channel)).await.unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = answer(call("POST", "/api/v1/reports", &key, Some(report(7))).await.unwrap()).await;
    assert_eq!(s, 200);

    // The first replica is now in the conversation, waiting for the recipient to be accepted.
    let started = Instant::now();
    while sink.recipients_named() == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the first replica never started sending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().expect("SIGKILL");
    let _ = first.child.wait();
    sink.set_mode("accept");
    let killed_at = Instant::now();

    let second = start_replica(dir.path(), &url, &sink.url());
    let mails = sink.wait_for(1).await;
    let took = killed_at.elapsed();
    let log_url = format!("{}/api/v1/integrations/{id}/deliveries", second.base);
    let deliveries = get(&client, log_url.clone(), &token).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // anything more would have come by now
    let mails_after = sink.mails();
    assert_eq!(mails_after.len(), 1, "exactly once: {mails_after:?}");
    assert_eq!(mails.len(), 1);
    let log = get(&client, log_url, &token).await;
    let message = &log.as_array().expect("log")[0];
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{deliveries}");
    assert_eq!(message["status"], "sent", "{log}");
    // The cut attempt was never finished, so only the successful one is recorded.
    assert_eq!(message["attempts"].as_array().map(Vec::len), Some(1), "{log}");
    let mail = &mails_after[0];
    assert_eq!(mail.to, "security@acme.example");
    assert!(mail.subject.contains("payments"), "{}", mail.subject);
    let outbox_id = message["id"].as_str().expect("id");
    assert!(mail.message_id.starts_with(&format!("<{outbox_id}@")), "{} for {outbox_id}", mail.message_id);
    assert_eq!(sink.recipients_named(), 2, "one conversation cut by the kill, one completed");
    assert!(took >= Duration::from_secs(1), "taken over only once the 3 s lease ran out ({took:?})");

    drop(second);
    db.drop_now().await;
}
