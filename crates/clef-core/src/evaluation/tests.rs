//! The lifecycle, case by case, plus an exhaustive sweep of short histories.

use super::*;
use crate::{Acknowledgement, Scope, Severity, Summary};

fn sha(n: u32) -> CommitSha {
    CommitSha::parse(&format!("{n:040x}")).expect("valid sha")
}

fn result(rule: &str, scope: &str, passed: bool, severity: Severity) -> PolicyResult {
    PolicyResult {
        rule_id: rule.into(),
        rule_name: format!("{rule} name"),
        passed,
        severity,
        message: format!("{rule} at {scope}"),
        scope: Scope::parse(scope).expect("valid scope"),
    }
}

fn fails(rule: &str, scope: &str) -> PolicyResult {
    result(rule, scope, false, Severity::Critical)
}

fn passes(rule: &str, scope: &str) -> PolicyResult {
    result(rule, scope, true, Severity::Critical)
}

fn report(n: u32, results: Vec<PolicyResult>) -> Report {
    Report {
        commit_sha: sha(n),
        branch: "main".into(),
        commit_timestamp: i64::from(n) * 1000,
        cli_version: None,
        repo_origin: None,
        summary: Summary {
            files_scanned: 1,
            namespaces: vec![],
            environments: vec![],
            cells: vec![],
            violations: 0,
            passed: true,
        },
        drift: vec![],
        policy_results: results,
        ci_context: None,
        source: Default::default(),
        issue_counts: None,
    }
}

/// A tiny stand-in for the store: tracked-branch reports in order, and all alerts.
#[derive(Default)]
struct Timeline {
    reports: Vec<Report>,
    alerts: Vec<Alert>,
    next_id: u32,
}

impl Timeline {
    fn push(&mut self, head: Report) -> Evaluation {
        let history: Vec<HistoryEntry> = self
            .reports
            .iter()
            .rev()
            .map(|r| HistoryEntry::new(r.commit_sha.clone(), r.commit_timestamp, &r.policy_results))
            .collect();
        let open: Vec<Alert> = self.alerts.iter().filter(|a| a.is_open()).cloned().collect();
        let now = head.commit_timestamp + 1;
        let input =
            EvalInput { head: &head, open_alerts: &open, history: &history, history_complete: true, now };
        let EvalOutcome::Done(eval) = evaluate(&input) else { panic!("complete history") };
        self.apply(&eval);
        self.reports.push(head);
        eval
    }

    fn apply(&mut self, eval: &Evaluation) {
        for changed in eval.recurring.iter().chain(&eval.resolved) {
            let slot = self.alerts.iter_mut().find(|a| a.id == changed.id).expect("known alert");
            *slot = changed.clone();
        }
        for opened in &eval.opened {
            self.next_id += 1;
            self.alerts.push(Alert { id: format!("a{}", self.next_id).into(), ..opened.clone() });
        }
    }

    fn acknowledge(&mut self, id: &AlertId, acknowledged: bool) {
        let a = self.alerts.iter_mut().find(|a| &a.id == id).expect("known alert");
        a.acknowledgement =
            acknowledged.then(|| Acknowledgement::new("u@acme.com", 1, None, None).expect("valid"));
    }

    fn open(&self) -> Vec<&Alert> {
        self.alerts.iter().filter(|a| a.is_open()).collect()
    }
}

fn notified(eval: &Evaluation) -> Vec<String> {
    eval.to_notify(0).map(|a| format!("{}@{}", a.rule_id, a.scope)).collect()
}

