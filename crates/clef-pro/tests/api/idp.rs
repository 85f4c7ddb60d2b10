//! A real OpenID Connect issuer for the tests: the certified `oidc-provider` from npm
//! (`tests/oidc/idp.mjs`), started on loopback, and the owner's single sign-on settings.

use crate::helpers::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const CLIENT_SECRET: &str = "idp-client-s3cret";

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
    pub cookie: String,
    pub csrf: String,
    pub id: String,
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

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}
