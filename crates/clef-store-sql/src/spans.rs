//! Alert lifetimes for trends, kept per integration in memory and checked against the
//! integration's ingest counter (`next_seq`) on every read. Every change to an integration's
//! alerts happens under the ingest lock, which moves the counter, so a cached integration whose
//! counter has not moved has the same alerts. An organisation-wide trend then reads only the
//! integrations that took reports since it was last drawn, on whichever replica draws it.

use crate::statement::Statement;
use crate::{R, SqlStore, map_err, rows};
use clef_core::Millis;
use clef_core::ids::*;
use clef_core::trends::AlertSpan;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One integration's spans as read at one ingest counter.
struct Cached {
    next_seq: i64,
    /// Every alert resolved at or after this (or open) is in `spans`.
    from: Millis,
    spans: Arc<Vec<AlertSpan>>,
}

#[derive(Default)]
pub(crate) struct SpanCache(Mutex<HashMap<IntegrationId, Cached>>);

impl SpanCache {
    /// A panic elsewhere cannot leave the map half written: every change is one insert or retain.
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IntegrationId, Cached>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: &IntegrationId, next_seq: i64, from: Millis) -> Option<Arc<Vec<AlertSpan>>> {
        self.map().get(id).filter(|c| c.next_seq == next_seq && c.from <= from).map(|c| c.spans.clone())
    }

    fn put(&self, id: IntegrationId, next_seq: i64, from: Millis, spans: Arc<Vec<AlertSpan>>) {
        self.map().insert(id, Cached { next_seq, from, spans });
    }

    /// Forgets integrations that are gone.
    fn keep(&self, live: &[IntegrationId]) {
        let mut cache = self.map();
        if cache.len() > live.len() {
            cache.retain(|id, _| live.contains(id));
        }
    }
}

impl SqlStore {
    pub(crate) async fn alert_spans_impl(
        &self,
        org_id: &OrgId,
        integration_id: Option<&IntegrationId>,
        from: Millis,
        to: Millis,
    ) -> R<Vec<AlertSpan>> {
        let mut sql = Statement::new("SELECT id, next_seq FROM integrations WHERE org_id = ");
        sql.push_bind(org_id.as_str());
        if let Some(id) = integration_id {
            sql.push(" AND id = ").push_bind(id.as_str());
        }
        let mut counters = Vec::new();
        for r in sql.build().fetch_all(&self.read).await.map_err(map_err)? {
            counters.push((rows::id::<IntegrationId>(&r, "id")?, rows::get::<i64>(&r, "next_seq")?));
        }
        if integration_id.is_none() {
            self.spans.keep(&counters.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
        }
        let mut found: Vec<Arc<Vec<AlertSpan>>> = Vec::with_capacity(counters.len());
        let mut missing = Vec::new();
        for (id, next_seq) in &counters {
            match self.spans.get(id, *next_seq, from) {
                Some(spans) => found.push(spans),
                None => missing.push((id, *next_seq)),
            }
        }
        if !missing.is_empty() {
            let ids: Vec<&IntegrationId> = missing.iter().map(|(id, _)| *id).collect();
            let mut read = self.read_spans(&ids, from).await?;
            for (id, next_seq) in missing {
                let spans = Arc::new(read.remove(id).unwrap_or_default());
                self.spans.put(id.clone(), next_seq, from, spans.clone());
                found.push(spans);
            }
        }
        // The window: opened by its end, still open or resolved after its start.
        let in_window = |s: &&AlertSpan| s.opened <= to && s.resolved.is_none_or(|r| r >= from);
        Ok(found.iter().flat_map(|spans| spans.iter().filter(in_window).cloned()).collect())
    }

    /// The spans of these integrations' alerts open at or after `from`, by integration; one row
    /// per cell and severity (lifetimes aggregated), which is what reading costs.
    async fn read_spans(
        &self,
        ids: &[&IntegrationId],
        from: Millis,
    ) -> R<HashMap<IntegrationId, Vec<AlertSpan>>> {
        let mut sql = Statement::new(format!(
            "SELECT a.integration_id, a.severity, a.namespace, a.environment, {} AS lifetimes \
             FROM alerts a WHERE a.integration_id IN (",
            self.dialect.lifetimes
        ));
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push_bind(id.as_str());
        }
        sql.push(") AND (a.resolved_at IS NULL OR a.resolved_at >= ")
            .push_bind(from)
            .push(") GROUP BY a.integration_id, a.severity, a.namespace, a.environment");
        let mut out: HashMap<IntegrationId, Vec<AlertSpan>> = HashMap::new();
        for r in sql.build().fetch_all(&self.read).await.map_err(map_err)? {
            // A severity this version does not know is left out, as in the counts.
            let Ok(severity) = clef_core::Severity::parse(&rows::get::<String>(&r, "severity")?) else {
                continue;
            };
            let integration_id: IntegrationId = rows::id(&r, "integration_id")?;
            let namespace: Option<String> = rows::get(&r, "namespace")?;
            let environment: Option<String> = rows::get(&r, "environment")?;
            let spans = out.entry(integration_id.clone()).or_default();
            for lifetime in rows::get::<String>(&r, "lifetimes")?.split(',') {
                let (opened, resolved) = rows::lifetime(lifetime)?;
                spans.push(AlertSpan {
                    integration_id: integration_id.clone(),
                    severity,
                    namespace: namespace.clone(),
                    environment: environment.clone(),
                    opened,
                    resolved,
                });
            }
        }
        Ok(out)
    }
}
