//! Behaviours every backend must show, as small generic checks. A backend's test file calls
//! [`conformance_suite!`] with a fixture, giving each check its own test name.

mod alerts;
mod ingest;
mod members;
mod operations;
mod outbox;
mod tenancy;
mod triage;

pub use alerts::*;
pub use ingest::*;
pub use members::*;
pub use operations::*;
pub use outbox::*;
pub use tenancy::*;
pub use triage::*;

use crate::{Actor, IngestBatch, IngestOutcome, Integration, NewIntegration, NewUser, Role, Store, User};
use clef_core::{CommitSha, IntegrationId, OrgId, PolicyResult, Report, Scope, Severity, Summary};
use std::sync::Arc;

/// A fresh, empty store and whatever keeps it alive (a temporary folder, a database).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub guard: Box<dyn std::any::Any + Send + Sync>,
    /// Runs one SQL statement behind the store's back, for checks that damage stored rows.
    pub raw_sql: RawSql,
}

pub type RawSql =
    Arc<dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Expands to one `#[tokio::test]` per check, each on a fresh store from `$fixture().await`
/// (an `Option<TestStore>`: `None` skips, for a backend whose server is not there).
#[macro_export]
macro_rules! conformance_suite {
    ($fixture:path) => {
        $crate::conformance_suite!(@each $fixture;
            replacing_a_commit_keeps_its_id_and_takes_the_new_content,
            identical_resubmission_writes_and_evaluates_nothing,
            replacing_the_heads_report_re_derives_alerts,
            head_is_the_newest_commit_and_ties_go_to_the_later_in_a_batch,
            a_report_older_than_the_head_is_history_only,
            reports_off_the_tracked_branch_never_touch_alerts,
            tracked_branch_defaults_to_the_first_reports_branch,
            a_cleared_tracked_branch_is_chosen_again_with_its_stored_head,
            batch_is_one_evaluation_of_its_head,
            ingest_into_a_missing_integration_writes_nothing,
            deleting_the_head_moves_it_back_and_re_derives_alerts,
            reports_list_newest_first_with_a_cursor,
            the_concept_lifecycle_runs_through_the_store,
            backfill_attributes_introduction_and_resolution_to_the_real_commits,
            a_rule_absent_from_the_head_resolves_its_alert,
            a_gap_sent_detached_is_attributed_to_its_real_commits,
            racing_identical_batches_store_once_and_open_one_alert,
            racing_different_batches_keep_one_open_alert_per_rule_and_scope,
            ingests_arriving_together_fail_apart,
            acknowledgement_is_recorded_undone_and_audited,
            alert_filters_select_by_status_acknowledgement_and_severity,
            foreign_organisations_see_nothing,
            api_keys_authenticate_until_revoked,
            users_are_unique_and_tokens_authenticate_until_revoked,
            integrations_update_and_delete_with_audit,
            each_evaluation_writes_one_message_per_channel_with_something_to_say,
            retries_history_and_acknowledged_alerts_send_nothing,
            a_backfilled_batch_is_one_message_per_channel,
            claims_are_leased_and_taken_over_when_the_lease_runs_out,
            attempts_are_recorded_and_failures_end_visibly,
            channels_belong_to_their_organisation_and_take_their_queue_with_them,
            secret_targets_are_shown_as_hints_and_opened_only_for_delivery,
            sessions_live_until_they_expire_or_are_deleted,
            the_overview_lists_heads_counts_and_trends_per_integration,
            retention_keeps_the_head_and_every_report_an_alert_names,
            retention_ends_old_deliveries_and_audit_entries_but_never_pending_ones,
            stats_count_open_alerts_by_severity_and_acknowledgement,
            the_inbox_filters_counts_and_pages_across_integrations,
            acknowledgements_keep_their_history_reason_and_snooze,
            an_alert_knows_its_reports_its_messages_and_its_commit_times,
            an_acknowledgement_after_queueing_silences_the_message,
            a_repeat_interval_quiets_a_channel_about_alerts_it_was_told_of,
            alert_spans_give_lifetimes_per_integration_and_organisation,
            roles_change_and_the_last_owner_stays,
            a_removed_member_loses_that_organisation_at_once_and_keeps_the_others,
            invitations_are_single_use_expire_and_can_be_revoked,
            people_see_end_and_switch_their_sessions_and_a_new_password_ends_the_others,
            single_sign_on_is_sealed_single_use_and_joins_people_just_in_time,
        );
        $crate::conformance_suite!(@whole $fixture;
            an_unreadable_message_is_parked_and_the_queue_flows,
        );
    };
    // Checks that need more of the fixture than the store (its raw SQL).
    (@whole $fixture:path; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let t: Option<$crate::conformance::TestStore> = $fixture().await;
                if let Some(t) = t {
                    $crate::conformance::$check(&t).await;
                }
            }
        )+
    };
    (@each $fixture:path; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let t: Option<$crate::conformance::TestStore> = $fixture().await;
                if let Some(t) = t {
                    $crate::conformance::$check(t.store.as_ref()).await;
                    drop(t);
                }
            }
        )+
    };
}

