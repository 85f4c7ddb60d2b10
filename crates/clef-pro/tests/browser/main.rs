//! The dashboard in a real browser: Debian's Chromium driven over WebDriver (chromedriver).
//! Every page visited is saved as a screenshot under `target/browser-screenshots/`, and a
//! blank or error page fails the test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

#[path = "../api/idp.rs"]
#[allow(dead_code)]
mod idp;

#[path = "../api/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use fantoccini::{Client, ClientBuilder, Locator};
use helpers::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Browser {
    client: Client,
    driver: Child,
    shots: PathBuf,
    base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

async fn browser(base: &str, test: &str) -> Browser {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs (apt-get install chromium chromium-driver)");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--window-size=1280,900"]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a Chromium session");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots").join(test);
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    Browser { client, driver, shots, base: base.to_owned() }
}

impl Browser {
    /// The element, waiting up to 10 s for it: after a form submit the next page may still be loading.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} on the page"))
    }

    async fn go(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    /// Saves a screenshot and fails on a blank page or an error page.
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), &png).expect("save screenshot");
        let text = self.client.find(Locator::Css("body")).await.expect("body").text().await.expect("text");
        assert!(text.trim().len() > 20, "{name}: the page is blank");
        assert!(
            self.client.find(Locator::Css(".error-page")).await.is_err(),
            "{name}: an error page: {text}"
        );
        assert!(png.len() > 10_000, "{name}: the screenshot looks blank ({} bytes)", png.len());
    }

    /// The element's text as a reader sees it, lowercased (CSS capitalises some labels).
    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text").to_lowercase()
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks a link or button that loads a page and waits until the next page has loaded: a
    /// `find` straight after a click can otherwise answer from the page being left.
    async fn follow(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.wait_for_next_page(css).await;
    }

    /// As `follow`, for a button that asks "are you sure?" first: says yes.
    async fn follow_confirmed(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.client.accept_alert().await.expect("confirm");
        self.wait_for_next_page(css).await;
    }

    async fn mark_page(&self) {
        self.client.execute("window.clefLeaving = true", vec![]).await.expect("mark the page");
    }

    async fn wait_for_next_page(&self, after: &str) {
        let loaded = "return window.clefLeaving !== true && document.readyState === 'complete'";
        for _ in 0..200 {
            // While the next page loads a script may fail: that is "not yet".
            if let Ok(serde_json::Value::Bool(true)) = self.client.execute(loaded, vec![]).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {after} did not load a page within 10 s");
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default())
    }

    async fn log_in(&self, email: &str) {
        self.go("/integrations").await;
        assert!(self.path().await.starts_with("/login"), "anonymous visitors are sent to the login page");
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", "a long password").await;
        self.follow("button[type=submit]").await;
        // Only logged-in pages have the top bar.
        self.find("header.top").await;
    }
}

/// An integration with three commits: the first healthy, then a critical missing key and a
/// drifting namespace. Returns (integration id, CI key).
async fn seeded(app: &TestApp) -> (String, String) {
    let (id, key) = app.integration("payments").await;
    for (n, failing) in [
        (1, vec![]),
        (2, vec![("missing_keys", "oauth/production")]),
        (3, vec![("missing_keys", "oauth/production")]),
    ] {
        let (s, body) = app.post("/api/v1/reports", &key, &report(n, &failing)).await;
        assert_eq!(s, 200, "{body}");
    }
    (id, key)
}

