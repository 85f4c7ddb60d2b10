//! Two organisations: every CI, management and dashboard endpoint tried with the other side's
//! credentials and ids answers 404 (or 401) and shows none of the other side's data; revoked
//! credentials stop working at once.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn the_other_organisation_reaches_nothing_and_revocation_is_immediate() {
    let app = TestApp::spawn().await;
    // Organisation A, with a name to look for in every answer.
    let (a, key_a) = app.integration("alpha-secret-name").await;
    app.post("/api/v1/reports", &key_a, &report(1, &[("r", "db/prod")])).await;
    let alert = app.alerts(&a, "").await[0]["id"].as_str().expect("alert").to_owned();
    let body = json!({"channel": "email", "target": "alpha@acme.example", "minSeverity": "info"});
    let (_, ch) = app.post(&format!("/api/v1/integrations/{a}/channels"), &app.token, &body).await;
    let channel = ch["id"].as_str().expect("channel").to_owned();
    let (_, keys) = app.get(&format!("/api/v1/integrations/{a}/api-keys"), &app.token).await;
    let key_id = keys[0]["id"].as_str().expect("key id").to_owned();
    // Organisation B.
    let token_b = add_user(&app.data_dir(), "owner@beta.example", "beta", "owner");
    let (s, created) = app.post("/api/v1/integrations", &token_b, &json!({"name": "beta"})).await;
    assert_eq!(s, 201);
    let b = created["id"].as_str().expect("id").to_owned();
    let (_, key_b) = app.post(&format!("/api/v1/integrations/{b}/api-keys"), &token_b, &json!({})).await;
    let key_b = key_b["key"].as_str().expect("key").to_owned();

    let sha1 = sha(1);
    let calls: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", format!("/api/v1/integrations/{a}"), None),
        ("PATCH", format!("/api/v1/integrations/{a}"), Some(json!({"name": "x"}))),
        ("DELETE", format!("/api/v1/integrations/{a}"), None),
        ("GET", format!("/api/v1/integrations/{a}/policies"), None),
        ("PUT", format!("/api/v1/integrations/{a}/policies"), Some(json!({"rules": []}))),
        ("GET", format!("/api/v1/integrations/{a}/api-keys"), None),
        ("POST", format!("/api/v1/integrations/{a}/api-keys"), Some(json!({}))),
        ("DELETE", format!("/api/v1/integrations/{a}/api-keys/{key_id}"), None),
        ("GET", format!("/api/v1/integrations/{a}/reports"), None),
        ("GET", format!("/api/v1/integrations/{a}/reports/{sha1}"), None),
        ("GET", format!("/api/v1/integrations/{a}/matrix"), None),
        ("GET", format!("/api/v1/integrations/{a}/matrix?commit={sha1}"), None),
        ("GET", format!("/api/v1/integrations/{a}/alerts"), None),
        ("GET", format!("/api/v1/alerts/{alert}"), None),
        ("POST", format!("/api/v1/alerts/{alert}/acknowledge"), Some(json!({}))),
        ("POST", format!("/api/v1/alerts/{alert}/unacknowledge"), Some(json!({}))),
        ("GET", format!("/api/v1/integrations/{a}/channels"), None),
        (
            "POST",
            format!("/api/v1/integrations/{a}/channels"),
            Some(json!({"channel": "email", "target": "x@y.example", "minSeverity": "info"})),
        ),
        (
            "PATCH",
            format!("/api/v1/integrations/{a}/channels/{channel}"),
            Some(json!({"minSeverity": "info"})),
        ),
        ("DELETE", format!("/api/v1/integrations/{a}/channels/{channel}"), None),
        ("POST", format!("/api/v1/integrations/{a}/channels/{channel}/test"), Some(json!({}))),
        ("GET", format!("/api/v1/integrations/{a}/deliveries"), None),
        ("GET", format!("/api/v1/integrations/{a}/checks"), None),
        ("DELETE", format!("/api/v1/integrations/{a}/reports/{sha1}"), None),
    ];
    for (method, path, body) in &calls {
        for credential in [&token_b, &key_b] {
            let mut req =
                app.client.request(method.parse().expect("method"), app.url(path)).bearer_auth(credential);
            if let Some(body) = body {
                req = req.json(body);
            }
            let (status, answer) = answer(req.send().await.expect("send")).await;
            assert!(
                status == 404 || status == 401,
                "{method} {path} with {}: {status} {answer}",
                &credential[..6]
            );
            assert!(!answer.to_string().contains("alpha"), "{method} {path} leaks: {answer}");
        }
    }
    let (status, _) = app.get(&format!("/api/v1/integrations/{a}/reports/{sha1}"), &app.token).await;
    assert_eq!(status, 200, "the other organisation's DELETE left the report alone");
    let (_, list) = app.get("/api/v1/integrations", &token_b).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (_, log) = app.get("/api/v1/audit-log", &token_b).await;
    assert!(!log.to_string().contains(&a) && !log.to_string().contains("alpha"));

    // The dashboard, logged in as B.
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let cookie = session_cookie(&app, "owner@beta.example", "a long password").await;
    let page = app.page("/integrations", &cookie).await;
    assert!(page.contains("beta") && !page.contains("alpha"));
    let csrf = hidden_field(&page, "csrf");
    for path in [
        format!("/integrations/{a}"),
        format!("/integrations/{a}/alerts"),
        format!("/integrations/{a}/settings"),
        format!("/alerts/{alert}"),
    ] {
        let r = browser.get(app.url(&path)).header("cookie", &cookie).send().await.expect("page");
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert!(!r.text().await.expect("html").contains("alpha"));
    }
    let r = browser
        .post(app.url(&format!("/alerts/{alert}/acknowledge")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.alerts(&a, "").await[0]["acknowledged"], false, "A's alert untouched");
    assert_eq!(
        app.get(&format!("/api/v1/integrations/{a}/channels"), &app.token).await.1.as_array().map(Vec::len),
        Some(1)
    );

    // Revoking a token ends it at once.
    let listed = clef(&app.data_dir(), &["token", "list", "--email", "owner@beta.example"], None);
    let token_id = listed.split_whitespace().next().expect("token id").to_owned();
    assert!(!listed.contains(&token_b[6..]), "the list never shows the secret");
    assert_eq!(app.get("/api/v1/integrations", &token_b).await.0, 200);
    clef(&app.data_dir(), &["token", "revoke", "--email", "owner@beta.example", "--id", &token_id], None);
    assert_eq!(app.get("/api/v1/integrations", &token_b).await.0, 401);
}
