pub use clef_core::SeverityCounts;
use clef_core::notification::ChannelKind;
use clef_core::{
    Alert, AlertId, AlertStatus, ApiKeyId, ChannelId, CommitSha, DeliveryId, Health, IntegrationId,
    InvitationId, Millis, OrgId, PolicySet, Report, ReportId, SessionId, Severity, TokenId, UserId,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            "viewer" => Ok(Self::Viewer),
            _ => Err(format!("unknown role {raw:?}: expected owner, admin, member or viewer")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    /// Settings, keys, channels, integrations.
    pub fn can_manage(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    pub fn can_acknowledge(self) -> bool {
        !matches!(self, Self::Viewer)
    }

    /// Who may bring people in and change or take away their role: an owner anyone, an admin
    /// anyone but owners (nor make one). `current` is the person's role today (`None` for an
    /// invitation), `new` the role asked for (`None` for a removal).
    pub fn may_change(self, current: Option<Role>, new: Option<Role>) -> bool {
        match self {
            Self::Owner => true,
            Self::Admin => current != Some(Self::Owner) && new != Some(Self::Owner),
            Self::Member | Self::Viewer => false,
        }
    }

    pub const ALL: [Role; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    /// `None`: the person signs in through single sign-on only.
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

/// A person as the members page lists them in one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub joined_at: Millis,
    /// The last request of any of their sessions or tokens, to the minute.
    pub last_active_at: Option<Millis>,
    /// Whether they can log in with a password.
    pub has_password: bool,
}

/// One organisation a person belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org_id: OrgId,
    pub org_name: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    /// Of the secret in the link; the secret itself is never stored.
    pub token_hash: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    /// The inviter's e-mail.
    pub invited_by: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub accepted_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl Invitation {
    pub fn state(&self, now: Millis) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// Who accepts an invitation.
#[derive(Debug, Clone)]
pub enum Acceptance {
    /// Someone new, with the hash of the password they chose.
    NewPerson { password_hash: String },
    /// Someone who has an account already and proved it (their password, checked by the caller).
    Existing(UserId),
    /// Someone the organisation's identity provider vouched for at the invited address (checked
    /// by the caller): their account if they have one, else a new one without a password.
    SingleSignOn,
}

/// How a session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    Sso,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Sso => "sso",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "password" => Ok(Self::Password),
            "sso" => Ok(Self::Sso),
            _ => Err(format!("unknown authentication method {raw:?}")),
        }
    }
}

/// An organisation's single sign-on over OpenID Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConfig {
    pub org_id: OrgId,
    pub org_name: String,
    /// Discovery starts at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Opened from its sealed form, for the token request only.
    pub client_secret: String,
    /// People whose verified e-mail is in one of these domains join on their first sign-in.
    pub allowed_domains: Vec<String>,
    pub default_role: Role,
    /// A claim of the ID token (e.g. `groups`) whose values map to roles.
    pub role_claim: Option<String>,
    pub role_map: std::collections::BTreeMap<String, Role>,
    /// Passwords are refused for everyone but the break-glass owner.
    pub sso_only: bool,
    pub break_glass: Option<UserId>,
}

impl SsoConfig {
    /// Whether this e-mail address may join on its first sign-in.
    pub fn admits(&self, email: &str) -> bool {
        email
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.allowed_domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }

    /// The role a new member joins with: the highest their claim values map to, else the default.
    pub fn role_for(&self, claim_values: &[String]) -> Role {
        claim_values
            .iter()
            .filter_map(|v| self.role_map.get(v).copied())
            .min_by_key(|r| Role::ALL.iter().position(|x| x == r))
            .unwrap_or(self.default_role)
    }

    /// Whether `user` may log in to this organisation with a password.
    pub fn allows_password(&self, user: &UserId) -> bool {
        !self.sso_only || self.break_glass.as_ref() == Some(user)
    }
}

/// What an owner sets; `client_secret` `None` keeps the stored one.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub allowed_domains: Vec<String>,
    pub default_role: Role,
    pub role_claim: Option<String>,
    pub role_map: std::collections::BTreeMap<String, Role>,
    pub sso_only: bool,
    pub break_glass: Option<UserId>,
}

/// A sign-in sent to the issuer, waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoLogin {
    pub state_hash: String,
    pub org_id: OrgId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub login_hint: String,
    /// The invitation this sign-in accepts (the hash of its link's secret), if it does.
    pub invitation_hash: Option<String>,
    pub expires_at: Millis,
}

/// One logged-in browser of a person, as their account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub org_name: String,
    pub user_agent: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub org_name: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub now: Millis,
}

/// Who did something, for the audit log and the access checks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub email: String,
    pub now: Millis,
}