#[tokio::test]
async fn a_security_engineer_works_through_the_dashboard() {
    let app = TestApp::spawn().await;
    let (id, _) = seeded(&app).await;
    let b = browser(&app.base, "owner").await;

    b.go("/login").await;
    b.shot("01-login").await;
    b.log_in("owner@acme.example").await;
    assert_eq!(b.path().await, "/integrations");
    b.shot("02-overview").await;
    assert!(b.text("table.list").await.contains("payments"));
    assert!(b.text("table.list").await.contains("critical"), "worst health and open critical alerts");

    // The matrix shows the head's cells.
    b.follow(&format!("a[href='/integrations/{id}']")).await;
    b.shot("03-matrix-head").await;
    let matrix = b.client.find(Locator::Css("#matrix")).await.expect("matrix");
    assert_eq!(matrix.attr("data-commit").await.expect("attr").as_deref(), Some(sha(3).as_str()));
    let cells = b.text("#matrix").await;
    assert!(cells.contains("critical") && cells.contains("3 key(s)") && cells.contains("drift"), "{cells}");
    assert!(
        b.client.find(Locator::Css(".banner.history")).await.is_err(),
        "the head is not marked as history"
    );

    // Choosing an older commit redraws the matrix and marks it.
    b.follow(&format!(".timeline a[href$='commit={}']", sha(1))).await;
    b.shot("04-matrix-history").await;
    let matrix = b.client.find(Locator::Css("#matrix")).await.expect("matrix");
    assert_eq!(matrix.attr("data-commit").await.expect("attr").as_deref(), Some(sha(1).as_str()));
    assert!(b.text(".banner.history").await.contains("not the head"));
    assert!(b.text("#matrix").await.contains("healthy"));
    b.follow(".banner.history a").await;
    assert_eq!(b.path().await, format!("/integrations/{id}"));

    // Acknowledging marks the alert acknowledged while it stays open.
    b.follow(".tabs a[href*='/alerts']").await;
    b.shot("05-alerts").await;
    b.follow("td.ack button").await;
    b.find("td.ack .acked").await;
    b.shot("06-alerts-acknowledged").await;
    let row = b.text("table.alerts tbody tr").await;
    assert!(row.contains("by owner@acme.example") && row.contains("open"), "{row}");
    let alerts = app.alerts(&id, "").await;
    assert_eq!(
        (alerts[0]["status"].as_str(), alerts[0]["acknowledged"].as_bool()),
        (Some("open"), Some(true))
    );
    b.follow(&format!("a[href='/alerts/{}']", alerts[0]["id"].as_str().expect("id"))).await;
    b.shot("07-alert").await;

    // A new API key is shown once; a report sent with it appears in the history.
    b.go(&format!("/integrations/{id}/settings")).await;
    b.shot("08-settings").await;
    b.fill("#keys input[name=name]", "Browser test").await;
    b.follow("#keys button.primary").await;
    b.shot("09-key-created").await;
    let key = b.find("#new-key").await.text().await.expect("text");
    assert!(key.starts_with("clefk_"), "{key}");
    assert!(b.text("#key-snippet").await.contains("/v1/logs"));
    let (s, _) = app.post("/api/v1/reports", key.trim(), &report(0x99, &[])).await;
    assert_eq!(s, 200);
    b.go(&format!("/integrations/{id}/reports")).await;
    b.shot("10-reports").await;
    assert!(b.text("table.list").await.contains(&sha(0x99)[..7]));

    // A channel, a test send, and the delivery log.
    b.go(&format!("/integrations/{id}/settings")).await;
    b.fill("form.channel.new input[name=target]", "security@acme.example").await;
    b.follow("form.channel.new button.primary").await;
    b.follow("form.channel button[formaction$='/test']").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.go(&format!("/integrations/{id}/settings#deliveries")).await;
    b.shot("11-settings-channels").await;
    assert!(b.text("#deliveries").await.contains("test message for payments"));

    b.go("/audit-log").await;
    b.shot("12-audit-log").await;

    let log = b.text("table.list").await;
    assert!(
        log.contains("alert.acknowledge") && log.contains("api_key.create") && log.contains("channel.test"),
        "{log}"
    );

    // The same pages on a phone.
    b.client.set_window_size(390, 844).await.expect("resize");
    b.go("/integrations").await;
    b.shot("13-phone-overview").await;
    b.go(&format!("/integrations/{id}")).await;
    b.shot("14-phone-matrix").await;
    b.client.set_window_size(1280, 900).await.expect("resize");

    b.follow("form[action='/logout'] button").await;
    b.find("main.login").await;
    assert!(b.path().await.starts_with("/login"));
    b.go(&format!("/integrations/{id}")).await;
    assert!(b.path().await.starts_with("/login"), "logged out for good");
    b.client.clone().close().await.expect("close");
}

