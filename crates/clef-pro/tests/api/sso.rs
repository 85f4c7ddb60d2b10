//! Single sign-on against a real OpenID Connect issuer: the certified `oidc-provider` from npm,
//! started per scenario on loopback (`tests/oidc/idp.mjs`). Every refusal shows the login page
//! with the reason and creates nobody.

use crate::helpers::*;
use crate::idp::*;
use std::collections::BTreeMap;

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
    follow_issuer(app, started).await
}

/// From the page that moves on to the issuer, through the issuer (a cookie jar for it, as a
/// browser keeps), back to Clef Pro: its answer to the callback, and the callback's URL.
pub async fn follow_issuer(app: &TestApp, started: reqwest::Response) -> (reqwest::Response, String) {
    let http = no_redirects();
    assert_eq!(started.status(), 200);
    // The page moves on by itself to the issuer (a meta refresh: the CSP's form-action keeps
    // a form from redirecting off the site).
    let page = started.text().await.expect("html");
    let mut next = page
        .split("url=")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| u.replace("&#38;", "&"))
        .unwrap_or_else(|| panic!("no way on to the issuer: {page}"));
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

#[tokio::test]
async fn an_invitation_is_accepted_through_the_issuer_for_the_invited_address_only() {
    let app = TestApp::spawn().await;
    let callback = app.url("/sso/callback");
    let Some(idp) = Idp::start(&callback, &[]) else { return };
    let owner = owner(&app).await;
    configure(&app, &owner, &idp.issuer, true).await;
    // A partner outside the allowed domains: only an invitation lets them in.
    let invite = serde_json::json!({"email": "zed@partner.example", "role": "member"});
    let (s, sent) = app.post("/api/v1/invitations", &app.token, &invite).await;
    assert_eq!(s, 201, "{sent}");
    let link = sent["url"].as_str().expect("url").to_owned();
    let page = no_redirects().get(&link).send().await.expect("page").text().await.expect("html");
    assert!(
        page.contains("Join with single sign-on") && !page.contains("Choose a password"),
        "SSO only: {page}"
    );
    let password = no_redirects()
        .post(&link)
        .form(&[("password", "a long password"), ("confirm", "a long password")])
        .send()
        .await
        .expect("post");
    assert_eq!(password.status(), 403, "no password in an SSO-only organisation");

    let (answer, _) =
        follow_issuer(&app, no_redirects().post(format!("{link}/sso")).send().await.expect("start")).await;
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap_or_default());
    let (_, members) = app.get("/api/v1/members", &app.token).await;
    let zed =
        members.as_array().and_then(|m| m.iter().find(|m| m["email"] == "zed@partner.example")).expect("zed");
    assert_eq!((zed["role"].as_str(), zed["login"].as_str()), (Some("member"), Some("sso")));
    let again = no_redirects().get(&link).send().await.expect("page");
    assert_eq!(again.status(), 410, "spent");
}

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_at_the_next_sign_in() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app.url("/sso/callback"), &[]) else { return };
    let owner = owner(&app).await;
    configure(&app, &owner, &idp.issuer, false).await;
    let (first, _) = sign_in(&app, "ada@acme.example").await;
    assert_eq!(first.status(), 303, "signed with the first key");
    let rotate = reqwest::get(format!("{}/test/rotate", idp.issuer)).await.expect("rotate");
    assert_eq!(rotate.status(), 200);
    let (second, _) = sign_in(&app, "ada@acme.example").await;
    assert_eq!(second.status(), 303, "signed with the new key: {}", second.text().await.unwrap_or_default());
}