pub(crate) const NOW: i64 = 1_732_400_000_000;

pub(crate) fn sha(n: u32) -> CommitSha {
    CommitSha::parse(&format!("{n:040x}")).expect("valid sha")
}

pub(crate) fn result(rule: &str, scope: &str, passed: bool, severity: Severity) -> PolicyResult {
    PolicyResult {
        rule_id: rule.into(),
        rule_name: format!("{rule} rule"),
        passed,
        severity,
        message: format!("{rule} failed at {scope}"),
        scope: Scope::parse(scope).expect("valid scope"),
    }
}

pub(crate) fn fails(rule: &str, scope: &str) -> PolicyResult {
    result(rule, scope, false, Severity::Critical)
}

/// Commit `n` on `branch`, committed at second `n`.
pub(crate) fn report_on(branch: &str, n: u32, results: Vec<PolicyResult>) -> Report {
    Report {
        commit_sha: sha(n),
        branch: branch.into(),
        commit_timestamp: NOW + i64::from(n) * 1000,
        cli_version: Some("0.1.30".into()),
        repo_origin: None,
        summary: Summary {
            files_scanned: 2,
            namespaces: vec!["db".into()],
            environments: vec!["prod".into()],
            cells: vec![clef_core::Cell {
                namespace: "db".into(),
                environment: "prod".into(),
                health_status: clef_core::Health::Healthy,
                description: format!("commit {n}"),
            }],
            violations: results.iter().filter(|r| !r.passed).count() as u64,
            passed: results.iter().all(|r| r.passed),
        },
        drift: vec![],
        policy_results: results,
        ci_context: None,
        source: Default::default(),
        issue_counts: None,
    }
}

pub(crate) fn report(n: u32, results: Vec<PolicyResult>) -> Report {
    report_on("main", n, results)
}

pub(crate) fn is_not_found<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(crate::StoreError::NotFound))
}

/// The organisation's audit actions, newest first.
pub(crate) async fn actions(store: &dyn Store, org: &OrgId) -> Vec<String> {
    store.audit_log(org, None, 50).await.expect("audit").into_iter().map(|e| e.action).collect()
}

/// An organisation with an owner and one integration.
pub(crate) struct World {
    pub user: User,
    pub actor: Actor,
    pub integration: Integration,
}

pub(crate) async fn world(store: &dyn Store, org: &str) -> World {
    let user = store
        .create_user(NewUser {
            org_name: org.into(),
            email: format!("owner@{org}.example"),
            password_hash: "$argon2id$not-a-real-hash".into(),
            role: Role::Owner,
            now: NOW,
        })
        .await
        .expect("create user");
    let actor = user.actor(NOW);
    let integration = store
        .create_integration(
            &actor,
            NewIntegration { name: "secrets".into(), tracked_branch: None, config: Default::default() },
        )
        .await
        .expect("create integration");
    World { user, actor, integration }
}

pub(crate) async fn ingest(store: &dyn Store, w: &World, reports: Vec<Report>) -> IngestOutcome {
    ingest_to(store, &w.integration.id, reports).await
}

pub(crate) async fn ingest_to(
    store: &dyn Store,
    integration_id: &IntegrationId,
    reports: Vec<Report>,
) -> IngestOutcome {
    // Received a little after the newest commit was made, as in life.
    let received_at = reports.iter().map(|r| r.commit_timestamp).max().unwrap_or(NOW) + 500;
    store
        .ingest(IngestBatch { integration_id: integration_id.clone(), reports, received_at })
        .await
        .expect("ingest")
}
