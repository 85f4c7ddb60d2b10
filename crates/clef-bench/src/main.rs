//! Measures Clef Pro's ingest against this machine's raw limit for the same data, in one run.
//!
//! Build both binaries in release mode, then run this one:
//!   cargo build --release --workspace && ./target/release/clef-bench
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Ingest benchmark: Clef Pro over HTTP next to raw serde_json + SQLite on the same data")]
struct Args {
    /// The clef-pro binary to measure (default: the one beside this benchmark).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Single reports to send in the concurrency run.
    #[arg(long, default_value_t = 4000)]
    singles: usize,
    /// Concurrent clients in the single-report run.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Batches of 500 to time (the median is reported).
    #[arg(long, default_value_t = 3)]
    batch_runs: usize,
    /// Also measure single-report ingest on PostgreSQL with 1 and with 3 replicas. Takes an
    /// admin URL (postgres://postgres@127.0.0.1:5432/test); a fresh database is created per run.
    #[arg(long)]
    postgres: Option<String>,
    /// Measure dashboard pages instead: seeds this many integrations with --history reports
    /// each, then times every page.
    #[arg(long)]
    pages: bool,
    #[arg(long, default_value_t = 100)]
    integrations: u32,
    #[arg(long, default_value_t = 1000)]
    history: u32,
    /// Requests per page in the page benchmark.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Keep the page benchmark's data folder (printed) for a closer look afterwards.
    #[arg(long)]
    keep: bool,
    /// Idle keep-alive connections to open for the memory-per-connection figure (0: skip it).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Commits of a typical report for the storage measurement (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    storage_commits: u32,
}

