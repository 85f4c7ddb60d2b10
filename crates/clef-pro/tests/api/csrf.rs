//! Every state-changing dashboard route refuses a forged request — a wrong token, another
//! session's token, no token at all with an otherwise valid form — with 403 from the CSRF
//! check, and nothing changes. The same forms with the right token do work.

use crate::helpers::*;
use serde_json::{Value, json};

/// The session's CSRF token, as the pages carry it.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    hidden_field(&app.page("/integrations", cookie).await, "csrf")
}

/// Everything a forged form could change, read through the API.
async fn state(app: &TestApp, id: &str, cookie: &str) -> Value {
    let mut all = serde_json::Map::new();
    for path in [
        "/api/v1/integrations".to_owned(),
        format!("/api/v1/integrations/{id}/api-keys"),
        format!("/api/v1/integrations/{id}/channels"),
        format!("/api/v1/integrations/{id}/deliveries"),
        format!("/api/v1/integrations/{id}/alerts"),
        format!("/api/v1/integrations/{id}/reports"),
        format!("/api/v1/integrations/{id}/policies"),
        "/api/v1/members".to_owned(),
        "/api/v1/invitations".to_owned(),
        "/api/v1/me/tokens".to_owned(),
    ] {
        let (status, mut body) = app.get(&path, &app.token).await;
        assert_eq!(status, 200, "{path}: {body}");
        // Reading does not change these, but the clock does.
        if let Some(list) = body.as_array_mut() {
            for item in list {
                if let Some(o) = item.as_object_mut() {
                    o.remove("lastUsedAt");
                    o.remove("lastActiveAt");
                }
            }
        }
        all.insert(path, body);
    }
    let session =
        app.client.get(app.url("/integrations")).header("cookie", cookie).send().await.expect("page");
    all.insert("session".into(), json!(session.status().as_u16()));
    Value::Object(all)
}

