//! Who hears about an evaluation: one message per channel that has something to say.

use crate::{Alert, AlertId, ChannelId, CommitSha, Evaluation, IntegrationId, Millis, Severity};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a channel wants to hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRule {
    pub channel_id: ChannelId,
    pub kind: ChannelKind,
    pub min_severity: Severity,
    pub notify_on_resolve: bool,
    /// How long a channel stays quiet about an alert it was told of that is still failing
    /// (Alertmanager's `repeat_interval`); `None` repeats it with every report.
    pub repeat_every: Option<Millis>,
}

/// When each channel was last told about each alert (the message's queueing time).
pub type LastTold = HashMap<ChannelId, HashMap<AlertId, Millis>>;

/// The bounds of a channel's repeat interval: a minute to 30 days.
pub const REPEAT_INTERVAL_BOUNDS: std::ops::RangeInclusive<Millis> = 60_000..=30 * 86_400_000;

/// Checks a repeat interval given in seconds; returns it in milliseconds.
pub fn repeat_interval(seconds: i64) -> Result<Millis, String> {
    let ms = seconds.saturating_mul(1000);
    if REPEAT_INTERVAL_BOUNDS.contains(&ms) {
        Ok(ms)
    } else {
        Err("a repeat interval is 60 seconds to 30 days (2592000 seconds); leave it out to repeat with every report".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertChange {
    New,
    Recurring,
    Resolved,
    /// Someone acknowledged the alert here (for receivers that track alert state).
    Acknowledged,
}

/// One alert as a message shows it: only stored facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestAlert {
    pub alert_id: AlertId,
    pub change: AlertChange,
    pub severity: Severity,
    pub rule_id: String,
    pub rule_name: String,
    pub scope: String,
    pub message: String,
    pub introduced_by_commit: CommitSha,
    pub resolved_by_commit: Option<CommitSha>,
}

/// What a message is about: an evaluation's alert changes, an acknowledgement, or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestEvent {
    Alerts,
    Acknowledgement,
    Test,
}

impl DigestEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alerts => "alerts",
            Self::Acknowledgement => "acknowledgement",
            Self::Test => "test",
        }
    }
}

impl DigestAlert {
    /// The scope for people: an empty one is the whole integration.
    pub fn scope_label(&self) -> &str {
        if self.scope.is_empty() { "whole integration" } else { &self.scope }
    }
}

/// The content of one message: an evaluation's alerts for one channel, or a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    pub integration_id: IntegrationId,
    pub integration_name: String,
    /// `None` for a test message.
    pub commit_sha: Option<CommitSha>,
    pub branch: String,
    pub pipeline_url: Option<String>,
    /// New first, then recurring, then resolved.
    pub alerts: Vec<DigestAlert>,
}

impl Digest {
    /// The alerts a message lists, at most `max`: the most severe first, then new before
    /// recurring before resolved; and how many it leaves out.
    pub fn listed(&self, max: usize) -> (Vec<&DigestAlert>, usize) {
        let mut shown: Vec<&DigestAlert> = self.alerts.iter().collect();
        shown.sort_by_key(|a| (std::cmp::Reverse(a.severity.rank()), a.change as u8));
        let more = shown.len().saturating_sub(max);
        shown.truncate(max);
        (shown, more)
    }