const BATCH: u32 = 500;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let server_bin = match args.server.clone() {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("clef-pro"),
    };
    if !server_bin.exists() {
        bail!("{} not found: build it first (cargo build --release --workspace)", server_bin.display());
    }

    if args.pages {
        return pages(&server_bin, &args).await;
    }
    let batch_reports: Vec<Value> = (1..=BATCH).map(clef_testkit::big_report).collect();
    let batch_body = serde_json::to_vec(&json!({ "reports": batch_reports }))?;
    let singles: Vec<Vec<u8>> = (0..args.singles as u32)
        .map(|i| serde_json::to_vec(&clef_testkit::big_report(1_000_000 + i)))
        .collect::<Result<_, _>>()?;
    let report_kb = singles[0].len() as f64 / 1024.0;

    println!("Clef Pro ingest benchmark — {} cores, SQLite (embedded default)", num_cores());
    println!(
        "report: {report_kb:.1} KB (100 cells, 50 policy results, 20 drift); batch body: {:.1} MB",
        batch_body.len() as f64 / 1e6
    );
    println!();

    let work = tempfile::tempdir()?;
    let raw_batch = raw_batch(&work.path().join("raw-batch.db"), &batch_body)?;
    let raw_rate = raw_singles(&work.path().join("raw-singles.db"), &singles)?;

    let server = Server::start(&server_bin, work.path()).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    // Measured first, on a fresh server: later the allocator reuses what ingest freed.
    let idle_rss = server.memory_kb("VmRSS:");
    let per_connection =
        if args.connections > 0 { connection_memory(&server, args.connections).await? } else { None };

    let mut batch_times = Vec::new();
    for run in 0..args.batch_runs {
        let key = server.integration(&client, &format!("batch-{run}")).await?;
        let started = Instant::now();
        let r = client
            .post(server.url("/api/v1/reports/batch"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(batch_body.clone())
            .send()
            .await?;
        let status = r.status();
        r.bytes().await?;
        batch_times.push(started.elapsed());
        if !status.is_success() {
            bail!("batch answered {status}");
        }
    }
    batch_times.sort();
    let batch = batch_times[batch_times.len() / 2];

    let key = server.integration(&client, "singles").await?;
    let (wall, mut latencies) =
        run_singles(&client, &server, &[key], Arc::new(singles.clone()), args.concurrency).await?;
    latencies.sort();
    let rate = latencies.len() as f64 / wall.as_secs_f64();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let peak_rss = server.peak_rss_kb();

    println!("{:<34}{:>14}{:>14}{:>10}   target", "", "Clef Pro", "raw limit", "ratio");
    println!(
        "{:<34}{:>11.0} ms{:>11.0} ms{:>9.2}×   ≤ 500 ms",
        "batch of 500, wall (median of runs)",
        ms(batch),
        ms(raw_batch),
        ms(batch) / ms(raw_batch)
    );
    println!(
        "{:<34}{:>12.0}/s{:>12.0}/s{:>9.0}%   ≥ 1,500/s",
        format!("single reports, {} clients", args.concurrency),
        rate,
        raw_rate,
        rate / raw_rate * 100.0
    );
    println!("{:<34}{:>11.1} ms", "  latency p50", ms(pct(0.50)));
    println!("{:<34}{:>11.1} ms{:>38}", "  latency p99", ms(pct(0.99)), "p99 ≤ 25 ms");
    println!("{:<34}{:>11.1} ms", "  latency max", ms(pct(1.0)));
    println!(
        "{:<34}{:>12.0}/s   ({} cores shared by server, client and database)",
        "  single reports per core",
        rate / num_cores() as f64,
        num_cores()
    );
    match peak_rss {
        Some(kb) => println!("{:<34}{:>11.1} MB", "server peak memory (VmHWM)", kb as f64 / 1024.0),
        None => println!("server peak memory: not available on this OS"),
    }
    if let Some(kb) = idle_rss {
        println!("{:<34}{:>11.1} MB", "server memory at start (VmRSS)", kb as f64 / 1024.0);
    }
    if let Some(per) = per_connection {
        println!(
            "{:<34}{:>11.1} KB   ({} idle keep-alive connections on the fresh server)",
            "memory per open connection", per, args.connections
        );
    }
    if let Some(admin) = &args.postgres {
        let db = PgDatabase::create(admin, 0)?;
        let raw_pg = raw_pg_singles(&db.url, &singles, args.concurrency).await?;
        db.drop_now();
        println!(
            "{:<34}{:>12.0}/s   ({} connections, one transaction per report)",
            "PostgreSQL raw limit", raw_pg, args.concurrency
        );
        for (replicas, spread) in [(1, 1), (3, 1), (1, 50), (3, 50)] {
            let db = PgDatabase::create(admin, replicas * 100 + spread)?;
            let server = Server::start_replicas(
                &server_bin,
                &work.path().join(format!("pg{replicas}-{spread}")),
                Some(&db.url),
                replicas,
            )
            .await?;
            let mut keys = Vec::new();
            for i in 0..spread {
                keys.push(server.integration(&client, &format!("singles-{i}")).await?);
            }
            let bodies: Vec<Vec<u8>> = (0..args.singles as u32)
                .map(|i| serde_json::to_vec(&clef_testkit::big_report(2_000_000 + i)))
                .collect::<Result<_, _>>()?;
            let (wall, mut lat) =
                run_singles(&client, &server, &keys, Arc::new(bodies), args.concurrency).await?;
            lat.sort();
            let p = |q: f64| ms(lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)]);
            let rate = lat.len() as f64 / wall.as_secs_f64();
            println!(
                "{:<34}{:>12.0}/s{:>12.0}%   p50 {:.1} ms, p99 {:.1} ms",
                format!(
                    "PostgreSQL, {replicas} replica{}, {spread} integration{}",
                    if replicas == 1 { "" } else { "s" },
                    if spread == 1 { "" } else { "s" }
                ),
                rate,
                rate / raw_pg * 100.0,
                p(0.5),
                p(0.99)
            );
            drop(server);
            db.drop_now();
        }
    }
    storage(&server_bin, work.path(), args.storage_commits).await?;
    println!();
    println!("raw limit = serde_json parsing of the same reports + inserting the same rows into a fresh");
    println!("SQLite file (WAL, synchronous=NORMAL): the batch in one transaction; singles one each.");
    println!("PostgreSQL raw limit = the same parsing and rows into a fresh database on the same server,");
    println!("one transaction per report, as many connections as clients.");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Sends every body once, `concurrency` at a time; body `i` goes with key `i % keys.len()`