#[test]
fn the_concept_documents_lifecycle_step_by_step() {
    let mut t = Timeline::default();
    let (abc, def, ghi, jkl, mno) = (1, 2, 3, 4, 5);

    // abc: missing_keys fails for oauth/production → alert opened, notified.
    let e = t.push(report(abc, vec![fails("missing_keys", "oauth/production")]));
    assert_eq!(e.opened.len(), 1);
    assert_eq!(notified(&e), ["missing_keys@oauth/production"]);
    let first = t.open()[0].clone();
    assert_eq!(first.introduced_by_commit, sha(abc));
    assert!(!first.is_acknowledged(0));

    // def: still failing → unchanged but for last-seen, notified again.
    let e = t.push(report(def, vec![fails("missing_keys", "oauth/production")]));
    assert!(e.opened.is_empty() && e.resolved.is_empty());
    assert_eq!(notified(&e), ["missing_keys@oauth/production"]);
    let a = t.open()[0].clone();
    assert_eq!((a.id.as_str(), a.introduced_by_commit.clone()), (first.id.as_str(), sha(abc)));
    assert_eq!((a.last_seen_commit.clone(), a.occurrences), (sha(def), 2));

    // The user acknowledges: still open, now acknowledged.
    t.acknowledge(&first.id, true);
    assert_eq!(t.open().len(), 1);

    // ghi: still failing → recurring, acknowledged, not notified.
    let e = t.push(report(ghi, vec![fails("missing_keys", "oauth/production")]));
    assert_eq!(e.recurring.len(), 1);
    assert!(e.recurring[0].is_acknowledged(0) && e.recurring[0].is_open());
    assert!(notified(&e).is_empty());

    // jkl: passes → resolved by jkl, not notified.
    let e = t.push(report(jkl, vec![passes("missing_keys", "oauth/production")]));
    assert_eq!(e.resolved.len(), 1);
    assert_eq!(e.resolved[0].resolved_by_commit, Some(sha(jkl)));
    assert!(notified(&e).is_empty());
    assert!(t.open().is_empty());

    // mno: fails again → a fresh alert, a fresh lifecycle, notified.
    let e = t.push(report(mno, vec![fails("missing_keys", "oauth/production")]));
    assert_eq!(e.opened.len(), 1);
    assert_eq!(notified(&e), ["missing_keys@oauth/production"]);
    let fresh = t.open()[0].clone();
    assert_ne!(fresh.id, first.id);
    assert_eq!(fresh.introduced_by_commit, sha(mno));
    assert!(!fresh.is_acknowledged(0));
    assert_eq!(t.alerts.len(), 2);
}

#[test]
fn backfill_names_the_commit_that_really_introduced_the_failure() {
    // Stored before the batch: 1 passes. The batch 2..=5 fails from 3 on; 5 is the head.
    let history = [
        HistoryEntry::new(sha(4), 4000, &[fails("r", "ns/env")]),
        HistoryEntry::new(sha(3), 3000, &[fails("r", "ns/env")]),
        HistoryEntry::new(sha(2), 2000, &[passes("r", "ns/env")]),
        HistoryEntry::new(sha(1), 1000, &[]),
    ];
    let head = report(5, vec![fails("r", "ns/env")]);
    let input =
        EvalInput { head: &head, open_alerts: &[], history: &history, history_complete: true, now: 9 };
    let EvalOutcome::Done(e) = evaluate(&input) else { panic!() };
    assert_eq!(e.opened[0].introduced_by_commit, sha(3));
    assert_eq!(e.opened[0].last_seen_commit, sha(5));
}

#[test]
fn backfill_names_the_commit_that_really_fixed_the_failure() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("r", "ns")]));
    let open = t.open().into_iter().cloned().collect::<Vec<_>>();
    // A batch 2..=4: 2 still fails, 3 and 4 pass (3 by omission); 4 is the head.
    let history = [
        HistoryEntry::new(sha(3), 3000, &[]),
        HistoryEntry::new(sha(2), 2000, &[fails("r", "ns")]),
        HistoryEntry::new(sha(1), 1000, &[fails("r", "ns")]),
    ];
    let head = report(4, vec![passes("r", "ns")]);
    let input =
        EvalInput { head: &head, open_alerts: &open, history: &history, history_complete: true, now: 9 };
    let EvalOutcome::Done(e) = evaluate(&input) else { panic!() };
    assert_eq!(e.resolved[0].resolved_by_commit, Some(sha(3)));
    assert_eq!(e.resolved[0].introduced_by_commit, sha(1));
}

#[test]
fn a_run_reaching_the_end_of_a_partial_history_asks_for_more() {
    let history = [HistoryEntry::new(sha(1), 1000, &[fails("r", "")])];
    let head = report(2, vec![fails("r", "")]);
    let partial =
        EvalInput { head: &head, open_alerts: &[], history: &history, history_complete: false, now: 0 };
    assert_eq!(evaluate(&partial), EvalOutcome::NeedMoreHistory);
    let complete = EvalInput { history_complete: true, ..partial };
    let EvalOutcome::Done(e) = evaluate(&complete) else { panic!() };
    assert_eq!(e.opened[0].introduced_by_commit, sha(1));
}

