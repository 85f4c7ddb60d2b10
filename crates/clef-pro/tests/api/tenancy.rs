//! Two organisations. Every CI, management and dashboard route tried with the other side's
//! credentials and ids answers exactly as it does for an id that does not exist (same status,
//! same body), and after every such call the first organisation's state is re-read and found
//! unchanged. Revoked credentials stop working at once.

use crate::helpers::*;
use serde_json::{Value, json};

/// Everything organisation A has, read by A.
async fn state_of_a(app: &TestApp, a: &str) -> Value {
    let mut all = serde_json::Map::new();
    for path in [
        "/api/v1/integrations".to_owned(),
        format!("/api/v1/integrations/{a}"),
        format!("/api/v1/integrations/{a}/policies"),
        format!("/api/v1/integrations/{a}/api-keys"),
        format!("/api/v1/integrations/{a}/reports"),
        format!("/api/v1/integrations/{a}/alerts?status=any"),
        format!("/api/v1/integrations/{a}/channels"),
        format!("/api/v1/integrations/{a}/deliveries"),
        format!("/api/v1/integrations/{a}/checks"),
        "/api/v1/audit-log".to_owned(),
        "/api/v1/members".to_owned(),
        "/api/v1/invitations".to_owned(),
        "/api/v1/me/tokens".to_owned(),
    ] {
        let (status, body) = app.get(&path, &app.token).await;
        assert_eq!(status, 200, "{path}: {body}");
        all.insert(path, without_activity(body));
    }
    Value::Object(all)
}

/// The state without "last used" and "last active" times: A's own reads move them (once a
/// minute), and they are not what another organisation could change.
fn without_activity(mut v: Value) -> Value {
    match &mut v {
        Value::Object(fields) => {
            fields.remove("lastUsedAt");
            fields.remove("lastActiveAt");
            fields.values_mut().for_each(|x| *x = without_activity(x.take()));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| *x = without_activity(x.take())),
        _ => {}
    }
    v
}

/// `template` with A's ids (`foreign`) or with ids of the same shape that exist nowhere.
fn fill(template: &str, ids: &[(&str, &str)]) -> String {
    ids.iter().fold(template.to_owned(), |path, (name, id)| path.replace(name, id))
}

