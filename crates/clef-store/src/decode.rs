//! Stored columns → models, shared by every SQL backend. A backend reads its driver's rows
//! through [`Columns`]; the mapping, the column lists and the corruption checks live here once.

use crate::{
    ApiKey, AuditEntry, Channel, CollectionConfig, Integration, ReportMeta, Result, Role, SeverityCounts,
    StoreError, StoredAlert, StoredReport, User,
};
use clef_core::notification::ChannelKind;
use clef_core::{
    Acknowledgement, Alert, AlertStatus, CiContext, CommitSha, Health, PolicyResult, PolicySet, Report,
    ReportSource, Scope, Severity, Summary,
};

/// Typed access to one row's columns by name.
pub trait Columns {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;

    /// An id column, as the id type the field wants.
    fn id<T: From<String>>(&self, col: &str) -> Result<T>
    where
        Self: Sized,
    {
        self.text(col).map(T::from)
    }

    fn count(&self, col: &str) -> Result<u64> {
        Ok(self.int(col)?.max(0) as u64)
    }
}

/// A stored value that does not parse back is corruption, not a client error.
fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} does not parse: {detail}").into())
}

fn sha(raw: &str) -> Result<CommitSha> {
    CommitSha::parse(raw).map_err(|e| corrupt("commit", e))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

pub const REPORT_META: &str = "id, commit_sha, branch, commit_ts, received_at, cli_version, \
    violations, passed, worst_health, ci_pipeline_url";

pub fn report_meta(row: &impl Columns) -> Result<ReportMeta> {
    Ok(ReportMeta {
        id: row.id("id")?,
        commit_sha: commit(row, "commit_sha")?,
        branch: row.text("branch")?,
        commit_timestamp: row.int("commit_ts")?,
        received_at: row.int("received_at")?,
        cli_version: row.opt_text("cli_version")?,
        violations: row.count("violations")?,
        passed: row.flag("passed")?,
        worst_health: row
            .opt_text("worst_health")?
            .map(|h| Health::parse(&h).map_err(|e| corrupt("health", e)))
            .transpose()?,
        pipeline_url: row.opt_text("ci_pipeline_url")?,
    })
}

/// A whole report from a row whose columns carry the `reports` table's names (the parts
/// resolved to their JSON).
pub fn stored_report(row: &impl Columns) -> Result<StoredReport> {
    let provider = row.opt_text("ci_provider")?;
    let pipeline_url = row.opt_text("ci_pipeline_url")?;
    let trigger = row.opt_text("ci_trigger")?;
    let ci_context = (provider.is_some() || pipeline_url.is_some() || trigger.is_some())
        .then_some(CiContext { provider, pipeline_url, trigger });
    Ok(StoredReport {
        id: row.id("id")?,
        integration_id: row.id("integration_id")?,
        received_at: row.int("received_at")?,
        report: Report {
            commit_sha: commit(row, "commit_sha")?,
            branch: row.text("branch")?,
            commit_timestamp: row.int("commit_ts")?,
            cli_version: row.opt_text("cli_version")?,
            repo_origin: row.opt_text("repo_origin")?,
            summary: Summary {
                files_scanned: row.count("files_scanned")?,
                namespaces: json("namespaces", &row.text("namespaces")?)?,
                environments: json("environments", &row.text("environments")?)?,
                cells: json("cells", &row.text("cells")?)?,
                violations: row.count("violations")?,
                passed: row.flag("passed")?,
            },
            drift: json("drift", &row.text("drift")?)?,
            policy_results: policy_results(row)?,
            ci_context,
            source: ReportSource::parse(&row.text("source")?).map_err(|e| corrupt("source", e))?,
            issue_counts: row.opt_text("issue_counts")?.map(|raw| json("issue counts", &raw)).transpose()?,
        },
    })
}

pub fn policy_results(row: &impl Columns) -> Result<Vec<PolicyResult>> {
    json("policy results", &row.text("policy_results")?)
}

pub fn commit(row: &impl Columns, col: &str) -> Result<CommitSha> {
    sha(&row.text(col)?)
}

pub const ALERT: &str = "a.id, a.integration_id, a.rule_id, a.rule_name, a.scope, a.severity, \
    a.message, a.status, a.acknowledged_by, a.acknowledged_at, a.acknowledged_reason, \
    a.acknowledged_until, a.introduced_by_commit, \
    a.resolved_by_commit, a.last_seen_commit, a.first_seen_at, a.last_seen_at, a.resolved_at, a.occurrences";

pub fn stored_alert(row: &impl Columns) -> Result<StoredAlert> {
    let by = row.opt_text("acknowledged_by")?;
    let at = row.opt_int("acknowledged_at")?;
    Ok(StoredAlert {
        integration_id: row.id("integration_id")?,
        alert: Alert {
            id: row.id("id")?,
            rule_id: row.id("rule_id")?,
            rule_name: row.text("rule_name")?,
            scope: Scope::from_stored(&row.text("scope")?),
            severity: Severity::parse(&row.text("severity")?).map_err(|e| corrupt("severity", e))?,
            message: row.text("message")?,
            status: AlertStatus::parse(&row.text("status")?).map_err(|e| corrupt("status", e))?,
            acknowledgement: match by.zip(at) {
                Some((by, at)) => Some(Acknowledgement {
                    by,
                    at,
                    reason: row.opt_text("acknowledged_reason")?,
                    until: row.opt_int("acknowledged_until")?,
                }),
                None => None,
            },
            introduced_by_commit: commit(row, "introduced_by_commit")?,
            resolved_by_commit: row.opt_text("resolved_by_commit")?.as_deref().map(sha).transpose()?,
            last_seen_commit: commit(row, "last_seen_commit")?,
            first_seen_at: row.int("first_seen_at")?,
            last_seen_at: row.int("last_seen_at")?,
            resolved_at: row.opt_int("resolved_at")?,
            occurrences: row.count("occurrences")?,
        },
    })
}

pub fn role(raw: &str) -> Result<Role> {
    Role::parse(raw).map_err(|e| corrupt("role", e))
}

/// A person as a member: select `{USER}` from `{USER_FROM}` (or join `m` another way).
pub const USER: &str = "u.id, m.org_id, o.name AS org_name, u.email, m.role, u.password_hash, u.created_at";
pub const USER_FROM: &str =
    "users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.org_id";

pub fn user(row: &impl Columns) -> Result<User> {
    Ok(User {
        id: row.id("id")?,
        org_id: row.id("org_id")?,
        org_name: row.text("org_name")?,
        email: row.text("email")?,
        role: role(&row.text("role")?)?,
        password_hash: row.opt_text("password_hash")?,
        created_at: row.int("created_at")?,
    })
}

pub const API_KEY: &str = "id, integration_id, name, prefix, created_at, last_used_at, revoked_at";

pub fn api_key(row: &impl Columns) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.id("id")?,
        integration_id: row.id("integration_id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        created_at: row.int("created_at")?,
        last_used_at: row.opt_int("last_used_at")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}

pub fn audit_entry(row: &impl Columns) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.int("id")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.text("target")?,
        at: row.int("at")?,
    })
}