impl User {
    /// This user acting now.
    pub fn actor(&self, now: Millis) -> Actor {
        Actor { org_id: self.org_id.clone(), user_id: self.id.clone(), email: self.email.clone(), now }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: UserId,
    /// The organisation it acts in.
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub now: Millis,
    pub expires_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// What the CLI may collect beyond the report itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionConfig {
    pub collect_ci_context: bool,
}

impl Default for CollectionConfig {
    fn default() -> Self {
        Self { collect_ci_context: true }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: IntegrationId,
    pub org_id: OrgId,
    pub name: String,
    /// `None` until set, or until the first report names a branch.
    pub tracked_branch: Option<String>,
    pub config: CollectionConfig,
    pub policies: PolicySet,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub head: Option<ReportMeta>,
    pub open_alerts: SeverityCounts,
    /// Of the open alerts, those acknowledged now (a snooze that ended is not).
    pub acknowledged_alerts: u64,
}

#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub name: String,
    pub tracked_branch: Option<String>,
    pub config: CollectionConfig,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    /// `Some(None)` goes back to the default: the branch of the first report.
    pub tracked_branch: Option<Option<String>>,
    pub config: Option<CollectionConfig>,
    pub policies: Option<PolicySet>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub integration_id: IntegrationId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// What a live API key allows: CI calls for one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub key_id: ApiKeyId,
    pub integration_id: IntegrationId,
    pub org_id: OrgId,
    pub last_used_at: Option<Millis>,
    /// The integration lets the CLI send CI context; when it does not, any sent is dropped.
    pub collect_ci_context: bool,
}

#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub integration_id: IntegrationId,
    /// Oldest first, as the CLI sends them. Already validated.
    pub reports: Vec<Report>,
    pub received_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// One id per submitted report, in order.
    pub report_ids: Vec<ReportId>,
    /// Reports inserted or replaced; identical resubmissions are not counted.
    pub written: usize,
    /// Whether the head changed and alerts were re-derived.
    pub evaluated: bool,
    pub opened: usize,
    pub resolved: usize,
    /// Outbox messages written by this ingest.
    pub messages: usize,
}

/// A report's listing line: what history views need without the cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeta {
    pub id: ReportId,
    pub commit_sha: CommitSha,
    pub branch: String,
    pub commit_timestamp: Millis,
    pub received_at: Millis,
    pub cli_version: Option<String>,
    pub violations: u64,
    pub passed: bool,
    pub worst_health: Option<Health>,
    pub pipeline_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: ReportId,
    pub integration_id: IntegrationId,
    pub received_at: Millis,
    pub report: Report,
}

#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    pub branch: Option<String>,
    pub limit: u32,
    /// Only reports older than this commit (a cursor).
    pub before: Option<CommitSha>,
}

/// Which alerts, in which order, from where. Every filter is optional; the organisation is
/// always given beside it.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub integration_id: Option<IntegrationId>,
    pub status: Option<AlertStatus>,
    /// Judged at `now`: a snooze that has ended is not an acknowledgement.
    pub acknowledged: Option<bool>,
    pub severity: Option<Severity>,
    pub rule_id: Option<String>,
    pub namespace: Option<String>,
    pub environment: Option<String>,
    /// Looked up, case-insensitively, in the rule's id and name and the message.
    pub text: Option<String>,
    pub sort: AlertSort,
    /// Where the previous page ended.
    pub after: Option<AlertCursor>,
    pub limit: u32,
    pub now: Millis,
}

/// Open alerts before resolved ones, then newest first, or most severe first and newest
/// within a severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlertSort {
    #[default]
    Newest,
    Severity,
}

impl AlertSort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Severity => "severity",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "newest" => Ok(Self::Newest),
            "severity" => Ok(Self::Severity),
            _ => Err(format!("unknown sort {raw:?}: expected newest or severity")),
        }
    }
}

/// The place of an alert in a listing's order: an opaque token to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    pub open: bool,
    pub rank: u8,
    pub first_seen_at: Millis,
    pub id: AlertId,
}

impl AlertCursor {
    /// The cursor after `alert` in a listing.
    pub fn after(alert: &Alert) -> Self {
        Self {
            open: alert.is_open(),
            rank: alert.severity.rank(),
            first_seen_at: alert.first_seen_at,
            id: alert.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}.{}.{}", u8::from(self.open), self.rank, self.first_seen_at, self.id)
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not a cursor this server gave out");
        let mut parts = raw.splitn(4, '.');
        let mut next = || parts.next().ok_or_else(bad);
        let open = match next()? {
            "1" => true,
            "0" => false,
            _ => return Err(bad()),
        };
        let rank: u8 = next()?.parse().map_err(|_| bad())?;
        let first_seen_at: Millis = next()?.parse().map_err(|_| bad())?;
        let id = next()?;
        if rank > 2 || id.is_empty() || id.len() > 64 {
            return Err(bad());
        }
        Ok(Self { open, rank, first_seen_at, id: id.into() })
    }
}

/// A page of alerts and the cursor of the next page, if there is one.
#[derive(Debug, Clone, Default)]
pub struct AlertPage {
    pub alerts: Vec<crate::StoredAlert>,
    pub next: Option<AlertCursor>,
}

/// One entry of an alert's history of acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    pub kind: AlertEventKind,
    pub actor: String,
    pub at: Millis,
    pub reason: Option<String>,
    pub until: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertEventKind {
    Acknowledged,
    Unacknowledged,
}

