use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_clef-pro");

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// A personal access token of the organisation's owner.
    pub token: String,
    pub dir: tempfile::TempDir,
    child: Child,
    extra: Vec<String>,
    /// Flags before the subcommand (`--database-url …` on PostgreSQL).
    globals: Vec<String>,
}

/// Starts `clef-pro serve` on a free port; returns the process and its base URL.
async fn start_server(dir: &Path, globals: &[String], extra: &[String]) -> (Child, String) {
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).expect("log file");
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(globals)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("CLEF_PRO_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clef-pro");
    let stdout = child.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read address");
    let base = first.trim().rsplit(' ').next().expect("address").to_owned();
    (child, base)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn clef(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("CLEF_PRO_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run clef-pro");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("clef-pro output");
    assert!(out.status.success(), "clef-pro {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

pub fn add_user(data_dir: &Path, email: &str, org: &str, role: &str) -> String {
    add_user_with(data_dir, &[], email, org, role)
}

/// Creates a user and returns a token for it; `globals` go before the subcommand.
fn add_user_with(data_dir: &Path, globals: &[String], email: &str, org: &str, role: &str) -> String {
    let with = |rest: &[&str]| -> Vec<String> {
        globals.iter().cloned().chain(rest.iter().map(|s| s.to_string())).collect()
    };
    let create = with(&["user", "create", "--email", email, "--org", org, "--role", role]);
    clef(data_dir, &create.iter().map(String::as_str).collect::<Vec<_>>(), Some("a long password\n"));
    let token = with(&["token", "create", "--email", email, "--org", org]);
    clef(data_dir, &token.iter().map(String::as_str).collect::<Vec<_>>(), None).trim().to_owned()
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra: &[&str]) -> Self {
        Self::spawn_on(None, extra).await
    }

    /// On the embedded SQLite (`None`) or on a PostgreSQL database.
    pub async fn spawn_on(database_url: Option<&str>, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let globals: Vec<String> =
            database_url.map(|u| vec!["--database-url".to_owned(), u.to_owned()]).unwrap_or_default();
        let token = add_user_with(dir.path(), &globals, "owner@acme.example", "acme", "owner");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::start(dir, token, globals, extra).await
    }

    /// Starts a server on a data folder made elsewhere (a restored backup), acting with `token`.
    pub async fn serve_in(dir: tempfile::TempDir, token: String) -> Self {
        Self::start(dir, token, vec![], vec![]).await
    }

    async fn start(dir: tempfile::TempDir, token: String, globals: Vec<String>, extra: Vec<String>) -> Self {
        let (child, base) = start_server(dir.path(), &globals, &extra).await;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let app = Self { base, client, token, dir, child, extra, globals };
        app.wait_ready().await;
        app
    }

    /// Starts a new server process on the same data folder (after the old one stopped).
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base) = start_server(self.dir.path(), &self.globals, &self.extra).await;
        self.child = child;
        self.base = base;
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server never became ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown, no flushing, whatever was in flight.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to 30 s for the server process to exit; true when it exited successfully.
    pub async fn wait_exit(&mut self) -> bool {
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// GET with a bearer credential; returns status and JSON body.
    pub async fn get(&self, path: &str, bearer: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).bearer_auth(bearer).send().await.expect("request");
        answer(r).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: &Value) -> (u16, Value) {
        let r =
            self.client.post(self.url(path)).bearer_auth(bearer).json(body).send().await.expect("request");
        answer(r).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        bearer: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(bearer)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        answer(r).await
    }

    /// A dashboard page's HTML, fetched with a session cookie.
    pub async fn page(&self, path: &str, cookie: &str) -> String {
        let r = self.client.get(self.url(path)).header("cookie", cookie).send().await.expect("page");
        r.text().await.expect("html")
    }

    /// Creates an integration and an API key for it: (integration id, key).
    pub async fn integration(&self, name: &str) -> (String, String) {
        let (status, created) = self.post("/api/v1/integrations", &self.token, &json!({"name": name})).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let (status, key) =
            self.post(&format!("/api/v1/integrations/{id}/api-keys"), &self.token, &json!({})).await;
        assert_eq!(status, 201, "{key}");
        (id, key["key"].as_str().expect("key").to_owned())
    }

    pub async fn alerts(&self, integration: &str, query: &str) -> Vec<Value> {
        let (status, body) =
            self.get(&format!("/api/v1/integrations/{integration}/alerts?{query}"), &self.token).await;
        assert_eq!(status, 200, "{body}");
        body.as_array().expect("array").clone()
    }
}

pub async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

pub use clef_testkit::{big_report, sha};

/// Server flags for notification tests: retries within a tenth of a second, due messages
/// looked for every 50 ms, a message given up after a minute, test sends unlimited (some
/// tests queue hundreds). Links point at a fixed public URL.
pub const QUICK_DELIVERY: [&str; 10] = [
    "--public-url",
    "https://clef.acme.example",
    "--delivery-retry-base-ms",
    "100",
    "--delivery-poll-ms",
    "50",
    "--delivery-max-age-secs",
    "60",
    "--test-sends-per-minute",
    "0",
];

