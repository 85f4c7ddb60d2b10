use super::*;
use crate::AlertQuery;
use clef_core::{Acknowledgement, AlertStatus};

async fn all_alerts(store: &dyn Store, w: &World) -> Vec<clef_core::Alert> {
    let q = AlertQuery { integration_id: Some(w.integration.id.clone()), limit: 100, ..Default::default() };
    let mut alerts: Vec<_> =
        store.alerts(&w.actor.org_id, q).await.expect("alerts").alerts.into_iter().map(|a| a.alert).collect();
    alerts.sort_by_key(|a| (a.first_seen_at, a.introduced_by_commit.clone()));
    alerts
}

pub async fn the_concept_lifecycle_runs_through_the_store(store: &dyn Store) {
    let w = world(store, "acme").await;
    let failing = || vec![fails("missing_keys", "oauth/production")];
    let (abc, def, ghi, jkl, mno) = (1, 2, 3, 4, 5);

    let out = ingest(store, &w, vec![report(abc, failing())]).await;
    assert_eq!(out.opened, 1);
    let first = all_alerts(store, &w).await.remove(0);
    assert_eq!((first.status, first.introduced_by_commit.clone()), (AlertStatus::Open, sha(abc)));

    ingest(store, &w, vec![report(def, failing())]).await;
    let a = store.alert(&w.actor.org_id, &first.id).await.expect("alert").alert;
    assert_eq!((a.status, a.last_seen_commit.clone(), a.occurrences), (AlertStatus::Open, sha(def), 2));
    assert!(!a.is_acknowledged(NOW + 1_000));

    let ack = Acknowledgement { by: w.user.email.clone(), at: NOW + 5, reason: None, until: None };
    let acked = store
        .set_acknowledgement(&w.actor, std::slice::from_ref(&first.id), Some(ack.clone()))
        .await
        .expect("ack")
        .remove(0)
        .alert;
    assert_eq!((acked.status, acked.acknowledgement), (AlertStatus::Open, Some(ack)));

    ingest(store, &w, vec![report(ghi, failing())]).await;
    let a = store.alert(&w.actor.org_id, &first.id).await.expect("alert").alert;
    assert!(a.is_open() && a.is_acknowledged(NOW + 1_000));
    assert_eq!(a.last_seen_commit, sha(ghi));

    let out = ingest(
        store,
        &w,
        vec![report(jkl, vec![result("missing_keys", "oauth/production", true, Severity::Critical)])],
    )
    .await;
    assert_eq!(out.resolved, 1);
    let a = store.alert(&w.actor.org_id, &first.id).await.expect("alert").alert;
    assert_eq!((a.status, a.resolved_by_commit.clone()), (AlertStatus::Resolved, Some(sha(jkl))));

    let out = ingest(store, &w, vec![report(mno, failing())]).await;
    assert_eq!(out.opened, 1);
    let alerts = all_alerts(store, &w).await;
    assert_eq!(alerts.len(), 2);
    let fresh = alerts.iter().find(|a| a.id != first.id).expect("fresh alert");
    assert!(fresh.is_open() && !fresh.is_acknowledged(NOW + 1_000));
    assert_eq!(fresh.introduced_by_commit, sha(mno));
}

pub async fn backfill_attributes_introduction_and_resolution_to_the_real_commits(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("fixed", "a")])]).await;
    // One batch of 2..=6: "new" starts failing at 3; "fixed" passes from 4 on.
    let batch = vec![
        report(2, vec![fails("fixed", "a")]),
        report(3, vec![fails("fixed", "a"), fails("new", "b/c")]),
        report(4, vec![fails("new", "b/c")]),
        report(5, vec![fails("new", "b/c")]),
        report(6, vec![fails("new", "b/c")]),
    ];
    let out = ingest(store, &w, batch).await;
    assert_eq!((out.opened, out.resolved), (1, 1));
    let alerts = all_alerts(store, &w).await;
    let fixed = alerts.iter().find(|a| a.rule_id == "fixed").expect("fixed");
    assert_eq!(fixed.resolved_by_commit, Some(sha(4)));
    let new = alerts.iter().find(|a| a.rule_id == "new").expect("new");
    assert_eq!((new.introduced_by_commit.clone(), new.last_seen_commit.clone()), (sha(3), sha(6)));
}

/// The CLI sends every commit of a gap but the last with an empty branch (they are built in
/// detached worktrees): as one batch (the Cloud API) or one request each (OTLP).
pub async fn a_gap_sent_detached_is_attributed_to_its_real_commits(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![])]).await;
    let batch = vec![
        report_on("", 2, vec![]),
        report_on("", 3, vec![fails("leak", "db/prod")]),
        report_on("", 4, vec![fails("leak", "db/prod")]),
        report(5, vec![fails("leak", "db/prod")]),
    ];
    assert_eq!(ingest(store, &w, batch).await.opened, 1);
    let leak = all_alerts(store, &w).await.remove(0);
    assert_eq!((leak.introduced_by_commit.clone(), leak.last_seen_commit.clone()), (sha(3), sha(5)));

    // One request a commit: the detached ones are history until the tracked head arrives.
    for n in [6, 7] {
        let out = ingest(store, &w, vec![report_on("", n, vec![])]).await;
        assert!(!out.evaluated, "a detached report does not move the head");
    }
    assert_eq!(ingest(store, &w, vec![report(8, vec![])]).await.resolved, 1);
    let leak = all_alerts(store, &w).await.remove(0);
    assert_eq!(leak.resolved_by_commit, Some(sha(6)));

    // A detached build of some other commit, newer than everything: stored, but it moves
    // neither the head nor the alerts.
    let out = ingest(store, &w, vec![report_on("", 50, vec![fails("other", "x")])]).await;
    assert!(!out.evaluated);
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(8)));
    assert!(all_alerts(store, &w).await.iter().all(|a| a.rule_id != "other"));
}

