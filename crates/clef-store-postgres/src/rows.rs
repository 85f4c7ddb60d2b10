//! Row → model decoding. Column lists live beside their decoders so the two cannot drift.

use clef_core::{
    Acknowledgement, Alert, AlertStatus, CiContext, CommitSha, Health, Report, Scope, Severity, Summary,
};
use clef_store::{ApiKey, AuditEntry, ReportMeta, Role, StoreError, StoredAlert, StoredReport, User};
use sqlx::Row;
use sqlx::postgres::PgRow;

type R<T> = Result<T, StoreError>;

/// A stored value that does not parse back is corruption, not a client error.
fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} does not parse: {detail}").into())
}

fn sha(raw: String) -> R<CommitSha> {
    CommitSha::parse(&raw).map_err(|e| corrupt("commit", e))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> R<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    col: &str,
) -> R<T> {
    row.try_get(col).map_err(crate::map_err)
}

pub(crate) const REPORT_META: &str = "id, commit_sha, branch, commit_ts, received_at, cli_version, \
    violations, passed, worst_health, ci_pipeline_url";

pub(crate) fn report_meta(row: &PgRow) -> R<ReportMeta> {
    Ok(ReportMeta {
        id: get(row, "id")?,
        commit_sha: sha(get(row, "commit_sha")?)?,
        branch: get(row, "branch")?,
        commit_timestamp: get(row, "commit_ts")?,
        received_at: get(row, "received_at")?,
        cli_version: get(row, "cli_version")?,
        violations: get::<i64>(row, "violations")?.max(0) as u64,
        passed: get(row, "passed")?,
        worst_health: get::<Option<String>>(row, "worst_health")?
            .map(|h| Health::parse(&h).map_err(|e| corrupt("health", e)))
            .transpose()?,
        pipeline_url: get(row, "ci_pipeline_url")?,
    })
}

pub(crate) const REPORT_FULL: &str = "id, integration_id, commit_sha, branch, commit_ts, received_at, \
    cli_version, repo_origin, files_scanned, violations, passed, namespaces, environments, cells, \
    drift, policy_results, ci_provider, ci_pipeline_url, ci_trigger";

pub(crate) fn stored_report(row: &PgRow) -> R<StoredReport> {
    let provider: Option<String> = get(row, "ci_provider")?;
    let pipeline_url: Option<String> = get(row, "ci_pipeline_url")?;
    let trigger: Option<String> = get(row, "ci_trigger")?;
    let ci_context = (provider.is_some() || pipeline_url.is_some() || trigger.is_some())
        .then_some(CiContext { provider, pipeline_url, trigger });
    Ok(StoredReport {
        id: get(row, "id")?,
        integration_id: get(row, "integration_id")?,
        received_at: get(row, "received_at")?,
        report: Report {
            commit_sha: sha(get(row, "commit_sha")?)?,
            branch: get(row, "branch")?,
            commit_timestamp: get(row, "commit_ts")?,
            cli_version: get(row, "cli_version")?,
            repo_origin: get(row, "repo_origin")?,
            summary: Summary {
                files_scanned: get::<i64>(row, "files_scanned")?.max(0) as u64,
                namespaces: json("namespaces", get(row, "namespaces")?)?,
                environments: json("environments", get(row, "environments")?)?,
                cells: json("cells", get(row, "cells")?)?,
                violations: get::<i64>(row, "violations")?.max(0) as u64,
                passed: get(row, "passed")?,
            },
            drift: json("drift", get(row, "drift")?)?,
            policy_results: json("policy results", get(row, "policy_results")?)?,
            ci_context,
        },
    })
}

pub(crate) fn policy_results(row: &PgRow) -> R<Vec<clef_core::PolicyResult>> {
    json("policy results", get(row, "policy_results")?)
}

pub(crate) fn commit(row: &PgRow, col: &str) -> R<CommitSha> {
    sha(get(row, col)?)
}

pub(crate) const ALERT: &str = "a.id, a.integration_id, a.rule_id, a.rule_name, a.scope, a.severity, \
    a.message, a.status, a.acknowledged_by, a.acknowledged_at, a.introduced_by_commit, \
    a.resolved_by_commit, a.last_seen_commit, a.first_seen_at, a.last_seen_at, a.resolved_at, a.occurrences";

pub(crate) fn stored_alert(row: &PgRow) -> R<StoredAlert> {
    let by: Option<String> = get(row, "acknowledged_by")?;
    let at: Option<i64> = get(row, "acknowledged_at")?;
    Ok(StoredAlert {
        integration_id: get(row, "integration_id")?,
        alert: Alert {
            id: get(row, "id")?,
            rule_id: get(row, "rule_id")?,
            rule_name: get(row, "rule_name")?,
            scope: Scope::parse(get(row, "scope")?),
            severity: Severity::parse(get(row, "severity")?).map_err(|e| corrupt("severity", e))?,
            message: get(row, "message")?,
            status: AlertStatus::parse(get(row, "status")?).map_err(|e| corrupt("status", e))?,
            acknowledgement: by.zip(at).map(|(by, at)| Acknowledgement { by, at }),
            introduced_by_commit: commit(row, "introduced_by_commit")?,
            resolved_by_commit: get::<Option<String>>(row, "resolved_by_commit")?.map(sha).transpose()?,
            last_seen_commit: commit(row, "last_seen_commit")?,
            first_seen_at: get(row, "first_seen_at")?,
            last_seen_at: get(row, "last_seen_at")?,
            resolved_at: get(row, "resolved_at")?,
            occurrences: get::<i64>(row, "occurrences")?.max(0) as u64,
        },
    })
}

pub(crate) const USER: &str =
    "u.id, u.org_id, o.name AS org_name, u.email, u.role, u.password_hash, u.created_at";

pub(crate) fn user(row: &PgRow) -> R<User> {
    Ok(User {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        org_name: get(row, "org_name")?,
        email: get(row, "email")?,
        role: Role::parse(get(row, "role")?).map_err(|e| corrupt("role", e))?,
        password_hash: get(row, "password_hash")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) const API_KEY: &str = "id, integration_id, name, prefix, created_at, last_used_at, revoked_at";

pub(crate) fn api_key(row: &PgRow) -> R<ApiKey> {
    Ok(ApiKey {
        id: get(row, "id")?,
        integration_id: get(row, "integration_id")?,
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        created_at: get(row, "created_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

pub(crate) fn audit_entry(row: &PgRow) -> R<AuditEntry> {
    Ok(AuditEntry {
        id: get(row, "id")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        at: get(row, "at")?,
    })
}