/// (one integration each) to replica `i % replicas`.
async fn run_singles(
    client: &reqwest::Client,
    server: &Server,
    keys: &[String],
    bodies: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
) -> Result<(Duration, Vec<Duration>)> {
    let keys: Arc<Vec<String>> = Arc::new(keys.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let urls: Arc<Vec<String>> =
        Arc::new(server.bases.iter().map(|b| format!("{b}/api/v1/reports")).collect());
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, bodies, next, urls, keys) =
            (client.clone(), bodies.clone(), next.clone(), urls.clone(), keys.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                // Round robin over the replicas, as a load balancer would.
                let url = &urls[i % urls.len()];
                let t = Instant::now();
                let r = client
                    .post(url)
                    .bearer_auth(&keys[i % keys.len()])
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = r.status();
                r.bytes().await?;
                latencies.push(t.elapsed());
                if !status.is_success() {
                    bail!("single report answered {status}");
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        })
    });
    let mut all = Vec::new();
    for joined in futures_util::future::join_all(workers).await {
        all.extend(joined??);
    }
    Ok((started.elapsed(), all))
}

// ---------- dashboard pages ----------

/// Three hours between reports: 1,000 reports span 125 days, past the longest trend window.
const REPORT_STEP_MS: i64 = 3 * 3600 * 1000;

/// A modest report (4 namespaces × 3 environments, 5 rules): alerts open and resolve as the
/// history goes on, so pages show every state (about 60 alerts per integration over 1,000
/// reports). Report `n` of a history of `history` is dated
/// `history - n + 1` steps before `now`, so the last 90 days hold most of it and trends have data.
fn small_report(n: u32, history: u32, now_ms: i64) -> Value {
    let namespaces = ["database", "payments", "oauth", "api-keys"];
    let environments = ["dev", "staging", "production"];
    let states = ["healthy", "warning", "critical", "unknown"];
    let health = move |i: usize| states[(n as usize + i) % 7 % 4];
    let cells: Vec<Value> = namespaces
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| {
            environments.iter().enumerate().map(move |(j, env)| {
                json!({"namespace": ns, "environment": env, "healthStatus": health(i * 3 + j), "description": "4 key(s), 2 recipient(s)"})
            })
        })
        .collect();
    let severities = ["info", "warning", "error", "critical", "warning"];
    // Every 50 reports each rule moves to another cell: the old alert resolves, a new one
    // opens (or an old one reopens), so a history holds dozens of alerts per integration.
    let scope = |r: u32| {
        let cell = (n / 50 + r * 5) as usize % 12;
        format!("{}/{}", namespaces[cell / 3], environments[cell % 3])
    };
    let results: Vec<Value> = (0..5u32)
        .map(|r| json!({"ruleId": format!("rule-{r}"), "ruleName": format!("Rule {r}"), "passed": (n / (r + 3)).is_multiple_of(2),
                        "severity": severities[r as usize],
                        "message": "policy failed", "scope": scope(r)}))
        .collect();
    json!({"commitSha": clef_testkit::sha(n), "branch": "main", "commitTimestamp": now_ms - i64::from(history - n + 1) * REPORT_STEP_MS,
           "summary": {"filesScanned": 12, "namespaces": namespaces, "environments": environments, "cells": cells},
           "drift": [{"namespace": "payments", "isDrifted": n.is_multiple_of(3), "driftCount": n % 3}],
           "policyResults": results,
           "ciContext": {"provider": "github-actions", "pipelineUrl": format!("https://ci.example/runs/{n}"), "trigger": "push"}})
}

