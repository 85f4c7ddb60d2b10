//! The inbox, an alert's timeline, acknowledgement history and snoozes, and messages that
//! an acknowledgement silenced before they went out.

use super::*;
use crate::{
    AlertCursor, AlertEventKind, AlertQuery, AlertSort, DeliveryQuery, DeliveryStatus, NewChannel, StoreError,
};
use clef_core::notification::ChannelKind;
use clef_core::{Acknowledgement, AlertId, AlertStatus};

fn ack(by: &str, at: i64, reason: Option<&str>, until: Option<i64>) -> Option<Acknowledgement> {
    Some(Acknowledgement::new(by, at, reason, until).expect("valid acknowledgement"))
}

async fn second_integration(store: &dyn Store, w: &World, name: &str) -> Integration {
    store
        .create_integration(
            &w.actor,
            NewIntegration { name: name.into(), tracked_branch: None, config: Default::default() },
        )
        .await
        .expect("integration")
}

async fn events(store: &dyn Store, org: &OrgId, id: &AlertId) -> crate::Result<Vec<crate::AlertEvent>> {
    store.alert_timeline(org, id, None, 1).await.map(|t| t.events)
}

async fn messages(store: &dyn Store, org: &OrgId, id: &AlertId) -> Vec<crate::Delivery> {
    store.alert_timeline(org, id, None, 1).await.expect("timeline").deliveries
}

fn rules(page: &crate::AlertPage) -> Vec<String> {
    page.alerts.iter().map(|a| a.alert.rule_id.clone()).collect()
}