#[tokio::test]
async fn the_inbox_answers_what_is_broken_since_when_and_who_has_it() {
    let app = TestApp::spawn().await;
    let (payments, _) = seeded(&app).await;
    let (_, billing_key) = app.integration("billing").await;
    let (s, _) = app
        .post(
            "/api/v1/reports",
            &billing_key,
            &report(4, &[("rotation", "cards/production"), ("schema", "api/dev")]),
        )
        .await;
    assert_eq!(s, 200);
    let b = browser(&app.base, "inbox").await;
    b.go("/").await;
    b.fill("input[name=email]", "owner@acme.example").await;
    b.fill("input[name=password]", "a long password").await;
    b.follow("button[type=submit]").await;
    b.find("header.top").await;
    assert!(b.path().await.starts_with("/alerts"), "the inbox is the first page: {}", b.path().await);
    b.shot("01-inbox").await;
    assert!(b.text("nav.counts").await.contains("3 critical"), "{}", b.text("nav.counts").await);
    let rows = b.text("table.alerts tbody").await;
    assert!(rows.contains("payments") && rows.contains("billing") && rows.contains("open"), "{rows}");

    // Filter to one namespace, then acknowledge what is left in bulk, with a reason and a snooze.
    b.fill("form.filters input[name=namespace]", "cards").await;
    b.follow("form.filters button[type=submit]").await;
    b.find("table.alerts").await;
    assert!(b.path().await.contains("namespace=cards"));
    assert_eq!(b.client.find_all(Locator::Css("table.alerts tbody tr")).await.expect("rows").len(), 1);
    b.click("table.alerts input[type=checkbox][name=id]").await;
    b.fill("#bulk input[name=reason]", "owned by the cards team").await;
    b.click("#bulk select[name=snooze] option[value='7']").await;
    b.follow("#bulk button.primary").await;
    b.find("p.banner.ok").await;
    b.shot("02-inbox-acknowledged").await;
    assert!(b.text("p.banner.ok").await.contains("acknowledged"));
    assert!(b.text("table.alerts tbody").await.contains("snoozed until"));

    // The alert's page is its timeline.
    let (_, page) = app.get("/api/v1/alerts?namespace=cards", &app.token).await;
    let cards = page["alerts"][0]["id"].as_str().expect("id").to_owned();
    b.follow(&format!("table.alerts a[href='/alerts/{cards}']")).await;
    b.find("#timeline").await;
    b.shot("03-alert-timeline").await;
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("opened") && timeline.contains("acknowledged by owner@acme.example"),
        "{timeline}"
    );
    assert!(timeline.contains("owned by the cards team") && timeline.contains("snoozed until"), "{timeline}");
    assert_eq!(b.client.find_all(Locator::Css("#seen-reports tbody tr")).await.expect("rows").len(), 1);

    // The payments alert: acknowledged from its own page, which then says so.
    let missing = app.alerts(&payments, "").await[0]["id"].as_str().expect("id").to_owned();
    b.go(&format!("/alerts/{missing}")).await;
    assert!(b.text("#age").await.len() > 1);
    b.fill("#acknowledge input[name=reason]", "rotation booked").await;
    b.follow("#acknowledge button.primary").await;
    b.find("p.banner.ok").await;
    assert!(b.text("#ack-state").await.contains("rotation booked"));
    assert_eq!(b.client.find_all(Locator::Css("#seen-reports tbody tr")).await.expect("rows").len(), 2);
    b.shot("04-alert-acknowledged").await;

    // Unacknowledged only: one billing alert is left.
    b.go("/alerts?acknowledged=no").await;
    assert_eq!(b.client.find_all(Locator::Css("table.alerts tbody tr")).await.expect("rows").len(), 1);
    b.client.set_window_size(390, 844).await.expect("resize");
    b.go("/alerts").await;
    b.shot("05-phone-inbox").await;
    b.client.clone().close().await.expect("close");
}