async fn pages(server_bin: &Path, args: &Args) -> Result<()> {
    let mut work = tempfile::tempdir()?;
    if args.keep {
        work.disable_cleanup(true);
        println!("data folder (kept): {}", work.path().display());
    }
    let server = Server::start(server_bin, work.path()).await?;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    println!("Clef Pro dashboard benchmark — {} cores, SQLite", num_cores());
    let seeding = Instant::now();
    let now_ms =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?;
    let mut ids = Vec::new();
    for i in 0..args.integrations {
        let key = server.integration(&client, &format!("service-{i:03}")).await?;
        let integration: Value = client
            .get(server.url("/api/v1/integrations"))
            .bearer_auth(&server.token)
            .send()
            .await?
            .json()
            .await?;
        let id = integration
            .as_array()
            .and_then(|all| all.iter().find(|x| x["name"] == format!("service-{i:03}")))
            .and_then(|x| x["id"].as_str())
            .context("integration id")?
            .to_owned();
        // Ten commits a request, as a CI run catching up: a batch is one evaluation of its head,
        // so smaller batches give the alert history (opened, resolved, reopened) of real use.
        for chunk in (1..=args.history).collect::<Vec<_>>().chunks(10) {
            let body = json!({"reports": chunk.iter().map(|n| small_report(*n, args.history, now_ms)).collect::<Vec<_>>()});
            let r =
                client.post(server.url("/api/v1/reports/batch")).bearer_auth(&key).json(&body).send().await?;
            if !r.status().is_success() {
                bail!("seeding answered {}", r.status());
            }
        }
        ids.push(id);
    }
    println!(
        "seeded {} integrations × {} reports = {} reports in {:.1} s",
        args.integrations,
        args.history,
        args.integrations * args.history,
        seeding.elapsed().as_secs_f64()
    );

    // The login form first: its token and the cookie that goes with it.
    let form = client.get(server.url("/login")).send().await?;
    let login_cookie = form
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("a login cookie")?
        .to_owned();
    let html = form.text().await?;
    let token = html
        .split("name=\"login_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("a login token")?
        .to_owned();
    let login = client
        .post(server.url("/login"))
        .header(reqwest::header::COOKIE, login_cookie)
        .form(&[
            ("email", "bench@bench.example"),
            ("password", "bench password"),
            ("next", "/integrations"),
            ("login_csrf", &token),
        ])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("a session cookie")?
        .to_owned();
    let api = |path: &str| -> Result<reqwest::RequestBuilder> {
        Ok(client.get(server.url(path)).bearer_auth(&server.token))
    };
    // One alert per integration, the newest, so each timeline request reads a different alert.
    let mut alert_ids = Vec::with_capacity(ids.len());
    for id in &ids {
        let alerts: Value = api(&format!("/api/v1/integrations/{id}/alerts?status=any&limit=1"))?
            .send()
            .await?
            .json()
            .await?;
        alert_ids.push(alerts[0]["id"].as_str().context("an alert")?.to_owned());
    }
    let inbox: Value = api("/api/v1/alerts?limit=1")?.send().await?.json().await?;
    let all: Value = api("/api/v1/trends?days=90")?.send().await?.json().await?;
    println!(
        "open alerts across the organisation by severity: {}; opened in the last 90 days: {}",
        inbox["counts"], all["opened"]
    );
    let old = clef_testkit::sha(args.history / 2);
    // `{id}` stands for each integration in turn, `{alert}` for one alert of each.
    let pages = [
        ("overview (all integrations)", "/integrations".to_owned()),
        ("matrix at the head", "/integrations/{id}".to_owned()),
        ("matrix at an older commit", format!("/integrations/{{id}}?commit={old}")),
        ("alerts of one integration", "/integrations/{id}/alerts".to_owned()),
        ("reports", "/integrations/{id}/reports".to_owned()),
        ("settings", "/integrations/{id}/settings".to_owned()),
        ("audit log", "/audit-log".to_owned()),
        ("inbox (all integrations)", "/alerts".to_owned()),
        ("inbox, filtered", "/alerts?integration={id}&severity=critical&status=any".to_owned()),
        ("alert timeline", "/alerts/{alert}".to_owned()),
        ("trends, organisation, 30 d", "/trends?days=30".to_owned()),
        ("trends, organisation, 90 d", "/trends?days=90".to_owned()),
        ("trends, one integration, 90 d", "/trends?days=90&integration={id}".to_owned()),
        ("API inbox", "/api/v1/alerts".to_owned()),
        ("API inbox, every status", "/api/v1/alerts?status=any".to_owned()),
        ("API alert timeline", "/api/v1/alerts/{alert}/timeline".to_owned()),
        ("API trends, organisation, 90 d", "/api/v1/trends?days=90".to_owned()),
    ];
    println!();
    println!("{:<34}{:>10}{:>10}{:>10}   target", "page", "p50", "p95", "max");
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(args.requests);
        for i in 0..args.requests {
            let path =
                path.replace("{id}", &ids[i % ids.len()]).replace("{alert}", &alert_ids[i % ids.len()]);
            let request = if path.starts_with("/api/") {
                api(&path)?
            } else {
                client.get(server.url(&path)).header(reqwest::header::COOKIE, &cookie)
            };
            let t = Instant::now();
            let r = request.send().await?;
            let status = r.status();
            r.bytes().await?;
            times.push(t.elapsed());
            if !status.is_success() {
                bail!("{name}: {path} answered {status}");
            }
        }
        times.sort();
        let pct = |p: f64| ms(times[((times.len() as f64 * p) as usize).min(times.len() - 1)]);
        println!("{:<34}{:>7.2} ms{:>7.2} ms{:>7.2} ms   p95 ≤ 20 ms", name, pct(0.5), pct(0.95), pct(1.0));
    }
    println!();
    println!("Times are measured by the client over loopback, so they include HTTP; server time is less.");
    Ok(())
}

