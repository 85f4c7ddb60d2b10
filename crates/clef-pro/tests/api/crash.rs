//! SIGKILL at random moments while batches are being ingested, 50 times. After each restart
//! the alerts match the stored head (no alert twice), the head's evaluation has its message in
//! the outbox exactly once, and no message announces an evaluation that did not commit; at the
//! end every batch is wholly present or wholly absent and every acknowledged one is there. The
//! server's log shows that kills landed inside the write transaction.

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

const ROUNDS: u32 = 50;
const SENDERS: u32 = 3;
const BATCH: u32 = 100;

/// Batch `b` holds commits b*BATCH+1 ..= (b+1)*BATCH; each fails its own rules so every
/// evaluation changes alerts and queues a message.
fn batch(b: u32) -> Value {
    let rule = format!("rule_{}", b % 7);
    let reports: Vec<Value> = (b * BATCH + 1..=(b + 1) * BATCH)
        .map(|n| report(n, &[(rule.as_str(), "db/prod"), ("always", "x")]))
        .collect();
    json!({ "reports": reports })
}

fn rule_and_scope(v: &Value) -> String {
    format!("{}|{}", v["ruleId"].as_str().unwrap_or_default(), v["scope"].as_str().unwrap_or_default())
}

/// What must hold after any crash: open alerts are exactly the head's failures, each once,
/// and the evaluation that made the head announced it exactly once. Answers the head.
async fn check_consistent(app: &TestApp, id: &str, round: u32) -> Option<String> {
    let (_, integration) = app.get(&format!("/api/v1/integrations/{id}"), &app.token).await;
    let head = integration["lastCommitSha"].as_str()?.to_owned();
    let (_, head_report) = app.get(&format!("/api/v1/integrations/{id}/reports/{head}"), &app.token).await;
    let failing: BTreeSet<String> = head_report["policyResults"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["passed"] == false)
        .map(rule_and_scope)
        .collect();
    let open: Vec<String> = app.alerts(id, "status=open").await.iter().map(rule_and_scope).collect();
    let distinct: BTreeSet<String> = open.iter().cloned().collect();
    assert_eq!(open.len(), distinct.len(), "round {round}: an alert is open twice: {open:?}");
    assert_eq!(distinct, failing, "round {round}: the open alerts are not the head's failures");
    let (_, log) = app.get(&format!("/api/v1/integrations/{id}/deliveries?limit=500"), &app.token).await;
    let for_head = log.as_array().expect("log").iter().filter(|d| d["commitSha"] == head.as_str()).count();
    assert_eq!(for_head, 1, "round {round}: the head {head} was announced {for_head} times");
    Some(head)
}

#[tokio::test]
async fn sigkill_at_random_moments_never_leaves_half_a_batch() {
    let mut app = TestApp::spawn().await;
    let (id, key) = app.integration("crashy").await;
    let body = json!({"channel": "email", "target": "ops@acme.example", "minSeverity": "info"});
    assert_eq!(app.post(&format!("/api/v1/integrations/{id}/channels"), &app.token, &body).await.0, 201);

    let mut seed: u64 = 0x5eed;
    let mut acknowledged = HashSet::new();
    let (mut inside, mut heads) = (0, BTreeSet::new());
    for round in 0..ROUNDS {
        let log_before = app.server_log().len();
        let sends: Vec<_> = (0..SENDERS)
            .map(|s| {
                let b = round * SENDERS + s;
                let (client, url, key, body) =
                    (app.client.clone(), app.url("/api/v1/reports/batch"), key.clone(), batch(b));
                tokio::spawn(async move {
                    let ok = client
                        .post(url)
                        .bearer_auth(key)
                        .json(&body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (b, ok)
                })
            })
            .collect();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        tokio::time::sleep(Duration::from_millis((seed >> 33) % 40)).await;
        app.kill_hard();
        for s in sends {
            let (b, ok) = s.await.expect("sender");
            if ok {
                acknowledged.insert(b);
            }
        }
        // A transaction opened and never committed: this kill landed inside it.
        let log = app.server_log();
        let this_round = &log[log_before.min(log.len())..];
        let opened = this_round.matches("ingest transaction open").count();
        let committed = this_round.matches("ingest transaction committed").count();
        inside += u32::from(opened > committed);
        app.restart().await;
        heads.extend(check_consistent(&app, &id, round).await);
    }
    eprintln!("{inside} of {ROUNDS} kills landed inside a write transaction; {} heads seen", heads.len());
    assert!(inside > 0, "no kill landed inside a write transaction");

    // Every batch is all or nothing, and every acknowledged one is all there.
    let mut stored: BTreeSet<u32> = BTreeSet::new();
    let mut before = None;
    loop {
        let path = match &before {
            Some(b) => format!("/api/v1/integrations/{id}/reports?limit=500&before={b}"),
            None => format!("/api/v1/integrations/{id}/reports?limit=500"),
        };
        let (_, page) = app.get(&path, &app.token).await;
        let page = page.as_array().expect("page").clone();
        for r in &page {
            stored.insert(u32::from_str_radix(r["commitSha"].as_str().expect("sha"), 16).expect("hex"));
        }
        match page.last() {
            Some(last) if page.len() == 500 => before = last["commitSha"].as_str().map(str::to_owned),
            _ => break,
        }
    }
    let mut whole = 0;
    for b in 0..ROUNDS * SENDERS {
        let present = (b * BATCH + 1..=(b + 1) * BATCH).filter(|n| stored.contains(n)).count() as u32;
        assert!(present == 0 || present == BATCH, "batch {b} is half there: {present} of {BATCH}");
        if acknowledged.contains(&b) {
            assert_eq!(present, BATCH, "batch {b} was acknowledged but is missing");
        }
        whole += u32::from(present == BATCH);
    }
    eprintln!(
        "{whole} of {} batches committed before their kill, {} acknowledged",
        ROUNDS * SENDERS,
        acknowledged.len()
    );
    assert!(
        whole > 0 && whole < ROUNDS * SENDERS,
        "the kills should land both before and after commits ({whole} whole)"
    );

    // No message announces an evaluation that did not commit, and none is there twice.
    let (_, log) = app.get(&format!("/api/v1/integrations/{id}/deliveries?limit=500"), &app.token).await;
    let log = log.as_array().expect("log");
    let commits: Vec<&str> = log.iter().map(|d| d["commitSha"].as_str().expect("commit")).collect();
    assert_eq!(commits.iter().collect::<HashSet<_>>().len(), commits.len(), "an evaluation announced twice");
    for commit in &commits {
        assert!(
            stored.contains(&u32::from_str_radix(commit, 16).expect("hex")),
            "a message for uncommitted {commit}"
        );
    }
    for head in &heads {
        assert!(commits.contains(&head.as_str()), "the head {head} seen after a restart lost its message");
    }

    // And SQLite agrees the file is sound.
    let out = std::process::Command::new("sqlite3")
        .arg(app.data_dir().join("clef-pro.db"))
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(out) = out {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
}