pub const INTEGRATION: &str =
    "id, org_id, name, tracked_branch, collect_ci_context, policies, created_at, updated_at";

/// An integration row; its head and open-alert counts are the caller's to fill in.
pub fn integration(row: &impl Columns) -> Result<Integration> {
    Ok(Integration {
        id: row.id("id")?,
        org_id: row.id("org_id")?,
        name: row.text("name")?,
        tracked_branch: row.opt_text("tracked_branch")?,
        config: CollectionConfig { collect_ci_context: row.flag("collect_ci_context")? },
        policies: json::<PolicySet>("policies", &row.text("policies")?)?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        head: None,
        open_alerts: SeverityCounts::default(),
        acknowledged_alerts: 0,
    })
}

pub const CHANNEL: &str = "id, integration_id, kind, target_hint, min_severity, notify_on_resolve, repeat_interval_ms, created_at, updated_at";

pub fn channel(row: &impl Columns) -> Result<Channel> {
    Ok(Channel {
        id: row.id("id")?,
        integration_id: row.id("integration_id")?,
        kind: ChannelKind::parse(&row.text("kind")?).map_err(|e| corrupt("channel kind", e))?,
        target: row.text("target_hint")?,
        min_severity: Severity::parse(&row.text("min_severity")?).map_err(|e| corrupt("severity", e))?,
        notify_on_resolve: row.flag("notify_on_resolve")?,
        repeat_every: row.opt_int("repeat_interval_ms")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