#[tokio::test]
async fn every_dashboard_post_refuses_a_forged_request_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let Fixtures { integration: id, key_id, alert, channel, .. } = app.fixtures("payments").await;

    let cookie = session_cookie(&app, "owner@acme.example", "a long password").await;
    let other = session_cookie(&app, "owner@acme.example", "a long password").await;
    let (mine, theirs) = (csrf_of(&app, &cookie).await, csrf_of(&app, &other).await);
    assert_ne!(mine, theirs, "each session has its own token");

    // People to act on: a member, an invitation, a token, the other session, the organisation.
    add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    let (_, members) = app.get("/api/v1/members", &app.token).await;
    let member = members.as_array().and_then(|all| all.iter().find(|m| m["email"] == "viewer@acme.example"));
    let member = member.and_then(|m| m["userId"].as_str()).expect("member").to_owned();
    let (_, invited) = app
        .post("/api/v1/invitations", &app.token, &json!({"email": "new@acme.example", "role": "viewer"}))
        .await;
    let invitation = invited["invitation"]["id"].as_str().expect("invitation").to_owned();
    let (_, token) = app.post("/api/v1/me/tokens", &app.token, &json!({"name": "mine"})).await;
    let token = token["id"].as_str().expect("token").to_owned();
    let account = app.page("/account", &cookie).await;
    let session = account.split("action=\"/account/sessions/").nth(1).and_then(|r| r.split('/').next());
    let session = session.expect("another session to end").to_owned();
    let (_, me) = app.get("/api/v1/me", &app.token).await;
    let org = me["organization"]["id"].as_str().expect("org").to_owned();

    let sha = sha(1);
    let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/integrations".into(), vec![("name", "forged")]),
        (format!("/alerts/{alert}/acknowledge"), vec![]),
        (format!("/integrations/{id}/settings"), vec![("tracked_branch", "forged")]),
        (format!("/integrations/{id}/keys"), vec![("name", "forged")]),
        (format!("/integrations/{id}/keys/{key_id}/revoke"), vec![]),
        (format!("/integrations/{id}/policies"), vec![("policies", r#"{"rules": []}"#)]),
        (
            format!("/integrations/{id}/channels"),
            vec![("target", "evil@evil.example"), ("min_severity", "info")],
        ),
        (
            format!("/integrations/{id}/channels/{channel}"),
            vec![("target", "evil@evil.example"), ("min_severity", "critical")],
        ),
        (format!("/integrations/{id}/channels/{channel}/delete"), vec![]),
        (format!("/integrations/{id}/channels/{channel}/test"), vec![]),
        (format!("/integrations/{id}/channels/{channel}/rotate"), vec![]),
        (format!("/integrations/{id}/reports/{sha}/delete"), vec![]),
        (format!("/alerts/{alert}/unacknowledge"), vec![]),
        ("/alerts/acknowledge".into(), vec![("id", alert.as_str())]),
        ("/members/invite".into(), vec![("email", "forged@evil.example"), ("role", "viewer")]),
        (format!("/members/{member}/role"), vec![("role", "admin")]),
        (format!("/members/{member}/remove"), vec![]),
        (format!("/members/invitations/{invitation}/revoke"), vec![]),
        (
            "/account/password".into(),
            vec![("current", "a long password"), ("new", "forged password"), ("confirm", "forged password")],
        ),
        (format!("/account/sessions/{session}/end"), vec![]),
        ("/account/tokens".into(), vec![("name", "forged"), ("expires", "never")]),
        (format!("/account/tokens/{token}/revoke"), vec![]),
        ("/account/organization".into(), vec![("org", org.as_str())]),
        (
            "/members/sso".into(),
            vec![
                ("issuer", "https://evil.example"),
                ("client_id", "evil"),
                ("client_secret", "evil"),
                ("allowed_domains", "evil.example"),
                ("default_role", "admin"),
            ],
        ),
        ("/members/sso/delete".into(), vec![]),
        ("/logout".into(), vec![]),
    ];
    let before = state(&app, &id, &cookie).await;
    for (path, fields) in &routes {
        for token in [Some("forged-token"), Some(theirs.as_str()), None] {
            let mut form = fields.clone();
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let r = app
                .client
                .post(app.url(path))
                .header("cookie", &cookie)
                .form(&form)
                .send()
                .await
                .expect("post");
            assert_eq!(r.status().as_u16(), 403, "{path} with {token:?}");
            assert!(r.text().await.expect("html").contains("CSRF"), "{path}: refused by the CSRF check");
            assert_eq!(state(&app, &id, &cookie).await, before, "{path} with {token:?} changed something");
        }
    }

    // The control: the same forms with the session's own token go through.
    let no_redirect =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for (path, fields) in &routes[..2] {
        let mut form = fields.clone();
        form.push(("csrf", &mine));
        let r =
            no_redirect.post(app.url(path)).header("cookie", &cookie).form(&form).send().await.expect("post");
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
    }
    assert_ne!(state(&app, &id, &cookie).await, before);
}

#[tokio::test]
async fn sessions_are_hashed_flagged_and_ended_server_side() {
    let app = TestApp::spawn_with(&["--public-url", "https://clef.acme.example"]).await;
    let r = login_response(&app, "owner@acme.example", "a long password").await;
    let set = set_cookie(&r, "clef_session").expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(flag), "{flag} missing from {set}");
    }
    let cookie = set.split(';').next().expect("pair").to_owned();
    let token = cookie.trim_start_matches("clef_session=").to_owned();

    // Only the hash is stored: the token is nowhere in the data folder, its SHA-256 is.
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    };
    let folder = |needle: &str| {
        let mut hits = Vec::new();
        crate::privacy::grep_tree(&app.data_dir(), needle.as_bytes(), &mut hits);
        hits
    };
    assert!(!folder(&hash).is_empty(), "control: the session's hash is found on disk");
    assert!(folder(&token).is_empty(), "the session token itself is stored");

    // Logout ends the session on the server: the old cookie no longer opens a page.
    let csrf = csrf_of(&app, &cookie).await;
    let no_redirect =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let out = no_redirect
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .expect("logout");
    assert!(out.status().is_redirection());
    let page =
        no_redirect.get(app.url("/integrations")).header("cookie", &cookie).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 303);
    assert!(page.headers()["location"].to_str().unwrap_or_default().starts_with("/login"));
}

#[tokio::test]
async fn a_session_ends_when_its_time_is_up() {
    let app = TestApp::spawn_with(&["--session-ttl-secs", "2"]).await;
    let r = login_response(&app, "owner@acme.example", "a long password").await;
    let set = set_cookie(&r, "clef_session").expect("session cookie");
    assert!(set.contains("Max-Age=2"), "{set}");
    let cookie = set.split(';').next().expect("pair").to_owned();
    let no_redirect =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let open = |c: String| {
        let r = no_redirect.get(app.url("/integrations")).header("cookie", c).send();
        async move { r.await.expect("page").status().as_u16() }
    };
    assert_eq!(open(cookie.clone()).await, 200, "the fresh session opens pages");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    // The browser would drop the cookie; one that keeps sending it is refused by the server.
    assert_eq!(open(cookie).await, 303, "an expired session opens nothing");
}
