//! Single sign-on against a real OpenID Connect issuer: the certified `oidc-provider` from npm,
//! started per scenario on loopback (`tests/oidc/idp.mjs`). Every refusal shows the login page
//! with the reason and creates nobody.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const CLIENT_SECRET: &str = "idp-client-s3cret";

/// The test issuer, stopped when dropped.
pub struct Idp {
    child: Child,
    pub issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// `None` (a recorded skip, a failure under CI) when Node or the package is missing.
    pub fn start(redirect_uri: &str, env: &[(&str, &str)]) -> Option<Self> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        if !dir.join("node_modules/oidc-provider").exists() {
            clef_testkit::skip("single sign-on", "run `npm ci --prefix crates/clef-pro/tests/oidc` first");
            return None;
        }
        let mut child = Command::new("node")
            .arg(dir.join("idp.mjs"))
            .env("CLIENT_ID", "clef-pro")
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the test issuer");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("issuer address");
        // Kept draining: a closed pipe would end the issuer at its next line of output.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let issuer =
            line.trim().strip_prefix("listening ").expect("the issuer says where it listens").to_owned();
        Some(Self { child, issuer })
    }
}

/// The owner's session and CSRF token, and their user id.
pub struct Owner {
    cookie: String,
    csrf: String,
    id: String,
}

pub async fn owner(app: &TestApp) -> Owner {
    let cookie = session_cookie(app, "owner@acme.example", "a long password").await;
    let csrf = hidden_field(&app.page("/members", &cookie).await, "csrf");
    let (_, me) = app.get("/api/v1/me", &app.token).await;
    Owner { cookie, csrf, id: me["userId"].as_str().expect("id").to_owned() }
}