#[test]
fn a_run_that_breaks_inside_a_partial_history_needs_no_more() {
    let history = [HistoryEntry::new(sha(1), 1000, &[])];
    let head = report(2, vec![fails("r", "")]);
    let input =
        EvalInput { head: &head, open_alerts: &[], history: &history, history_complete: false, now: 0 };
    assert!(matches!(evaluate(&input), EvalOutcome::Done(_)));
}

#[test]
fn a_rule_and_scope_absent_from_the_head_resolves_its_alert() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("a", "x/y"), fails("b", "x/y")]));
    let e = t.push(report(2, vec![fails("b", "x/y")]));
    assert_eq!(e.resolved.len(), 1);
    assert_eq!(e.resolved[0].rule_id, "a");
    assert_eq!(e.resolved[0].resolved_by_commit, Some(sha(2)));
    assert_eq!(e.recurring.len(), 1);
}

#[test]
fn several_failures_with_one_rule_and_scope_make_one_alert_of_the_worst_severity() {
    let mut t = Timeline::default();
    let e = t.push(report(
        1,
        vec![
            result("r", "db/prod", false, Severity::Warning),
            result("r", "db/prod", false, Severity::Critical),
            result("r", "db/prod", false, Severity::Info),
        ],
    ));
    assert_eq!(e.opened.len(), 1);
    assert_eq!(e.opened[0].severity, Severity::Critical);
}

#[test]
fn scope_forms_that_canonicalise_alike_are_one_alert_and_distinct_scopes_are_not() {
    let mut t = Timeline::default();
    let mut same = fails("r", "db/prod");
    same.scope = Scope::new(Some("db"), Some("prod")).expect("valid scope");
    let e = t.push(report(1, vec![fails("r", "db/prod"), same, fails("r", "db"), fails("r", "")]));
    let scopes: Vec<String> = e.opened.iter().map(|a| a.scope.canonical()).collect();
    assert_eq!(scopes, ["", "db", "db/prod"]);
}

#[test]
fn re_evaluating_the_same_head_opens_and_resolves_nothing() {
    let mut t = Timeline::default();
    let head = report(1, vec![fails("r", "a"), passes("q", "a")]);
    t.push(head.clone());
    let open: Vec<Alert> = t.open().into_iter().cloned().collect();
    let history: Vec<HistoryEntry> = vec![];
    let input =
        EvalInput { head: &head, open_alerts: &open, history: &history, history_complete: true, now: 5 };
    let EvalOutcome::Done(e) = evaluate(&input) else { panic!() };
    assert!(e.opened.is_empty() && e.resolved.is_empty());
    assert_eq!(e.recurring[0].id, open[0].id);
}

#[test]
fn a_passing_result_without_an_alert_changes_nothing() {
    let mut t = Timeline::default();
    assert!(t.push(report(1, vec![passes("r", "a")])).is_empty());
}

#[test]
fn acknowledgement_survives_recurrence_and_resolution_but_never_notifies() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("r", "a")]));
    let id = t.open()[0].id.clone();
    t.acknowledge(&id, true);
    let e = t.push(report(2, vec![fails("r", "a")]));
    assert!(e.recurring[0].is_acknowledged(0) && notified(&e).is_empty());
    t.acknowledge(&id, false);
    let e = t.push(report(3, vec![fails("r", "a")]));
    assert_eq!(notified(&e), ["r@a"]);
}

#[test]
fn resolved_alerts_given_as_input_are_ignored() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("r", "a")]));
    t.push(report(2, vec![]));
    let resolved: Vec<Alert> = t.alerts.clone();
    let head = report(3, vec![]);
    let input =
        EvalInput { head: &head, open_alerts: &resolved, history: &[], history_complete: true, now: 0 };
    assert_eq!(evaluate(&input), EvalOutcome::Done(Evaluation::default()));
}

