//! Abuse limits: rate limits with Retry-After, header and slow-client limits, security
//! headers, and how our own secrets are kept.

use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn an_api_key_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(&["--api-key-rate", "1", "--api-key-burst", "3"]).await;
    let (id, key) = app.integration("svc").await;
    let (_, other) = app.integration("other").await;
    for n in 1..=3 {
        assert_eq!(app.post("/api/v1/reports", &key, &report(n, &[])).await.0, 200);
    }
    let r = app
        .client
        .get(app.url(&format!("/api/v1/integrations/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    let (_, body) = answer(r).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        app.post("/api/v1/reports", &other, &report(9, &[])).await.0,
        200,
        "keys are limited separately"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.post("/api/v1/reports", &key, &report(4, &[])).await.0, 200, "the rate refills");
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled() {
    let app = TestApp::spawn_with(&["--login-attempts-per-minute", "3"]).await;
    let login = |password: &'static str| login_response(&app, "owner@acme.example", password);
    for _ in 0..3 {
        assert_eq!(login("wrong").await.status().as_u16(), 401);
    }
    let r = login("a long password").await;
    assert_eq!(r.status().as_u16(), 429, "even the right password waits once throttled");
    assert!(r.headers().contains_key("retry-after"));
    // Counted per source address and account: the owner, elsewhere, is not locked out.
    let elsewhere = Some(std::net::IpAddr::from([127, 0, 0, 2]));
    let r = login_response_with(&app, elsewhere, "owner@acme.example", "a long password", None).await;
    assert_eq!(r.status().as_u16(), 303);
}

#[tokio::test]
async fn oversized_headers_and_slow_uploads_are_cut_off() {
    let app = TestApp::spawn_with(&["--request-timeout-secs", "1"]).await;
    let (_, key) = app.integration("svc").await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(128 * 1024))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 431);

    // A client that stops half way through its body.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"commitSha\":"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("cut off in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_slowly_is_cut_off() {
    let app = TestApp::spawn_with(&["--header-read-timeout-secs", "1"]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(8), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server keeps a slow-header connection open");
    // The server is still there for everyone else (on a new connection: the idle one from
    // start-up was closed by the same timeout).
    let fresh = reqwest::Client::new();
    assert_eq!(fresh.get(app.url("/healthz")).send().await.expect("send").status().as_u16(), 200);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/login", "/api/openapi.json", "/no-such-page"] {
        let r = app.client.get(app.url(path)).send().await.expect("send");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn passwords_are_argon2id_and_keys_and_tokens_are_hashes() {
    let app = TestApp::spawn().await;
    let (_, key) = app.integration("svc").await;
    let db = app.data_dir().join("clef-pro.db");
    let query = |sql: &str| {
        let out = std::process::Command::new("sqlite3").arg(&db).arg(sql).output().expect("sqlite3");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(query("SELECT password_hash FROM users").starts_with("$argon2id$"));
    let stored_key = query("SELECT key_hash FROM api_keys");
    assert_eq!(stored_key.len(), 64);
    assert!(stored_key.bytes().all(|b| b.is_ascii_hexdigit()) && !stored_key.contains(&key[6..]));
    let stored_token = query("SELECT token_hash FROM personal_tokens");
    assert!(stored_token.len() == 64 && !stored_token.contains(&app.token[6..]));
}

#[tokio::test]
async fn silent_connections_are_cut_and_capped_while_healthz_answers() {
    let app = TestApp::spawn_with(&["--header-read-timeout-secs", "2", "--max-connections", "350"]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.expect("connect"));
    }
    let fresh = reqwest::Client::new();
    let started = std::time::Instant::now();
    let status = fresh.get(app.url("/healthz")).send().await.expect("healthz").status();
    assert_eq!(status.as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "healthz took {:?}", started.elapsed());
    // Every silent connection is closed by the server, none left open for ever.
    for s in &mut silent {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(8), s.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "a silent connection stayed open: {read:?}");
    }

    // Past the cap, new clients wait for a slot instead of the server running out of
    // descriptors: the silent ones are cut, and healthz answers.
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.expect("connect"));
    }
    let started = std::time::Instant::now();
    let status = reqwest::Client::new().get(app.url("/healthz")).send().await.expect("healthz").status();
    assert_eq!(status.as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(6), "healthz took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_login_form_from_another_site_logs_nobody_in() {
    let app = TestApp::spawn().await;
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    // A cross-site auto-submitting form: the fields, but not our SameSite=Strict login cookie.
    for token in ["", "forged-token"] {
        let r = browser
            .post(app.url("/login"))
            .form(&[("email", "owner@acme.example"), ("password", "a long password"), ("login_csrf", token)])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 403);
        assert!(
            r.headers().get_all("set-cookie").iter().all(|c| !c.as_bytes().starts_with(b"clef_session="))
        );
    }
    // A bad `next` is ignored, never followed, and never a 500.
    for next in ["/%09/evil.example", "//evil.example", "/x\r\nSet-Cookie: a=b", "/x\0"] {
        let r = login_response_with(&app, None, "owner@acme.example", "a long password", Some(next)).await;
        assert_eq!(r.status().as_u16(), 303, "{next}");
        assert_eq!(r.headers()["location"], "/alerts", "{next}");
    }
    let r = login_response_with(&app, None, "owner@acme.example", "a long password", Some("/audit-log?x=1"))
        .await;
    assert_eq!(r.headers()["location"], "/audit-log?x=1");
}

#[tokio::test]
async fn a_malformed_dashboard_form_gets_the_html_error_page() {
    let app = TestApp::spawn().await;
    let cookie = session_cookie(&app, "owner@acme.example", "a long password").await;
    let r = app
        .client
        .post(app.url("/integrations"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nothing=here")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    assert!(r.text().await.expect("html").contains("That did not work"));
}
