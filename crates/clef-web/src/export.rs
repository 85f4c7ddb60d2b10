//! CSV and JSON exports of alerts and report history, for the API and the dashboard alike:
//! one reading of the store, one rendering.

use crate::api::dto::{AlertView, ReportMetaView};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use clef_core::ids::*;
use clef_store::{AlertQuery, ReportQuery, Store, StoreError};
use serde::Serialize;

/// Rows an export holds at most; the answer says when it stopped there.
pub const MAX_ROWS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `csv` (the default) or `json`.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim).unwrap_or_default() {
            "" | "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format {other:?}: expected csv or json")),
        }
    }
}

/// Every alert `query` selects (its cursor and limit are the export's own), newest first.
pub async fn alerts(
    store: &dyn Store,
    org: &OrgId,
    mut query: AlertQuery,
) -> Result<Vec<AlertView>, StoreError> {
    query.limit = 1000;
    query.after = None;
    let mut out = Vec::new();
    loop {
        let page = store.alerts(org, query.clone()).await?;
        out.extend(page.alerts.into_iter().map(AlertView::from));
        match page.next {
            Some(next) if out.len() < MAX_ROWS => query.after = Some(next),
            _ => break,
        }
    }
    out.truncate(MAX_ROWS);
    Ok(out)
}

/// An integration's report history, every branch, newest first.
pub async fn reports(
    store: &dyn Store,
    org: &OrgId,
    id: &IntegrationId,
) -> Result<Vec<ReportMetaView>, StoreError> {
    let mut query = ReportQuery { branch: None, limit: 500, before: None };
    let mut out = Vec::new();
    loop {
        let page = store.reports(org, id, query.clone()).await?;
        let last = page.last().map(|r| r.commit_sha.clone());
        let full = page.len() == query.limit as usize;
        out.extend(page.into_iter().map(ReportMetaView::from));
        match last {
            Some(last) if full && out.len() < MAX_ROWS => query.before = Some(last),
            _ => break,
        }
    }
    out.truncate(MAX_ROWS);
    Ok(out)
}

/// The rows as a download named `name` (without extension).
pub fn respond<T: Serialize>(rows: &[T], format: Format, name: &str) -> Result<Response, String> {
    let (body, content_type, ext) = match format {
        Format::Json => (serde_json::to_vec(rows).map_err(|e| e.to_string())?, "application/json", "json"),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for row in rows {
                w.serialize(row).map_err(|e| e.to_string())?;
            }
            (w.into_inner().map_err(|e| e.to_string())?, "text/csv; charset=utf-8", "csv")
        }
    };
    let disposition = format!("attachment; filename=\"{name}.{ext}\"");
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}
