use super::*;
use crate::{AlertQuery, DeliveryResult, DeliveryStatus, NewChannel, ReportQuery, Retention};
use clef_core::notification::ChannelKind;
use clef_core::{Acknowledgement, Alert};

async fn alerts_of(store: &dyn Store, w: &World) -> Vec<Alert> {
    let q = AlertQuery { integration_id: Some(w.integration.id.clone()), limit: 100, ..Default::default() };
    let mut alerts: Vec<_> =
        store.alerts(&w.actor.org_id, q).await.expect("alerts").alerts.into_iter().map(|a| a.alert).collect();
    alerts.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    alerts
}

async fn stored_commits(store: &dyn Store, w: &World) -> Vec<CommitSha> {
    let q = ReportQuery { limit: 100, ..Default::default() };
    let mut shas: Vec<_> = store
        .reports(&w.actor.org_id, &w.integration.id, q)
        .await
        .expect("reports")
        .into_iter()
        .map(|r| r.commit_sha)
        .collect();
    shas.sort();
    shas
}

/// Commit `n` is at `NOW + n s`, so a cut-off at 9.5 s makes 1..=9 old.
pub async fn retention_keeps_the_head_and_every_report_an_alert_names(store: &dyn Store) {
    let w = world(store, "acme").await;
    // "fixed" fails at 1..=3 and passes from 4; "open" fails from 5 to the head at 10.
    ingest(store, &w, (1..=3).map(|n| report(n, vec![fails("fixed", "db/prod")])).collect()).await;
    let later = (4..=10).map(|n| report(n, if n == 4 { vec![] } else { vec![fails("open", "db/prod")] }));
    ingest(store, &w, later.collect()).await;
    let before = alerts_of(store, &w).await;
    let head_before = store.head_report(&w.actor.org_id, &w.integration.id).await.expect("head");
    let retention = Retention { reports_before: Some(NOW + 9_500), ..Default::default() };

    let pruned = store.prune(retention).await.expect("prune");
    // 1 introduced "fixed", 3 last saw it, 4 resolved it, 5 introduced "open", 10 is the head.
    assert_eq!(stored_commits(store, &w).await, [1, 3, 4, 5, 10].map(sha));
    assert_eq!(pruned.reports, 5, "{pruned:?}");
    assert!(pruned.report_parts >= 5, "each pruned report had cells of its own: {pruned:?}");
    assert_eq!(alerts_of(store, &w).await, before, "alerts are untouched");
    assert_eq!(store.head_report(&w.actor.org_id, &w.integration.id).await.expect("head"), head_before);
    for n in [1, 3, 4, 5, 10] {
        let kept = store.report(&w.actor.org_id, &w.integration.id, sha(n).as_str()).await.expect("kept");
        assert_eq!(kept.report.summary.cells[0].description, format!("commit {n}"), "parts still readable");
    }
    assert_eq!(store.prune(retention).await.expect("again").reports, 0, "a second pass finds nothing");

    // Attribution after pruning: a backfill resolving "open" at 12, not at its head 13.
    let out = ingest(
        store,
        &w,
        vec![report(11, vec![fails("open", "db/prod")]), report(12, vec![]), report(13, vec![])],
    )
    .await;
    assert_eq!(out.resolved, 1);
    let open = alerts_of(store, &w).await.into_iter().find(|a| a.rule_id == "open").expect("open");
    assert_eq!((open.introduced_by_commit, open.resolved_by_commit), (sha(5), Some(sha(12))));
}

pub async fn retention_ends_old_deliveries_and_audit_entries_but_never_pending_ones(store: &dyn Store) {
    let w = world(store, "acme").await;
    let new = |target: &str| NewChannel {
        kind: ChannelKind::Email,
        target: target.into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    store.create_channel(&w.actor, &w.integration.id, new("sent@acme.example")).await.expect("channel");
    store.create_channel(&w.actor, &w.integration.id, new("pending@acme.example")).await.expect("channel");
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    let claimed = store.claim_deliveries(NOW + 10_000, 60_000, 10).await.expect("claim");
    let sent = claimed.iter().find(|m| m.target == "sent@acme.example").expect("message");
    let finished_at = NOW + 20_000;
    store
        .finish_attempt(&sent.id, finished_at, DeliveryResult::Sent { detail: "250 ok".into() })
        .await
        .expect("sent");
    let audited = store.audit_log(&w.actor.org_id, None, 100).await.expect("audit").len();
    assert!(audited >= 3);

    // Cut-offs just before the events keep everything.
    let keep =
        Retention { deliveries_before: Some(finished_at), audit_before: Some(NOW), ..Default::default() };
    assert_eq!(store.prune(keep).await.expect("prune"), Default::default());
    let drop = Retention {
        deliveries_before: Some(finished_at + 1),
        audit_before: Some(NOW + 1),
        ..Default::default()
    };
    let pruned = store.prune(drop).await.expect("prune");
    assert_eq!((pruned.deliveries, pruned.audit_entries), (1, audited as u64));
    let left = store
        .deliveries(&w.actor.org_id, &w.integration.id, crate::DeliveryQuery::latest(10))
        .await
        .expect("deliveries");
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].target.as_str(), left[0].status), ("pending@acme.example", DeliveryStatus::Pending));
    assert!(store.audit_log(&w.actor.org_id, None, 100).await.expect("audit").is_empty());
}

pub async fn stats_count_open_alerts_by_severity_and_acknowledgement(store: &dyn Store) {
    let w = world(store, "acme").await;
    let other = world(store, "globex").await;
    let warn = |rule: &str| result(rule, "db/prod", false, Severity::Warning);
    ingest(store, &w, vec![report(1, vec![fails("a", "x"), fails("b", "x"), warn("c"), fails("gone", "x")])])
        .await;
    ingest(store, &w, vec![report(2, vec![fails("a", "x"), fails("b", "x"), warn("c")])]).await;
    let a = alerts_of(store, &w).await.into_iter().find(|a| a.rule_id == "a").expect("a");
    store
        .set_acknowledgement(
            &w.actor,
            std::slice::from_ref(&a.id),
            Some(Acknowledgement { by: "x".into(), at: NOW, reason: None, until: None }),
        )
        .await
        .expect("ack");
    let new = NewChannel {
        kind: ChannelKind::Email,
        target: "ops@acme.example".into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    store.create_channel(&w.actor, &w.integration.id, new).await.expect("channel");
    ingest(store, &w, vec![report(3, vec![fails("a", "x"), fails("b", "x"), warn("c"), warn("d")])]).await;

    let stats = store.stats().await.expect("stats");
    let count = |org: &OrgId, severity: Severity, acknowledged: bool| {
        let found: Vec<_> = stats
            .open_alerts
            .iter()
            .filter(|c| &c.org_id == org && c.severity == severity && c.acknowledged == acknowledged)
            .collect();
        assert_eq!(found.len(), 1, "one line per combination: {:?}", stats.open_alerts);
        found[0].count
    };
    let org = &w.actor.org_id;
    assert_eq!(count(org, Severity::Critical, false), 1);
    assert_eq!(count(org, Severity::Critical, true), 1);
    assert_eq!(count(org, Severity::Warning, false), 2);
    assert_eq!(count(org, Severity::Info, false), 0);
    assert_eq!(count(&other.actor.org_id, Severity::Critical, false), 0);
    assert_eq!(stats.open_alerts.len(), 2 * 8);
    assert_eq!(stats.outbox_pending, 1);
    assert!(stats.outbox_oldest_pending_at.is_some());
    assert!(!stats.pools.is_empty() && stats.pools.iter().all(|p| p.max >= 1 && p.idle <= p.open));
}
