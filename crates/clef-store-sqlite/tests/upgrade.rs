#![allow(clippy::expect_used, clippy::unwrap_used)]
//! A database written by the previous release opens with this code and reads back whole.
//!
//! `fixtures/release-f80ff0e.db` is the demo organisation (30 days of history, open,
//! acknowledged and resolved alerts, channels and their delivery log) as the release at commit
//! f80ff0e wrote it: `clef-pro demo`, stopped, then `VACUUM INTO` to fold in its WAL.

use clef_store::{AlertQuery, IngestBatch, ReportQuery, Store};
use sqlx::Row;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/release-f80ff0e.db");

async fn count(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(pool).await.expect(sql).get::<i64, _>(0)
}

#[tokio::test]
async fn a_database_of_the_previous_release_opens_and_reads_back_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("clef-pro.db");
    std::fs::copy(FIXTURE, &path).expect("copy fixture");
    let url = format!("sqlite://{}", path.display());

    // What the old release stored, counted behind the store's back.
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    let reports = count(&raw, "SELECT COUNT(*) FROM reports").await;
    let open = count(&raw, "SELECT COUNT(*) FROM alerts WHERE status = 'open'").await;
    let resolved = count(&raw, "SELECT COUNT(*) FROM alerts WHERE status = 'resolved'").await;
    let acknowledged = count(&raw, "SELECT COUNT(*) FROM alerts WHERE acknowledged_at IS NOT NULL").await;
    let messages = count(&raw, "SELECT COUNT(*) FROM outbox").await;
    let attempts = count(&raw, "SELECT COUNT(*) FROM delivery_attempts").await;
    let version = count(&raw, "SELECT MAX(version) FROM _sqlx_migrations").await;
    let tokens = count(&raw, "SELECT COUNT(*) FROM personal_tokens").await;
    raw.close().await;
    assert!(reports >= 30 && open > 0 && resolved > 0 && acknowledged > 0 && messages > 0, "a rich fixture");
    assert_eq!(version, 3, "written before this release's migrations");

    let store = clef_store_sqlite::open(&url).await.expect("the new code opens and migrates it");
    let user = store.user_by_email("demo@clef.example").await.expect("read").expect("the demo user");
    let org = &user.org_id;
    // Users became people with memberships: the owner keeps their role, password and tokens.
    assert_eq!(user.role, clef_store::Role::Owner);
    assert!(user.password_hash.as_deref().is_some_and(|h| h.starts_with("$argon2")));
    assert_eq!(store.tokens(&user.id, org).await.expect("tokens").len() as i64, tokens);
    assert!(tokens > 0, "the fixture has a token to carry over");
    let integrations = store.integrations(org).await.expect("integrations");
    assert!(!integrations.is_empty());

    let mut seen_reports = 0;
    let mut seen_messages = 0;
    let mut seen_attempts = 0;
    for i in &integrations {
        let metas = store
            .reports(org, &i.id, ReportQuery { branch: None, limit: 1000, before: None })
            .await
            .expect("report list");
        for m in &metas {
            // Every stored report decodes, with the fields this release added at their defaults.
            let r = store.report(org, &i.id, m.commit_sha.as_str()).await.expect("report decodes");
            assert_eq!(r.report.source, clef_core::ReportSource::Json);
            assert_eq!(r.report.issue_counts, None);
        }
        seen_reports += metas.len() as i64;
        let deliveries = store
            .deliveries(org, &i.id, clef_store::DeliveryQuery::latest(1000))
            .await
            .expect("delivery log");
        seen_messages += deliveries.len() as i64;
        seen_attempts += deliveries.iter().map(|d| d.attempts.len() as i64).sum::<i64>();
        if let Some(head) = store.head_report(org, &i.id).await.expect("head") {
            let matrix = clef_core::Matrix::of(&head.report);
            assert!(!matrix.rows.is_empty(), "the head's matrix draws");
            // An identical retry of a report stored by the old release is still a no-op: its
            // stored digest matches what this release computes.
            let batch = IngestBatch {
                integration_id: i.id.clone(),
                reports: vec![head.report.clone()],
                received_at: 1,
            };
            let out = store.ingest(batch).await.expect("retry");
            assert_eq!((out.written, out.evaluated, out.messages), (0, false, 0));
            // A new commit beside the old ones: stored the new way (shared parts), read alike.
            let mut next = head.report.clone();
            next.commit_sha = clef_core::CommitSha::parse(&"e".repeat(40)).expect("sha");
            next.commit_timestamp += 1;
            let batch =
                IngestBatch { integration_id: i.id.clone(), reports: vec![next.clone()], received_at: 2 };
            assert_eq!(store.ingest(batch).await.expect("new commit").written, 1);
            let stored = store.report(org, &i.id, next.commit_sha.as_str()).await.expect("read back");
            assert_eq!(stored.report, next);
        }
    }
    assert_eq!(seen_reports, reports);
    assert_eq!((seen_messages, seen_attempts), (messages, attempts));
    let all =
        store.alerts(org, AlertQuery { limit: 1000, ..Default::default() }).await.expect("alerts").alerts;
    assert_eq!(all.iter().filter(|a| a.alert.is_open()).count() as i64, open);
    assert_eq!(all.iter().filter(|a| !a.alert.is_open()).count() as i64, resolved);
    assert_eq!(all.iter().filter(|a| a.alert.acknowledgement.is_some()).count() as i64, acknowledged);
}