#[tokio::test]
async fn viewers_cannot_act_and_forged_requests_are_refused() {
    let app = TestApp::spawn().await;
    let (id, _) = seeded(&app).await;
    add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let alert_id = app.alerts(&id, "").await[0]["id"].as_str().expect("id").to_owned();

    let b = browser(&app.base, "viewer").await;
    b.log_in("viewer@acme.example").await;
    b.go(&format!("/integrations/{id}/alerts")).await;
    b.shot("01-viewer-alerts").await;
    assert!(b.client.find(Locator::Css("td.ack button")).await.is_err(), "no acknowledge button for viewers");
    b.go(&format!("/integrations/{id}/settings")).await;
    b.shot("02-viewer-settings").await;
    assert!(
        b.client.find(Locator::Css("#keys button.primary")).await.is_err(),
        "no key creation for viewers"
    );

    // Even a well-formed request with the viewer's own CSRF token is refused.
    let csrf = b
        .client
        .find(Locator::Css("form[action='/logout'] input[name=csrf]"))
        .await
        .expect("csrf")
        .attr("value")
        .await
        .expect("attr")
        .expect("value");
    let refused = b.client.execute_async(
        &format!("const done = arguments[0]; fetch('/alerts/{alert_id}/acknowledge', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'csrf={csrf}'}}).then(r => done(r.status));"),
        vec![],
    ).await.expect("script");
    assert_eq!(refused.as_u64(), Some(403), "a viewer cannot acknowledge");
    let refused = b.client.execute_async(
        &format!("const done = arguments[0]; fetch('/integrations/{id}/keys', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'csrf={csrf}&name=sneaky'}}).then(r => done(r.status));"),
        vec![],
    ).await.expect("script");
    assert_eq!(refused.as_u64(), Some(403), "a viewer cannot create keys");
    let (_, keys) = app.get(&format!("/api/v1/integrations/{id}/api-keys"), &app.token).await;
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "no key was created");
    b.client.clone().close().await.expect("close");

    // An owner's session without the CSRF token cannot change anything either.
    let owner = browser(&app.base, "owner-csrf").await;
    owner.log_in("owner@acme.example").await;
    owner.go(&format!("/integrations/{id}/alerts")).await;
    let forged = owner.client.execute_async(
        &format!("const done = arguments[0]; fetch('/alerts/{alert_id}/acknowledge', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'back=/'}}).then(r => done(r.status));"),
        vec![],
    ).await.expect("script");
    assert_ne!(forged.as_u64(), Some(200));
    let wrong = owner.client.execute_async(
        &format!("const done = arguments[0]; fetch('/alerts/{alert_id}/acknowledge', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'csrf=forged&back=/'}}).then(r => done(r.status));"),
        vec![],
    ).await.expect("script");
    assert_eq!(wrong.as_u64(), Some(403));
    let alert = &app.alerts(&id, "").await[0];
    assert_eq!(alert["acknowledged"], false, "nothing was acknowledged");
    owner.client.clone().close().await.expect("close");
}