// ---------- PostgreSQL ----------

/// A fresh database on the server behind `admin`, made and dropped with psql.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(admin: &str, tag: usize) -> Result<Self> {
        let name = format!("clef_bench_{}_{tag}", std::process::id());
        let status =
            Command::new("psql").args([admin, "-q", "-c", &format!("CREATE DATABASE {name}")]).status()?;
        if !status.success() {
            bail!("psql could not create database {name}");
        }
        let base = admin.split('?').next().unwrap_or_default();
        let url = format!("{}/{name}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base));
        Ok(Self { admin: admin.to_owned(), name, url })
    }

    fn drop_now(&self) {
        let _ = Command::new("psql")
            .args([&self.admin, "-q", "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .status();
    }
}

// ---------- the raw limit ----------

const RAW_SCHEMA: &str = "CREATE TABLE reports (id TEXT PRIMARY KEY, integration_id TEXT NOT NULL, commit_sha TEXT NOT NULL, \
    branch TEXT NOT NULL, commit_ts INTEGER NOT NULL, seq INTEGER NOT NULL, received_at INTEGER NOT NULL, \
    cli_version TEXT, files_scanned INTEGER NOT NULL, violations INTEGER NOT NULL, passed INTEGER NOT NULL, \
    namespaces TEXT NOT NULL, environments TEXT NOT NULL, cells TEXT NOT NULL, drift TEXT NOT NULL, \
    policy_results TEXT NOT NULL, ci_provider TEXT, ci_pipeline_url TEXT, ci_trigger TEXT, \
    UNIQUE (integration_id, commit_sha))";

fn raw_db(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute(RAW_SCHEMA, [])?;
    Ok(conn)
}

/// Parses one report (typed, like the server) and inserts its row.
fn raw_insert(conn: &rusqlite::Connection, seq: i64, r: &RawReport) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO reports VALUES (?1, 'i', ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    stmt.execute(rusqlite::params![
        format!("r{seq}"),
        r.commit_sha,
        r.branch,
        r.commit_timestamp,
        seq,
        r.cli_version,
        r.summary.files_scanned,
        r.summary.violations,
        r.summary.passed,
        serde_json::to_string(&r.summary.namespaces)?,
        serde_json::to_string(&r.summary.environments)?,
        serde_json::to_string(&r.summary.cells)?,
        serde_json::to_string(&r.drift)?,
        serde_json::to_string(&r.policy_results)?,
        r.ci_context.provider,
        r.ci_context.pipeline_url,
        r.ci_context.trigger,
    ])?;
    Ok(())
}

/// The report as plain typed serde structs: what parsing costs without any of our checks.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReport {
    commit_sha: String,
    branch: String,
    commit_timestamp: i64,
    cli_version: Option<String>,
    summary: RawSummary,
    drift: Vec<Value>,
    policy_results: Vec<Value>,
    ci_context: RawCi,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSummary {
    files_scanned: i64,
    namespaces: Vec<String>,
    environments: Vec<String>,
    cells: Vec<Value>,
    violations: i64,
    passed: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCi {
    provider: Option<String>,
    pipeline_url: Option<String>,
    trigger: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawBatch {
    reports: Vec<RawReport>,
}

/// Parse the batch body and insert its 500 rows in one transaction.
fn raw_batch(path: &Path, body: &[u8]) -> Result<Duration> {
    let mut conn = raw_db(path)?;
    let started = Instant::now();
    let parsed: RawBatch = serde_json::from_slice(body)?;
    let tx = conn.transaction()?;
    for (i, r) in parsed.reports.iter().enumerate() {
        raw_insert(&tx, i as i64, r)?;
    }
    tx.commit()?;
    Ok(started.elapsed())
}

/// Parse and insert each report in its own transaction; reports per second.
fn raw_singles(path: &Path, bodies: &[Vec<u8>]) -> Result<f64> {
    let mut conn = raw_db(path)?;
    let started = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let parsed: RawReport = serde_json::from_slice(body)?;
        let tx = conn.transaction()?;
        raw_insert(&tx, i as i64, &parsed)?;
        tx.commit()?;
    }
    Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
}

/// The same parsing and rows into PostgreSQL, one transaction per report, `concurrency`
/// connections at once; reports per second.
async fn raw_pg_singles(url: &str, bodies: &[Vec<u8>], concurrency: usize) -> Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(concurrency as u32).connect(url).await?;
    sqlx::query(&RAW_SCHEMA.replace("INTEGER", "BIGINT").replace("passed BIGINT", "passed BOOLEAN"))
        .execute(&pool)
        .await?;
    let bodies = Arc::new(bodies.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (pool, bodies, next) = (pool.clone(), bodies.clone(), next.clone());
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let r: RawReport = serde_json::from_slice(body)?;
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO reports VALUES ($1, 'i', $2, $3, $4, $5, 0, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(format!("r{i}"))
                .bind(&r.commit_sha)
                .bind(&r.branch)
                .bind(r.commit_timestamp)
                .bind(i as i64)
                .bind(&r.cli_version)
                .bind(r.summary.files_scanned)
                .bind(r.summary.violations)
                .bind(r.summary.passed)
                .bind(serde_json::to_string(&r.summary.namespaces)?)
                .bind(serde_json::to_string(&r.summary.environments)?)
                .bind(serde_json::to_string(&r.summary.cells)?)
                .bind(serde_json::to_string(&r.drift)?)
                .bind(serde_json::to_string(&r.policy_results)?)
                .bind(&r.ci_context.provider)
                .bind(&r.ci_context.pipeline_url)
                .bind(&r.ci_context.trigger)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Ok::<_, anyhow::Error>(())
        })
    });
    for joined in futures_util::future::join_all(workers).await {
        joined??;
    }
    let rate = bodies.len() as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(rate)
}