/// A report as the CLI sends it, for commit `n`, failing the given (rule, scope) pairs.
pub fn report(n: u32, failing: &[(&str, &str)]) -> Value {
    let results: Vec<Value> = failing
        .iter()
        .map(|(rule, scope)| {
            json!({"ruleId": rule, "ruleName": rule, "passed": false, "severity": "critical",
                   "message": format!("{rule} failing for {scope}"), "scope": scope})
        })
        .collect();
    json!({
        "commitSha": sha(n), "branch": "main", "commitTimestamp": 1_732_400_000_000_i64 + i64::from(n) * 1000,
        "cliVersion": "0.1.30",
        "summary": {"filesScanned": 4, "namespaces": ["oauth", "database"], "environments": ["dev", "production"],
            "cells": [
                {"namespace": "oauth", "environment": "production", "healthStatus": if failing.is_empty() { "healthy" } else { "critical" }, "description": "3 key(s)"},
                {"namespace": "database", "environment": "dev", "healthStatus": "warning", "description": "rotated 94d ago"}],
            "violations": failing.len(), "passed": failing.is_empty()},
        "drift": [{"namespace": "database", "isDrifted": true, "driftCount": 2}],
        "policyResults": results,
        "ciContext": {"provider": "github-actions", "pipelineUrl": format!("https://ci.example/run/{n}"), "trigger": "push"}
    })
}

/// A fresh database on the test PostgreSQL server (CLEF_TEST_POSTGRES_URL, default
/// postgres://postgres@127.0.0.1:5432/test). `None` when unreachable, except under CI=true,
/// where that fails the test.
pub struct TestDb {
    admin: sqlx::PgPool,
    name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Option<Self> {
        let admin_url = std::env::var("CLEF_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let admin = match sqlx::PgPool::connect(&admin_url).await {
            Ok(pool) => pool,
            Err(e) => {
                clef_testkit::skip(
                    "a PostgreSQL leg",
                    &format!("PostgreSQL unreachable at {admin_url}: {e}"),
                );
                return None;
            }
        };
        let name = format!("clef_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
        let base = admin_url.split('?').next().unwrap_or_default();
        let url = format!("{}/{name}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base));
        Some(Self { admin, name, url })
    }

    pub async fn drop_now(self) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&self.admin)
            .await;
    }
}

/// Posts the login form as a browser does: first the form (its login token, and the cookie
/// that goes with it), then the credentials. Redirects are not followed.
pub async fn login_response(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    login_response_with(app, None, email, password, None).await
}

/// The same from a chosen loopback address (127.0.0.2, …: another client machine), with a
/// `next` page.
pub async fn login_response_with(
    app: &TestApp,
    from: Option<std::net::IpAddr>,
    email: &str,
    password: &str,
    next: Option<&str>,
) -> reqwest::Response {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(from)
        .build()
        .expect("client");
    let form = browser.get(app.url("/login")).send().await.expect("login form");
    let cookie = set_cookie(&form, "clef_login").expect("login cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let token = hidden_field(&form.text().await.expect("form html"), "login_csrf");
    let mut fields = vec![("email", email), ("password", password), ("login_csrf", &token)];
    if let Some(next) = next {
        fields.push(("next", next));
    }
    browser.post(app.url("/login")).header("cookie", cookie).form(&fields).send().await.expect("login")
}

/// The value of a page's hidden form field.
pub fn hidden_field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field"))
        .to_owned()
}

/// Logs in and returns the session cookie, `clef_session=…`.
/// The `Set-Cookie` header, flags included, that starts with `name=`.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A logged-in session's `clef_session=…` pair, for a Cookie header.
pub async fn session_cookie(app: &TestApp, email: &str, password: &str) -> String {
    let r = login_response(app, email, password).await;
    let set = set_cookie(&r, "clef_session").unwrap_or_else(|| panic!("no session: {}", r.status()));
    set.split(';').next().unwrap_or_default().to_owned()
}

/// What most tests start from: an integration with a report failing one rule (so an open
/// alert), an e-mail channel and its API key.
pub struct Fixtures {
    pub integration: String,
    pub key: String,
    pub key_id: String,
    pub alert: String,
    pub channel: String,
}

impl TestApp {
    pub async fn fixtures(&self, name: &str) -> Fixtures {
        let (integration, key) = self.integration(name).await;
        assert_eq!(self.post("/api/v1/reports", &key, &report(1, &[("r", "db/prod")])).await.0, 200);
        let alert = self.alerts(&integration, "").await[0]["id"].as_str().expect("alert").to_owned();
        let body =
            json!({"channel": "email", "target": format!("{name}@acme.example"), "minSeverity": "info"});
        let (s, ch) =
            self.post(&format!("/api/v1/integrations/{integration}/channels"), &self.token, &body).await;
        assert_eq!(s, 201, "{ch}");
        let channel = ch["id"].as_str().expect("channel").to_owned();
        let (_, keys) = self.get(&format!("/api/v1/integrations/{integration}/api-keys"), &self.token).await;
        let key_id = keys[0]["id"].as_str().expect("key id").to_owned();
        Fixtures { integration, key, key_id, alert, channel }
    }
}