    /// The subject line: the integration, the counts and the short commit.
    pub fn subject(&self) -> String {
        let Some(commit) = &self.commit_sha else {
            return format!("[Clef Pro] Test message for {}", self.integration_name);
        };
        let parts: Vec<String> = [
            (AlertChange::New, "new"),
            (AlertChange::Recurring, "still failing"),
            (AlertChange::Resolved, "resolved"),
            (AlertChange::Acknowledged, "acknowledged"),
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

    /// What the message is about.
    pub fn event(&self) -> DigestEvent {
        if self.is_test() {
            DigestEvent::Test
        } else if self.alerts.iter().all(|a| a.change == AlertChange::Acknowledged) {
            DigestEvent::Acknowledgement
        } else {
            DigestEvent::Alerts
        }
    }

    /// The alerts whose notification an acknowledgement silences: new and recurring ones
    /// (resolutions and acknowledgements are news whatever the state).
    pub fn silenceable(&self) -> impl Iterator<Item = &AlertId> {
        self.alerts
            .iter()
            .filter(|a| matches!(a.change, AlertChange::New | AlertChange::Recurring))
            .map(|a| &a.alert_id)
    }

    /// Leaves out the alerts acknowledged since the message was queued. Returns whether
    /// nothing is left to say.
    pub fn leave_out(&mut self, acknowledged: &[AlertId]) -> bool {
        self.alerts.retain(|a| {
            !(matches!(a.change, AlertChange::New | AlertChange::Recurring)
                && acknowledged.contains(&a.alert_id))
        });
        self.alerts.is_empty()
    }

    pub fn count(&self, change: AlertChange) -> usize {
        self.alerts.iter().filter(|a| a.change == change).count()
    }
}

/// The alerts each channel is to be told about. Channels with nothing to say are left out.
/// Alerts acknowledged at `now` never appear; resolutions only where the channel opted in; a
/// recurring alert only once its channel's repeat interval has passed since `told` says the
/// channel last heard of it.
pub fn plan(
    evaluation: &Evaluation,
    channels: &[ChannelRule],
    told: &LastTold,
    now: Millis,
) -> Vec<(ChannelId, Vec<DigestAlert>)> {
    channels
        .iter()
        .filter_map(|ch| {
            let told = told.get(&ch.channel_id);
            let due = |a: &Alert| match (ch.repeat_every, told.and_then(|t| t.get(&a.id))) {
                (Some(every), Some(at)) => now.saturating_sub(*at) >= every,
                _ => true,
            };
            let pick = |alerts: &[Alert], change: AlertChange| -> Vec<DigestAlert> {
                alerts
                    .iter()
                    .filter(|a| a.severity.reaches(ch.min_severity))
                    .filter(|a| change == AlertChange::Resolved || !a.is_acknowledged(now))
                    .filter(|a| change != AlertChange::Recurring || due(a))
                    .map(|a| digest_alert(a, change))
                    .collect()
            };
            let mut alerts = pick(&evaluation.opened, AlertChange::New);
            alerts.extend(pick(&evaluation.recurring, AlertChange::Recurring));
            if ch.notify_on_resolve || ch.kind.always_resolves() {
                alerts.extend(pick(&evaluation.resolved, AlertChange::Resolved));
            }
            (!alerts.is_empty()).then(|| (ch.channel_id.clone(), alerts))
        })
        .collect()
}

/// The channels to tell that `alert` was acknowledged: those that track alert state and hear
/// its severity.
pub fn plan_acknowledgement(alert: &Alert, channels: &[ChannelRule]) -> Vec<(ChannelId, Vec<DigestAlert>)> {
    channels
        .iter()
        .filter(|ch| ch.kind.hears_acknowledgements() && alert.severity.reaches(ch.min_severity))
        .map(|ch| (ch.channel_id.clone(), vec![digest_alert(alert, AlertChange::Acknowledged)]))
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

/// Where a channel delivers. Each kind has its own target, rendering and retry rules (in
/// `clef-notify`); adding one touches this enum, one notifier module and its tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Slack,
    Teams,
    PagerDuty,
    Webhook,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [Self::Email, Self::Slack, Self::Teams, Self::PagerDuty, Self::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::PagerDuty => "pagerduty",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(raw)).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown channel {raw:?}: expected one of {}", known.join(", "))
        })
    }

    /// The kind's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "E-mail",
            Self::Slack => "Slack",
            Self::Teams => "Microsoft Teams",
            Self::PagerDuty => "PagerDuty",
            Self::Webhook => "Webhook",
        }
    }

    /// What the target is, for forms and errors.
    pub fn target_label(self) -> &'static str {
        match self {
            Self::Email => "E-mail address",
            Self::Slack => "Incoming webhook URL",
            Self::Teams => "Workflows webhook URL",
            Self::PagerDuty => "Integration key (Events API v2)",
            Self::Webhook => "Endpoint URL",
        }
    }

    /// Whether the target grants access (a webhook URL is a bearer secret, so is a routing key):
    /// such targets are encrypted at rest and shown only as a hint.
    pub fn target_is_secret(self) -> bool {
        self != Self::Email
    }

    /// Whether the target is an outbound HTTP(S) URL.
    pub fn target_is_url(self) -> bool {
        matches!(self, Self::Slack | Self::Teams | Self::Webhook)
    }

    /// Whether messages carry a signature (Standard Webhooks), with a secret of their own.
    pub fn signs(self) -> bool {
        self == Self::Webhook
    }

    /// Whether the receiver tracks each alert's state and so hears acknowledgements.
    pub fn hears_acknowledgements(self) -> bool {
        matches!(self, Self::PagerDuty | Self::Webhook)
    }

    /// Whether resolutions are always sent: an incident tool must close what it opened.
    pub fn always_resolves(self) -> bool {
        self == Self::PagerDuty
    }

    /// Checks and normalises a target for this kind.
    pub fn validate_target(self, raw: &str) -> Result<String, String> {
        let raw = raw.trim();
        match self {
            Self::Email => crate::text::email(raw),
            Self::PagerDuty => {
                let ok = (20..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric());
                if ok {
                    Ok(raw.to_owned())
                } else {
                    Err("a PagerDuty integration key is 20 to 64 letters and digits (32 as PagerDuty issues them)"
                        .into())
                }
            }
            Self::Slack | Self::Teams | Self::Webhook => validate_url(raw).map(|u| u.to_string()),
        }
    }
}

