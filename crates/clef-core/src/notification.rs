//! Who hears about an evaluation: one message per channel that has something to say.

use crate::{Alert, CommitSha, Evaluation, Severity};
use serde::{Deserialize, Serialize};

/// What a channel wants to hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRule {
    pub channel_id: String,
    pub min_severity: Severity,
    pub notify_on_resolve: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertChange {
    New,
    Recurring,
    Resolved,
}

/// One alert as a message shows it: only stored facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestAlert {
    pub alert_id: String,
    pub change: AlertChange,
    pub severity: Severity,
    pub rule_id: String,
    pub rule_name: String,
    pub scope: String,
    pub message: String,
    pub introduced_by_commit: CommitSha,
    pub resolved_by_commit: Option<CommitSha>,
}

/// The content of one message: an evaluation's alerts for one channel, or a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    pub integration_id: String,
    pub integration_name: String,
    /// `None` for a test message.
    pub commit_sha: Option<CommitSha>,
    pub branch: String,
    pub pipeline_url: Option<String>,
    /// New first, then recurring, then resolved.
    pub alerts: Vec<DigestAlert>,
}

impl Digest {
    /// The subject line: the integration, the counts and the short commit.
    pub fn subject(&self) -> String {
        let Some(commit) = &self.commit_sha else {
            return format!("[Clef Pro] Test message for {}", self.integration_name);
        };
        let parts: Vec<String> = [
            (AlertChange::New, "new"),
            (AlertChange::Recurring, "still failing"),
            (AlertChange::Resolved, "resolved"),
        ]
        .into_iter()
        .filter_map(|(change, word)| {
            let n = self.count(change);
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
        let noun = if self.alerts.len() == 1 { "alert" } else { "alerts" };
        format!("[Clef Pro] {}: {} {noun} at {}", self.integration_name, parts.join(", "), commit.short())
    }

    pub fn is_test(&self) -> bool {
        self.commit_sha.is_none()
    }

    pub fn count(&self, change: AlertChange) -> usize {
        self.alerts.iter().filter(|a| a.change == change).count()
    }
}

/// The alerts each channel is to be told about. Channels with nothing to say are left out.
/// Acknowledged alerts never appear; resolutions only where the channel opted in.
pub fn plan(evaluation: &Evaluation, channels: &[ChannelRule]) -> Vec<(String, Vec<DigestAlert>)> {
    channels
        .iter()
        .filter_map(|ch| {
            let pick = |alerts: &[Alert], change: AlertChange| -> Vec<DigestAlert> {
                alerts
                    .iter()
                    .filter(|a| a.severity.reaches(ch.min_severity))
                    .filter(|a| change == AlertChange::Resolved || !a.is_acknowledged())
                    .map(|a| digest_alert(a, change))
                    .collect()
            };
            let mut alerts = pick(&evaluation.opened, AlertChange::New);
            alerts.extend(pick(&evaluation.recurring, AlertChange::Recurring));
            if ch.notify_on_resolve {
                alerts.extend(pick(&evaluation.resolved, AlertChange::Resolved));
            }
            (!alerts.is_empty()).then(|| (ch.channel_id.clone(), alerts))
        })
        .collect()
}

fn digest_alert(a: &Alert, change: AlertChange) -> DigestAlert {
    DigestAlert {
        alert_id: a.id.clone(),
        change,
        severity: a.severity,
        rule_id: a.rule_id.clone(),
        rule_name: a.rule_name.clone(),
        scope: a.scope.canonical(),
        message: a.message.clone(),
        introduced_by_commit: a.introduced_by_commit.clone(),
        resolved_by_commit: a.resolved_by_commit.clone(),
    }
}

/// The channel kinds Clef Pro can deliver to.
pub const CHANNEL_KINDS: &[&str] = &["email"];

/// Checks and normalises a channel target for its kind (an e-mail address for `email`).
pub fn validate_target(kind: &str, raw: &str) -> Result<String, String> {
    match kind {
        "email" => {
            let raw = raw.trim();
            if raw.len() > 254 {
                return Err("an e-mail address has at most 254 characters".into());
            }
            raw.parse::<email_address::EmailAddress>()
                .map(|a| a.to_string())
                .map_err(|e| format!("not an e-mail address: {e}"))
        }
        other => Err(format!("unknown channel {other:?}: expected one of {}", CHANNEL_KINDS.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Acknowledgement, AlertStatus, Scope};

    fn alert(id: &str, severity: Severity, acked: bool) -> Alert {
        let sha = CommitSha::parse(&"a".repeat(40)).expect("sha");
        Alert {
            id: id.into(),
            rule_id: id.into(),
            rule_name: id.into(),
            scope: Scope::parse("ns/env").expect("valid scope"),
            severity,
            message: String::new(),
            status: AlertStatus::Open,
            acknowledgement: acked.then(|| Acknowledgement { by: "x".into(), at: 0 }),
            introduced_by_commit: sha.clone(),
            resolved_by_commit: None,
            last_seen_commit: sha,
            first_seen_at: 0,
            last_seen_at: 0,
            resolved_at: None,
            occurrences: 1,
        }
    }

    fn channel(id: &str, min: Severity, resolve: bool) -> ChannelRule {
        ChannelRule { channel_id: id.into(), min_severity: min, notify_on_resolve: resolve }
    }

    fn ids(plan: &[(String, Vec<DigestAlert>)], channel: &str) -> Vec<String> {
        plan.iter()
            .find(|(c, _)| c == channel)
            .map(|(_, a)| a.iter().map(|d| format!("{}:{:?}", d.alert_id, d.change)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn severity_filter_acknowledgement_and_order() {
        let evaluation = Evaluation {
            opened: vec![
                alert("new-warn", Severity::Warning, false),
                alert("new-crit", Severity::Critical, false),
            ],
            recurring: vec![
                alert("rec-err", Severity::Error, false),
                alert("rec-acked", Severity::Critical, true),
            ],
            resolved: vec![alert("fixed", Severity::Critical, true)],
        };
        let channels = [
            channel("security", Severity::Critical, false),
            channel("dev-lead", Severity::Warning, false),
            channel("audit", Severity::Info, true),
        ];
        let p = plan(&evaluation, &channels);
        assert_eq!(ids(&p, "security"), ["new-crit:New", "rec-err:Recurring"]);
        assert_eq!(ids(&p, "dev-lead"), ["new-warn:New", "new-crit:New", "rec-err:Recurring"]);
        assert_eq!(ids(&p, "audit"), ["new-warn:New", "new-crit:New", "rec-err:Recurring", "fixed:Resolved"]);
    }

    #[test]
    fn channels_with_nothing_to_say_get_no_message() {
        let evaluation = Evaluation {
            opened: vec![alert("w", Severity::Warning, false)],
            recurring: vec![alert("acked", Severity::Critical, true)],
            resolved: vec![alert("fixed", Severity::Critical, false)],
        };
        let p = plan(&evaluation, &[channel("security", Severity::Critical, false)]);
        assert!(p.is_empty());
        assert!(plan(&Evaluation::default(), &[channel("any", Severity::Info, true)]).is_empty());
    }
}
