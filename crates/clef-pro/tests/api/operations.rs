//! Running it for years: /metrics (checked by promtool and scraped by a real Prometheus), the
//! configuration file, retention, backup and restore.

use crate::cli_today::otlp_report;
use crate::helpers::*;
use crate::notifications::wait_deliveries;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const METRICS_TOKEN: &str = "scrape-me-if-you-can";
/// A rule and scope that must never become a label.
const CANARY_RULE: &str = "canary-rule-7d1e";
const CANARY_SCOPE: &str = "canary-ns-40b2/prod";

/// Samples of a scrape by their full series name, labels sorted as written.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The sum over every series of `name` whose labels include all of `labels`.
fn total(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.starts_with(&format!("{name}{{")) || series.as_str() == name)
        .filter(|(series, _)| labels.iter().all(|(k, v)| series.contains(&format!("{k}=\"{v}\""))))
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("scrape");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Whether a tool from the machine's packages is there; under CI its absence fails the test.
fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        clef_testkit::skip(name, "not installed (apt-get install prometheus)");
    }
    found
}

#[tokio::test]
async fn metrics_after_a_lifecycle_pass_promtool_and_count_what_happened() {
    let mut args = vec!["--metrics-token", METRICS_TOKEN];
    args.extend_from_slice(&QUICK_DELIVERY);
    let app = TestApp::spawn_with(&args).await;
    let (id, key) = app.integration("payments").await;
    let channel = json!({"channel": "email", "target": "security@acme.example", "minSeverity": "info"});
    let (s, body) = app.post(&format!("/api/v1/integrations/{id}/channels"), &app.token, &channel).await;
    assert_eq!(s, 201, "{body}");

    let failing = report(1, &[(CANARY_RULE, CANARY_SCOPE)]);
    assert_eq!(app.post("/api/v1/reports", &key, &failing).await.0, 200);
    assert_eq!(app.post("/api/v1/reports", &key, &failing).await.0, 200, "identical: unchanged");
    let batch = json!({"reports": [report(2, &[(CANARY_RULE, CANARY_SCOPE)]), report(3, &[(CANARY_RULE, CANARY_SCOPE)])]});
    assert_eq!(app.post("/api/v1/reports/batch", &key, &batch).await.0, 200);
    assert_eq!(app.post("/api/v1/reports", &key, &json!({"commitSha": "nope"})).await.0, 422);
    let otlp = otlp_report(&sha(4), "feature", &[]);
    assert_eq!(app.post("/v1/logs", &key, &otlp).await.0, 200);
    let sent = wait_deliveries(&app, &id, |d| d.len() >= 2 && d.iter().all(|m| m["status"] == "sent")).await;

    // The token is required, and compared whole.
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-me")).await.0, 401);
    let (status, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200, "{text}");

    if tool("promtool") {
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool");
        check.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        let out = check.wait_with_output().expect("promtool output");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let m = samples(&text);
    let reports = "clef_reports_ingested_total";
    assert_eq!(total(&m, reports, &[("path", "json"), ("outcome", "written")]), 1.0, "{text}");
    assert_eq!(total(&m, reports, &[("path", "json"), ("outcome", "unchanged")]), 1.0);
    assert_eq!(total(&m, reports, &[("path", "batch"), ("outcome", "written")]), 2.0);
    assert_eq!(total(&m, reports, &[("path", "otlp"), ("outcome", "written")]), 1.0);
    let requests = "clef_ingest_requests_total";
    assert_eq!(total(&m, requests, &[("path", "json"), ("outcome", "rejected")]), 1.0);
    assert_eq!(total(&m, requests, &[("outcome", "accepted")]), 4.0);
    assert_eq!(total(&m, "clef_ingest_duration_seconds_count", &[]), 4.0);
    let open = |ack: &str| total(&m, "clef_alerts_open", &[("severity", "critical"), ("acknowledged", ack)]);
    assert_eq!((open("false"), open("true")), (1.0, 0.0));
    let attempts = total(&m, "clef_delivery_attempts_total", &[("kind", "email"), ("outcome", "sent")]);
    assert_eq!(attempts, sent.len() as f64, "one attempt per message sent: {sent:?}");
    assert_eq!(total(&m, "clef_outbox_pending_messages", &[]), 0.0);
    assert_eq!(total(&m, "clef_database_up", &[]), 1.0);
    assert!(total(&m, "clef_db_pool_max_connections", &[]) >= 1.0);
    let posts = [("method", "POST"), ("route", "/api/v1/reports"), ("status", "200")];
    assert_eq!(total(&m, "clef_http_requests_total", &posts), 2.0);
    assert!(m.keys().any(|s| s.starts_with("clef_http_request_duration_seconds_bucket{")));

    // Acknowledging moves the alert to the other series.
    let alert = app.alerts(&id, "").await.remove(0);
    let ack = app
        .post(
            &format!("/api/v1/alerts/{}/acknowledge", alert["id"].as_str().unwrap()),
            &app.token,
            &json!({}),
        )
        .await;
    assert_eq!(ack.0, 200, "{}", ack.1);
    let m = samples(&scrape(&app, Some(METRICS_TOKEN)).await.1);
    let open = |ack: &str| total(&m, "clef_alerts_open", &[("severity", "critical"), ("acknowledged", ack)]);
    assert_eq!((open("false"), open("true")), (0.0, 1.0));

    // Nothing a report carries is a label.
    for secretish in [CANARY_RULE, "canary-ns-40b2", "feature", key.as_str(), app.token.as_str()] {
        assert!(!text.contains(secretish), "{secretish} appears in the scrape");
    }
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_server() {
    if !tool("prometheus") {
        return;
    }
    let app = TestApp::spawn_with(&["--metrics-token", METRICS_TOKEN]).await;
    let (_, key) = app.integration("payments").await;
    assert_eq!(app.post("/api/v1/reports", &key, &report(1, &[])).await.0, 200);

    let dir = tempfile::tempdir().expect("dir");
    let target = app.base.trim_start_matches("http://");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: clef-pro\n    \
         authorization:\n      credentials: {METRICS_TOKEN}\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).expect("log"))
        .spawn()
        .expect("start prometheus");

    let query = format!(
        "http://127.0.0.1:{port}/api/v1/query?query=sum(clef_reports_ingested_total{{job=\"clef-pro\",outcome=\"written\"}})"
    );
    let started = Instant::now();
    let mut last = Value::Null;
    let mut seen = 0.0;
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = app.client.get(&query).send().await
            && let Ok(body) = r.json::<Value>().await
        {
            seen = body["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            last = body;
            if seen > 0.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert_eq!(
        seen,
        1.0,
        "Prometheus answered {last}; its log: {}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
}

/// `clef-pro` with `args`, the environment `env` and nothing else from ours: (success, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("CLEF_PRO_LOG", "warn")
        .output()
        .expect("clef-pro");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn a_config_file_sits_between_defaults_and_the_environment_and_names_unknown_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("clef-pro.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\nsmtp-from = \"File <file@acme.example>\"\nbody_limit = 1000\n\
         retention-days = 7\nsmtp-url = \"smtps://mailer:hunter2@mail.acme.example:465\"\nretention-dayz = 30\n",
    )
    .expect("write");
    let path = file.to_str().unwrap();
    let env = [("CLEF_PRO_SMTP_FROM", "Env <env@acme.example>"), ("CLEF_PRO_BODY_LIMIT", "2000")];
    let (ok, shown, stderr) = run(&["--config", path, "config", "show", "--body-limit", "3000"], &env);
    assert!(ok, "{stderr}");
    for line in [
        format!("listen = \"127.0.0.1:9999\"  # file {path}"),
        "smtp-from = \"Env <env@acme.example>\"  # environment CLEF_PRO_SMTP_FROM".to_owned(),
        "body-limit = 3000  # flag".to_owned(),
        format!("retention-days = 7  # file {path}"),
        format!("smtp-url = \"smtps://mailer:****@mail.acme.example:465\"  # file {path}"),
        "request-timeout-secs = 120  # default".to_owned(),
    ] {
        assert!(shown.lines().any(|l| l == line), "missing `{line}` in:\n{shown}");
    }
    assert!(!shown.contains("hunter2"), "the password is masked");
    assert!(
        stderr.contains("unknown key `retention-dayz` ignored (did you mean `retention-days`?)"),
        "{stderr}"
    );
    // Without the flag the environment wins over the file; without both, the file.
    let (_, shown, _) = run(&["--config", path, "config", "show"], &env);
    assert!(shown.contains("body-limit = 2000  # environment CLEF_PRO_BODY_LIMIT"), "{shown}");
    let (_, shown, _) = run(&["config", "show"], &[("CLEF_PRO_CONFIG", path)]);
    assert!(shown.contains(&format!("body-limit = 1000  # file {path}")), "{shown}");

    // Wrong types and bad values are refused before anything starts.
    std::fs::write(&file, "listen = [\"127.0.0.1\", 80]\n").expect("write");
    let (ok, _, stderr) = run(&["--config", path, "config", "show"], &[]);
    assert!(!ok && stderr.contains("`listen` must be a string, a number or true/false"), "{stderr}");
    std::fs::write(&file, "retention-days = \"soon\"\n").expect("write");
    let (ok, _, stderr) = run(&["--config", path, "config", "show"], &[]);
    assert!(!ok && stderr.contains("--retention-days"), "{stderr}");
    std::fs::write(&file, "listen = ").expect("write");
    let (ok, _, stderr) = run(&["--config", path, "config", "show"], &[]);
    assert!(!ok && stderr.contains("is not valid TOML"), "{stderr}");

    // The example shipped beside the systemd unit is all settings, no typos.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/clef-pro.toml");
    let (ok, shown, stderr) = run(&["--config", shipped, "config", "show"], &[]);
    assert!(ok && !stderr.contains("unknown key"), "{stderr}");
    assert!(shown.contains("retention-days = 365  # file"), "{shown}");

    // The server itself runs on the file: its folder, its address and its metrics token.
    let data = dir.path().join("data");
    std::fs::write(
        &file,
        format!(
            "data-dir = {:?}\nlisten = \"127.0.0.1:0\"\nmetrics-token = \"from-the-file\"\n",
            data.display().to_string()
        ),
    )
    .expect("write");
    let mut server = Command::new(BIN)
        .args(["--config", path, "serve"])
        .env_remove("CLEF_PRO_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).expect("address");
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let plain = client.get(format!("{base}/metrics")).send().await.expect("scrape").status().as_u16();
    let with =
        client.get(format!("{base}/metrics")).bearer_auth("from-the-file").send().await.expect("scrape");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!((plain, with.status().as_u16()), (401, 200));
    assert!(data.join("clef-pro.db").exists(), "the data folder came from the file");
}

#[tokio::test]
async fn retention_prunes_history_but_keeps_alerts_the_head_and_attribution() {
    // The fixtures' commits are from 2024: all of them are older than 30 days.
    let app = TestApp::spawn_with(&["--retention-days", "30", "--retention-interval-secs", "1"]).await;
    let (id, key) = app.integration("payments").await;
    let fixed = [("fixed", "db/prod")];
    let open = [("open", "db/prod")];
    let first = json!({"reports": (1..=3).map(|n| report(n, &fixed)).collect::<Vec<_>>()});
    assert_eq!(app.post("/api/v1/reports/batch", &key, &first).await.0, 200);
    let later: Vec<Value> =
        (4..=10).map(|n| if n == 4 { report(n, &[]) } else { report(n, &open) }).collect();
    assert_eq!(app.post("/api/v1/reports/batch", &key, &json!({ "reports": later })).await.0, 200);
    let alerts_before = app.alerts(&id, "status=any").await;

    // Kept: 1 introduced "fixed", 3 last saw it, 4 resolved it, 5 introduced "open", 10 is the head.
    let kept: HashSet<String> = [1, 3, 4, 5, 10].map(sha).into_iter().collect();
    let started = Instant::now();
    let mut stored = HashSet::new();
    while started.elapsed() < Duration::from_secs(30) {
        stored = reports_of(&app, &id).await;
        if stored.len() == kept.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored, kept);
    assert_eq!(app.alerts(&id, "status=any").await, alerts_before, "alerts are untouched");
    let (s, matrix) = app.get(&format!("/api/v1/integrations/{id}/matrix"), &app.token).await;
    assert_eq!((s, matrix["commitSha"].as_str()), (200, Some(sha(10).as_str())));
    for n in [1, 5] {
        let (s, r) = app.get(&format!("/api/v1/integrations/{id}/reports/{}", sha(n)), &app.token).await;
        assert_eq!(s, 200, "{r}");
    }

    // Attribution still finds the real commit: "open" is resolved by 12, not by the head 13.
    let gap = json!({"reports": [report(11, &open), report(12, &[]), report(13, &[])]});
    assert_eq!(app.post("/api/v1/reports/batch", &key, &gap).await.0, 200);
    let resolved = app.alerts(&id, "status=resolved").await;
    let open_alert = resolved.iter().find(|a| a["ruleId"] == "open").expect("resolved");
    assert_eq!(open_alert["introducedByCommit"], json!(sha(5)));
    assert_eq!(open_alert["resolvedByCommit"], json!(sha(12)));
    assert!(app.server_log().contains("retention pass"));
}

async fn reports_of(app: &TestApp, integration: &str) -> HashSet<String> {
    let mut all = HashSet::new();
    let mut before = String::new();
    loop {
        let path = format!("/api/v1/integrations/{integration}/reports?limit=500{before}");
        let (s, page) = app.get(&path, &app.token).await;
        assert_eq!(s, 200, "{page}");
        let page = page.as_array().expect("array").clone();
        let Some(last) = page.last() else { return all };
        before = format!("&before={}", last["commitSha"].as_str().expect("sha"));
        all.extend(page.iter().map(|r| r["commitSha"].as_str().expect("sha").to_owned()));
    }
}

/// `clef-pro --data-dir DIR args…`: (success, stdout + stderr).
fn clef_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("CLEF_PRO_LOG", "warn")
        .output()
        .expect("clef-pro");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_every_acknowledged_report() {
    let app = TestApp::spawn_with(&["--api-key-rate", "0"]).await;
    let (id, key) = app.integration("payments").await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u32, Instant)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for lane in 0..4u32 {
        let (client, url, key) = (app.client.clone(), app.url("/api/v1/reports"), key.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 1 + lane;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = report(n, if n % 3 == 0 { &[("r", "db/prod")] } else { &[] });
                let r = client.post(&url).bearer_auth(&key).json(&body).send().await.expect("post");
                assert_eq!(r.status().as_u16(), 200);
                acknowledged.lock().unwrap().push((n, Instant::now()));
                n += 4;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let out = app.dir.path().join("backups").join("clef-pro-backup.db");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let backup_started = Instant::now();
    let data = app.data_dir();
    let out_arg = out.to_str().unwrap().to_owned();
    let (ok, said) =
        tokio::task::spawn_blocking(move || clef_in(&data, &["backup", "--out", &out_arg])).await.unwrap();
    assert!(ok, "{said}");
    assert!(said.contains("secret.key"), "the backup names the key to keep with it: {said}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let before_backup: HashSet<String> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < backup_started)
        .map(|(n, _)| sha(*n))
        .collect();
    assert!(before_backup.len() > 20, "load ran: {} reports", before_backup.len());
    let (again, said) = clef_in(&app.data_dir(), &["backup", "--out", out.to_str().unwrap()]);
    assert!(!again && said.contains("exists already"), "{said}");

    // Not over a running server's data, even when forced.
    let (ok, said) = clef_in(&app.data_dir(), &["restore", "--from", out.to_str().unwrap(), "--force"]);
    assert!(!ok && said.contains("is running"), "{said}");
    // Not from something that is not a backup.
    let fresh = tempfile::tempdir().expect("dir");
    let junk = fresh.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, said) = clef_in(fresh.path(), &["restore", "--from", junk.to_str().unwrap()]);
    assert!(!ok && said.contains("cannot be restored"), "{said}");

    let (ok, said) = clef_in(fresh.path(), &["restore", "--from", out.to_str().unwrap()]);
    assert!(ok, "{said}");
    std::fs::copy(app.data_dir().join("secret.key"), fresh.path().join("secret.key")).unwrap();
    let (again, said) = clef_in(fresh.path(), &["restore", "--from", out.to_str().unwrap()]);
    assert!(!again && said.contains("--force"), "a restore does not replace data unasked: {said}");

    let restored = TestApp::serve_in(fresh, app.token.clone()).await;
    let stored = reports_of(&restored, &id).await;
    let missing: Vec<_> = before_backup.difference(&stored).collect();
    assert!(missing.is_empty(), "{} acknowledged reports missing after restore: {missing:?}", missing.len());
    let (s, _) = restored.get(&format!("/api/v1/integrations/{id}/matrix"), &restored.token).await;
    assert_eq!(s, 200);
}

/// `demo --data-dir`: a living organisation in the given folder; a folder holding anything but
/// an earlier demo is refused, and a demo that cannot bind its port deletes nothing.
#[tokio::test]
async fn the_demo_lives_in_its_data_dir_and_never_clears_what_is_not_a_demo() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("demo");
    let start = |dir: &std::path::Path, listen: &str| {
        Command::new(BIN)
            .args(["--data-dir"])
            .arg(dir)
            .args(["demo", "--listen", listen])
            .env_remove("CLEF_PRO_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("demo")
    };
    let mut demo = start(&dir, "127.0.0.1:0");
    let (mut token, mut base) = (String::new(), String::new());
    for line in BufReader::new(demo.stdout.take().unwrap()).lines().map_while(Result::ok) {
        if let Some(t) = line.trim().strip_prefix("access token:") {
            token = t.trim().to_owned();
        }
        if let Some(b) = line.strip_prefix("clef-pro listening on ") {
            base = b.trim().to_owned();
            break;
        }
    }
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(&token).send();
    let integrations: Vec<Value> =
        get("/api/v1/integrations").await.expect("list").json().await.expect("json");
    assert_eq!(integrations.len(), 4, "{integrations:#?}");
    let inbox: Value = get("/api/v1/alerts?limit=1").await.expect("inbox").json().await.expect("json");
    assert!(inbox["counts"]["total"].as_u64() >= Some(12), "{inbox}");
    let acked: Value =
        get("/api/v1/alerts?acknowledged=true&limit=1").await.expect("acked").json().await.expect("json");
    assert!(acked["counts"]["total"].as_u64() >= Some(3), "{acked}");
    let resolved: Value =
        get("/api/v1/alerts?status=resolved&limit=1").await.expect("resolved").json().await.expect("json");
    assert!(resolved["counts"]["total"].as_u64() >= Some(12), "{resolved}");
    let trends: Value = get("/api/v1/trends?days=30").await.expect("trends").json().await.expect("json");
    assert!(trends["resolved"].as_u64() > Some(0) && !trends["cells"].as_array().expect("cells").is_empty());
    // Nothing in the demo is dated in the future.
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let reports: Vec<Value> =
        get(&format!("/api/v1/integrations/{}/reports?limit=500", integrations[0]["id"].as_str().unwrap()))
            .await
            .expect("reports")
            .json()
            .await
            .expect("json");
    assert!(reports.iter().all(|r| r["commitTimestamp"].as_i64().unwrap() <= now_ms));
    assert!(dir.join("clef-pro.db").exists(), "the demo's database is in --data-dir");

    // While it holds its port, a second demo on that port fails and clears nothing.
    let port = base.rsplit(':').next().unwrap().to_owned();
    let second = start(&dir, &format!("127.0.0.1:{port}")).wait_with_output().expect("second demo");
    assert!(!second.status.success());
    assert!(dir.join("clef-pro.db").exists(), "the running demo's folder is untouched");
    let _ = demo.kill();
    let _ = demo.wait();

    // A folder holding something else is refused, and kept.
    let other = root.path().join("real-data");
    std::fs::create_dir_all(&other).expect("folder");
    std::fs::write(other.join("clef-pro.db"), b"precious").expect("file");
    let refused = start(&other, "127.0.0.1:0").wait_with_output().expect("refused demo");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a demo's"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read(other.join("clef-pro.db")).expect("kept"), b"precious");
}