impl ChannelKind {
    /// [`validate_target`](Self::validate_target), and a URL naming an internal address
    /// literally is refused unless the server allows private targets.
    pub fn check_target(self, raw: &str, allow_private: bool) -> Result<String, String> {
        if self.target_is_url() {
            return check_url(raw, allow_private).map(|u| u.to_string());
        }
        self.validate_target(raw)
    }
}

/// How a refused address is explained, wherever it is refused (saving a channel, resolving
/// its host when sending).
pub fn refusal(why: &str) -> String {
    format!("refused: {why} (start the server with --allow-private-targets to permit it)")
}

/// [`validate_url`], and a host that is literally an internal address is refused unless
/// `allow_private`.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, String> {
    let url = validate_url(raw.trim())?;
    match refused_host(&url) {
        Some(why) if !allow_private => Err(refusal(&why)),
        _ => Ok(url),
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outbound URL: http or https, a host, no credentials, at most 2,048 characters.
pub fn validate_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > 2048 {
        return Err("a URL has at most 2048 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the URL must start with https:// (or http://), not {}://", url.scheme()));
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry a user name or password".into());
    }
    Ok(url)
}

/// Whether a URL names, literally, an address no notification may reach by default (a
/// loopback, private, link-local or metadata address); the reason if so. Host names are judged
/// by the addresses they resolve to, when sending.
pub fn refused_host(url: &url::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    crate::net::private_range(ip).map(|why| format!("{ip} is {why}"))
}