/// A typical report: 5 namespaces × 3 environments, 5 policy results, drift per namespace,
/// about 2.4 KB of JSON. Commit `n` differs a little from commit `n - 1`: one cell's health
/// and description, one result's outcome.
fn typical_report(n: u32) -> Value {
    let namespaces = ["database", "payments", "oauth", "api-keys", "messaging"];
    let environments = ["dev", "staging", "production"];
    let cells: Vec<Value> = namespaces
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| {
            environments.iter().enumerate().map(move |(j, env)| {
                let changed = (i * 3 + j) as u32 == n % 15;
                json!({"namespace": ns, "environment": env,
                       "healthStatus": if changed { "warning" } else { "healthy" },
                       "description": if changed { "6 key(s), 3 recipient(s), rotated 94d ago" } else { "6 key(s), 3 recipient(s), rotated 12d ago" }})
            })
        })
        .collect();
    let rules = ["missing_keys", "rotation_max_age", "min_recipients", "schema", "pending_values"];
    let results: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(r, rule)| {
            let passed = r as u32 != n % 7;
            json!({"ruleId": rule, "ruleName": rule.replace('_', " "), "passed": passed, "severity": "warning",
                   "message": if passed { "ok".to_owned() } else { format!("{rule} failing in {}/production", namespaces[r]) },
                   "scope": format!("{}/production", namespaces[r])})
        })
        .collect();
    json!({"commitSha": clef_testkit::sha(3_000_000 + n), "branch": "main",
           "commitTimestamp": 1_732_400_000_000_i64 + i64::from(n) * 60_000, "cliVersion": "0.1.30",
           "summary": {"filesScanned": 15, "namespaces": namespaces, "environments": environments, "cells": cells,
                       "violations": results.iter().filter(|r| r["passed"] == false).count(), "passed": false},
           "drift": namespaces.iter().map(|ns| json!({"namespace": ns, "isDrifted": false, "driftCount": 0})).collect::<Vec<_>>(),
           "policyResults": results,
           "ciContext": {"provider": "github-actions", "pipelineUrl": format!("https://ci.example/acme/secrets/runs/{n}"), "trigger": "push"}})
}