pub async fn the_inbox_filters_counts_and_pages_across_integrations(store: &dyn Store) {
    let w = world(store, "acme").await;
    let other = second_integration(store, &w, "billing").await;
    // secrets: three open alerts introduced at commits 1, 2 and 3 (two namespaces, two
    // environments) and one resolved by commit 2.
    let crit = |rule: &str, scope: &str, s| result(rule, scope, false, s);
    ingest(
        store,
        &w,
        vec![report(
            1,
            vec![crit("rotation", "db/prod", Severity::Critical), crit("fixed_soon", "api", Severity::Info)],
        )],
    )
    .await;
    ingest(
        store,
        &w,
        vec![report(
            2,
            vec![
                crit("rotation", "db/prod", Severity::Critical),
                crit("missing_keys", "db/staging", Severity::Warning),
            ],
        )],
    )
    .await;
    ingest(
        store,
        &w,
        vec![report(
            3,
            vec![
                crit("rotation", "db/prod", Severity::Critical),
                crit("missing_keys", "db/staging", Severity::Warning),
                crit("schema", "api/prod", Severity::Error),
            ],
        )],
    )
    .await;
    // billing: one open alert, newer.
    ingest_to(
        store,
        &other.id,
        vec![report(5, vec![result("rotation", "cards/prod", false, Severity::Warning)])],
    )
    .await;
    // Another organisation's alert never shows.
    let foreign = world(store, "globex").await;
    ingest(store, &foreign, vec![report(9, vec![fails("rotation", "db/prod")])]).await;

    let org = &w.actor.org_id;
    let q = |f: fn(&mut AlertQuery)| {
        let mut q = AlertQuery {
            status: Some(AlertStatus::Open),
            limit: 50,
            now: NOW + 60_000,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let all = store.alerts(org, q(|_| {})).await.expect("inbox");
    assert_eq!(
        rules(&all),
        ["rotation", "schema", "missing_keys", "rotation"],
        "newest first, across integrations"
    );
    assert!(all.next.is_none());
    assert_eq!(all.alerts[0].integration_id, other.id);
    let counts = store.alert_counts(org, &q(|_| {})).await.expect("counts");
    assert_eq!((counts.critical, counts.error, counts.warning, counts.info), (1, 1, 2, 0));

    // Most severe first: error ranks with critical, newest first within a rank.
    let by_severity = store.alerts(org, q(|q| q.sort = AlertSort::Severity)).await.expect("sorted");
    let ranked: Vec<u8> = by_severity.alerts.iter().map(|a| a.alert.severity.rank()).collect();
    assert_eq!(ranked, [2, 2, 1, 1]);

    for (filter, expect) in [
        (q(|q| q.severity = Some(Severity::Warning)), vec!["rotation", "missing_keys"]),
        (q(|q| q.rule_id = Some("schema".into())), vec!["schema"]),
        (q(|q| q.namespace = Some("db".into())), vec!["missing_keys", "rotation"]),
        (q(|q| q.environment = Some("prod".into())), vec!["rotation", "schema", "rotation"]),
        (q(|q| q.text = Some("MISSING_k".into())), vec!["missing_keys"]),
        (q(|q| q.text = Some("%".into())), vec![]),
        (q(|q| q.status = Some(AlertStatus::Resolved)), vec!["fixed_soon"]),
        (q(|q| q.status = None), vec!["rotation", "schema", "missing_keys", "rotation", "fixed_soon"]),
    ] {
        let got = store.alerts(org, filter.clone()).await.expect("filtered");
        assert_eq!(
            rules(&got),
            expect,
            "filters: rule {:?} ns {:?} env {:?} text {:?}",
            filter.rule_id,
            filter.namespace,
            filter.environment,
            filter.text
        );
        // Counts follow every filter but the severity.
        let counts = store.alert_counts(org, &filter).await.expect("counts");
        if filter.severity.is_none() {
            assert_eq!(counts.total(), expect.len() as u64);
        }
    }
    let mut with_integration = q(|_| {});
    with_integration.integration_id = Some(other.id.clone());
    assert_eq!(rules(&store.alerts(org, with_integration).await.expect("one integration")), ["rotation"]);
    let mut foreign_integration = q(|_| {});
    foreign_integration.integration_id = Some(foreign.integration.id.clone());
    assert!(store.alerts(org, foreign_integration).await.expect("foreign").alerts.is_empty());

    // Paging: pages of two, in both orders, cover everything once and in order.
    for sort in [AlertSort::Newest, AlertSort::Severity] {
        let mut seen: Vec<AlertId> = Vec::new();
        let mut after: Option<AlertCursor> = None;
        loop {
            let page = store
                .alerts(
                    org,
                    AlertQuery {
                        status: None,
                        sort,
                        after: after.clone(),
                        limit: 2,
                        now: NOW,
                        ..Default::default()
                    },
                )
                .await
                .expect("page");
            assert!(page.alerts.len() <= 2);
            seen.extend(page.alerts.iter().map(|a| a.alert.id.clone()));
            // A cursor survives its text form.
            after = page.next.map(|c| AlertCursor::parse(&c.encode()).expect("cursor"));
            if after.is_none() {
                break;
            }
        }
        let whole = store
            .alerts(org, AlertQuery { status: None, sort, limit: 100, now: NOW, ..Default::default() })
            .await
            .expect("whole");
        let whole: Vec<AlertId> = whole.alerts.into_iter().map(|a| a.alert.id).collect();
        assert_eq!(seen, whole, "{sort:?}");
    }
}

pub async fn acknowledgements_keep_their_history_reason_and_snooze(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("a", "db/prod"), fails("b", "db/prod")])]).await;
    let org = &w.actor.org_id;
    let all =
        store.alerts(org, AlertQuery { limit: 10, now: NOW, ..Default::default() }).await.expect("alerts");
    let id = |rule: &str| all.alerts.iter().find(|a| a.alert.rule_id == rule).expect(rule).alert.id.clone();
    let (a, b) = (id("a"), id("b"));

    let t = NOW + 10_000;
    let snooze_end = t + 3_600_000;
    let done = store
        .set_acknowledgement(
            &w.actor,
            &[a.clone(), b.clone()],
            ack(&w.user.email, t, Some("rotating Friday"), Some(snooze_end)),
        )
        .await
        .expect("bulk");
    assert_eq!(done.len(), 2);
    let stored = store.alert(org, &a).await.expect("alert").alert;
    let k = stored.acknowledgement.clone().expect("acknowledged");
    assert_eq!((k.reason.as_deref(), k.until), (Some("rotating Friday"), Some(snooze_end)));
    assert!(stored.is_acknowledged(t + 1) && !stored.is_acknowledged(snooze_end));

    // The acknowledged filter judges the snooze at the query's time.
    let acked = |now| AlertQuery { acknowledged: Some(true), limit: 10, now, ..Default::default() };
    assert_eq!(store.alerts(org, acked(t + 1)).await.expect("during").alerts.len(), 2);
    assert!(store.alerts(org, acked(snooze_end + 1)).await.expect("after").alerts.is_empty());
    let unacked =
        AlertQuery { acknowledged: Some(false), limit: 10, now: snooze_end + 1, ..Default::default() };
    assert_eq!(store.alerts(org, unacked).await.expect("after").alerts.len(), 2);

    // Withdrawn, then acknowledged again: the history keeps all three, oldest first.
    store.set_acknowledgement(&w.actor, std::slice::from_ref(&a), None).await.expect("unack");
    store
        .set_acknowledgement(&w.actor, std::slice::from_ref(&a), ack("sam@acme.example", t + 20, None, None))
        .await
        .expect("ack");
    let history = events(store, org, &a).await.expect("history");
    let kinds: Vec<AlertEventKind> = history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AlertEventKind::Acknowledged, AlertEventKind::Unacknowledged, AlertEventKind::Acknowledged]
    );
    assert_eq!(history[0].reason.as_deref(), Some("rotating Friday"));
    assert_eq!(history[0].until, Some(snooze_end));
    assert_eq!(events(store, org, &b).await.expect("b").len(), 1);

    // All or none: an unknown id (or another organisation's) changes nothing.
    let foreign = world(store, "globex").await;
    let refused =
        store.set_acknowledgement(&foreign.actor, std::slice::from_ref(&b), ack("x", t, None, None)).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(events(store, &foreign.actor.org_id, &b).await.is_err(), "not theirs to read");
    let refused = store.set_acknowledgement(&w.actor, &[b.clone(), "nope".into()], None).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    assert_eq!(events(store, org, &b).await.expect("b").len(), 1, "nothing written");
}