/// What may be shown of a secret target once stored: its last four characters.
pub fn target_hint(kind: ChannelKind, target: &str) -> String {
    if !kind.target_is_secret() {
        return target.to_owned();
    }
    let tail: String = {
        let chars: Vec<char> = target.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("\u{2026}{tail}")
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
            acknowledgement: acked.then(|| Acknowledgement {
                by: "x".into(),
                at: 0,
                reason: None,
                until: None,
            }),
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
        ChannelRule {
            channel_id: id.into(),
            kind: ChannelKind::Email,
            min_severity: min,
            notify_on_resolve: resolve,
            repeat_every: None,
        }
    }

    fn ids(plan: &[(ChannelId, Vec<DigestAlert>)], channel: &str) -> Vec<String> {
        plan.iter()
            .find(|(c, _)| *c == channel)
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
        let p = plan(&evaluation, &channels, &LastTold::new(), 0);
        assert_eq!(ids(&p, "security"), ["new-crit:New", "rec-err:Recurring"]);
        assert_eq!(ids(&p, "dev-lead"), ["new-warn:New", "new-crit:New", "rec-err:Recurring"]);
        assert_eq!(ids(&p, "audit"), ["new-warn:New", "new-crit:New", "rec-err:Recurring", "fixed:Resolved"]);
    }

    #[test]
    fn pagerduty_always_hears_resolutions_and_acknowledgements() {
        let evaluation =
            Evaluation { resolved: vec![alert("fixed", Severity::Critical, false)], ..Default::default() };
        let pd = ChannelRule { kind: ChannelKind::PagerDuty, ..channel("pd", Severity::Warning, false) };
        let mail = channel("mail", Severity::Warning, false);
        let p = plan(&evaluation, &[pd.clone(), mail.clone()], &LastTold::new(), 0);
        assert_eq!(ids(&p, "pd"), ["fixed:Resolved"]);
        assert!(ids(&p, "mail").is_empty());
        let acked = plan_acknowledgement(&alert("a", Severity::Error, true), &[pd.clone(), mail]);
        assert_eq!(ids(&acked, "pd"), ["a:Acknowledged"]);
        assert_eq!(acked.len(), 1, "e-mail does not hear acknowledgements");
        assert!(
            plan_acknowledgement(&alert("w", Severity::Info, true), &[pd]).is_empty(),
            "below its severity"
        );
    }

    #[test]
    fn targets_are_checked_for_their_kind() {
        assert!(ChannelKind::Email.validate_target("a@b.example").is_ok());
        assert!(ChannelKind::Slack.validate_target("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(ChannelKind::Slack.validate_target("ftp://hooks.slack.com/x").is_err());
        assert!(ChannelKind::Webhook.validate_target("https://u:p@example.com/").is_err());
        assert!(ChannelKind::PagerDuty.validate_target(&"a1".repeat(16)).is_ok());
        assert!(ChannelKind::PagerDuty.validate_target("short").is_err());
        assert_eq!(ChannelKind::parse(" PagerDuty "), Ok(ChannelKind::PagerDuty));
        assert!(ChannelKind::parse("sms").is_err());
        assert_eq!(target_hint(ChannelKind::Slack, "https://hooks.slack.com/abcdWXYZ"), "\u{2026}WXYZ");
        assert_eq!(target_hint(ChannelKind::Email, "a@b.example"), "a@b.example");
    }

    #[test]
    fn literal_internal_hosts_are_named() {
        for raw in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.2]/",
            "http://10.0.0.1/",
            "http://169.254.169.254/",
        ] {
            let url = validate_url(raw).expect("a URL");
            assert!(refused_host(&url).is_some(), "{raw}");
        }
        assert_eq!(refused_host(&validate_url("https://hooks.slack.com/x").expect("a URL")), None);
    }

    #[test]
    fn a_repeat_interval_quiets_recurring_alerts_until_it_has_passed() {
        const HOUR: Millis = 3_600_000;
        let evaluation = Evaluation {
            opened: vec![alert("new", Severity::Error, false)],
            recurring: vec![alert("told", Severity::Error, false), alert("untold", Severity::Error, false)],
            resolved: vec![alert("fixed", Severity::Error, false)],
        };
        let daily = ChannelRule { repeat_every: Some(24 * HOUR), ..channel("daily", Severity::Info, true) };
        let every = channel("every", Severity::Info, true);
        let now = 100 * HOUR;
        let told_at = |at: Millis| -> LastTold {
            let mut told = LastTold::new();
            for (c, a) in [("daily", "told"), ("every", "told"), ("daily", "fixed")] {
                told.entry(ChannelId::from(c)).or_default().insert(AlertId::from(a), at);
            }
            told
        };
        // Told an hour ago: the daily channel stays quiet about it, but hears what is new, what it
        // never heard of, and every resolution.
        let p = plan(&evaluation, &[daily.clone(), every.clone()], &told_at(now - HOUR), now);
        assert_eq!(ids(&p, "daily"), ["new:New", "untold:Recurring", "fixed:Resolved"]);
        assert_eq!(ids(&p, "every"), ["new:New", "told:Recurring", "untold:Recurring", "fixed:Resolved"]);
        // A day later, exactly, it is due again.
        let p = plan(&evaluation, &[daily], &told_at(now - 24 * HOUR), now);
        assert_eq!(ids(&p, "daily"), ["new:New", "told:Recurring", "untold:Recurring", "fixed:Resolved"]);
        assert_eq!(repeat_interval(86_400), Ok(24 * HOUR));
        assert!(repeat_interval(59).is_err());
        assert!(repeat_interval(31 * 86_400).is_err());
        assert!(repeat_interval(i64::MAX).is_err());
    }

    #[test]
    fn channels_with_nothing_to_say_get_no_message() {
        let evaluation = Evaluation {
            opened: vec![alert("w", Severity::Warning, false)],
            recurring: vec![alert("acked", Severity::Critical, true)],
            resolved: vec![alert("fixed", Severity::Critical, false)],
        };
        let p = plan(&evaluation, &[channel("security", Severity::Critical, false)], &LastTold::new(), 0);
        assert!(p.is_empty());
        assert!(
            plan(&Evaluation::default(), &[channel("any", Severity::Info, true)], &LastTold::new(), 0)
                .is_empty()
        );
    }
}
