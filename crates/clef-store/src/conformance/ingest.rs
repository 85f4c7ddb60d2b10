use super::*;
use crate::{IngestBatch, ReportQuery, StoreError};

pub async fn replacing_a_commit_keeps_its_id_and_takes_the_new_content(store: &dyn Store) {
    let w = world(store, "acme").await;
    let first = ingest(store, &w, vec![report(1, vec![])]).await;
    let mut changed = report(1, vec![]);
    changed.summary.cells[0].description = "replaced".into();
    let second = ingest(store, &w, vec![changed]).await;
    assert_eq!(first.report_ids, second.report_ids);
    assert_eq!(second.written, 1);
    let stored = store.report(&w.actor.org_id, &w.integration.id, sha(1).as_str()).await.expect("report");
    assert_eq!(stored.id, first.report_ids[0]);
    assert_eq!(stored.report.summary.cells[0].description, "replaced");
    let all = store
        .reports(&w.actor.org_id, &w.integration.id, ReportQuery { limit: 10, ..Default::default() })
        .await
        .expect("list");
    assert_eq!(all.len(), 1);
}

/// The head's own commit sent again with other results (a re-run after a fix in CI): the
/// head is the same commit but not the same content, so alerts are re-derived from it.
pub async fn replacing_the_heads_report_re_derives_alerts(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("old", "x")])]).await;
    let out = ingest(store, &w, vec![report(2, vec![fails("old", "x")])]).await;
    assert!(out.evaluated);
    let replaced = ingest(store, &w, vec![report(2, vec![fails("new", "y")])]).await;
    assert!(replaced.evaluated, "a head whose content changed is evaluated again");
    assert_eq!((replaced.opened, replaced.resolved), (1, 1));
    let alerts = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    let by_rule =
        |rule: &str| alerts.iter().find(|a| a.alert.rule_id == rule).map(|a| a.alert.clone()).expect(rule);
    let (old, new) = (by_rule("old"), by_rule("new"));
    assert_eq!((old.status, old.resolved_by_commit), (clef_core::AlertStatus::Resolved, Some(sha(2))));
    assert_eq!((new.status, new.introduced_by_commit), (clef_core::AlertStatus::Open, sha(2)));
    // Sent a third time, identical: nothing more happens.
    let again = ingest(store, &w, vec![report(2, vec![fails("new", "y")])]).await;
    assert_eq!((again.written, again.evaluated), (0, false));
}

pub async fn identical_resubmission_writes_and_evaluates_nothing(store: &dyn Store) {
    let w = world(store, "acme").await;
    let batch = vec![report(1, vec![fails("r", "db/prod")]), report(2, vec![fails("r", "db/prod")])];
    let first = ingest(store, &w, batch.clone()).await;
    assert!(first.evaluated);
    let again = ingest(store, &w, batch).await;
    assert_eq!(again.report_ids, first.report_ids);
    assert_eq!((again.written, again.evaluated), (0, false));
    let alerts = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    assert_eq!(alerts.len(), 1);
    // Failed in both reports of the batch, counted once.
    assert_eq!(alerts[0].alert.occurrences, 2);
}

pub async fn head_is_the_newest_commit_and_ties_go_to_the_later_in_a_batch(store: &dyn Store) {
    let w = world(store, "acme").await;
    let mut a = report(1, vec![]);
    let mut b = report(2, vec![]);
    b.commit_timestamp = a.commit_timestamp;
    a.summary.cells[0].description = "a".into();
    ingest(store, &w, vec![a, b]).await;
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(2)));
    // Newer timestamp wins whatever the order of arrival.
    ingest(store, &w, vec![report(9, vec![]), report(5, vec![])]).await;
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(9)));
}

pub async fn a_report_older_than_the_head_is_history_only(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(5, vec![])]).await;
    let late = ingest(store, &w, vec![report(3, vec![fails("r", "db")])]).await;
    assert_eq!((late.written, late.evaluated), (1, false));
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(5)));
    assert_eq!(i.open_alerts.total(), 0);
    // Still stored and browsable.
    store.report(&w.actor.org_id, &w.integration.id, sha(3).as_str()).await.expect("history");
}

pub async fn reports_off_the_tracked_branch_never_touch_alerts(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, vec![report(1, vec![fails("r", "db")])]).await;
    let off = ingest(store, &w, vec![report_on("feature/x", 2, vec![fails("q", "db")])]).await;
    assert!(!off.evaluated);
    let off_clean = ingest(store, &w, vec![report_on("feature/x", 3, vec![])]).await;
    assert!(!off_clean.evaluated);
    let open = store
        .alerts(
            &w.actor.org_id,
            crate::AlertQuery { status: Some(clef_core::AlertStatus::Open), limit: 10, ..Default::default() },
        )
        .await
        .expect("alerts")
        .alerts;
    assert_eq!(open.iter().map(|a| a.alert.rule_id.as_str()).collect::<Vec<_>>(), ["r"]);
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(1)));
}