pub async fn an_alert_knows_its_reports_its_messages_and_its_commit_times(store: &dyn Store) {
    let w = world(store, "acme").await;
    let new = NewChannel {
        kind: ChannelKind::Email,
        target: "sec@acme.example".into(),
        min_severity: Severity::Info,
        notify_on_resolve: true,
        repeat_every: None,
        signing_secret: None,
    };
    store.create_channel(&w.actor, &w.integration.id, new).await.expect("channel");
    ingest(store, &w, vec![report(1, vec![])]).await;
    // A batch of 2..=5 failing from 3 on, arriving long after: the alert was introduced at
    // commit 3's own time, and failed in three reports.
    let late = |n| {
        let mut r = report(n, if n >= 3 { vec![fails("r", "db/prod")] } else { vec![] });
        r.commit_timestamp = NOW + i64::from(n) * 1000;
        r
    };
    store
        .ingest(IngestBatch {
            integration_id: w.integration.id.clone(),
            reports: (2..=5).map(late).collect(),
            received_at: NOW + 86_400_000,
        })
        .await
        .expect("ingest");
    let org = &w.actor.org_id;
    let page =
        store.alerts(org, AlertQuery { limit: 10, now: NOW, ..Default::default() }).await.expect("alerts");
    let alert = page.alerts[0].alert.clone();
    assert_eq!(alert.introduced_by_commit, sha(3));
    assert_eq!(alert.first_seen_at, NOW + 3000, "the introducing commit's time, not the upload's");
    assert_eq!(alert.occurrences, 3, "the backfilled reports count");

    // Still failing at 6 and 7 with a newer message; a feature-branch report never counts.
    let mut six = report(6, vec![fails("r", "db/prod")]);
    six.policy_results[0].message = "the newest words".into();
    ingest(store, &w, vec![six]).await;
    ingest(store, &w, vec![report_on("feature", 7, vec![fails("r", "db/prod")])]).await;
    let alert = store.alert(org, &alert.id).await.expect("alert").alert;
    assert_eq!((alert.occurrences, alert.message.as_str()), (4, "the newest words"));

    // The reports that saw it: 6, 5, 4, 3, newest first, paged.
    let seen = store.alert_reports(org, &alert.id, None, 3).await.expect("reports");
    let shas: Vec<_> = seen.iter().map(|r| r.commit_sha.clone()).collect();
    assert_eq!(shas, [sha(6), sha(5), sha(4)]);
    let rest = store.alert_reports(org, &alert.id, Some(sha(4)), 3).await.expect("more");
    assert_eq!(rest.iter().map(|r| r.commit_sha.clone()).collect::<Vec<_>>(), [sha(3)]);

    // Resolved by 8 at 8's own time; its two messages name it, and the resolution's too.
    ingest(store, &w, vec![report(8, vec![])]).await;
    let alert = store.alert(org, &alert.id).await.expect("alert").alert;
    assert_eq!((alert.resolved_by_commit.clone(), alert.resolved_at), (Some(sha(8)), Some(NOW + 8000)));
    let sent = messages(store, org, &alert.id).await;
    assert_eq!(sent.len(), 3, "opened, still failing, resolved");
    assert!(sent.iter().all(|m| m.digest.alerts.iter().any(|a| a.alert_id == alert.id)));
    assert_eq!(store.alert_reports(org, &alert.id, None, 10).await.expect("reports").len(), 4);

    // The delivery log pages with a cursor.
    let first = store.deliveries(org, &w.integration.id, DeliveryQuery::latest(2)).await.expect("log");
    let next = store
        .deliveries(org, &w.integration.id, DeliveryQuery { before: Some(first[1].id.clone()), limit: 2 })
        .await
        .expect("next");
    assert_eq!(next.len(), 1);
    assert!(first.iter().all(|d| d.id != next[0].id));
}

