//! The storage interface of Clef Pro. Methods are use-case sized and each is one
//! transaction, so no caller can leave half a batch behind. Backends do the I/O;
//! `clef_core` makes every decision about alerts.
#![forbid(unsafe_code)]

pub mod decode;
mod error;
mod model;

/// Test code shipped as a library so each backend can run it: panicking is its job.
#[cfg(feature = "conformance")]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
pub mod conformance;

pub use error::StoreError;
pub use model::*;

use async_trait::async_trait;
use clef_core::{
    Acknowledgement, Alert, AlertId, ApiKeyId, ChannelId, CheckRun, CommitSha, DeliveryId, IntegrationId,
    InvitationId, Millis, OrgId, SessionId, TokenId, UserId,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The wall clock in epoch milliseconds, the unit every `now` of this interface takes.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Millis::try_from(now.as_millis()).unwrap_or(Millis::MAX)
}

/// Keys' and tokens' "last used" moves at most once a minute, so that authenticating is
/// nearly always a read, never a write per request.
pub fn last_use_is_stale(last_used: Option<Millis>, now: Millis) -> bool {
    last_used.is_none_or(|t| now - t >= 60_000)
}

/// Tenancy is part of every signature: anything owned by an organisation is read or
/// changed only through that organisation's id, and a foreign id is `NotFound`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The store answers and its schema is current.
    async fn ping(&self) -> Result<()>;
    /// Flushes and closes, at a clean stop. On SQLite the write-ahead log is folded into the
    /// database file, so that the file alone is a complete copy.
    async fn close(&self) -> Result<()>;

    // Organisations, people, their memberships and their personal access tokens. A `User` is
    // a person as a member of one organisation, with their role there.
    /// Creates the organisation if it does not exist yet, then the person (unless they exist
    /// already) and their membership. A person who is a member already is a `Conflict`.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// The person with this e-mail in the organisation they joined first.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The person as a member of `org_id`.
    async fn member(&self, user_id: &UserId, org_id: &OrgId) -> Result<Option<User>>;
    /// Every organisation the person belongs to, by name.
    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>>;
    /// The organisation's members, by e-mail.
    async fn members(&self, org_id: &OrgId) -> Result<Vec<Member>>;
    /// Changes a member's role. The last owner stays an owner (`Refused`).
    async fn set_role(&self, actor: &Actor, user_id: &UserId, role: Role) -> Result<()>;
    /// Removes a member from the organisation: their sessions in it end and their tokens for
    /// it are revoked at once; other organisations keep them. The last owner stays (`Refused`).
    async fn remove_member(&self, actor: &Actor, user_id: &UserId) -> Result<()>;
    /// Sets a new password and ends every other session of the person.
    async fn change_password(
        &self,
        actor: &Actor,
        password_hash: &str,
        keep_session: &SessionId,
    ) -> Result<()>;

    async fn create_token(&self, actor: &Actor, token: NewToken) -> Result<PersonalToken>;
    /// The member a live token (unrevoked, unexpired, of a current membership) acts as;
    /// records its use.
    async fn authenticate_token(&self, token_hash: &str, now: Millis) -> Result<Option<User>>;
    async fn revoke_token(&self, actor: &Actor, token_id: &TokenId) -> Result<()>;
    /// A person's tokens for one organisation, newest first, without their secrets.
    async fn tokens(&self, user_id: &UserId, org_id: &OrgId) -> Result<Vec<PersonalToken>>;

    // Invitations.
    /// A member of the organisation or a pending invitation with this e-mail is a `Conflict`.
    async fn create_invitation(&self, actor: &Actor, new: NewInvitation) -> Result<Invitation>;
    /// The organisation's invitations not accepted or revoked (expired ones included), newest first.
    async fn invitations(&self, org_id: &OrgId) -> Result<Vec<Invitation>>;
    async fn revoke_invitation(&self, actor: &Actor, id: &InvitationId) -> Result<()>;
    /// The invitation with this link secret's hash, in whatever state.
    async fn invitation(&self, token_hash: &str) -> Result<Option<Invitation>>;
    /// Accepts a pending invitation once: the person (made if new) becomes a member with the
    /// invited role. Anything but a pending invitation is `Refused`, saying why.
    async fn accept_invitation(&self, token_hash: &str, who: Acceptance, now: Millis) -> Result<User>;

    // Integrations.
    async fn create_integration(&self, actor: &Actor, new: NewIntegration) -> Result<Integration>;
    async fn integrations(&self, org_id: &OrgId) -> Result<Vec<Integration>>;
    async fn integration(&self, org_id: &OrgId, id: &IntegrationId) -> Result<Integration>;
    async fn update_integration(
        &self,
        actor: &Actor,
        id: &IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration>;
    async fn delete_integration(&self, actor: &Actor, id: &IntegrationId) -> Result<()>;

    // API keys: CI's credentials, one integration each.
    async fn create_api_key(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        key: NewApiKey,
    ) -> Result<ApiKey>;
    async fn api_keys(&self, org_id: &OrgId, integration_id: &IntegrationId) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        key_id: &ApiKeyId,
    ) -> Result<()>;
    /// The live key with this hash, with the integration and organisation it belongs to.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyGrant>>;
    async fn touch_api_key(&self, key_id: &ApiKeyId, now: Millis) -> Result<()>;

    // Reports.
    /// Stores a batch (replacing commits already stored), moves the head, evaluates
    /// alerts when the head changed; all in one transaction, serialised per integration.
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestOutcome>;
    async fn reports(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        query: ReportQuery,
    ) -> Result<Vec<ReportMeta>>;
    async fn report(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        commit_sha: &str,
    ) -> Result<StoredReport>;
    /// Deletes one report (an admin's way out of a bad one, e.g. a commit time far in the
    /// future); the head moves and alerts are re-derived as after an ingest. Audited.
    async fn delete_report(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        commit_sha: &str,
    ) -> Result<()>;
    /// The head report, if the integration has one.
    async fn head_report(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
    ) -> Result<Option<StoredReport>>;

    // Lint and drift runs.
    /// Keeps the run as the integration's latest of its kind.
    async fn record_check(&self, integration_id: &IntegrationId, run: &CheckRun, at: Millis) -> Result<()>;
    /// The integration's latest run of each kind, lint first.
    async fn checks(&self, org_id: &OrgId, integration_id: &IntegrationId) -> Result<Vec<StoredCheck>>;

    // Alerts.
    /// One page of the alerts `query` selects, across the organisation's integrations unless
    /// it names one.
    async fn alerts(&self, org_id: &OrgId, query: AlertQuery) -> Result<AlertPage>;
    /// How many alerts `query` selects, by severity, whatever its severity, cursor and limit.
    async fn alert_counts(&self, org_id: &OrgId, query: &AlertQuery) -> Result<SeverityCounts>;
    async fn alert(&self, org_id: &OrgId, alert_id: &AlertId) -> Result<StoredAlert>;
    /// The lifetimes of the alerts open at any moment in `from..=to` (of one integration, or
    /// of the whole organisation), for trends.
    async fn alert_spans(
        &self,
        org_id: &OrgId,
        integration_id: Option<&IntegrationId>,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<clef_core::trends::AlertSpan>>;
    /// The alert with its history: acknowledgements given and withdrawn, the newest
    /// `reports` tracked-branch reports that saw it failing (older than `before` when given) and
    /// the newest [`TIMELINE_MESSAGES`] messages that named it.
    async fn alert_timeline(
        &self,
        org_id: &OrgId,
        alert_id: &AlertId,
        before: Option<CommitSha>,
        reports: u32,
    ) -> Result<AlertTimeline>;
    /// The tracked-branch reports that saw the alert failing, from its last sighting back to
    /// the commit that introduced it, newest first; `before` continues a page.
    async fn alert_reports(
        &self,
        org_id: &OrgId,
        alert_id: &AlertId,
        before: Option<CommitSha>,
        limit: u32,
    ) -> Result<Vec<ReportMeta>>;
    /// Sets or clears the acknowledgement of every alert named, all or none (an unknown id is
    /// `NotFound`, a resolved alert `Refused`); never touches open/resolved. Each change is
    /// kept in the alert's history. Setting it queues a message to every channel that tracks
    /// alert state (PagerDuty, webhooks).
    async fn set_acknowledgement(
        &self,
        actor: &Actor,
        alert_ids: &[AlertId],
        ack: Option<Acknowledgement>,
    ) -> Result<Vec<StoredAlert>>;

    // Notification channels.
    async fn create_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        new: NewChannel,
    ) -> Result<Channel>;
    async fn channels(&self, org_id: &OrgId, integration_id: &IntegrationId) -> Result<Vec<Channel>>;
    async fn update_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        patch: ChannelPatch,
    ) -> Result<Channel>;
    /// Removes the channel with its queued messages and their log.
    async fn delete_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> Result<()>;
    /// Makes `secret` the channel's signing secret; the one it replaces still signs until
    /// `overlap_until`, so receivers can switch without losing a message.
    async fn rotate_signing_secret(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        secret: String,
        overlap_until: Millis,
    ) -> Result<Channel>;
    /// Queues a test message to the channel through the real delivery path; returns its id.
    async fn enqueue_test(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> Result<DeliveryId>;

    // The outbox, for delivery workers (on any replica).
    /// Leases up to `limit` due messages until `now + lease_ms`; another worker may take a
    /// message whose lease ran out.
    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Gives back leases not used (a worker shutting down).
    async fn release_deliveries(&self, ids: &[DeliveryId]) -> Result<()>;
    /// Records an attempt and what follows from it, and drops the lease.
    async fn finish_attempt(&self, id: &DeliveryId, at: Millis, result: DeliveryResult) -> Result<()>;
    /// The delivery log of an integration, newest first.
    async fn deliveries(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        query: DeliveryQuery,
    ) -> Result<Vec<Delivery>>;

    // Single sign-on.
    async fn sso_config(&self, org_id: &OrgId) -> Result<Option<SsoConfig>>;
    /// The organisation whose single sign-on admits this e-mail's domain, if one does.
    async fn sso_config_for_email(&self, email: &str) -> Result<Option<SsoConfig>>;
    /// Sets (or replaces) the organisation's single sign-on. SSO only needs a break-glass
    /// owner (`Refused` otherwise). Audited.
    async fn set_sso_config(&self, actor: &Actor, settings: SsoSettings) -> Result<()>;
    async fn delete_sso_config(&self, actor: &Actor) -> Result<()>;
    /// Remembers a sign-in sent to the issuer (and sweeps expired ones).
    async fn begin_sso_login(&self, login: SsoLogin, now: Millis) -> Result<()>;
    /// Takes the sign-in with this state's hash, once: a second take, or one after it expired,
    /// is `None`.
    async fn take_sso_login(&self, state_hash: &str, now: Millis) -> Result<Option<SsoLogin>>;
    /// The person with this (verified) e-mail as a member of the organisation; someone not yet
    /// a member joins with `join_as` when given (made without a password if new), else `Refused`.
    async fn sso_member(
        &self,
        org_id: &OrgId,
        email: &str,
        join_as: Option<Role>,
        now: Millis,
    ) -> Result<User>;

    // Dashboard sessions.
    /// Stores a new session (and sweeps expired ones).
    async fn create_session(&self, session: NewSession) -> Result<SessionId>;
    /// The live session with this token hash, with its member (none once they are removed
    /// from the session's organisation); records its use.
    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Points the session at another organisation of the same person (`NotFound` if they
    /// are not a member of it).
    async fn switch_organization(&self, session: &SessionId, user_id: &UserId, org_id: &OrgId) -> Result<()>;
    /// The person's live sessions, newest first.
    async fn sessions(&self, user_id: &UserId, now: Millis) -> Result<Vec<SessionInfo>>;
    async fn end_session(&self, actor: &Actor, session: &SessionId) -> Result<()>;

    /// Per integration of the organisation, the violation counts of its newest `points`
    /// tracked-branch reports, oldest first.
    async fn violation_trends(&self, org_id: &OrgId, points: u32) -> Result<Vec<(IntegrationId, Vec<u64>)>>;

    // Audit.
    async fn audit_log(&self, org_id: &OrgId, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>>;

    // Operations.
    /// Deletes what `retention` allows, one integration per transaction (each locked as an
    /// ingest locks it), then reclaims the space where the engine needs telling.
    async fn prune(&self, retention: Retention) -> Result<Pruned>;
    /// Counts for monitoring.
    async fn stats(&self) -> Result<StoreStats>;
}

/// A lint or drift run as stored: the latest of its kind for its integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheck {
    pub integration_id: IntegrationId,
    pub received_at: Millis,
    pub run: CheckRun,
}

/// The messages an alert's timeline lists, newest first.
pub const TIMELINE_MESSAGES: u32 = 100;
/// The reports an alert's timeline shows before paging on.
pub const TIMELINE_REPORTS: u32 = 20;

/// An alert and what happened to it (see [`Store::alert_timeline`]).
#[derive(Debug, Clone)]
pub struct AlertTimeline {
    pub alert: StoredAlert,
    /// Oldest first.
    pub events: Vec<AlertEvent>,
    /// Newest first.
    pub reports: Vec<ReportMeta>,
    /// Newest first.
    pub deliveries: Vec<Delivery>,
}

/// An alert with the integration it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub integration_id: IntegrationId,
    pub alert: Alert,
}