pub async fn tracked_branch_defaults_to_the_first_reports_branch(store: &dyn Store) {
    let w = world(store, "acme").await;
    assert_eq!(w.integration.tracked_branch, None);
    ingest(
        store,
        &w,
        vec![report_on("", 1, vec![]), report_on("release", 2, vec![]), report_on("main", 3, vec![])],
    )
    .await;
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.tracked_branch.as_deref(), Some("release"));
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(2)));
}

pub async fn batch_is_one_evaluation_of_its_head(store: &dyn Store) {
    let w = world(store, "acme").await;
    // Commit 2 fails a rule that commit 3 (the head) fixes: no alert is ever opened for it.
    let out =
        ingest(store, &w, vec![report(1, vec![]), report(2, vec![fails("r", "a")]), report(3, vec![])]).await;
    assert!(out.evaluated);
    assert_eq!((out.opened, out.resolved), (0, 0));
    let all = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    assert!(all.is_empty());
}

/// An integration deleted while CI still sends to it (and one that never existed): the batch
/// is refused, the integration does not come back, and nothing else moves.
pub async fn ingest_into_a_missing_integration_writes_nothing(store: &dyn Store) {
    let w = world(store, "acme").await;
    let gone = store
        .create_integration(
            &w.actor,
            NewIntegration { name: "gone".into(), tracked_branch: None, config: Default::default() },
        )
        .await
        .expect("create");
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    store.delete_integration(&w.actor, &gone.id).await.expect("delete");
    let before = (
        store.integrations(&w.actor.org_id).await.expect("list"),
        store.audit_log(&w.actor.org_id, None, 100).await.expect("audit"),
        store.stats().await.expect("stats").open_alerts,
    );
    for missing in [gone.id.clone(), IntegrationId::from("no-such-integration")] {
        let err = store
            .ingest(IngestBatch {
                integration_id: missing.clone(),
                reports: vec![report(2, vec![fails("r", "x"), fails("new", "y")])],
                received_at: NOW + 10_000,
            })
            .await
            .expect_err("missing");
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert!(matches!(
            store.reports(&w.actor.org_id, &missing, ReportQuery::default()).await,
            Err(StoreError::NotFound)
        ));
    }
    let after = (
        store.integrations(&w.actor.org_id).await.expect("list"),
        store.audit_log(&w.actor.org_id, None, 100).await.expect("audit"),
        store.stats().await.expect("stats").open_alerts,
    );
    assert_eq!(before, after, "no integration, audit entry, alert or message appeared");
}

pub async fn reports_list_newest_first_with_a_cursor(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, (1..=5).map(|n| report(n, vec![])).collect()).await;
    ingest(store, &w, vec![report_on("dev", 6, vec![])]).await;
    let org = &w.actor.org_id;
    let q = |limit, before: Option<u32>, branch: Option<&str>| ReportQuery {
        limit,
        before: before.map(sha),
        branch: branch.map(str::to_owned),
    };
    let page1 = store.reports(org, &w.integration.id, q(3, None, None)).await.expect("list");
    assert_eq!(page1.iter().map(|r| r.commit_sha.clone()).collect::<Vec<_>>(), [sha(6), sha(5), sha(4)]);
    let page2 = store.reports(org, &w.integration.id, q(3, Some(4), None)).await.expect("list");
    assert_eq!(page2.iter().map(|r| r.commit_sha.clone()).collect::<Vec<_>>(), [sha(3), sha(2), sha(1)]);
    let main = store.reports(org, &w.integration.id, q(10, None, Some("main"))).await.expect("list");
    assert_eq!(main.len(), 5);
}

pub async fn racing_identical_batches_store_once_and_open_one_alert(store: &dyn Store) {
    let w = world(store, "acme").await;
    let batch: Vec<Report> =
        (1..=20).map(|n| report(n, vec![fails("r", "db/prod"), fails("q", "db")])).collect();
    let runs = (0..8).map(|_| {
        store.ingest(IngestBatch {
            integration_id: w.integration.id.clone(),
            reports: batch.clone(),
            received_at: NOW,
        })
    });
    let outcomes = futures_join_all(runs).await;
    let ids = &outcomes[0].report_ids;
    assert!(outcomes.iter().all(|o| &o.report_ids == ids));
    assert_eq!(outcomes.iter().filter(|o| o.evaluated).count(), 1);
    let alerts = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    assert_eq!(alerts.len(), 2);
    // Each failed in all 20 reports, counted once however many raced.
    assert!(alerts.iter().all(|a| a.alert.introduced_by_commit == sha(1) && a.alert.occurrences == 20));
}

pub async fn racing_different_batches_keep_one_open_alert_per_rule_and_scope(store: &dyn Store) {
    let w = world(store, "acme").await;
    let runs = (0..6u32).map(|k| {
        let reports = (1..=5).map(|n| report(k * 10 + n, vec![fails("r", "db/prod")])).collect();
        store.ingest(IngestBatch { integration_id: w.integration.id.clone(), reports, received_at: NOW })
    });
    futures_join_all(runs).await;
    let open = store
        .alerts(
            &w.actor.org_id,
            crate::AlertQuery { status: Some(clef_core::AlertStatus::Open), limit: 10, ..Default::default() },
        )
        .await
        .expect("alerts")
        .alerts;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].alert.last_seen_commit, sha(55));
}