#[tokio::test]
async fn the_other_organisation_cannot_tell_a_foreign_id_from_a_missing_one() {
    let app = TestApp::spawn().await;
    // Organisation A, with a name to look for in every answer.
    let Fixtures { integration: a, key_id, alert, channel, .. } = app.fixtures("alpha-secret-name").await;
    // Organisation B.
    let token_b = add_user(&app.data_dir(), "owner@beta.example", "beta", "owner");
    let (s, created) = app.post("/api/v1/integrations", &token_b, &json!({"name": "beta"})).await;
    assert_eq!(s, 201);
    let b = created["id"].as_str().expect("id").to_owned();
    let (_, key_b) = app.post(&format!("/api/v1/integrations/{b}/api-keys"), &token_b, &json!({})).await;
    let key_b = key_b["key"].as_str().expect("key").to_owned();

    // A's people: its owner, a pending invitation and a token.
    let (_, me) = app.get("/api/v1/me", &app.token).await;
    let (member, org_a) = (me["userId"].as_str().expect("id").to_owned(), me["organization"]["id"].clone());
    let (s, invited) = app
        .post("/api/v1/invitations", &app.token, &json!({"email": "new@alpha.example", "role": "viewer"}))
        .await;
    assert_eq!(s, 201, "{invited}");
    let invitation = invited["invitation"]["id"].as_str().expect("id").to_owned();
    let (_, token) = app.post("/api/v1/me/tokens", &app.token, &json!({"name": "alpha-token"})).await;
    let token = token["id"].as_str().expect("id").to_owned();

    let sha1 = sha(1);
    let foreign = [
        ("{a}", a.as_str()),
        ("{key}", &key_id),
        ("{alert}", &alert),
        ("{channel}", &channel),
        ("{sha}", &sha1),
        ("{member}", &member),
        ("{invitation}", &invitation),
        ("{token}", &token),
    ];
    let (nowhere, missing_sha) = (uuid::Uuid::new_v4().to_string(), sha(999_999));
    let missing = [
        ("{a}", nowhere.as_str()),
        ("{key}", &nowhere),
        ("{alert}", &nowhere),
        ("{channel}", &nowhere),
        ("{sha}", &missing_sha),
        ("{member}", &nowhere),
        ("{invitation}", &nowhere),
        ("{token}", &nowhere),
    ];
    let before = state_of_a(&app, &a).await;

    // Each write carries a value A does not have, so a write that got through would show.
    let calls: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/api/v1/integrations/{a}", None),
        (
            "PATCH",
            "/api/v1/integrations/{a}",
            Some(json!({"name": "renamed-by-beta", "trackedBranch": "beta"})),
        ),
        ("DELETE", "/api/v1/integrations/{a}", None),
        ("GET", "/api/v1/integrations/{a}/policies", None),
        (
            "PUT",
            "/api/v1/integrations/{a}/policies",
            Some(json!({"rules": [{"ruleId": "beta_rule", "ruleName": "Beta", "severity": "warning",
                "params": {"maxAgeDays": 1}}]})),
        ),
        ("GET", "/api/v1/integrations/{a}/api-keys", None),
        ("POST", "/api/v1/integrations/{a}/api-keys", Some(json!({"name": "beta-key"}))),
        ("DELETE", "/api/v1/integrations/{a}/api-keys/{key}", None),
        ("GET", "/api/v1/integrations/{a}/reports", None),
        ("GET", "/api/v1/integrations/{a}/reports/{sha}", None),
        ("DELETE", "/api/v1/integrations/{a}/reports/{sha}", None),
        ("GET", "/api/v1/integrations/{a}/matrix", None),
        ("GET", "/api/v1/integrations/{a}/matrix?commit={sha}", None),
        ("GET", "/api/v1/integrations/{a}/checks", None),
        ("GET", "/api/v1/integrations/{a}/alerts", None),
        ("GET", "/api/v1/alerts/{alert}", None),
        ("GET", "/api/v1/alerts/{alert}/timeline", None),
        ("GET", "/api/v1/alerts/{alert}/reports", None),
        ("POST", "/api/v1/alerts/{alert}/acknowledge", Some(json!({}))),
        ("POST", "/api/v1/alerts/{alert}/unacknowledge", Some(json!({}))),
        ("GET", "/api/v1/integrations/{a}/channels", None),
        (
            "POST",
            "/api/v1/integrations/{a}/channels",
            Some(json!({"channel": "email", "target": "beta@beta.example", "minSeverity": "info"})),
        ),
        ("PATCH", "/api/v1/integrations/{a}/channels/{channel}", Some(json!({"minSeverity": "critical"}))),
        ("DELETE", "/api/v1/integrations/{a}/channels/{channel}", None),
        ("POST", "/api/v1/integrations/{a}/channels/{channel}/test", Some(json!({}))),
        ("POST", "/api/v1/integrations/{a}/channels/{channel}/rotate-secret", Some(json!({}))),
        ("GET", "/api/v1/integrations/{a}/deliveries", None),
        ("PATCH", "/api/v1/members/{member}", Some(json!({"role": "viewer"}))),
        ("DELETE", "/api/v1/members/{member}", None),
        ("DELETE", "/api/v1/invitations/{invitation}", None),
        ("DELETE", "/api/v1/me/tokens/{token}", None),
    ];
    for (method, template, body) in &calls {
        for credential in [&token_b, &key_b] {
            let mut answers = Vec::new();
            for ids in [&foreign, &missing] {
                let path = fill(template, ids);
                let mut req = app
                    .client
                    .request(method.parse().expect("method"), app.url(&path))
                    .bearer_auth(credential);
                if let Some(body) = body {
                    req = req.json(body);
                }
                answers.push(answer(req.send().await.expect("send")).await);
            }
            let who = &credential[..6];
            assert_eq!(answers[0], answers[1], "{method} {template} with {who}: foreign vs missing");
            assert!(matches!(answers[0].0, 401 | 404), "{method} {template} with {who}: {:?}", answers[0]);
            assert!(
                !answers[0].1.to_string().contains("alpha"),
                "{method} {template} leaks: {:?}",
                answers[0]
            );
            assert_eq!(state_of_a(&app, &a).await, before, "{method} {template} with {who} changed A");
        }
    }
    // The inbox and the bulk acknowledgement, whose ids are not in the path.
    let (status, inbox) = app.get(&format!("/api/v1/alerts?status=any&integration={a}"), &token_b).await;
    assert_eq!((status, inbox["alerts"].as_array().map(Vec::len)), (200, Some(0)), "{inbox}");
    let (status, inbox) = app.get("/api/v1/alerts?status=any", &token_b).await;
    assert!(status == 200 && !inbox.to_string().contains(&alert), "{inbox}");
    let foreign_bulk = app.post("/api/v1/alerts/acknowledge", &token_b, &json!({"ids": [alert]})).await;
    let missing_bulk =
        app.post("/api/v1/alerts/acknowledge", &token_b, &json!({"ids": ["0123456789abcdef"]})).await;
    assert_eq!(foreign_bulk, missing_bulk);
    assert_eq!(foreign_bulk.0, 404, "{foreign_bulk:?}");
    assert_eq!(state_of_a(&app, &a).await, before, "the bulk acknowledgement changed A");

    let (_, list) = app.get("/api/v1/integrations", &token_b).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (_, log) = app.get("/api/v1/audit-log", &token_b).await;
    assert!(!log.to_string().contains(&a) && !log.to_string().contains("alpha"));

    // The dashboard, logged in as B: every route with an id, read and write.
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let cookie = session_cookie(&app, "owner@beta.example", "a long password").await;
    let page = app.page("/integrations", &cookie).await;
    assert!(page.contains("beta") && !page.contains("alpha"));
    let csrf = hidden_field(&page, "csrf");
    let pages = [
        "/integrations/{a}",
        "/integrations/{a}?commit={sha}",
        "/integrations/{a}/reports",
        "/integrations/{a}/alerts",
        "/integrations/{a}/settings",
        "/alerts/{alert}",
    ];
    for template in pages {
        let mut answers = Vec::new();
        for ids in [&foreign, &missing] {
            let r = browser
                .get(app.url(&fill(template, ids)))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("page");
            answers.push((r.status().as_u16(), r.text().await.expect("html")));
        }
        assert_eq!(answers[0], answers[1], "GET {template}: foreign vs missing");
        assert_eq!(answers[0].0, 404, "GET {template}");
        assert!(!answers[0].1.contains("alpha"), "GET {template} leaks");
    }
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/integrations/{a}/settings", vec![("tracked_branch", "beta")]),
        ("/integrations/{a}/keys", vec![("name", "beta-key")]),
        ("/integrations/{a}/keys/{key}/revoke", vec![]),
        ("/integrations/{a}/policies", vec![("policies", r#"{"rules": []}"#)]),
        ("/integrations/{a}/channels", vec![("target", "beta@beta.example"), ("min_severity", "info")]),
        (
            "/integrations/{a}/channels/{channel}",
            vec![("target", "beta@beta.example"), ("min_severity", "critical")],
        ),
        ("/integrations/{a}/channels/{channel}/delete", vec![]),
        ("/integrations/{a}/channels/{channel}/test", vec![]),
        ("/integrations/{a}/channels/{channel}/rotate", vec![]),
        ("/integrations/{a}/reports/{sha}/delete", vec![]),
        ("/alerts/{alert}/acknowledge", vec![]),
        ("/alerts/{alert}/unacknowledge", vec![]),
        ("/members/{member}/role", vec![("role", "viewer")]),
        ("/members/{member}/remove", vec![]),
        ("/members/invitations/{invitation}/revoke", vec![]),
        ("/account/tokens/{token}/revoke", vec![]),
    ];
    for (template, fields) in &forms {
        let mut form = fields.clone();
        form.push(("csrf", &csrf));
        let mut answers = Vec::new();
        for ids in [&foreign, &missing] {
            let r = browser
                .post(app.url(&fill(template, ids)))
                .header("cookie", &cookie)
                .form(&form)
                .send()
                .await
                .expect("post");
            answers.push((r.status().as_u16(), r.text().await.expect("html")));
        }
        assert_eq!(answers[0], answers[1], "POST {template}: foreign vs missing");
        assert_eq!(answers[0].0, 404, "POST {template}");
        assert_eq!(state_of_a(&app, &a).await, before, "POST {template} changed A");
    }
    // Switching into A's organisation is refused as into one that does not exist.
    let mut switched = Vec::new();
    for org in [org_a.as_str().expect("org id"), nowhere.as_str()] {
        let form = [("csrf", csrf.as_str()), ("org", org)];
        let r =
            browser.post(app.url("/account/organization")).header("cookie", &cookie).form(&form).send().await;
        let r = r.expect("post");
        switched.push((r.status().as_u16(), r.text().await.expect("html")));
    }
    assert_eq!(switched[0], switched[1], "switching: foreign vs missing");
    assert_eq!(switched[0].0, 404);
    let (_, members_b) = app.get("/api/v1/members", &token_b).await;
    assert!(!members_b.to_string().contains("alpha"), "{members_b}");
    let members_page = app.page("/members", &cookie).await;
    assert!(
        !members_page.contains("new@alpha.example") && !members_page.contains("owner@acme.example"),
        "the members page leaks"
    );

    // The inbox page and its bulk form, whose ids travel in the query and the body.
    let inbox = app.page(&format!("/alerts?status=any&integration={a}"), &cookie).await;
    assert!(!inbox.contains("alpha") && !inbox.contains(&alert), "the inbox leaks");
    let mut bulk = Vec::new();
    for id in [alert.as_str(), "0123456789abcdef"] {
        let form = [("csrf", csrf.as_str()), ("id", id)];
        let r =
            browser.post(app.url("/alerts/acknowledge")).header("cookie", &cookie).form(&form).send().await;
        let r = r.expect("post");
        bulk.push((r.status().as_u16(), r.text().await.expect("html")));
    }
    assert_eq!(bulk[0], bulk[1], "bulk acknowledgement: foreign vs missing");
    assert_eq!(bulk[0].0, 404);
    assert_eq!(state_of_a(&app, &a).await, before, "the bulk form changed A");

    // Revoking a token ends it at once.
    let listed = clef(&app.data_dir(), &["token", "list", "--email", "owner@beta.example"], None);
    let token_id = listed.split_whitespace().next().expect("token id").to_owned();
    assert!(!listed.contains(&token_b[6..]), "the list never shows the secret");
    assert_eq!(app.get("/api/v1/integrations", &token_b).await.0, 200);
    clef(&app.data_dir(), &["token", "revoke", "--email", "owner@beta.example", "--id", &token_id], None);
    assert_eq!(app.get("/api/v1/integrations", &token_b).await.0, 401);
}
