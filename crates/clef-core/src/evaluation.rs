//! The alert lifecycle: from the open alerts, the head report and the tracked-branch history
//! before it, decide which alerts open, recur and resolve. Pure: the caller does all I/O.

use crate::{Alert, AlertId, AlertKey, AlertStatus, CommitSha, Millis, PolicyResult, Report};
use std::collections::{BTreeMap, HashSet};

/// One stored tracked-branch report before the head: its commit, the commit's own time and
/// what failed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub commit: CommitSha,
    pub committed_at: Millis,
    pub failing: HashSet<AlertKey>,
}

impl HistoryEntry {
    pub fn new(commit: CommitSha, committed_at: Millis, results: &[PolicyResult]) -> Self {
        Self { commit, committed_at, failing: failing_results(results).into_keys().collect() }
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
    /// Opened by this evaluation, in rule/scope order. Their `id` is empty; their first-seen
    /// time is the introducing commit's own time.
    pub opened: Vec<Alert>,
    /// Still failing: the stored alert with its last-seen commit and time, its count of
    /// failing reports (backfilled ones included) and the head's message.
    pub recurring: Vec<Alert>,
    /// No longer failing in the head: resolved, with the commit that fixed it and its time.
    pub resolved: Vec<Alert>,
}

impl Evaluation {
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.recurring.is_empty() && self.resolved.is_empty()
    }

    /// What the concept document says to notify: new alerts first, then the recurring ones
    /// nobody acknowledged (or whose snooze ran out by `now`). Resolutions are not in it.
    pub fn to_notify(&self, now: Millis) -> impl Iterator<Item = &Alert> {
        self.opened.iter().chain(self.recurring.iter().filter(move |a| !a.is_acknowledged(now)))
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

/// The oldest commit of the unbroken run, ending at the head, whose entries satisfy `in_run`,
/// with its commit time and the run's length in reports. `None` when the run reaches the end
/// of an incomplete history.
fn run_start(
    head: &Report,
    history: &[HistoryEntry],
    complete: bool,
    in_run: impl Fn(&HistoryEntry) -> bool,
) -> Option<(CommitSha, Millis, u64)> {
    let mut start = (&head.commit_sha, head.commit_timestamp);
    let mut length = 1;
    for entry in history {
        if !in_run(entry) {
            return Some((start.0.clone(), start.1, length));
        }
        start = (&entry.commit, entry.committed_at);
        length += 1;
    }
    complete.then(|| (start.0.clone(), start.1, length))
}

/// The count of reports in which an open alert has failed, once the head failed too. Reports
/// that arrived behind the head (a backfill) between its last sighting and the head count as
/// well: the walk from the head stops at the last-seen commit. A walk that reaches the
/// introducing commit first (the head moved back, the last-seen report was deleted) counts
/// the whole run afresh. `None` when it reaches the end of an incomplete history.
fn occurrences(
    alert: &Alert,
    key: &AlertKey,
    head: &CommitSha,
    history: &[HistoryEntry],
    complete: bool,
) -> Option<u64> {
    if *head == alert.last_seen_commit {
        return Some(alert.occurrences);
    }
    if *head == alert.introduced_by_commit {
        return Some(1);
    }
    let mut seen = 1;
    for entry in history {
        if entry.commit == alert.last_seen_commit || !entry.failing.contains(key) {
            return Some(alert.occurrences + seen);
        }
        seen += 1;
        if entry.commit == alert.introduced_by_commit {
            return Some(seen);
        }
    }
    complete.then_some(alert.occurrences + seen)
}

pub fn evaluate(input: &EvalInput<'_>) -> EvalOutcome {
    let head = &input.head.commit_sha;
    // A commit time ahead of the server's clock is not believed.
    let at = |t: Millis| t.min(input.now);
    let failing = failing_results(&input.head.policy_results);
    let mut eval = Evaluation::default();
    let mut open_keys = HashSet::with_capacity(input.open_alerts.len());

    for alert in input.open_alerts.iter().filter(|a| a.is_open()) {
        let key = alert.key();
        if let Some(result) = failing.get(&key) {
            let Some(count) = occurrences(alert, &key, head, input.history, input.history_complete) else {
                return EvalOutcome::NeedMoreHistory;
            };
            let mut recurring = alert.clone();
            recurring.last_seen_commit = head.clone();
            recurring.last_seen_at = input.now;
            recurring.occurrences = count;
            recurring.message = result.message.clone();
            eval.recurring.push(recurring);
        } else {
            let Some((fixed_by, fixed_at, _)) =
                run_start(input.head, input.history, input.history_complete, |e| !e.failing.contains(&key))
            else {
                return EvalOutcome::NeedMoreHistory;
            };
            let mut resolved = alert.clone();
            resolved.status = AlertStatus::Resolved;
            resolved.resolved_by_commit = Some(fixed_by);
            resolved.resolved_at = Some(at(fixed_at));
            eval.resolved.push(resolved);
        }
        open_keys.insert(key);
    }

    for (key, result) in failing {
        if open_keys.contains(&key) {
            continue;
        }
        let Some((introduced, introduced_at, run)) =
            run_start(input.head, input.history, input.history_complete, |e| e.failing.contains(&key))
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
            first_seen_at: at(introduced_at),
            last_seen_at: input.now,
            resolved_at: None,
            occurrences: run,
        });
    }
    EvalOutcome::Done(eval)
}

#[cfg(test)]
mod tests;