/// Configures the organisation's single sign-on through the owner's form.
pub async fn configure(app: &TestApp, owner: &Owner, issuer: &str, sso_only: bool) {
    let mut form = vec![
        ("csrf", owner.csrf.as_str()),
        ("issuer", issuer),
        ("client_id", "clef-pro"),
        ("client_secret", CLIENT_SECRET),
        ("allowed_domains", "acme.example"),
        ("default_role", "viewer"),
        ("role_claim", "groups"),
        ("role_map", "clef-admins = admin"),
        ("break_glass", owner.id.as_str()),
    ];
    if sso_only {
        form.push(("sso_only", "on"));
    }
    let r = no_redirects()
        .post(app.url("/members/sso"))
        .header("cookie", &owner.cookie)
        .form(&form)
        .send()
        .await
        .expect("save");
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Signs in as `email` through the issuer, following every redirect as a browser would (with
/// a cookie jar for the issuer), and returns Clef Pro's answer to the callback and its URL.
pub async fn sign_in(app: &TestApp, email: &str) -> (reqwest::Response, String) {
    let http = no_redirects();
    let login = http.get(app.url("/login")).send().await.expect("login page");
    let cookie = set_cookie(&login, "clef_login").expect("login cookie");
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let token = hidden_field(&login.text().await.expect("html"), "login_csrf");
    let started = http
        .post(app.url("/sso/start"))
        .header("cookie", &cookie)
        .form(&[("email", email), ("login_csrf", &token)])
        .send()
        .await
        .expect("start");
    assert_eq!(started.status(), 303, "{}", started.text().await.unwrap_or_default());
    let mut next = started.headers()["location"].to_str().expect("location").to_owned();
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..10 {
        if next.starts_with(&app.base) {
            let answer = http.get(&next).send().await.expect("callback");
            return (answer, next);
        }
        let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = http.get(&next).header("cookie", cookies.join("; ")).send().await.expect("issuer");
        for c in r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            if let Some((name, value)) = c.split(';').next().and_then(|p| p.split_once('=')) {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        assert!(
            r.status().is_redirection(),
            "the issuer answered {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let location = r.headers()["location"].to_str().expect("location").to_owned();
        next = if location.starts_with('/') {
            format!("{}{location}", next.split('/').take(3).collect::<Vec<_>>().join("/"))
        } else {
            location
        };
    }
    panic!("the sign-in never came back to Clef Pro");
}

async fn people(app: &TestApp) -> usize {
    let (_, members) = app.get("/api/v1/members", &app.token).await;
    members.as_array().map(Vec::len).unwrap_or_default()
}

#[tokio::test]
async fn people_sign_in_through_the_issuer_join_just_in_time_and_every_bad_answer_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.url("/sso/callback");
    let groups = r#"{"ada@acme.example": ["clef-admins"]}"#;
    let Some(idp) = Idp::start(&callback, &[("GROUPS", groups), ("UNVERIFIED", "carl@acme.example")]) else {
        return;
    };
    let owner = owner(&app).await;
    configure(&app, &owner, &idp.issuer, false).await;
    let members_page = app.page("/members", &owner.cookie).await;
    assert!(
        members_page.contains(&callback) && !members_page.contains(CLIENT_SECRET),
        "the secret is never shown"
    );
    // At rest it is sealed: no byte of it in the database file.
    let db = std::fs::read(app.data_dir().join("clef-pro.db")).expect("database");
    let wal = std::fs::read(app.data_dir().join("clef-pro.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(CLIENT_SECRET.len()).any(|w| w == CLIENT_SECRET.as_bytes()),
            "the client secret is sealed"
        );
    }

    // Ada signs in: she joins as an admin (her groups), without a password.
    let (answer, callback_url) = sign_in(&app, "ada@acme.example").await;
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap_or_default());
    assert_eq!(answer.headers()["location"], "/alerts");
    let session =
        set_cookie(&answer, "clef_session").expect("a session").split(';').next().expect("pair").to_owned();
    assert!(app.page("/alerts", &session).await.contains("ada@acme.example · acme · admin"));
    let (_, members) = app.get("/api/v1/members", &app.token).await;
    let ada =
        members.as_array().and_then(|m| m.iter().find(|m| m["email"] == "ada@acme.example")).expect("ada");
    assert_eq!((ada["role"].as_str(), ada["login"].as_str()), (Some("admin"), Some("sso")));
    // Her callback, replayed, finds its state spent.
    let replayed = no_redirects().get(&callback_url).send().await.expect("replay");
    assert_eq!(replayed.status(), 400);
    assert!(replayed.text().await.expect("html").contains("used already"));

    // Someone else at the keyboard: an address outside the allowed domains joins nobody.
    let before = people(&app).await;
    drop(idp);
    let idp = Idp::start(&callback, &[("SIGN_IN_AS", "eve@evil.example")]).expect("issuer");
    configure(&app, &owner, &idp.issuer, false).await;
    let (answer, _) = sign_in(&app, "bob@acme.example").await;
    assert_eq!(answer.status(), 403);
    assert!(answer.text().await.expect("html").contains("eve@evil.example is not a member"));
    // An address the issuer does not call verified is refused too.
    drop(idp);
    let idp = Idp::start(&callback, &[("UNVERIFIED", "carl@acme.example")]).expect("issuer");
    configure(&app, &owner, &idp.issuer, false).await;
    let (answer, _) = sign_in(&app, "carl@acme.example").await;
    assert_eq!(answer.status(), 401);
    assert!(answer.text().await.expect("html").contains("verified"));
    drop(idp);

    // A doctored ID token: one byte of its signature, another audience, or expired.
    for (tamper, says) in [("signature", "refused"), ("audience", "audience"), ("expired", "expired")] {
        let idp = Idp::start(&callback, &[("TAMPER", tamper)]).expect("issuer");
        configure(&app, &owner, &idp.issuer, false).await;
        let (answer, _) = sign_in(&app, "dan@acme.example").await;
        assert_eq!(answer.status(), 401, "{tamper}");
        assert!(set_cookie(&answer, "clef_session").is_none(), "{tamper}: no session");
        let page = answer.text().await.expect("html");
        assert!(
            page.contains("ID token was refused") && page.to_lowercase().contains(says),
            "{tamper}: {page}"
        );
    }
    assert_eq!(people(&app).await, before, "nobody was made by a refused sign-in");
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    assert!(log.to_string().contains("sso.update") && log.to_string().contains("sso.join"));
}

#[tokio::test]
async fn single_sign_on_only_refuses_passwords_but_the_break_glass_owners() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app.url("/sso/callback"), &[]) else { return };
    add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let owner = owner(&app).await;
    configure(&app, &owner, &idp.issuer, true).await;
    let refused = login_response(&app, "viewer@acme.example", "a long password").await;
    assert_eq!(refused.status(), 403);
    assert!(set_cookie(&refused, "clef_session").is_none());
    assert!(refused.text().await.expect("html").contains("single sign-on only"));
    let glass = login_response(&app, "owner@acme.example", "a long password").await;
    assert!(set_cookie(&glass, "clef_session").is_some(), "the break-glass owner still logs in");
    // The viewer signs in through the issuer instead.
    let (answer, _) = sign_in(&app, "viewer@acme.example").await;
    assert_eq!(answer.status(), 303);
}