#[tokio::test]
async fn channels_of_every_kind_are_added_tested_edited_and_removed() {
    let receiver = receiver::Receiver::start().await;
    let pd = receiver.url("/pd");
    let app = TestApp::spawn_with(&[
        "--allow-private-targets",
        "--pagerduty-events-url",
        &pd,
        "--delivery-poll-ms",
        "50",
        "--test-sends-per-minute",
        "0",
    ])
    .await;
    let (id, _) = seeded(&app).await;
    let b = browser(&app.base, "channels").await;
    b.log_in("owner@acme.example").await;
    let secrets = [
        ("slack", receiver.url("/slack/T0/B0/SLACKs3cr3t01")),
        ("teams", receiver.url("/teams/wf/TEAMSs3cr3t02")),
        ("pagerduty", "PDs3cr3tR0UT1NGKEY00000000000003".to_owned()),
        ("webhook", receiver.url("/hook/HOOKs3cr3t04")),
    ];
    let mut signing_secret = String::new();
    for (kind, target) in &secrets {
        b.go(&format!("/integrations/{id}/settings#channels")).await;
        b.click(&format!("#channel-kind option[value={kind}]")).await;
        if *kind == "slack" {
            assert!(
                b.text("#channel-target-label").await.contains("incoming webhook url"),
                "the form follows the kind"
            );
        }
        b.fill("form.channel.new input[name=target]", target).await;
        b.follow("form.channel.new button.primary").await;
        if *kind == "webhook" {
            b.find("#new-secret").await;
            b.shot("02-webhook-secret-once").await;
            signing_secret = b.find("#new-secret").await.text().await.expect("text");
            assert!(signing_secret.starts_with("whsec_"), "{signing_secret}");
        }
    }
    b.go(&format!("/integrations/{id}/settings#channels")).await;
    b.shot("01-channels-of-every-kind").await;
    let page = b.client.source().await.expect("source");
    for part in ["SLACKs3cr3t", "TEAMSs3cr3t", "PDs3cr3t", "HOOKs3cr3t", &signing_secret] {
        assert!(!page.contains(part), "{part} shown after creation");
    }
    assert_eq!(
        app.get(&format!("/api/v1/integrations/{id}/channels"), &app.token).await.1.as_array().map(Vec::len),
        Some(4)
    );

    // A test send through each, received where each service would receive it.
    for kind in ["slack", "teams", "pagerduty", "webhook"] {
        b.go(&format!("/integrations/{id}/settings#channels")).await;
        b.follow(&format!("form.channel[data-kind={kind}] button[formaction$='/test']")).await;
        b.find("#deliveries").await;
    }
    for (path, n) in [
        ("/slack/T0/B0/SLACKs3cr3t01", 1),
        ("/teams/wf/TEAMSs3cr3t02", 1),
        ("/pd", 2),
        ("/hook/HOOKs3cr3t04", 1),
    ] {
        assert_eq!(receiver.wait_for(path, n).await.len(), n, "{path}");
    }
    // A receiver has the request before the worker records its answer: wait for the log to settle.
    let start = std::time::Instant::now();
    let log = loop {
        b.go(&format!("/integrations/{id}/settings#deliveries")).await;
        let log = b.text("#deliveries").await;
        if !log.contains("pending") || start.elapsed() > Duration::from_secs(10) {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    b.shot("03-delivery-log").await;
    assert_eq!(log.matches("test message for payments").count(), 4, "{log}");
    assert!(!log.contains("failed") && !log.contains("pending"), "{log}");

    // Editing with the secret field blank keeps the secret; the new severity is saved.
    b.go(&format!("/integrations/{id}/settings#channels")).await;
    b.click("form.channel[data-kind=slack] select[name=min_severity] option[value=critical]").await;
    b.follow("form.channel[data-kind=slack] button[type=submit]:not([formaction])").await;
    let start = std::time::Instant::now();
    let slack = loop {
        let (_, channels) = app.get(&format!("/api/v1/integrations/{id}/channels"), &app.token).await;
        let slack = channels
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["channel"] == "slack")
            .expect("slack")
            .clone();
        if slack["minSeverity"] == "critical" || start.elapsed() > Duration::from_secs(10) {
            break slack;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (slack["minSeverity"].as_str(), slack["target"].as_str()),
        (Some("critical"), Some("\u{2026}3t01"))
    );
    b.go(&format!("/integrations/{id}/settings#channels")).await;
    b.follow("form.channel[data-kind=slack] button[formaction$='/test']").await;
    assert_eq!(
        receiver.wait_for("/slack/T0/B0/SLACKs3cr3t01", 2).await.len(),
        2,
        "the kept URL still receives"
    );

    // Rotating the webhook's secret shows the new one once.
    b.go(&format!("/integrations/{id}/settings#channels")).await;
    b.follow_confirmed("form.channel[data-kind=webhook] button[formaction$='/rotate']").await;
    let rotated = b.find("#new-secret").await.text().await.expect("text");
    assert!(rotated.starts_with("whsec_") && rotated != signing_secret);
    assert!(b.text("p.banner").await.contains("keeps signing until"));

    // Removing each.
    for kind in ["slack", "teams", "pagerduty", "webhook"] {
        b.go(&format!("/integrations/{id}/settings#channels")).await;
        b.follow_confirmed(&format!("form.channel[data-kind={kind}] button.danger")).await;
        b.find("#channels").await;
    }
    b.go(&format!("/integrations/{id}/settings#channels")).await;
    b.shot("04-channels-removed").await;
    assert_eq!(
        app.get(&format!("/api/v1/integrations/{id}/channels"), &app.token).await.1.as_array().map(Vec::len),
        Some(0)
    );
    b.client.clone().close().await.expect("close");
}

/// A report of a 35 × 10 matrix committed `days_ago`, failing `failing` (namespace index,
/// environment index) cells with a critical policy result each.
fn big_report(n: u32, days_ago: i64, failing: &[(usize, usize)]) -> serde_json::Value {
    let namespaces: Vec<String> = (0..35).map(|i| format!("service-{i:02}")).collect();
    let environments: Vec<String> = (0..10).map(|i| format!("env-{i}")).collect();
    let mut cells = Vec::new();
    for (ni, ns) in namespaces.iter().enumerate() {
        for (ei, env) in environments.iter().enumerate() {
            let bad = failing.contains(&(ni, ei));
            cells.push(json!({"namespace": ns, "environment": env,
                "healthStatus": if bad { "critical" } else { "healthy" },
                "description": if bad { "1 key missing" } else { "4 key(s)" }}));
        }
    }
    let results: Vec<serde_json::Value> = failing
        .iter()
        .map(|(ni, ei)| {
            json!({"ruleId": "missing_keys", "ruleName": "Missing keys", "passed": false, "severity": "critical",
                "message": "1 key missing", "scope": format!("{}/{}", namespaces[*ni], environments[*ei])})
        })
        .collect();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    json!({
        "commitSha": sha(n), "branch": "main", "commitTimestamp": now - days_ago * 86_400_000,
        "summary": {"filesScanned": 350, "namespaces": namespaces, "environments": environments, "cells": cells,
            "violations": failing.len(), "passed": failing.is_empty()},
        "drift": [], "policyResults": results
    })
}

#[tokio::test]
async fn a_35_by_10_matrix_and_the_trends_read_at_a_desk_and_on_a_phone() {
    let app = TestApp::spawn().await;
    let (id, key) = app.integration("platform").await;
    // Five days ago three cells broke; two days ago one was fixed; today the last row breaks.
    for (n, days_ago, failing) in [
        (1, 5, vec![(3, 2), (20, 7), (34, 9)]),
        (2, 2, vec![(20, 7), (34, 9)]),
        (3, 0, vec![(20, 7), (34, 9), (34, 0)]),
    ] {
        let (s, body) = app.post("/api/v1/reports", &key, &big_report(n, days_ago, &failing)).await;
        assert_eq!(s, 200, "{body}");
    }
    let b = browser(&app.base, "matrix-and-trends").await;
    b.log_in("owner@acme.example").await;
    b.client.set_window_size(1400, 900).await.expect("resize");
    b.go(&format!("/integrations/{id}")).await;
    b.shot("01-matrix-35x10-desk").await;
    assert_eq!(b.client.find_all(Locator::Css("#matrix tbody tr")).await.expect("rows").len(), 35);
    // Scrolled to the far corner, the header row and the namespace column stay in view.
    let stuck = b
        .client
        .execute(
            "const w = document.querySelector('.matrix-wrap'); w.scrollTop = 10000; w.scrollLeft = 10000;
             const box = w.getBoundingClientRect();
             const head = document.querySelector('#matrix thead th:nth-child(2)').getBoundingClientRect();
             const name = document.querySelector('#matrix tbody tr:last-child th').getBoundingClientRect();
             return [w.scrollTop > 0, Math.abs(head.top - box.top) < 3, Math.abs(name.left - box.left) < 3];",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(stuck, json!([true, true, true]), "sticky header and namespace column");
    b.shot("02-matrix-scrolled").await;
    // A broken cell leads to its alerts.
    b.client
        .execute(
            "document.querySelector('#matrix td.h-critical a').scrollIntoView({block: 'center', inline: 'center'});",
            vec![],
        )
        .await
        .expect("scroll");
    b.follow("#matrix td.h-critical a").await;
    b.find("table.alerts").await;
    let listing = b.text("table.alerts").await;
    assert!(listing.contains("missing keys"), "{listing}");
    assert!(b.path().await.contains("namespace=service-"), "{}", b.path().await);
    b.shot("03-cell-alerts").await;

    // On a phone the worst cells come first, as cards.
    b.client.set_window_size(390, 844).await.expect("resize");
    b.go(&format!("/integrations/{id}")).await;
    let worst = b.find("#worst").await;
    assert!(worst.is_displayed().await.expect("displayed"), "the list of worst cells shows on a phone");
    let first = b.text("#worst li").await;
    assert!(first.contains("critical"), "{first}");
    assert_eq!(b.client.find_all(Locator::Css("#worst li")).await.expect("cards").len(), 3);
    b.shot("04-matrix-phone").await;
    b.client.set_window_size(1400, 900).await.expect("resize");
    assert!(!b.find("#worst").await.is_displayed().await.expect("displayed"), "not at a desk");

    // Trends for the week: open alerts by severity, time to resolve, time in violation.
    b.go(&format!("/trends?days=7&integration={id}")).await;
    b.find("#open-alerts svg polygon").await;
    b.shot("05-trends-week").await;
    assert_eq!(b.client.find_all(Locator::Css("#open-alerts polygon")).await.expect("layers").len(), 4);
    let resolve = b.text("#time-to-resolve").await;
    assert!(resolve.contains("severity: critical") && resolve.contains("1 resolved"), "{resolve}");
    let cells = b.text("#cells").await;
    assert!(cells.contains("service-20") && cells.contains("service-34"), "{cells}");
    // The downloads are real files.
    let csv = b
        .client
        .execute("return fetch(document.querySelector('.exports a').href).then(r => r.text());", vec![])
        .await
        .expect("fetch");
    let csv = csv.as_str().unwrap_or_default();
    assert!(csv.starts_with("id,integrationId,ruleId") && csv.lines().count() == 5, "{csv}");
    b.client.set_window_size(390, 844).await.expect("resize");
    b.shot("06-trends-phone").await;
}

#[tokio::test]
async fn an_owner_invites_a_teammate_who_joins_and_loses_access_when_demoted_and_removed() {
    let app = TestApp::spawn().await;
    let (id, _) = seeded(&app).await;
    let owner = browser(&app.base, "team-owner").await;
    owner.log_in("owner@acme.example").await;

    // The owner invites a member; the link is shown once (the mail went to the mail folder).
    owner.follow("nav a[href='/members']").await;
    owner.fill("#invite input[name=email]", "sam@acme.example").await;
    owner.click("#invite select[name=role] option[value=member]").await;
    owner.follow("#invite button.primary").await;
    let link = owner.find("#invite-link").await.text().await.expect("text");
    assert!(link.contains("/invitations/clefi_"), "{link}");
    owner.shot("01-invitation-link").await;
    assert!(owner.text("#invitations").await.contains("sam@acme.example"), "pending");

    // The teammate, in a browser of their own, accepts with a new password and is logged in.
    let sam = browser(&app.base, "team-member").await;
    sam.client.goto(&link).await.expect("open the link");
    assert!(sam.text("main").await.contains("invited sam@acme.example to join acme as member"));
    sam.shot("01-accept").await;
    sam.fill("input[name=password]", "sam's long password").await;
    sam.fill("input[name=confirm]", "sam's long password").await;
    sam.follow("button.primary").await;
    assert!(sam.text("p.banner.ok").await.contains("joined"));
    assert!(sam.text("header.top").await.contains("sam@acme.example · acme · member"));
    sam.shot("02-joined").await;
    // A member acknowledges but neither manages nor invites.
    sam.go(&format!("/integrations/{id}/alerts")).await;
    assert!(sam.client.find(Locator::Css("td.ack button")).await.is_ok(), "members acknowledge");
    sam.go("/members").await;
    assert!(sam.client.find(Locator::Css("#invite")).await.is_err(), "members do not invite");
    assert!(sam.client.find(Locator::Css("#members select")).await.is_err(), "nor change roles");

    // The owner demotes them: their very next click reads as a viewer.
    owner.go("/members").await;
    owner.click("#members tr[data-email='sam@acme.example'] select[name=role] option[value=viewer]").await;
    owner.follow("#members tr[data-email='sam@acme.example'] form[action$='/role'] button").await;
    assert!(owner.text("p.banner.ok").await.contains("role changed"));
    assert!(owner.text("tr[data-email='sam@acme.example']").await.contains("viewer"));
    owner.shot("02-demoted").await;
    sam.go(&format!("/integrations/{id}/alerts")).await;
    assert!(sam.text("header.top").await.contains("· viewer"));
    assert!(sam.client.find(Locator::Css("td.ack button")).await.is_err(), "viewers do not acknowledge");

    // The owner removes them: their open session stops working on its next click.
    owner.follow_confirmed("#members tr[data-email='sam@acme.example'] button.danger").await;
    assert!(owner.text("p.banner.ok").await.contains("member removed"));
    assert!(!owner.text("#members").await.contains("sam@acme.example"));
    owner.shot("03-removed").await;
    sam.go("/alerts").await;
    assert!(sam.path().await.starts_with("/login"), "the removed member is logged out: {}", sam.path().await);

    // The owner's own account: a token shown once, sessions listed.
    owner.follow("header.top a[href='/account']").await;
    owner.fill("#tokens input[name=name]", "terraform").await;
    owner.follow("#tokens button.primary").await;
    let token = owner.find("#new-token").await.text().await.expect("text");
    assert!(token.starts_with("clefp_"), "{token}");
    assert_eq!(app.get("/api/v1/me", token.trim()).await.0, 200, "the new token works");
    assert!(owner.text("#sessions").await.contains("this browser"));
    owner.shot("04-account-token").await;
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    let log = log.to_string();
    for action in ["invitation.create", "invitation.accept", "member.role", "member.remove", "token.create"] {
        assert!(log.contains(action), "{action} in the audit log");
    }
    sam.client.clone().close().await.expect("close");
    owner.client.clone().close().await.expect("close");
}

#[tokio::test]
async fn a_teammate_signs_in_through_the_identity_provider_and_sso_only_refuses_passwords() {
    let app = TestApp::spawn().await;
    seeded(&app).await;
    let groups = r#"{"ada@acme.example": ["clef-admins"]}"#;
    let Some(provider) = idp::Idp::start(&app.url("/sso/callback"), &[("GROUPS", groups)]) else { return };

    // The owner sets single sign-on up in the dashboard.
    let owner = browser(&app.base, "sso-owner").await;
    owner.log_in("owner@acme.example").await;
    owner.go("/members#sso").await;
    assert!(owner.text("#sso").await.contains(&app.url("/sso/callback")), "the redirect URI to register");
    owner.fill("#sso input[name=issuer]", &provider.issuer).await;
    owner.fill("#sso input[name=client_id]", "clef-pro").await;
    owner.fill("#sso input[name=client_secret]", idp::CLIENT_SECRET).await;
    owner.fill("#sso input[name=allowed_domains]", "acme.example").await;
    owner.fill("#sso input[name=role_claim]", "groups").await;
    owner.fill("#sso textarea[name=role_map]", "clef-admins = admin").await;
    owner
        .client
        .find(Locator::Css("#sso input[name=sso_only]"))
        .await
        .expect("checkbox")
        .click()
        .await
        .expect("tick");
    owner.follow("#sso button.primary").await;
    assert!(owner.text("p.banner.ok").await.contains("single sign-on saved"));
    owner.shot("01-sso-settings").await;

    // A teammate who never had an account signs in through the issuer and joins as an admin.
    let ada = browser(&app.base, "sso-member").await;
    ada.go("/login").await;
    ada.fill("#sso input[name=email]", "ada@acme.example").await;
    ada.follow("#sso button[type=submit]").await;
    ada.find("header.top").await;
    assert!(ada.path().await.starts_with("/alerts"), "{}", ada.path().await);
    assert!(ada.text("header.top").await.contains("ada@acme.example · acme · admin"));
    ada.shot("01-signed-in").await;

    // SSO only: a password is refused, saying why; the break-glass owner still gets in.
    add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let viewer = browser(&app.base, "sso-password-refused").await;
    viewer.go("/login").await;
    viewer.fill("input[name=email]", "viewer@acme.example").await;
    viewer.fill("input[name=password]", "a long password").await;
    viewer.follow("form[action='/login'] button[type=submit]").await;
    assert!(viewer.text("p.banner.error").await.contains("single sign-on only"));
    assert!(viewer.path().await.starts_with("/login"));
    viewer.shot("01-password-refused").await;
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    assert!(log.to_string().contains("sso.join"));
    for b in [ada, viewer, owner] {
        b.client.clone().close().await.expect("close");
    }
}