impl AlertEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledged => "acknowledged",
            Self::Unacknowledged => "unacknowledged",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "acknowledged" => Ok(Self::Acknowledged),
            "unacknowledged" => Ok(Self::Unacknowledged),
            _ => Err(format!("unknown alert event {raw:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub at: Millis,
}

/// Where notifications go; the kind names the notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub integration_id: IntegrationId,
    pub kind: ChannelKind,
    /// What may be shown of the target: the address of an e-mail channel, only the last
    /// characters of a secret one (a webhook URL, a routing key). The secret never leaves the
    /// store but to the delivery worker.
    pub target: String,
    pub min_severity: Severity,
    pub notify_on_resolve: bool,
    /// How long it stays quiet about a still-failing alert it was told of; `None`: every report.
    pub repeat_every: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    pub kind: ChannelKind,
    pub target: String,
    pub min_severity: Severity,
    pub notify_on_resolve: bool,
    pub repeat_every: Option<Millis>,
    /// The signing secret of a kind that signs (a webhook); stored encrypted.
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    pub target: Option<String>,
    pub min_severity: Option<Severity>,
    pub notify_on_resolve: Option<bool>,
    /// `Some(None)` goes back to every report.
    pub repeat_every: Option<Option<Millis>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Sent,
    /// Given up on: rejected for good, or retried past the bounded age. Visible, never silent.
    Failed,
    /// Not sent: every alert it was about was acknowledged before it could go out.
    Suppressed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            "suppressed" => Some(Self::Suppressed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Sent,
    /// Worth retrying: a 4xx answer, a refused or broken connection.
    Transient,
    /// A 5xx answer: retrying will not help.
    Permanent,
    /// Still failing when the retry window closed.
    Expired,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sent" => Some(Self::Sent),
            "transient" => Some(Self::Transient),
            "permanent" => Some(Self::Permanent),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: Millis,
    pub outcome: AttemptOutcome,
    /// The other side's answer (an SMTP reply), or what went wrong.
    pub detail: String,
}

/// An outbox message with its history, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub integration_id: IntegrationId,
    pub channel_id: ChannelId,
    pub channel_kind: ChannelKind,
    /// As `Channel::target`: never a secret.
    pub target: String,
    pub digest: clef_core::notification::Digest,
    pub status: DeliveryStatus,
    pub next_attempt_at: Millis,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// A page of an integration's delivery log, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// Only messages older than this one (the last of the previous page).
    pub before: Option<DeliveryId>,
    pub limit: u32,
}

impl DeliveryQuery {
    /// The newest `limit` messages.
    pub fn latest(limit: u32) -> Self {
        Self { before: None, limit }
    }
}

/// A message the worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub channel_kind: ChannelKind,
    /// The real target, decrypted.
    pub target: String,
    /// Secrets to sign with, newest first: more than one while a rotation overlaps.
    pub signing_secrets: Vec<String>,
    pub digest: clef_core::notification::Digest,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: Millis,
}

/// How an attempt ended, and so what becomes of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    Sent {
        detail: String,
    },
    /// Tried again later; `outcome` says how this attempt failed (transient or permanent).
    Retry {
        next_attempt_at: Millis,
        outcome: AttemptOutcome,
        detail: String,
    },
    GiveUp {
        outcome: AttemptOutcome,
        detail: String,
    },
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    /// The organisation the session looks at; the person may switch to another of theirs.
    pub org_id: OrgId,
    /// As the browser named itself, shortened: for people to recognise their sessions.
    pub user_agent: String,
    pub auth_method: AuthMethod,
    /// Sent back with every state-changing form; compared in constant time.
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user: User,
    pub auth_method: AuthMethod,
    /// How many organisations the person belongs to (the header's switcher shows from two).
    pub organizations: u32,
    pub csrf_token: String,
    pub expires_at: Millis,
}

/// What retention deletes: each kind of row older than its cut-off (`None`: kept for ever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// History reports whose commit is older. Never an integration's head, nor a report an
    /// alert names (introducing, resolving or last seen): alerts and attribution stay whole.
    pub reports_before: Option<Millis>,
    /// Finished deliveries (sent or failed) with their attempts; pending ones always stay.
    pub deliveries_before: Option<Millis>,
    pub audit_before: Option<Millis>,
}

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub reports: u64,
    /// Shared report parts no report refers to any more.
    pub report_parts: u64,
    pub deliveries: u64,
    pub audit_entries: u64,
}

/// Counts for monitoring, read at each scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Open alerts per organisation, severity and acknowledgement; every combination of an
    /// existing organisation is present, zeros included, so a gauge falls back to 0.
    pub open_alerts: Vec<OpenAlertCount>,
    /// Messages waiting for their first or next attempt.
    pub outbox_pending: u64,
    /// When the oldest of them was queued.
    pub outbox_oldest_pending_at: Option<Millis>,
    pub pools: Vec<PoolStats>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlertCount {
    pub org_id: OrgId,
    pub severity: Severity,
    pub acknowledged: bool,
    pub count: u64,
}

/// One connection pool: connections open, of which idle, and the most it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}