pub async fn an_acknowledgement_after_queueing_silences_the_message(store: &dyn Store) {
    let w = world(store, "acme").await;
    let new = NewChannel {
        kind: ChannelKind::Email,
        target: "sec@acme.example".into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    store.create_channel(&w.actor, &w.integration.id, new).await.expect("channel");
    ingest(store, &w, vec![report(1, vec![fails("a", "db/prod"), fails("b", "db/prod")])]).await;
    ingest(store, &w, vec![report(2, vec![fails("a", "db/prod")])]).await;
    let org = &w.actor.org_id;
    let all = store
        .alerts(org, AlertQuery { status: None, limit: 10, now: NOW, ..Default::default() })
        .await
        .expect("alerts");
    let id = |rule: &str| all.alerts.iter().find(|a| a.alert.rule_id == rule).expect(rule).alert.id.clone();
    // Both messages are queued; "a" is acknowledged before the worker gets to them.
    store
        .set_acknowledgement(&w.actor, &[id("a")], ack("sam@acme.example", NOW + 3_000, None, None))
        .await
        .expect("ack");
    let claimed = store.claim_deliveries(NOW + 4_000, 60_000, 10).await.expect("claim");
    // The first message keeps "b" only; the second had only "a" and is not sent.
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let rules: Vec<&str> = claimed[0].digest.alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(rules, ["b"]);
    let log = store.deliveries(org, &w.integration.id, DeliveryQuery::latest(10)).await.expect("log");
    let statuses: Vec<DeliveryStatus> = log.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [DeliveryStatus::Suppressed, DeliveryStatus::Pending]);
    assert_eq!(log[1].digest.alerts.len(), 1, "the log shows what is sent");
    // The alert's own page lists the suppressed message, not the one it was left out of.
    let about_a = messages(store, org, &id("a")).await;
    assert_eq!(about_a.iter().map(|d| d.status).collect::<Vec<_>>(), [DeliveryStatus::Suppressed]);
    // Nothing more to claim: the suppressed message is finished.
    assert!(
        store
            .claim_deliveries(NOW + 200_000, 60_000, 10)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.id == claimed[0].id)
    );
}

