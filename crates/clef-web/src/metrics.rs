//! `/metrics` in the Prometheus text format: every name, label and bucket of the HTTP layer in
//! one place. Labels are methods, route templates, statuses, ingest paths and organisation ids;
//! never a rule, a scope, a branch or anything else a report carries.

use crate::error::ApiError;
use crate::{AppState, now_ms};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use clef_store::{IngestOutcome, StoreError};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};
use std::time::Instant;

const HTTP_REQUESTS: &str = "clef_http_requests_total";
const HTTP_DURATION: &str = "clef_http_request_duration_seconds";
const INGEST_REQUESTS: &str = "clef_ingest_requests_total";
const REPORTS_INGESTED: &str = "clef_reports_ingested_total";
const INGEST_DURATION: &str = "clef_ingest_duration_seconds";
const ALERTS_OPEN: &str = "clef_alerts_open";
const OUTBOX_PENDING: &str = "clef_outbox_pending_messages";
const OUTBOX_OLDEST: &str = "clef_outbox_oldest_pending_age_seconds";
const POOL_CONNECTIONS: &str = "clef_db_pool_connections";
const POOL_MAX: &str = "clef_db_pool_max_connections";
const DATABASE_UP: &str = "clef_database_up";

/// Upper bounds, in seconds: a report is stored in milliseconds, a batch of 500 in a second.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Installs the process-wide recorder and describes what this crate records.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new().set_buckets(&BUCKETS)?.install_recorder()?;
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template."
    );
    describe_counter!(
        INGEST_REQUESTS,
        Unit::Count,
        "Report submissions by path (json, batch, otlp) and outcome (accepted, rejected, failed)."
    );
    describe_counter!(
        REPORTS_INGESTED,
        Unit::Count,
        "Reports in accepted submissions by path and outcome (written, or unchanged: identical to the stored one)."
    );
    describe_histogram!(
        INGEST_DURATION,
        Unit::Seconds,
        "Time the store took to ingest a submission, by path."
    );
    describe_gauge!(ALERTS_OPEN, Unit::Count, "Open alerts per organisation, severity and acknowledgement.");
    describe_gauge!(OUTBOX_PENDING, Unit::Count, "Notifications waiting for their first or next attempt.");
    describe_gauge!(
        OUTBOX_OLDEST,
        Unit::Seconds,
        "Age of the oldest notification still waiting (0 when none)."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        Unit::Count,
        "Database connections open, by pool and state (idle, busy)."
    );
    describe_gauge!(POOL_MAX, Unit::Count, "Database connections a pool opens at most.");
    describe_gauge!(DATABASE_UP, Unit::Count, "1 when the database answered this scrape's queries, else 0.");
    // Every submission series exists from the start, so rates and alerts see a 0, not nothing.
    for path in [IngestPath::Json, IngestPath::Batch, IngestPath::Otlp] {
        for outcome in ["accepted", "rejected", "failed"] {
            counter!(INGEST_REQUESTS, "path" => path.label(), "outcome" => outcome).absolute(0);
        }
        for outcome in ["written", "unchanged"] {
            counter!(REPORTS_INGESTED, "path" => path.label(), "outcome" => outcome).absolute(0);
        }
    }
    Ok(handle)
}

/// Keeps the recorder's histograms drained while nobody scrapes; runs until aborted.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Counts every request and times it under its route template.
pub(crate) async fn track_requests(req: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status).increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// Where a submission came in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IngestPath {
    Json,
    Batch,
    Otlp,
}

impl IngestPath {
    fn label(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Batch => "batch",
            Self::Otlp => "otlp",
        }
    }

    /// A submission refused before it reached the store (it did not validate).
    pub(crate) fn rejected(self) {
        counter!(INGEST_REQUESTS, "path" => self.label(), "outcome" => "rejected").increment(1);
    }

    /// A submission of `reports` the store took, or failed on.
    pub(crate) fn stored(self, started: Instant, reports: usize, result: &Result<IngestOutcome, StoreError>) {
        histogram!(INGEST_DURATION, "path" => self.label()).record(started.elapsed().as_secs_f64());
        let Ok(outcome) = result else {
            counter!(INGEST_REQUESTS, "path" => self.label(), "outcome" => "failed").increment(1);
            return;
        };
        counter!(INGEST_REQUESTS, "path" => self.label(), "outcome" => "accepted").increment(1);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        counter!(REPORTS_INGESTED, "path" => self.label(), "outcome" => "written")
            .increment(count(outcome.written));
        counter!(REPORTS_INGESTED, "path" => self.label(), "outcome" => "unchanged")
            .increment(count(reports.saturating_sub(outcome.written)));
    }
}

/// The scrape: the store's counts are read now, then everything is rendered.
pub(crate) async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(handle) = &state.metrics else {
        return ApiError::not_found("route").into_response();
    };
    if let Some(token) = &state.settings.metrics_token
        && !bearer_matches(&headers, token)
    {
        return ApiError::Unauthorized("send the metrics token as `Authorization: Bearer <token>`".into())
            .into_response();
    }
    match state.store.stats().await {
        Ok(stats) => {
            gauge!(DATABASE_UP).set(1.0);
            for c in &stats.open_alerts {
                gauge!(ALERTS_OPEN, "org" => c.org_id.to_string(), "severity" => c.severity.as_str(),
                    "acknowledged" => if c.acknowledged { "true" } else { "false" })
                .set(c.count as f64);
            }
            gauge!(OUTBOX_PENDING).set(stats.outbox_pending as f64);
            let age_ms = stats.outbox_oldest_pending_at.map_or(0, |at| (now_ms() - at).max(0));
            gauge!(OUTBOX_OLDEST).set(age_ms as f64 / 1000.0);
            for pool in &stats.pools {
                let idle = f64::from(pool.idle);
                gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "idle").set(idle);
                gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "busy")
                    .set(f64::from(pool.open) - idle);
                gauge!(POOL_MAX, "pool" => pool.name).set(f64::from(pool.max));
            }
        }
        Err(e) => {
            // The process's own figures are still worth having while the database is away.
            tracing::warn!(error = %e, "metrics: the store's counts are unavailable");
            gauge!(DATABASE_UP).set(0.0);
        }
    }
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    bool::from(sent.as_bytes().ct_eq(token.as_bytes()))
}
