//! The alert lifecycle: from the open alerts, the head report and the tracked-branch history
//! before it, decide which alerts open, recur and resolve. Pure: the caller does all I/O.

use crate::{Alert, AlertId, AlertKey, AlertStatus, CommitSha, Millis, PolicyResult, Report};
use std::collections::{BTreeMap, HashSet};

/// One stored tracked-branch report before the head: its commit and what failed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub commit: CommitSha,
    pub failing: HashSet<AlertKey>,
}

impl HistoryEntry {
    pub fn new(commit: CommitSha, results: &[PolicyResult]) -> Self {
        Self { commit, failing: failing_results(results).into_keys().collect() }
    }
}

pub struct EvalInput<'a> {
    pub head: &'a Report,
    /// The integration's open alerts (acknowledged or not).
    pub open_alerts: &'a [Alert],
    /// Tracked-branch reports before the head, newest first. May be a prefix of the full
    /// history: see [`EvalOutcome::NeedMoreHistory`].
    pub history: &'a [HistoryEntry],
    /// `history` reaches back to the oldest stored report.
    pub history_complete: bool,
    pub now: Millis,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Opened by this evaluation, in rule/scope order. Their `id` is empty.
    pub opened: Vec<Alert>,
    /// Still failing: the stored alert with its last-seen commit, time and count moved.
    pub recurring: Vec<Alert>,
    /// No longer failing in the head: resolved, with the commit that fixed it.
    pub resolved: Vec<Alert>,
}

impl Evaluation {
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.recurring.is_empty() && self.resolved.is_empty()
    }

    /// What the concept document says to notify: new alerts first, then the recurring ones
    /// nobody acknowledged. Resolutions are not in it.
    pub fn to_notify(&self) -> impl Iterator<Item = &Alert> {
        self.opened.iter().chain(self.recurring.iter().filter(|a| !a.is_acknowledged()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalOutcome {
    Done(Evaluation),
    /// A run reached the end of the history given while more is stored: call again with
    /// a longer history.
    NeedMoreHistory,
}

/// The failing results of a report, one per rule+scope: where several fail, the most
/// severe (the first of those) speaks for them.
pub fn failing_results(results: &[PolicyResult]) -> BTreeMap<AlertKey, &PolicyResult> {
    let mut out: BTreeMap<AlertKey, &PolicyResult> = BTreeMap::new();
    for r in results.iter().filter(|r| !r.passed) {
        let key = AlertKey { rule_id: r.rule_id.clone(), scope: r.scope.clone() };
        out.entry(key)
            .and_modify(|kept| {
                if r.severity.rank() > kept.severity.rank() {
                    *kept = r;
                }
            })
            .or_insert(r);
    }
    out
}

/// The oldest commit of the unbroken run, ending at the head, whose entries satisfy `in_run`.
/// `None` when the run reaches the end of an incomplete history.
fn run_start(
    head: &CommitSha,
    history: &[HistoryEntry],
    complete: bool,
    in_run: impl Fn(&HistoryEntry) -> bool,
) -> Option<CommitSha> {
    let mut start = head;
    for entry in history {
        if !in_run(entry) {
            return Some(start.clone());
        }
        start = &entry.commit;
    }
    complete.then(|| start.clone())
}

pub fn evaluate(input: &EvalInput<'_>) -> EvalOutcome {
    let head = &input.head.commit_sha;
    let failing = failing_results(&input.head.policy_results);
    let mut eval = Evaluation::default();
    let mut open_keys = HashSet::with_capacity(input.open_alerts.len());

    for alert in input.open_alerts.iter().filter(|a| a.is_open()) {
        let key = alert.key();
        if failing.contains_key(&key) {
            let mut recurring = alert.clone();
            recurring.last_seen_commit = head.clone();
            recurring.last_seen_at = input.now;
            recurring.occurrences += 1;
            eval.recurring.push(recurring);
        } else {
            let Some(fixed_by) =
                run_start(head, input.history, input.history_complete, |e| !e.failing.contains(&key))
            else {
                return EvalOutcome::NeedMoreHistory;
            };
            let mut resolved = alert.clone();
            resolved.status = AlertStatus::Resolved;
            resolved.resolved_by_commit = Some(fixed_by);
            resolved.resolved_at = Some(input.now);
            eval.resolved.push(resolved);
        }
        open_keys.insert(key);
    }

    for (key, result) in failing {
        if open_keys.contains(&key) {
            continue;
        }
        let Some(introduced) =
            run_start(head, input.history, input.history_complete, |e| e.failing.contains(&key))
        else {
            return EvalOutcome::NeedMoreHistory;
        };
        eval.opened.push(Alert {
            id: AlertId::default(),
            rule_id: key.rule_id,
            rule_name: result.rule_name.clone(),
            scope: key.scope,
            severity: result.severity,
            message: result.message.clone(),
            status: AlertStatus::Open,
            acknowledgement: None,
            introduced_by_commit: introduced,
            resolved_by_commit: None,
            last_seen_commit: head.clone(),
            first_seen_at: input.now,
            last_seen_at: input.now,
            resolved_at: None,
            occurrences: 1,
        });
    }
    EvalOutcome::Done(eval)
}

#[cfg(test)]
mod tests;