pub async fn alert_spans_give_lifetimes_per_integration_and_organisation(store: &dyn Store) {
    let w = world(store, "acme").await;
    let billing = second_integration(store, &w, "billing").await;
    let stranger = world(store, "other").await;
    ingest(store, &w, vec![report(1, vec![fails("a", "db/prod")])]).await;
    ingest(store, &w, vec![report(2, vec![fails("a", "db/prod"), fails("b", "api")])]).await;
    ingest(store, &w, vec![report(3, vec![fails("b", "api")])]).await;
    ingest_to(store, &billing.id, vec![report(4, vec![fails("c", "x/y")])]).await;
    ingest(store, &stranger, vec![report(1, vec![fails("z", "db/prod")])]).await;
    let org = &w.actor.org_id;
    let all = store.alert_spans(org, None, NOW, NOW + 10_000).await.expect("spans");
    assert_eq!(all.len(), 3, "{all:?}");
    let mine = store.alert_spans(org, Some(&w.integration.id), NOW, NOW + 10_000).await.expect("spans");
    let a = mine.iter().find(|s| s.namespace.as_deref() == Some("db")).expect("a");
    // Opened and resolved at the commits' own times.
    assert_eq!((a.opened, a.resolved), (NOW + 1000, Some(NOW + 3000)));
    assert_eq!((a.environment.as_deref(), a.severity), (Some("prod"), Severity::Critical));
    let b = mine.iter().find(|s| s.namespace.as_deref() == Some("api")).expect("b");
    assert_eq!((b.environment.as_deref(), b.resolved), (None, None));
    // A window after `a` was resolved does not see it; one before anything opened sees nothing.
    assert_eq!(
        store.alert_spans(org, Some(&w.integration.id), NOW + 3500, NOW + 9000).await.expect("spans").len(),
        1
    );
    assert!(store.alert_spans(org, None, NOW - 9000, NOW).await.expect("spans").is_empty());
    // Another organisation's integration is not found through this one.
    assert!(
        store
            .alert_spans(org, Some(&stranger.integration.id), NOW, NOW + 10_000)
            .await
            .expect("spans")
            .is_empty()
    );

    // Read again after every change: a store that keeps spans between reads sees each one.
    let resolved =
        |spans: &[clef_core::trends::AlertSpan]| spans.iter().filter(|s| s.resolved.is_some()).count();
    ingest_to(store, &billing.id, vec![report(5, vec![])]).await;
    let after = store.alert_spans(org, None, NOW, NOW + 10_000).await.expect("spans");
    assert_eq!((after.len(), resolved(&after)), (3, 2), "billing's alert resolved: {after:?}");
    store.delete_report(&w.actor, &billing.id, sha(5).as_str()).await.expect("delete the resolving report");
    let after = store.alert_spans(org, None, NOW, NOW + 10_000).await.expect("spans");
    let open_in_billing = after.iter().any(|s| s.integration_id == billing.id && s.resolved.is_none());
    assert!(open_in_billing, "failing again once its fix is deleted: {after:?}");
    store.delete_integration(&w.actor, &billing.id).await.expect("delete billing");
    let left = store.alert_spans(org, None, NOW, NOW + 10_000).await.expect("spans");
    assert!(left.iter().all(|s| s.integration_id == w.integration.id), "{left:?}");
}
