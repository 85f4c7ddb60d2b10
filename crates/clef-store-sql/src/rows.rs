//! Rows of either engine read through the shared decoders in `clef_store::decode`.

use clef_core::{CommitSha, Millis, PolicyResult};
use clef_store::decode::{self, Columns};
use clef_store::{
    ApiKey, AuditEntry, Channel, Integration, ReportMeta, Role, SeverityCounts, StoreError, StoredAlert,
    StoredReport, User,
};
use sqlx::Row;
use sqlx::any::AnyRow;

pub(crate) use clef_store::decode::{ALERT, API_KEY, CHANNEL, INTEGRATION, REPORT_META, USER, USER_FROM};

/// A whole report: select it `FROM {REPORT_FULL_FROM}`. Its list parts come from
/// `report_parts`, or inline for reports stored before parts were shared.
pub(crate) const REPORT_FULL: &str = "r.id, r.integration_id, r.commit_sha, r.branch, r.commit_ts, \
    r.received_at, r.cli_version, r.repo_origin, r.files_scanned, r.violations, r.passed, \
    COALESCE(pn.body, r.namespaces) AS namespaces, COALESCE(pe.body, r.environments) AS environments, \
    COALESCE(pc.body, r.cells) AS cells, COALESCE(pd.body, r.drift) AS drift, \
    COALESCE(pr.body, r.policy_results) AS policy_results, r.ci_provider, r.ci_pipeline_url, \
    r.ci_trigger, r.source, r.issue_counts";
pub(crate) const REPORT_FULL_FROM: &str = "reports r \
    LEFT JOIN report_parts pn ON pn.id = r.namespaces_part \
    LEFT JOIN report_parts pe ON pe.id = r.environments_part \
    LEFT JOIN report_parts pc ON pc.id = r.cells_part \
    LEFT JOIN report_parts pd ON pd.id = r.drift_part \
    LEFT JOIN report_parts pr ON pr.id = r.results_part";

type R<T> = Result<T, StoreError>;

/// One column, typed.
pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(
    row: &'r AnyRow,
    col: &str,
) -> R<T> {
    row.try_get(col).map_err(crate::map_err)
}

/// An id column, as the id type the caller wants.
pub(crate) fn id<T: From<String>>(row: &AnyRow, col: &str) -> R<T> {
    Cols(row).id(col)
}

/// A boolean column or expression (SQLite answers 0 or 1).
pub(crate) fn flag(row: &AnyRow, col: &str) -> R<bool> {
    Cols(row).flag(col)
}

struct Cols<'r>(&'r AnyRow);

impl Columns for Cols<'_> {
    fn text(&self, col: &str) -> R<String> {
        get(self.0, col)
    }
    fn opt_text(&self, col: &str) -> R<Option<String>> {
        get(self.0, col)
    }
    fn int(&self, col: &str) -> R<i64> {
        get(self.0, col)
    }
    fn opt_int(&self, col: &str) -> R<Option<i64>> {
        get(self.0, col)
    }
    fn flag(&self, col: &str) -> R<bool> {
        // PostgreSQL has booleans; SQLite stores 0 and 1.
        get::<bool>(self.0, col).or_else(|_| get::<i64>(self.0, col).map(|i| i != 0))
    }
}

pub(crate) fn report_meta(row: &AnyRow) -> R<ReportMeta> {
    decode::report_meta(&Cols(row))
}

pub(crate) fn stored_report(row: &AnyRow) -> R<StoredReport> {
    decode::stored_report(&Cols(row))
}

pub(crate) fn policy_results(row: &AnyRow) -> R<Vec<PolicyResult>> {
    decode::policy_results(&Cols(row))
}

pub(crate) fn commit(row: &AnyRow, col: &str) -> R<CommitSha> {
    decode::commit(&Cols(row), col)
}

pub(crate) fn stored_alert(row: &AnyRow) -> R<StoredAlert> {
    decode::stored_alert(&Cols(row))
}

pub(crate) fn user(row: &AnyRow) -> R<User> {
    decode::user(&Cols(row))
}

pub(crate) fn api_key(row: &AnyRow) -> R<ApiKey> {
    decode::api_key(&Cols(row))
}

pub(crate) fn audit_entry(row: &AnyRow) -> R<AuditEntry> {
    decode::audit_entry(&Cols(row))
}

pub(crate) fn integration(row: &AnyRow) -> R<Integration> {
    decode::integration(&Cols(row))
}

pub(crate) fn channel(row: &AnyRow) -> R<Channel> {
    decode::channel(&Cols(row))
}

/// Adds a `severity, n, acked` row of open alerts to the integration's counts.
pub(crate) fn add_open(integration: &mut Integration, row: &AnyRow) -> R<()> {
    add_count(&mut integration.open_alerts, row)?;
    integration.acknowledged_alerts += get::<i64>(row, "acked")?.max(0) as u64;
    Ok(())
}

/// Adds a `severity, n` row to `counts`; a severity this version does not know is skipped.
pub(crate) fn add_count(counts: &mut SeverityCounts, row: &AnyRow) -> R<()> {
    if let Ok(severity) = clef_core::Severity::parse(&get::<String>(row, "severity")?) {
        counts.add(severity, get::<i64>(row, "n")?.max(0) as u64);
    }
    Ok(())
}

/// A role column, in whatever name the statement gave it.
pub(crate) fn role(row: &AnyRow, col: &str) -> R<Role> {
    decode::role(&get::<String>(row, col)?)
}

/// One `opened:resolved` of the dialect's `lifetimes` aggregate (resolved empty while open).
pub(crate) fn lifetime(raw: &str) -> R<(Millis, Option<Millis>)> {
    let corrupt = || StoreError::Other(format!("an alert lifetime does not parse: {raw:?}").into());
    let (opened, resolved) = raw.split_once(':').ok_or_else(corrupt)?;
    let opened = opened.parse().map_err(|_| corrupt())?;
    let resolved = if resolved.is_empty() { None } else { Some(resolved.parse().map_err(|_| corrupt())?) };
    Ok((opened, resolved))
}
