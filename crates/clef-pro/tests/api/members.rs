//! Members, invitations and personal access tokens over HTTP: roles and who may change them,
//! the last owner, single-use invitation links that expire, tokens with an expiry.

use crate::helpers::*;
use serde_json::{Value, json};

/// Runs one SQL statement on the test server's SQLite file, behind its back.
fn sql(app: &TestApp, statement: &str) -> String {
    let db = app.data_dir().join("clef-pro.db");
    let out = std::process::Command::new("sqlite3").arg(&db).arg(statement).output().expect("sqlite3");
    assert!(out.status.success(), "{statement}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn patch(app: &TestApp, path: &str, bearer: &str, body: &Value) -> (u16, Value) {
    answer(app.client.patch(app.url(path)).bearer_auth(bearer).json(body).send().await.expect("patch")).await
}

async fn delete(app: &TestApp, path: &str, bearer: &str) -> (u16, Value) {
    answer(app.client.delete(app.url(path)).bearer_auth(bearer).send().await.expect("delete")).await
}

fn id_of(members: &Value, email: &str) -> String {
    members
        .as_array()
        .and_then(|all| all.iter().find(|m| m["email"] == email))
        .and_then(|m| m["userId"].as_str())
        .unwrap_or_else(|| panic!("{email} in {members}"))
        .to_owned()
}

#[tokio::test]
async fn roles_change_by_who_may_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let admin = add_user(&app.data_dir(), "admin@acme.example", "acme", "admin");
    let member = add_user(&app.data_dir(), "member@acme.example", "acme", "member");
    let (s, members) = app.get("/api/v1/members", &member).await;
    assert_eq!(s, 200, "every member sees the list");
    let emails: Vec<&str> =
        members.as_array().expect("list").iter().filter_map(|m| m["email"].as_str()).collect();
    assert_eq!(emails, ["admin@acme.example", "member@acme.example", "owner@acme.example"]);
    assert!(
        members
            .as_array()
            .expect("list")
            .iter()
            .all(|m| m["login"] == "password" && m["joinedAt"].is_string())
    );
    let (owner_id, admin_id, member_id) = (
        id_of(&members, "owner@acme.example"),
        id_of(&members, "admin@acme.example"),
        id_of(&members, "member@acme.example"),
    );

    // Members change nobody; admins change anyone but owners and make no owners.
    let to = |role: &str| json!({"role": role});
    assert_eq!(patch(&app, &format!("/api/v1/members/{admin_id}"), &member, &to("viewer")).await.0, 403);
    assert_eq!(patch(&app, &format!("/api/v1/members/{owner_id}"), &admin, &to("viewer")).await.0, 403);
    assert_eq!(patch(&app, &format!("/api/v1/members/{member_id}"), &admin, &to("owner")).await.0, 403);
    let (s, changed) = patch(&app, &format!("/api/v1/members/{member_id}"), &admin, &to("viewer")).await;
    assert_eq!((s, changed["role"].as_str()), (200, Some("viewer")), "{changed}");
    // The new role applies to the very next request.
    let (s, _) = app.post("/api/v1/alerts/acknowledge", &member, &json!({"ids": ["x"]})).await;
    assert_eq!(s, 403, "a viewer now");

    let (s, bad) = patch(&app, &format!("/api/v1/members/{member_id}"), &app.token, &to("boss")).await;
    assert_eq!((s, bad["error"]["path"].as_str()), (422, Some("role")), "{bad}");
    let nobody = uuid::Uuid::new_v4();
    assert_eq!(patch(&app, &format!("/api/v1/members/{nobody}"), &app.token, &to("viewer")).await.0, 404);

    // The only owner can neither step down nor leave.
    let (s, last) = patch(&app, &format!("/api/v1/members/{owner_id}"), &app.token, &to("admin")).await;
    assert!(s == 409 && last["error"]["message"].as_str().is_some_and(|m| m.contains("owner")), "{last}");
    assert_eq!(delete(&app, &format!("/api/v1/members/{owner_id}"), &app.token).await.0, 409);

    // A removed member's token stops at once.
    assert_eq!(delete(&app, &format!("/api/v1/members/{member_id}"), &admin).await.0, 204);
    assert_eq!(app.get("/api/v1/members", &member).await.0, 401);
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    let text = log.to_string();
    assert!(text.contains("member.role") && text.contains("member.remove"), "{text}");
}

