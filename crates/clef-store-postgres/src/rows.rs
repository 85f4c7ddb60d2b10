//! Rows of this driver read through the shared decoders in `clef_store::decode`.

use clef_core::{CommitSha, PolicyResult};
use clef_store::decode::{self, Columns};
use clef_store::{
    ApiKey, AuditEntry, Channel, Integration, ReportMeta, StoreError, StoredAlert, StoredReport, User,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(crate) use clef_store::decode::{ALERT, API_KEY, CHANNEL, INTEGRATION, REPORT_FULL, REPORT_META, USER};

type R<T> = Result<T, StoreError>;

/// One column, typed.
pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    col: &str,
) -> R<T> {
    row.try_get(col).map_err(crate::map_err)
}

struct Cols<'r>(&'r PgRow);

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
        get(self.0, col)
    }
}

pub(crate) fn report_meta(row: &PgRow) -> R<ReportMeta> {
    decode::report_meta(&Cols(row))
}

pub(crate) fn stored_report(row: &PgRow) -> R<StoredReport> {
    decode::stored_report(&Cols(row))
}

pub(crate) fn policy_results(row: &PgRow) -> R<Vec<PolicyResult>> {
    decode::policy_results(&Cols(row))
}

pub(crate) fn commit(row: &PgRow, col: &str) -> R<CommitSha> {
    decode::commit(&Cols(row), col)
}

pub(crate) fn stored_alert(row: &PgRow) -> R<StoredAlert> {
    decode::stored_alert(&Cols(row))
}

pub(crate) fn user(row: &PgRow) -> R<User> {
    decode::user(&Cols(row))
}

pub(crate) fn api_key(row: &PgRow) -> R<ApiKey> {
    decode::api_key(&Cols(row))
}

pub(crate) fn audit_entry(row: &PgRow) -> R<AuditEntry> {
    decode::audit_entry(&Cols(row))
}

pub(crate) fn integration(row: &PgRow) -> R<Integration> {
    decode::integration(&Cols(row))
}

pub(crate) fn channel(row: &PgRow) -> R<Channel> {
    decode::channel(&Cols(row))
}
