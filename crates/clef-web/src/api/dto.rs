//! The management API's JSON shapes. Times are RFC 3339 (`…At`); `commitTimestamp` stays
//! epoch milliseconds, as the CLI sends it.

use clef_core::notification::ChannelKind;
use clef_core::{Alert, CheckRun, IssueCounts, Matrix, Millis, PolicySet, Report, ReportSource};
use clef_store::{
    AlertEvent, ApiKey, AuditEntry, Channel, Delivery, Integration, ReportMeta, SeverityCounts, StoredAlert,
    StoredCheck, StoredReport,
};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub use crate::error::ErrorBody;

/// Epoch milliseconds of an RFC 3339 date-time.
pub fn parse_time(raw: &str) -> Option<Millis> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

pub fn rfc3339(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
pub struct ConfigView {
    /// Whether the CLI sends CI context (provider, pipeline URL, trigger).
    #[serde(rename = "collectCIContext", alias = "collectCiContext")]
    pub collect_ci_context: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub tracked_branch: Option<String>,
    /// The head report's commit: what the CLI backfills from.
    pub last_commit_sha: Option<String>,
    pub config: ConfigView,
    pub policies: PolicySet,
    pub head: Option<ReportMetaView>,
    pub open_alerts: SeverityCountsView,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SeverityCountsView {
    pub info: u64,
    pub warning: u64,
    pub error: u64,
    pub critical: u64,
    pub total: u64,
}

impl From<SeverityCounts> for SeverityCountsView {
    fn from(c: SeverityCounts) -> Self {
        Self { info: c.info, warning: c.warning, error: c.error, critical: c.critical, total: c.total() }
    }
}

impl From<Integration> for IntegrationView {
    fn from(i: Integration) -> Self {
        Self {
            last_commit_sha: i.head.as_ref().map(|h| h.commit_sha.to_string()),
            head: i.head.map(ReportMetaView::from),
            id: i.id.into(),
            name: i.name,
            tracked_branch: i.tracked_branch,
            config: ConfigView { collect_ci_context: i.config.collect_ci_context },
            policies: i.policies,
            open_alerts: i.open_alerts.into(),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportMetaView {
    pub id: String,
    pub commit_sha: String,
    pub branch: String,
    pub commit_timestamp: Millis,
    pub received_at: String,
    pub cli_version: Option<String>,
    pub violations: u64,
    pub passed: bool,
    pub worst_health: Option<clef_core::Health>,
    pub pipeline_url: Option<String>,
}

impl From<ReportMeta> for ReportMetaView {
    fn from(m: ReportMeta) -> Self {
        Self {
            id: m.id.into(),
            commit_sha: m.commit_sha.to_string(),
            branch: m.branch,
            commit_timestamp: m.commit_timestamp,
            received_at: rfc3339(m.received_at),
            cli_version: m.cli_version,
            violations: m.violations,
            passed: m.passed,
            worst_health: m.worst_health,
            pipeline_url: m.pipeline_url,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    pub id: String,
    pub received_at: String,
    #[serde(flatten)]
    pub report: Report,
}

impl From<StoredReport> for ReportView {
    fn from(r: StoredReport) -> Self {
        Self { id: r.id.into(), received_at: rfc3339(r.received_at), report: r.report }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatrixView {
    pub commit_sha: String,
    pub branch: String,
    pub commit_timestamp: Millis,
    /// False when navigating history: this is not the integration's current state.
    pub is_head: bool,
    /// `otlp`: the CLI sent issues, not cells. The cells are drawn from the issues (the worst
    /// issue of each namespace × environment), and a cell no issue names is absent: no
    /// issues were reported for it.
    pub source: ReportSource,
    /// The commit time is when the CLI pushed the report (OTLP carries no commit time).
    pub time_is_push_time: bool,
    /// The issue counts of an OTLP summary.
    pub issue_counts: Option<IssueCounts>,
    #[serde(flatten)]
    pub matrix: Matrix,
}

/// A lint or drift run: counts and grouped issues, without file paths, key names or messages.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    pub received_at: String,
    #[serde(flatten)]
    pub run: CheckRun,
}

impl From<StoredCheck> for CheckView {
    fn from(c: StoredCheck) -> Self {
        Self { received_at: rfc3339(c.received_at), run: c.run }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub id: String,
    pub integration_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub scope: String,
    pub severity: clef_core::Severity,
    pub message: String,
    /// `open` or `resolved`: a fact about the code, changed only by reports.
    pub status: String,
    /// Acknowledged now: a snooze that has ended no longer counts (its details stay below).
    pub acknowledged: bool,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledged_reason: Option<String>,
    /// The end of a snooze: from then on the alert notifies again.
    pub acknowledged_until: Option<String>,
    pub namespace: Option<String>,
    pub environment: Option<String>,
    pub introduced_by_commit: String,
    pub resolved_by_commit: Option<String>,
    pub last_seen_commit: String,
    /// The introducing commit's own time (not when its report arrived).
    pub first_seen_at: String,
    /// When the latest report that saw it arrived.
    pub last_seen_at: String,
    /// The resolving commit's own time.
    pub resolved_at: Option<String>,
    /// Reports in which it failed, backfilled ones included.
    pub occurrences: u64,
}

impl From<StoredAlert> for AlertView {
    fn from(s: StoredAlert) -> Self {
        let a: Alert = s.alert;
        let acknowledged = a.is_acknowledged(crate::now_ms());
        Self {
            id: a.id.into(),
            integration_id: s.integration_id.into(),
            rule_id: a.rule_id,
            rule_name: a.rule_name,
            scope: a.scope.canonical(),
            severity: a.severity,
            message: a.message,
            status: a.status.as_str().to_owned(),
            acknowledged,
            acknowledged_by: a.acknowledgement.as_ref().map(|k| k.by.clone()),
            acknowledged_at: a.acknowledgement.as_ref().map(|k| rfc3339(k.at)),
            acknowledged_reason: a.acknowledgement.as_ref().and_then(|k| k.reason.clone()),
            acknowledged_until: a.acknowledgement.as_ref().and_then(|k| k.until).map(rfc3339),
            namespace: a.scope.namespace().map(str::to_owned),
            environment: a.scope.environment().map(str::to_owned),
            introduced_by_commit: a.introduced_by_commit.to_string(),
            resolved_by_commit: a.resolved_by_commit.map(|c| c.to_string()),
            last_seen_commit: a.last_seen_commit.to_string(),
            first_seen_at: rfc3339(a.first_seen_at),
            last_seen_at: rfc3339(a.last_seen_at),
            resolved_at: a.resolved_at.map(rfc3339),
            occurrences: a.occurrences,
        }
    }
}

/// A page of the inbox.
#[derive(Serialize, ToSchema)]
pub struct AlertPageView {
    pub alerts: Vec<AlertView>,
    /// How many alerts the filters select, by severity (whatever the `severity` filter says).
    pub counts: SeverityCountsView,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next: Option<String>,
}

/// An acknowledgement given or withdrawn.
#[derive(Serialize, ToSchema)]
pub struct AlertEventView {
    /// `acknowledged` or `unacknowledged`.
    pub kind: &'static str,
    pub by: String,
    pub at: String,
    pub reason: Option<String>,
    /// A snooze's end.
    pub until: Option<String>,
}

impl From<AlertEvent> for AlertEventView {
    fn from(e: AlertEvent) -> Self {
        Self {
            kind: e.kind.as_str(),
            by: e.actor,
            at: rfc3339(e.at),
            reason: e.reason,
            until: e.until.map(rfc3339),
        }
    }
}

/// An alert and everything that happened to it.
#[derive(Serialize, ToSchema)]
pub struct AlertTimelineView {
    pub alert: AlertView,
    /// Oldest first.
    pub acknowledgements: Vec<AlertEventView>,
    /// The newest reports that saw it failing; page on with `/api/v1/alerts/{alertId}/reports`.
    pub reports: Vec<ReportMetaView>,
    /// Every message sent (or being sent) about it, newest first.
    pub notifications: Vec<DeliveryView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The visible start of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.into(),
            name: k.name,
            prefix: k.prefix,
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    /// The key itself. Shown this once; only its hash is kept.
    pub key: String,
    pub prefix: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub at: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        Self { id: e.id, actor: e.actor, action: e.action, target: e.target, at: rfc3339(e.at) }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportAccepted {
    pub id: String,
    pub commit_sha: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchAccepted {
    pub accepted: usize,
    pub report_ids: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntegration {
    pub name: String,
    #[serde(default)]
    pub tracked_branch: Option<String>,
    #[serde(default)]
    pub config: Option<ConfigView>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct PatchIntegration {
    #[serde(default)]
    pub name: Option<String>,
    /// A branch name, or null to go back to "the branch of the first report".
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub tracked_branch: Option<Option<String>>,
    #[serde(default)]
    pub config: Option<ConfigView>,
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CreateApiKey {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub id: String,
    pub channel: ChannelKind,
    /// The e-mail address; for the other kinds, whose targets are secrets (webhook URLs,
    /// routing keys), only their last four characters.
    pub target: String,
    /// `info`, `warning` or `critical` (which lets `error` through too: they rank alike).
    pub min_severity: clef_core::Severity,
    pub notify_on_resolve: bool,
    /// Seconds the channel stays quiet about a still-failing alert it was told of; `null`:
    /// it hears about it with every report.
    pub repeat_interval_seconds: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id.into(),
            channel: c.kind,
            target: c.target,
            min_severity: c.min_severity,
            notify_on_resolve: c.notify_on_resolve,
            repeat_interval_seconds: c.repeat_every.map(|ms| ms / 1000),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannel {
    /// `email`, `slack`, `teams`, `pagerduty` or `webhook`.
    pub channel: String,
    /// An e-mail address; a Slack incoming-webhook URL; a Teams Workflows webhook URL; a
    /// PagerDuty integration key (Events API v2); a webhook endpoint URL.
    pub target: String,
    /// The least severe alert this channel hears about: `info`, `warning` or `critical`.
    /// `error` ranks as `critical` and is stored as `critical`.
    pub min_severity: String,
    /// Also send resolutions (off by default).
    #[serde(default)]
    pub notify_on_resolve: bool,
    /// At most one message about a still-failing alert per this many seconds (60 to
    /// 2592000); absent or `null`: with every report. New alerts and resolutions always go.
    #[serde(default)]
    pub repeat_interval_seconds: Option<i64>,
}

/// A channel just created: a webhook's signing secret is shown here, once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// `whsec_…`: verify each message's `webhook-signature` with it (Standard Webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RotateSecret {
    /// Hours the current secret keeps signing beside the new one (0 to 168, default 24).
    #[serde(default)]
    pub overlap_hours: Option<u32>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecret {
    pub signing_secret: String,
    /// Until then messages carry signatures by both secrets.
    pub previous_valid_until: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct PatchChannel {
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub min_severity: Option<String>,
    #[serde(default)]
    pub notify_on_resolve: Option<bool>,
    /// Seconds (60 to 2592000); `null` goes back to every report; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub repeat_interval_seconds: Option<Option<i64>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub channel_id: String,
    pub channel: ChannelKind,
    /// As the channel's: never a secret.
    pub target: String,
    /// `alerts`, `acknowledgement`, or `test` for a test message.
    pub kind: &'static str,
    pub subject: String,
    /// `pending`, `sent`, or `failed` (given up on, after its attempts).
    pub status: clef_store::DeliveryStatus,
    pub commit_sha: Option<String>,
    pub alert_ids: Vec<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// When the next attempt is due, for a pending message.
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub at: String,
    /// `sent`, `transient` (retried), `permanent` or `expired`.
    pub outcome: clef_store::AttemptOutcome,
    /// The receiving server's answer, or what went wrong.
    pub detail: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            subject: d.digest.subject(),
            kind: d.digest.event().as_str(),
            commit_sha: d.digest.commit_sha.as_ref().map(|c| c.to_string()),
            alert_ids: d.digest.alerts.iter().map(|a| a.alert_id.to_string()).collect(),
            next_attempt_at: (d.status == clef_store::DeliveryStatus::Pending)
                .then(|| rfc3339(d.next_attempt_at)),
            id: d.id.into(),
            channel_id: d.channel_id.into(),
            channel: d.channel_kind,
            target: d.target,
            status: d.status,
            created_at: rfc3339(d.created_at),
            finished_at: d.finished_at.map(rfc3339),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptView { at: rfc3339(a.at), outcome: a.outcome, detail: a.detail })
                .collect(),
        }
    }
}

/// Open alerts at the end of one day, by severity.
#[derive(Serialize, ToSchema)]
pub struct OpenAtView {
    pub at: String,
    #[serde(flatten)]
    pub open: SeverityCountsView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolveTimeView {
    /// `severity`, `namespace` or `environment`.
    pub by: &'static str,
    pub group: String,
    /// Alerts of the group resolved in the window.
    pub resolved: u64,
    pub median_seconds: i64,
    pub p90_seconds: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CellViolationView {
    pub integration_id: String,
    pub namespace: String,
    pub environment: String,
    pub violated_seconds: i64,
    /// Of the window, 0 to 1.
    pub share: f64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendsView {
    pub from: String,
    pub to: String,
    pub days: u32,
    /// One point per day end, oldest first.
    pub open: Vec<OpenAtView>,
    /// Alerts opened, and resolved, within the window.
    pub opened: u64,
    pub resolved: u64,
    /// Time to resolve by severity (most severe first), then by namespace and environment
    /// (slowest first).
    pub resolve_times: Vec<ResolveTimeView>,
    /// Matrix cells by time in violation, longest first.
    pub cells: Vec<CellViolationView>,
}

impl From<clef_core::trends::Trends> for TrendsView {
    fn from(t: clef_core::trends::Trends) -> Self {
        Self {
            from: rfc3339(t.from),
            to: rfc3339(t.to),
            days: t.days,
            open: t.open.into_iter().map(|p| OpenAtView { at: rfc3339(p.at), open: p.open.into() }).collect(),
            opened: t.opened,
            resolved: t.resolved,
            resolve_times: t
                .resolve_times
                .into_iter()
                .map(|r| ResolveTimeView {
                    by: r.by,
                    group: r.group,
                    resolved: r.resolved,
                    median_seconds: r.median_ms / 1000,
                    p90_seconds: r.p90_ms / 1000,
                })
                .collect(),
            cells: t
                .cells
                .into_iter()
                .map(|c| CellViolationView {
                    integration_id: c.integration_id.into(),
                    namespace: c.namespace,
                    environment: c.environment,
                    violated_seconds: c.violated_ms / 1000,
                    share: f64::from(c.share_permille) / 1000.0,
                })
                .collect(),
        }
    }
}

/// A member of the caller's organisation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: &'static str,
    pub joined_at: String,
    /// Their last request through any session or token, to the minute.
    pub last_active_at: Option<String>,
    /// `password` or `sso`.
    pub login: &'static str,
}

impl From<clef_store::Member> for MemberView {
    fn from(m: clef_store::Member) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            email: m.email,
            role: m.role.as_str(),
            joined_at: rfc3339(m.joined_at),
            last_active_at: m.last_active_at.map(rfc3339),
            login: if m.has_password { "password" } else { "sso" },
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PatchMember {
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateInvitation {
    pub email: String,
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    /// The inviter's e-mail.
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
    /// `pending` or `expired` (accepted and revoked ones leave the list).
    pub state: &'static str,
}

impl InvitationView {
    pub fn new(i: &clef_store::Invitation, now: Millis) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email.clone(),
            role: i.role.as_str(),
            invited_by: i.invited_by.clone(),
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            state: i.state(now).as_str(),
        }
    }
}

/// A new invitation: its link is in this answer only.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvitation {
    pub invitation: InvitationView,
    /// The single-use link to pass on.
    pub url: String,
    /// Whether the mail transport took the invitation mail.
    pub mailed: bool,
}

/// Who the credential is, where.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub user_id: String,
    pub email: String,
    pub organization: OrganizationView,
    pub role: &'static str,
    /// Every organisation the person belongs to.
    pub organizations: Vec<OrganizationView>,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub role: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<clef_store::PersonalToken> for TokenView {
    fn from(t: clef_store::PersonalToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateToken {
    pub name: String,
    /// 1 to 365; absent: until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new token: the secret is in this answer only.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret (`clefp_…`), for `Authorization: Bearer`.
    #[serde(rename = "token")]
    pub secret: String,
}