#[tokio::test]
async fn invitations_are_mailed_single_use_expire_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    let admin = add_user(&app.data_dir(), "admin@acme.example", "acme", "admin");
    let invite = |email: &str, role: &str| json!({"email": email, "role": role});
    let (s, sent) = app.post("/api/v1/invitations", &admin, &invite(" New@Acme.Example ", "member")).await;
    assert_eq!(s, 201, "{sent}");
    assert_eq!(
        (sent["invitation"]["email"].as_str(), sent["mailed"].as_bool()),
        (Some("new@acme.example"), Some(true))
    );
    let url = sent["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&format!("{}/invitations/clefi_", app.base)), "{url}");
    // The mail (the server has no SMTP here: a file) carries the same link; the database only its hash.
    let mail: String = std::fs::read_dir(app.data_dir().join("mail"))
        .expect("mail folder")
        .filter_map(|e| std::fs::read_to_string(e.expect("entry").path()).ok())
        .collect::<String>()
        // Quoted-printable: soft line breaks and escaped equals signs.
        .replace("=\r\n", "")
        .replace("=3D", "=");
    assert!(mail.contains(&url) && mail.contains("admin@acme.example invited you"), "{mail}");
    let secret = url.rsplit('/').next().expect("secret");
    assert!(!sql(&app, "SELECT token_hash FROM invitations").contains(secret));

    for (body, status, path) in [
        (invite("new@acme.example", "viewer"), 409, None),
        (invite("owner@acme.example", "viewer"), 409, None),
        (invite("not-an-address", "viewer"), 422, Some("email")),
        (invite("x@acme.example", "chief"), 422, Some("role")),
        (invite("x@acme.example", "owner"), 403, None),
    ] {
        let (s, answer) = app.post("/api/v1/invitations", &admin, &body).await;
        assert_eq!((s, answer["error"]["path"].as_str()), (status, path), "{body}: {answer}");
    }
    let viewer = add_user(&app.data_dir(), "viewer@acme.example", "acme", "viewer");
    assert_eq!(app.post("/api/v1/invitations", &viewer, &invite("y@acme.example", "viewer")).await.0, 403);
    let (_, pending) = app.get("/api/v1/invitations", &app.token).await;
    assert_eq!((pending[0]["state"].as_str(), pending.as_array().map(Vec::len)), (Some("pending"), Some(1)));

    // Accepting: the page names the organisation; a new password makes the person and logs them in.
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = browser.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("admin@acme.example") && html.contains("acme") && html.contains("Choose a password")
    );
    let mismatch = browser
        .post(&url)
        .form(&[("password", "a long password"), ("confirm", "another one")])
        .send()
        .await
        .expect("post");
    assert_eq!(mismatch.status(), 422);
    let joined = browser
        .post(&url)
        .form(&[("password", "a long password"), ("confirm", "a long password")])
        .send()
        .await
        .expect("post");
    assert_eq!(joined.status(), 303);
    assert_eq!(joined.headers()["location"], "/alerts?done=joined");
    let cookie =
        set_cookie(&joined, "clef_session").expect("logged in").split(';').next().expect("cookie").to_owned();
    assert!(app.page("/alerts", &cookie).await.contains("new@acme.example"));
    let (_, members) = app.get("/api/v1/members", &app.token).await;
    assert!(members.to_string().contains("new@acme.example"));
    // Used once: the link says so and makes nobody.
    let again = browser
        .post(&url)
        .form(&[("password", "a long password"), ("confirm", "a long password")])
        .send()
        .await
        .expect("post");
    assert_eq!(again.status(), 410);
    assert!(again.text().await.expect("html").contains("used already"));
    assert!(app.get("/api/v1/invitations", &app.token).await.1.as_array().is_some_and(Vec::is_empty));

    // Revoked and expired links are refused with a page that says why; nobody is made.
    let (_, revoked) =
        app.post("/api/v1/invitations", &app.token, &invite("gone@acme.example", "viewer")).await;
    let id = revoked["invitation"]["id"].as_str().expect("id");
    assert_eq!(delete(&app, &format!("/api/v1/invitations/{id}"), &viewer).await.0, 403);
    assert_eq!(delete(&app, &format!("/api/v1/invitations/{id}"), &app.token).await.0, 204);
    let r = browser.get(revoked["url"].as_str().expect("url")).send().await.expect("page");
    assert_eq!(r.status(), 410);
    assert!(r.text().await.expect("html").contains("revoked"));
    let (_, late) = app.post("/api/v1/invitations", &app.token, &invite("late@acme.example", "viewer")).await;
    sql(&app, "UPDATE invitations SET expires_at = 1 WHERE email = 'late@acme.example'");
    let late_url = late["url"].as_str().expect("url");
    let r = browser
        .post(late_url)
        .form(&[("password", "a long password"), ("confirm", "a long password")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 410);
    assert!(r.text().await.expect("html").contains("expired"));
    assert_eq!(
        browser.get(format!("{}/invitations/clefi_nothing", app.base)).send().await.expect("page").status(),
        404
    );
    assert_eq!(
        sql(&app, "SELECT COUNT(*) FROM users WHERE email IN ('gone@acme.example', 'late@acme.example')"),
        "0"
    );

    // Someone with an account elsewhere joins with their own password, and keeps both.
    let other = add_user(&app.data_dir(), "sam@globex.example", "globex", "owner");
    let (_, sam) = app.post("/api/v1/invitations", &app.token, &invite("sam@globex.example", "viewer")).await;
    let sam_url = sam["url"].as_str().expect("url");
    assert!(
        browser
            .get(sam_url)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
            .contains("You have an account")
    );
    let wrong = browser.post(sam_url).form(&[("password", "not the password")]).send().await.expect("post");
    assert_eq!(wrong.status(), 401);
    let ok = browser.post(sam_url).form(&[("password", "a long password")]).send().await.expect("post");
    assert_eq!(ok.status(), 303);
    let (_, me) = app.get("/api/v1/me", &other).await;
    let orgs: Vec<&str> =
        me["organizations"].as_array().expect("orgs").iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!((me["organization"]["name"].as_str(), orgs), (Some("globex"), vec!["acme", "globex"]));
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    let text = log.to_string();
    for action in ["invitation.create", "invitation.accept", "invitation.revoke"] {
        assert!(text.contains(action), "{action}: {text}");
    }
}