/// Runs the ingests concurrently; every one must succeed.
/// Ingests that arrive together (on SQLite they share one transaction) succeed or fail each
/// on its own: those for a missing integration fail alone, every other one is stored and
/// evaluated.
pub async fn ingests_arriving_together_fail_apart(store: &dyn Store) {
    let w = world(store, "acme").await;
    let missing = IntegrationId::from("no-such-integration");
    let fails_alone = |n: u32| n.is_multiple_of(6);
    let target = |n: u32| if fails_alone(n) { missing.clone() } else { w.integration.id.clone() };
    let runs = (1..=24u32).map(|n| {
        store.ingest(IngestBatch {
            integration_id: target(n),
            reports: vec![report(n, vec![fails("r", "db/prod")])],
            received_at: NOW + 60_000,
        })
    });
    let results = futures_util::future::join_all(runs).await;
    for (n, result) in (1..=24u32).zip(&results) {
        match result {
            Ok(outcome) if !fails_alone(n) => assert_eq!(outcome.written, 1, "commit {n}"),
            Err(StoreError::NotFound) if fails_alone(n) => {}
            other => panic!("commit {n}: {other:?}"),
        }
    }
    let stored = store
        .reports(&w.actor.org_id, &w.integration.id, ReportQuery { limit: 100, ..Default::default() })
        .await
        .expect("reports");
    assert_eq!(stored.len(), 20);
    let alerts = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts;
    assert_eq!(alerts.len(), 1);
    // Which commit introduced it depends on which ingest took the integration first (an older
    // commit arriving after a newer head is history only): any stored one, never a refused one.
    let introduced = &alerts[0].alert.introduced_by_commit;
    assert!((1..=23u32).filter(|n| !fails_alone(*n)).any(|n| *introduced == sha(n)), "{introduced}");
    assert_eq!(alerts[0].alert.last_seen_commit, sha(23));
}

pub(crate) async fn futures_join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = crate::Result<T>>,
{
    futures_util::future::join_all(futures).await.into_iter().map(|r| r.expect("concurrent ingest")).collect()
}

pub async fn a_cleared_tracked_branch_is_chosen_again_with_its_stored_head(store: &dyn Store) {
    let w = world(store, "acme").await;
    ingest(store, &w, (1..=3).map(|n| report(n, vec![])).collect()).await;
    let clear = crate::IntegrationPatch { tracked_branch: Some(None), ..Default::default() };
    let cleared = store.update_integration(&w.actor, &w.integration.id, clear).await.expect("clear");
    // Cleared is the default: the first report's branch, so the live integration keeps its head.
    assert_eq!(cleared.tracked_branch.as_deref(), Some("main"));
    assert_eq!(cleared.head.map(|h| h.commit_sha), Some(sha(3)));
    // A late report on main, older than the stored commit 3.
    let mut late = report(10, vec![]);
    late.commit_timestamp = NOW + 1500;
    ingest(store, &w, vec![late]).await;
    let i = store.integration(&w.actor.org_id, &w.integration.id).await.expect("integration");
    assert_eq!(i.tracked_branch.as_deref(), Some("main"));
    assert_eq!(i.head.map(|h| h.commit_sha), Some(sha(3)), "the stored newer report stays the head");
}

pub async fn deleting_the_head_moves_it_back_and_re_derives_alerts(store: &dyn Store) {
    let w = world(store, "acme").await;
    let other = world(store, "other").await;
    ingest(store, &w, vec![report(1, vec![])]).await;
    ingest(store, &w, vec![report(2, vec![fails("leak", "db/prod")])]).await;
    let org = &w.actor.org_id;
    let id = &w.integration.id;
    assert!(matches!(
        store.delete_report(&other.actor, id, sha(2).as_str()).await,
        Err(StoreError::NotFound)
    ));
    store.delete_report(&w.actor, id, sha(2).as_str()).await.expect("delete");
    assert_eq!(
        store.integration(org, id).await.expect("integration").head.map(|h| h.commit_sha),
        Some(sha(1))
    );
    assert!(matches!(store.report(org, id, sha(2).as_str()).await, Err(StoreError::NotFound)));
    let q = crate::AlertQuery { integration_id: Some(id.clone()), limit: 10, ..Default::default() };
    let alerts = store.alerts(org, q).await.expect("alerts").alerts;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].alert.status, alerts[0].alert.resolved_by_commit.clone()),
        (clef_core::AlertStatus::Resolved, Some(sha(1)))
    );
    let log = store.audit_log(org, None, 5).await.expect("audit");
    assert_eq!(log[0].action, "report.delete");
    assert!(matches!(store.delete_report(&w.actor, id, sha(2).as_str()).await, Err(StoreError::NotFound)));
    // Deleting a history report leaves the head and the alerts alone.
    ingest(store, &w, vec![report(3, vec![fails("leak", "db/prod")])]).await;
    store.delete_report(&w.actor, id, sha(1).as_str()).await.expect("delete history");
    assert_eq!(
        store.integration(org, id).await.expect("integration").head.map(|h| h.commit_sha),
        Some(sha(3))
    );
}