pub async fn a_rule_absent_from_the_head_resolves_its_alert(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("gone", "x"), fails("kept", "x")])]).await;
    ingest(store, &w, vec![report(2, vec![fails("kept", "x")])]).await;
    let alerts = all_alerts(store, &w).await;
    let gone = alerts.iter().find(|a| a.rule_id == "gone").expect("gone");
    assert_eq!((gone.status, gone.resolved_by_commit.clone()), (AlertStatus::Resolved, Some(sha(2))));
    assert!(alerts.iter().find(|a| a.rule_id == "kept").expect("kept").is_open());
}

pub async fn acknowledgement_is_recorded_undone_and_audited(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    let id = all_alerts(store, &w).await.remove(0).id;
    let ack = Acknowledgement { by: "owner@acme.example".into(), at: NOW + 7, reason: None, until: None };
    store.set_acknowledgement(&w.actor, std::slice::from_ref(&id), Some(ack)).await.expect("ack");
    let undone = store
        .set_acknowledgement(&w.actor, std::slice::from_ref(&id), None)
        .await
        .expect("unack")
        .remove(0)
        .alert;
    assert!(undone.is_open() && !undone.is_acknowledged(NOW + 1_000));
    let log = store.audit_log(&w.actor.org_id, None, 10).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(&actions[..2], ["alert.unacknowledge", "alert.acknowledge"]);
    assert!(log.iter().all(|e| e.actor == w.user.email));
    // The next page starts after the last entry of the previous one.
    let older = store.audit_log(&w.actor.org_id, Some(log[0].id), 10).await.expect("audit page");
    assert_eq!(older, log[1..]);

    // Resolved, there is nothing left to silence: refused, and nothing changes.
    ingest(store, &w, vec![report(2, vec![])]).await;
    let late = Acknowledgement { by: "owner@acme.example".into(), at: NOW + 9, reason: None, until: None };
    let refused = store.set_acknowledgement(&w.actor, std::slice::from_ref(&id), Some(late)).await;
    assert!(matches!(refused, Err(crate::StoreError::Refused(_))), "{refused:?}");
    let resolved = store.alert(&w.actor.org_id, &id).await.expect("alert").alert;
    assert!(!resolved.is_open() && !resolved.is_acknowledged(NOW + 1_000));
    assert_eq!(store.audit_log(&w.actor.org_id, None, 10).await.expect("audit").len(), log.len());
}

pub async fn alert_filters_select_by_status_acknowledgement_and_severity(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(
        store,
        &w,
        vec![report(
            1,
            vec![
                result("crit", "a", false, Severity::Critical),
                result("warn", "a", false, Severity::Warning),
                result("gone", "a", false, Severity::Info),
            ],
        )],
    )
    .await;
    ingest(
        store,
        &w,
        vec![report(
            2,
            vec![
                result("crit", "a", false, Severity::Critical),
                result("warn", "a", false, Severity::Warning),
            ],
        )],
    )
    .await;
    let warn_id = all_alerts(store, &w).await.into_iter().find(|a| a.rule_id == "warn").expect("warn").id;
    store
        .set_acknowledgement(
            &w.actor,
            std::slice::from_ref(&warn_id),
            Some(Acknowledgement { by: "x".into(), at: NOW, reason: None, until: None }),
        )
        .await
        .expect("ack");
    let org = &w.actor.org_id;
    let rules = |alerts: Vec<crate::StoredAlert>| {
        let mut r: Vec<String> = alerts.into_iter().map(|a| a.alert.rule_id).collect();
        r.sort();
        r
    };
    let q = |status, acknowledged, severity| AlertQuery {
        status,
        acknowledged,
        severity,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        rules(store.alerts(org, q(Some(AlertStatus::Open), None, None)).await.expect("q").alerts),
        ["crit", "warn"]
    );
    assert_eq!(
        rules(store.alerts(org, q(Some(AlertStatus::Resolved), None, None)).await.expect("q").alerts),
        ["gone"]
    );
    assert_eq!(rules(store.alerts(org, q(None, Some(true), None)).await.expect("q").alerts), ["warn"]);
    assert_eq!(
        rules(store.alerts(org, q(Some(AlertStatus::Open), Some(false), None)).await.expect("q").alerts),
        ["crit"]
    );
    assert_eq!(
        rules(store.alerts(org, q(None, None, Some(Severity::Critical))).await.expect("q").alerts),
        ["crit"]
    );
}
