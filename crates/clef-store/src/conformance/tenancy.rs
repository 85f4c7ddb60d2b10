use super::*;
use crate::{AlertQuery, IntegrationPatch, NewApiKey, NewToken, ReportQuery, StoreError};
use clef_core::{Acknowledgement, IntegrationId};

pub async fn foreign_organisations_see_nothing(store: &dyn Store) {
    let a = world(store, "alpha").await;
    let b = world(store, "beta").await;
    ingest(store, &a, vec![report(1, vec![fails("r", "x")])]).await;
    let alert_id = store
        .alerts(&a.actor.org_id, AlertQuery { limit: 1, ..Default::default() })
        .await
        .expect("alerts")
        .alerts[0]
        .alert
        .id
        .clone();
    let (org_b, int_a) = (&b.actor.org_id, &a.integration.id);

    assert!(is_not_found(store.integration(org_b, int_a).await));
    assert!(is_not_found(store.reports(org_b, int_a, ReportQuery { limit: 5, ..Default::default() }).await));
    assert!(is_not_found(store.report(org_b, int_a, sha(1).as_str()).await));
    assert!(is_not_found(store.head_report(org_b, int_a).await));
    assert!(is_not_found(store.api_keys(org_b, int_a).await));
    assert!(is_not_found(store.alert(org_b, &alert_id).await));
    assert!(
        store
            .alerts(org_b, AlertQuery { limit: 10, ..Default::default() })
            .await
            .expect("alerts")
            .alerts
            .is_empty()
    );
    let ack = Some(Acknowledgement { by: "b".into(), at: NOW, reason: None, until: None });
    assert!(is_not_found(store.set_acknowledgement(&b.actor, std::slice::from_ref(&alert_id), ack).await));
    assert!(is_not_found(
        store
            .update_integration(
                &b.actor,
                int_a,
                IntegrationPatch { name: Some("x".into()), ..Default::default() }
            )
            .await
    ));
    assert!(is_not_found(store.delete_integration(&b.actor, int_a).await));
    let key = NewApiKey { name: "k".into(), prefix: "clefk_x".into(), key_hash: "h-b".into() };
    assert!(is_not_found(store.create_api_key(&b.actor, int_a, key).await));
    // Keys, channels, deliveries, checks and reports: each write path with A's ids.
    let keys_a = store.api_keys(&a.actor.org_id, int_a).await.expect("keys");
    let key_a = store
        .create_api_key(
            &a.actor,
            int_a,
            NewApiKey { name: "a".into(), prefix: "clefk_a".into(), key_hash: "h-a".into() },
        )
        .await
        .expect("A's key");
    assert!(is_not_found(store.revoke_api_key(&b.actor, int_a, &key_a.id).await));
    assert!(is_not_found(store.revoke_api_key(&b.actor, &b.integration.id, &key_a.id).await));
    let email = |target: &str| crate::NewChannel {
        kind: clef_core::notification::ChannelKind::Email,
        target: target.into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    let channel_a =
        store.create_channel(&a.actor, int_a, email("a@alpha.example")).await.expect("A's channel");
    assert!(is_not_found(store.create_channel(&b.actor, int_a, email("b@beta.example")).await));
    let patch = crate::ChannelPatch { min_severity: Some(Severity::Critical), ..Default::default() };
    assert!(is_not_found(store.update_channel(&b.actor, int_a, &channel_a.id, patch.clone()).await));
    assert!(is_not_found(store.update_channel(&b.actor, &b.integration.id, &channel_a.id, patch).await));
    assert!(is_not_found(store.delete_channel(&b.actor, int_a, &channel_a.id).await));
    assert!(is_not_found(store.enqueue_test(&b.actor, int_a, &channel_a.id).await));
    assert!(is_not_found(
        store.rotate_signing_secret(&b.actor, int_a, &channel_a.id, "whsec_b".into(), NOW).await
    ));
    assert!(is_not_found(store.channels(org_b, int_a).await));
    assert!(is_not_found(store.deliveries(org_b, int_a, crate::DeliveryQuery::latest(10)).await));
    assert!(is_not_found(store.checks(org_b, int_a).await));
    assert!(is_not_found(store.delete_report(&b.actor, int_a, sha(1).as_str()).await));
    let names: Vec<IntegrationId> =
        store.integrations(org_b).await.expect("list").into_iter().map(|i| i.id).collect();
    assert_eq!(names, std::slice::from_ref(&b.integration.id));
    assert!(
        store
            .audit_log(org_b, None, 50)
            .await
            .expect("audit")
            .iter()
            .all(|e| !e.target.contains(int_a.as_str()))
    );
    // Alpha's state is untouched by all of it.
    assert!(store.alert(&a.actor.org_id, &alert_id).await.expect("alert").alert.acknowledgement.is_none());
    let channels = store.channels(&a.actor.org_id, int_a).await.expect("channels");
    assert_eq!(channels, vec![channel_a]);
    assert_eq!(store.api_keys(&a.actor.org_id, int_a).await.expect("keys").len(), keys_a.len() + 1);
    assert!(
        store.api_keys(&a.actor.org_id, int_a).await.expect("keys").iter().all(|k| k.revoked_at.is_none())
    );
    assert!(store.report(&a.actor.org_id, int_a, sha(1).as_str()).await.is_ok());
    assert!(
        store
            .deliveries(&a.actor.org_id, int_a, crate::DeliveryQuery::latest(10))
            .await
            .expect("deliveries")
            .is_empty()
    );
    assert_eq!(
        store.integration(&a.actor.org_id, int_a).await.expect("integration").name,
        a.integration.name
    );
}

pub async fn api_keys_authenticate_until_revoked(store: &dyn Store) {
    let w = world(store, "acme").await;
    let key = store
        .create_api_key(
            &w.actor,
            &w.integration.id,
            NewApiKey { name: "ci".into(), prefix: "clefk_abcd".into(), key_hash: "hash-1".into() },
        )
        .await
        .expect("key");
    let grant = store.api_key_by_hash("hash-1").await.expect("lookup").expect("live key");
    assert_eq!(
        (grant.integration_id.as_str(), grant.org_id.as_str()),
        (w.integration.id.as_str(), w.actor.org_id.as_str())
    );
    assert!(store.api_key_by_hash("hash-2").await.expect("lookup").is_none());
    store.touch_api_key(&key.id, NOW + 9).await.expect("touch");
    let listed = store.api_keys(&w.actor.org_id, &w.integration.id).await.expect("list");
    assert_eq!(listed[0].last_used_at, Some(NOW + 9));
    store.revoke_api_key(&w.actor, &w.integration.id, &key.id).await.expect("revoke");
    assert!(store.api_key_by_hash("hash-1").await.expect("lookup").is_none());
    assert!(is_not_found(store.revoke_api_key(&w.actor, &w.integration.id, &key.id).await));
    let listed = store.api_keys(&w.actor.org_id, &w.integration.id).await.expect("list");
    assert!(listed[0].revoked_at.is_some());
}

pub async fn users_are_unique_and_tokens_authenticate_until_revoked(store: &dyn Store) {
    let w = world(store, "acme").await;
    let person = |org: &str| crate::NewUser {
        org_name: org.into(),
        email: w.user.email.clone(),
        password_hash: "h".into(),
        role: crate::Role::Viewer,
        now: NOW + 1,
    };
    let dup = store.create_user(person("acme")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "a member already: {dup:?}");
    // The same person joins a second organisation, keeping their password and first one.
    let elsewhere = store.create_user(person("other")).await.expect("a second membership");
    assert_eq!((elsewhere.id.as_str(), elsewhere.role), (w.user.id.as_str(), crate::Role::Viewer));
    assert_eq!(elsewhere.password_hash, w.user.password_hash);
    let found = store.user_by_email(&w.user.email).await.expect("lookup").expect("user");
    assert_eq!((found.id.as_str(), found.org_name.as_str()), (w.user.id.as_str(), "acme"));
    let token = store
        .create_token(
            &w.actor,
            NewToken {
                user_id: w.user.id.clone(),
                org_id: w.actor.org_id.clone(),
                name: "cli".into(),
                prefix: "clefp_1234".into(),
                token_hash: "tok-1".into(),
                now: NOW,
                expires_at: None,
            },
        )
        .await
        .expect("token");
    let who = store.authenticate_token("tok-1", NOW + 1).await.expect("auth").expect("user");
    assert_eq!((who.id.as_str(), who.org_id.as_str()), (w.user.id.as_str(), w.actor.org_id.as_str()));
    assert!(store.authenticate_token("tok-2", NOW).await.expect("auth").is_none());
    let listed = store.tokens(&w.user.id, &w.actor.org_id).await.expect("tokens");
    assert_eq!((listed.len(), listed[0].prefix.as_str(), listed[0].revoked_at), (1, "clefp_1234", None));
    assert!(
        store.tokens(&w.user.id, &elsewhere.org_id).await.expect("tokens").is_empty(),
        "per organisation"
    );
    let foreign = world(store, "globex").await;
    assert!(is_not_found(store.revoke_token(&foreign.actor, &token.id).await), "only its owner revokes it");
    store.revoke_token(&Actor { now: NOW + 2, ..w.actor.clone() }, &token.id).await.expect("revoke");
    assert!(store.authenticate_token("tok-1", NOW + 3).await.expect("auth").is_none());
    assert_eq!(store.tokens(&w.user.id, &w.actor.org_id).await.expect("tokens")[0].revoked_at, Some(NOW + 2));
    let actions = actions(store, &w.actor.org_id).await;
    assert!(actions.contains(&"token.create".to_owned()) && actions.contains(&"token.revoke".to_owned()));

    // A token that expires stops at its expiry.
    store
        .create_token(
            &w.actor,
            NewToken {
                user_id: w.user.id.clone(),
                org_id: w.actor.org_id.clone(),
                name: "a week".into(),
                prefix: "clefp_5678".into(),
                token_hash: "tok-3".into(),
                now: NOW,
                expires_at: Some(NOW + 100),
            },
        )
        .await
        .expect("token");
    assert!(store.authenticate_token("tok-3", NOW + 99).await.expect("auth").is_some());
    assert!(store.authenticate_token("tok-3", NOW + 100).await.expect("auth").is_none(), "expired");
}

pub async fn integrations_update_and_delete_with_audit(store: &dyn Store) {
    let w = world(store, "acme").await;
    let dup = store
        .create_integration(
            &w.actor,
            crate::NewIntegration {
                name: "secrets".into(),
                tracked_branch: None,
                config: Default::default(),
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let policies = clef_core::PolicySet::parse(
        br#"{"rules":[{"ruleId":"min_recipients","severity":"warning","params":{"min":2}}]}"#,
    )
    .expect("policies");
    let patch = IntegrationPatch {
        name: Some("renamed".into()),
        tracked_branch: Some(Some("release".into())),
        config: Some(crate::CollectionConfig { collect_ci_context: false }),
        policies: Some(policies.clone()),
    };
    let updated = store.update_integration(&w.actor, &w.integration.id, patch).await.expect("update");
    assert_eq!((updated.name.as_str(), updated.tracked_branch.as_deref()), ("renamed", Some("release")));
    assert!(!updated.config.collect_ci_context);
    assert_eq!(updated.policies, policies);
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    store.delete_integration(&w.actor, &w.integration.id).await.expect("delete");
    assert!(is_not_found(store.integration(&w.actor.org_id, &w.integration.id).await));
    assert!(
        store
            .alerts(&w.actor.org_id, AlertQuery { limit: 10, ..Default::default() })
            .await
            .expect("alerts")
            .alerts
            .is_empty()
    );
    let actions = actions(store, &w.actor.org_id).await;
    assert_eq!(&actions[..3], ["integration.delete", "integration.update", "integration.create"]);
}

pub async fn sessions_live_until_they_expire_or_are_deleted(store: &dyn Store) {
    let w = world(store, "acme").await;
    let new = |hash: &str, expires_at| crate::NewSession {
        token_hash: hash.into(),
        user_id: w.user.id.clone(),
        org_id: w.actor.org_id.clone(),
        user_agent: "Firefox".into(),
        auth_method: crate::AuthMethod::Password,
        csrf_token: format!("csrf-{hash}"),
        created_at: NOW,
        expires_at,
    };
    store.create_session(new("s1", NOW + 1000)).await.expect("session");
    store.create_session(new("s2", NOW + 10)).await.expect("session");
    let s = store.session("s1", NOW + 5).await.expect("lookup").expect("live");
    assert_eq!((s.user.id.as_str(), s.csrf_token.as_str()), (w.user.id.as_str(), "csrf-s1"));
    assert!(store.session("s2", NOW + 10).await.expect("lookup").is_none(), "expired");
    assert!(store.session("nope", NOW).await.expect("lookup").is_none());
    store.delete_session("s1").await.expect("delete");
    assert!(store.session("s1", NOW + 5).await.expect("lookup").is_none());
}

pub async fn the_overview_lists_heads_counts_and_trends_per_integration(store: &dyn Store) {
    let a = world(store, "acme").await;
    let second = store
        .create_integration(
            &a.actor,
            crate::NewIntegration {
                name: "another".into(),
                tracked_branch: None,
                config: Default::default(),
            },
        )
        .await
        .expect("integration");
    let reports =
        (1..=4).map(|n| report(n, (0..n).map(|k| fails(&format!("r{k}"), "x")).collect())).collect();
    ingest(store, &a, reports).await;
    ingest(store, &a, vec![report_on("dev", 9, vec![fails("d", "x")])]).await;
    let list = store.integrations(&a.actor.org_id).await.expect("list");
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["another", "secrets"]);
    assert!(list[0].head.is_none() && list[0].open_alerts.total() == 0);
    assert_eq!(list[1].head.as_ref().map(|h| h.commit_sha.clone()), Some(sha(4)));
    assert_eq!((list[1].open_alerts.critical, list[1].acknowledged_alerts), (4, 0));
    // Acknowledged alerts are counted apart; a snooze that has ended (the store's clock is
    // long past NOW) no longer counts.
    let open = store
        .alerts(&a.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    for (alert, until) in open.iter().zip([None, Some(NOW + 1000)]) {
        let ack = clef_core::Acknowledgement::new("x", NOW, None, until).expect("ack");
        store
            .set_acknowledgement(&a.actor, std::slice::from_ref(&alert.alert.id), Some(ack))
            .await
            .expect("ack");
    }
    let list = store.integrations(&a.actor.org_id).await.expect("list");
    assert_eq!(list[1].acknowledged_alerts, 1);
    let one = store.integration(&a.actor.org_id, &a.integration.id).await.expect("integration");
    assert_eq!((one.open_alerts.total(), one.acknowledged_alerts), (4, 1));
    let trends = store.violation_trends(&a.actor.org_id, 3).await.expect("trends");
    assert_eq!(trends, [(a.integration.id.clone(), vec![2, 3, 4])]);
    assert!(trends.iter().all(|(id, _)| *id != second.id));
}