/// Bytes on disk per report after `commits` commits of a typical report, on the embedded
/// SQLite default, measured after a clean stop (the WAL folded into the file).
async fn storage(server_bin: &Path, work: &Path, commits: u32) -> Result<()> {
    if commits == 0 {
        return Ok(());
    }
    let dir = work.join("storage");
    let mut server = Server::start(server_bin, &dir).await?;
    let client = reqwest::Client::new();
    let key = server.integration(&client, "storage").await?;
    let json_bytes = serde_json::to_vec(&typical_report(1))?.len();
    for chunk in (1..=commits).collect::<Vec<_>>().chunks(BATCH as usize) {
        let body = json!({"reports": chunk.iter().map(|n| typical_report(*n)).collect::<Vec<_>>()});
        let r = client.post(server.url("/api/v1/reports/batch")).bearer_auth(&key).json(&body).send().await?;
        if !r.status().is_success() {
            bail!("storage run answered {}", r.status());
        }
    }
    server.stop_gracefully()?;
    let db = dir.join("server").join("clef-pro.db");
    let bytes = std::fs::metadata(&db)?.len();
    let wal = std::fs::metadata(db.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
    println!(
        "{:<34}{:>11.0} B   {} commits of a {:.1} KB report: {:.1} MB file{}   target ≤ 1,024 B",
        "storage per report (SQLite)",
        (bytes + wal) as f64 / f64::from(commits),
        commits,
        json_bytes as f64 / 1024.0,
        bytes as f64 / 1e6,
        if wal > 0 { format!(" + {:.1} MB WAL", wal as f64 / 1e6) } else { String::new() }
    );
    Ok(())
}

// ---------- the server under test ----------

struct Server {
    children: Vec<Child>,
    bases: Vec<String>,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    async fn start(bin: &Path, dir: &Path) -> Result<Self> {
        Self::start_replicas(bin, dir, None, 1).await
    }

    /// `replicas` server processes on one database (the embedded SQLite one when `db` is None).
    async fn start_replicas(bin: &Path, dir: &Path, db: Option<&str>, replicas: usize) -> Result<Self> {
        let data = dir.join("server");
        let db_args: Vec<&str> = db.map(|url| vec!["--database-url", url]).unwrap_or_default();
        let cli = |args: &[&str], input: Option<&str>| -> Result<String> {
            let mut child = Command::new(bin)
                .arg("--data-dir")
                .arg(&data)
                .args(&db_args)
                .args(args)
                .env("CLEF_PRO_LOG", "warn")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
                stdin.write_all(input.as_bytes())?;
            }
            let out = child.wait_with_output()?;
            if !out.status.success() {
                bail!("clef-pro {args:?} failed");
            }
            Ok(String::from_utf8(out.stdout)?)
        };
        cli(
            &["user", "create", "--email", "bench@bench.example", "--org", "bench"],
            Some("bench password\n"),
        )?;
        let token = cli(&["token", "create", "--email", "bench@bench.example"], None)?.trim().to_owned();
        let (mut children, mut bases) = (Vec::new(), Vec::new());
        for _ in 0..replicas {
            let mut child = Command::new(bin)
                .arg("--data-dir")
                .arg(&data)
                .args(&db_args)
                // The benchmark is the flood the limit exists to stop: lift it.
                .args(["serve", "--listen", "127.0.0.1:0", "--api-key-rate", "0"])
                .env("CLEF_PRO_LOG", "warn")
                .stdout(Stdio::piped())
                .spawn()?;
            let stdout = child.stdout.take().context("server stdout")?;
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            bases.push(line.trim().rsplit(' ').next().context("server address")?.to_owned());
            children.push(child);
        }
        Ok(Self { children, bases, token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.bases[0])
    }

    /// SIGTERM to every replica, then wait: a clean stop, as an operator's.
    fn stop_gracefully(&mut self) -> Result<()> {
        for child in &mut self.children {
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
            child.wait()?;
        }
        self.children.clear();
        Ok(())
    }

    /// A new integration and an API key for it.
    async fn integration(&self, client: &reqwest::Client, name: &str) -> Result<String> {
        let created: Value = client
            .post(self.url("/api/v1/integrations"))
            .bearer_auth(&self.token)
            .json(&json!({ "name": name }))
            .send()
            .await?
            .json()
            .await?;
        let id = created["id"].as_str().context("integration id")?;
        let key: Value = client
            .post(self.url(&format!("/api/v1/integrations/{id}/api-keys")))
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?;
        Ok(key["key"].as_str().context("api key")?.to_owned())
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        self.memory_kb("VmHWM:")
    }

    fn memory_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.children.first()?.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// Resident memory each idle keep-alive connection costs the server, in KB: `n` connections
/// each answer one request and stay open while the server's VmRSS is read again.
async fn connection_memory(server: &Server, n: usize) -> Result<Option<f64>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(before) = server.memory_kb("VmRSS:") else { return Ok(None) };
    let addr = server.bases[0].trim_start_matches("http://").to_owned();
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n").await?;
        let mut answer = [0u8; 512];
        let _ = stream.read(&mut answer).await?;
        open.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.memory_kb("VmRSS:").unwrap_or(before);
    drop(open);
    Ok(Some(after.saturating_sub(before) as f64 / n as f64))
}