#[tokio::test]
async fn personal_tokens_expire_and_are_revoked_by_their_owner() {
    let app = TestApp::spawn().await;
    let (s, me) = app.get("/api/v1/me", &app.token).await;
    assert_eq!(
        (s, me["email"].as_str(), me["role"].as_str()),
        (200, Some("owner@acme.example"), Some("owner"))
    );
    let (s, created) =
        app.post("/api/v1/me/tokens", &app.token, &json!({"name": "terraform", "expiresInDays": 30})).await;
    assert_eq!(s, 201, "{created}");
    let token = created["token"].as_str().expect("secret").to_owned();
    assert!(token.starts_with("clefp_") && created["expiresAt"].is_string());
    assert_eq!(app.get("/api/v1/integrations", &token).await.0, 200);
    let (_, listed) = app.get("/api/v1/me/tokens", &app.token).await;
    assert!(listed.as_array().is_some_and(|all| all.iter().any(|t| t["name"] == "terraform")));
    assert!(!listed.to_string().contains(&token[6..]), "secrets are never listed");
    for (body, path) in [
        (json!({"name": "x", "expiresInDays": 0}), "expiresInDays"),
        (json!({"name": "x", "expiresInDays": 366}), "expiresInDays"),
        (json!({"name": ""}), "name"),
    ] {
        let (s, answer) = app.post("/api/v1/me/tokens", &app.token, &body).await;
        assert_eq!((s, answer["error"]["path"].as_str()), (422, Some(path)), "{body}: {answer}");
    }
    // Past its expiry it stops.
    sql(&app, "UPDATE personal_tokens SET expires_at = 1 WHERE name = 'terraform'");
    assert_eq!(app.get("/api/v1/integrations", &token).await.0, 401);

    // Revoked by its owner only: another member's revocation is not found.
    let (_, second) = app.post("/api/v1/me/tokens", &app.token, &json!({"name": "ci"})).await;
    let (id, secret) = (second["id"].as_str().expect("id"), second["token"].as_str().expect("secret"));
    let admin = add_user(&app.data_dir(), "admin@acme.example", "acme", "admin");
    assert_eq!(delete(&app, &format!("/api/v1/me/tokens/{id}"), &admin).await.0, 404);
    assert_eq!(delete(&app, &format!("/api/v1/me/tokens/{id}"), &app.token).await.0, 204);
    assert_eq!(app.get("/api/v1/integrations", secret).await.0, 401);
    let (_, log) = app.get("/api/v1/audit-log", &app.token).await;
    assert!(log.to_string().contains("token.revoke"));
}