/// Every sequence of up to 6 reports, each failing or passing one rule+scope, with an
/// acknowledgement toggled or not before each: the invariants of the lifecycle hold.
#[test]
fn exhaustive_short_histories_keep_the_lifecycle_invariants() {
    const LEN: u32 = 6;
    for fail_bits in 0..(1u32 << LEN) {
        for ack_bits in 0..(1u32 << LEN) {
            let mut t = Timeline::default();
            let mut previously_failing = false;
            for step in 0..LEN {
                let failing = fail_bits & (1 << step) != 0;
                if ack_bits & (1 << step) != 0
                    && let Some((id, acked)) = t.open().first().map(|a| (a.id.clone(), a.is_acknowledged(0)))
                {
                    t.acknowledge(&id, !acked);
                }
                let acked_before = t.open().first().is_some_and(|a| a.is_acknowledged(0));
                let results = if failing { vec![fails("r", "n/e")] } else { vec![] };
                let e = t.push(report(step + 1, results));

                // At most one open alert per rule+scope, open exactly while failing.
                assert_eq!(t.open().len(), usize::from(failing));
                // A new alert opens exactly on a pass → fail edge; it resolves on fail → pass.
                assert_eq!(e.opened.len(), usize::from(failing && !previously_failing));
                assert_eq!(e.resolved.len(), usize::from(!failing && previously_failing));
                // Notified: new, or recurring and unacknowledged. Never acknowledged.
                let expect_notify = failing && (!previously_failing || !acked_before);
                assert_eq!(e.to_notify(0).count(), usize::from(expect_notify));
                assert!(e.to_notify(0).all(|a| !a.is_acknowledged(0)));
                if let Some(open) = t.open().first() {
                    // The introducing commit is the first of the current failing run.
                    let run_start = (0..=step).rev().take_while(|s| fail_bits & (1 << s) != 0).last();
                    assert_eq!(Some(open.introduced_by_commit.clone()), run_start.map(|s| sha(s + 1)));
                    // It has failed in every report of the run, and was first seen at the
                    // introducing commit's own time.
                    let run_start = run_start.expect("failing");
                    assert_eq!(open.occurrences, u64::from(step - run_start + 1));
                    assert_eq!(open.first_seen_at, i64::from(run_start + 1) * 1000);
                }
                previously_failing = failing;
            }
            // Every alert ever opened is one failing run; runs = count of pass → fail edges.
            let runs = (0..LEN)
                .filter(|s| fail_bits & (1 << s) != 0 && (*s == 0 || fail_bits & (1 << (s - 1)) == 0))
                .count();
            assert_eq!(t.alerts.len(), runs);
        }
    }
}

/// The same histories delivered as a backfill: the first `split` reports one by one, the rest
/// as one batch evaluated once at its head (as the store does). An alert opened by the batch is
/// introduced at the start of the head's failing run; one open before the batch and passing at
/// its head is resolved by the start of the head's passing run; one still failing at the head
/// stays the same alert.
#[test]
fn exhaustive_backfills_attribute_to_the_real_commits() {
    const LEN: u32 = 6;
    let failing = |bits: u32, step: u32| bits & (1 << step) != 0;
    for fail_bits in 0..(1u32 << LEN) {
        let at = |step: u32| {
            report(step + 1, if failing(fail_bits, step) { vec![fails("r", "n/e")] } else { vec![] })
        };
        // The first commit of the unbroken run ending at the head whose steps fail (or pass).
        let run_start = |fail: bool| {
            (0..LEN).rev().take_while(|s| failing(fail_bits, *s) == fail).last().map(|s| sha(s + 1))
        };
        let head_fails = failing(fail_bits, LEN - 1);
        for split in 0..LEN {
            let mut t = Timeline::default();
            for step in 0..split {
                t.push(at(step));
            }
            let before =
                t.open().first().map(|a| (a.id.clone(), a.introduced_by_commit.clone(), a.occurrences));
            t.reports.extend((split..LEN - 1).map(at));
            let e = t.push(at(LEN - 1));

            assert_eq!(t.open().len(), usize::from(head_fails), "bits {fail_bits:06b}, split {split}");
            assert!(e.opened.len() + e.resolved.len() <= 1, "one evaluation, one rule");
            match (&before, t.open().first()) {
                (Some((id, introduced, occurrences)), Some(open)) => {
                    assert_eq!(
                        (&open.id, &open.introduced_by_commit),
                        (id, introduced),
                        "the same alert goes on"
                    );
                    // The head and the batch's failing reports behind it count.
                    let behind = (split..LEN - 1).rev().take_while(|s| failing(fail_bits, *s)).count();
                    assert_eq!(
                        open.occurrences,
                        occurrences + 1 + behind as u64,
                        "bits {fail_bits:06b}, split {split}"
                    );
                }
                (None, Some(open)) => {
                    assert_eq!(
                        Some(open.introduced_by_commit.clone()),
                        run_start(true),
                        "bits {fail_bits:06b}"
                    );
                    let run = (0..LEN).rev().take_while(|s| failing(fail_bits, *s)).count();
                    assert_eq!(open.occurrences, run as u64, "bits {fail_bits:06b}, split {split}");
                    assert_eq!(Some(&sha((LEN - run as u32) + 1)), Some(&open.introduced_by_commit));
                    assert_eq!(
                        open.first_seen_at,
                        i64::from(LEN - run as u32 + 1) * 1000,
                        "the commit's own time"
                    );
                }
                (Some((id, _, _)), None) => {
                    let resolved = t.alerts.iter().find(|a| &a.id == id).expect("known");
                    assert_eq!(
                        resolved.resolved_by_commit,
                        run_start(false),
                        "bits {fail_bits:06b}, split {split}"
                    );
                    assert_eq!(e.resolved.len(), 1);
                }
                (None, None) => assert!(e.opened.is_empty() && e.resolved.is_empty()),
            }
        }
    }
}

#[test]
fn a_recurring_alert_carries_the_latest_message() {
    let mut t = Timeline::default();
    let mut first = fails("r", "db/prod");
    first.message = "key is 94 days old".into();
    t.push(report(1, vec![first]));
    let mut later = fails("r", "db/prod");
    later.message = "key is 110 days old".into();
    let e = t.push(report(2, vec![later]));
    assert_eq!(e.recurring[0].message, "key is 110 days old");
}

#[test]
fn a_snooze_silences_until_it_ends_then_notifications_resume() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("r", "a")]));
    let alert = t.open()[0].clone();
    let snooze =
        Acknowledgement::new("u@acme.com", 1500, Some("rotating on Friday"), Some(3500)).expect("valid");
    t.alerts[0].acknowledgement = Some(snooze);
    // Report 2 arrives at 2001 (inside the snooze), report 3 at 3001, report 4 at 4001.
    let e = t.push(report(2, vec![fails("r", "a")]));
    assert!(e.to_notify(2001).next().is_none(), "snoozed");
    let e = t.push(report(3, vec![fails("r", "a")]));
    assert!(e.to_notify(3001).next().is_none(), "still snoozed");
    let e = t.push(report(4, vec![fails("r", "a")]));
    assert_eq!(e.to_notify(4001).map(|a| a.id.clone()).collect::<Vec<_>>(), [alert.id]);
    assert!(!e.recurring[0].is_acknowledged(4001) && e.recurring[0].is_acknowledged(3499));
}

#[test]
fn an_acknowledgement_checks_its_reason_and_its_end() {
    assert!(Acknowledgement::new("u", 10, Some("  "), None).expect("valid").reason.is_none());
    assert!(Acknowledgement::new("u", 10, None, Some(10)).is_err(), "a snooze ending now");
    assert!(Acknowledgement::new("u", 10, Some("a\nb"), None).is_err());
    assert!(Acknowledgement::new("u", 10, Some(&"x".repeat(501)), None).is_err());
}

#[test]
fn commit_times_ahead_of_the_clock_are_not_believed() {
    let head = report(9, vec![fails("r", "a")]);
    let input = EvalInput { head: &head, open_alerts: &[], history: &[], history_complete: true, now: 5 };
    let EvalOutcome::Done(e) = evaluate(&input) else { panic!() };
    assert_eq!(e.opened[0].first_seen_at, 5);
}

#[test]
fn a_backfill_behind_the_head_counts_its_failing_reports() {
    let mut t = Timeline::default();
    t.push(report(1, vec![fails("r", "a")]));
    // Reports 2 and 3 arrive in one batch with 4 as head: three more failing reports.
    t.reports.push(report(2, vec![fails("r", "a")]));
    t.reports.push(report(3, vec![fails("r", "a")]));
    let e = t.push(report(4, vec![fails("r", "a")]));
    assert_eq!(e.recurring[0].occurrences, 4);
    // The same head evaluated again counts nothing twice.
    let open: Vec<Alert> = t.open().into_iter().cloned().collect();
    let head = report(4, vec![fails("r", "a")]);
    let history: Vec<HistoryEntry> = vec![];
    let input =
        EvalInput { head: &head, open_alerts: &open, history: &history, history_complete: false, now: 9 };
    let EvalOutcome::Done(e) = evaluate(&input) else { panic!() };
    assert_eq!(e.recurring[0].occurrences, 4);
}
