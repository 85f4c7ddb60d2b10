//! What operators need of the store: retention and the counts `/metrics` shows.

use crate::{R, SqlStore, ingest, map_err, rows};
use clef_core::ids::*;
use clef_core::{Millis, Severity};
use clef_store::{OpenAlertCount, PoolStats, Pruned, Retention, StoreStats};
use sqlx::AnyPool;
use std::collections::HashMap;

/// The report parts an integration's reports still refer to.
const PARTS_IN_USE: &str = "SELECT namespaces_part FROM reports WHERE integration_id = $1 AND namespaces_part IS NOT NULL \
     UNION SELECT environments_part FROM reports WHERE integration_id = $1 AND environments_part IS NOT NULL \
     UNION SELECT cells_part FROM reports WHERE integration_id = $1 AND cells_part IS NOT NULL \
     UNION SELECT drift_part FROM reports WHERE integration_id = $1 AND drift_part IS NOT NULL \
     UNION SELECT results_part FROM reports WHERE integration_id = $1 AND results_part IS NOT NULL";

/// The commits an integration's alerts name: they are what alert pages and attribution read.
const COMMITS_ALERTS_NAME: &str = "SELECT introduced_by_commit FROM alerts WHERE integration_id = $1 \
     UNION SELECT last_seen_commit FROM alerts WHERE integration_id = $1 \
     UNION SELECT resolved_by_commit FROM alerts WHERE integration_id = $1 AND resolved_by_commit IS NOT NULL";

impl SqlStore {
    pub(crate) async fn prune_all(&self, retention: Retention) -> R<Pruned> {
        let mut pruned = Pruned::default();
        if let Some(before) = retention.reports_before {
            let candidates: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT integration_id FROM reports WHERE commit_ts < $1")
                    .bind(before)
                    .fetch_all(&self.read)
                    .await
                    .map_err(map_err)?;
            for integration_id in candidates.into_iter().map(IntegrationId::from) {
                let (reports, parts) = self.prune_reports(&integration_id, before).await?;
                pruned.reports += reports;
                pruned.report_parts += parts;
            }
        }
        if let Some(before) = retention.deliveries_before {
            // Attempts go with their message (ON DELETE CASCADE).
            pruned.deliveries = self
                .delete(
                    "DELETE FROM outbox WHERE status <> 'pending' AND COALESCE(finished_at, created_at) < $1",
                    before,
                )
                .await?;
        }
        if let Some(before) = retention.audit_before {
            pruned.audit_entries = self.delete("DELETE FROM audit_log WHERE at < $1", before).await?;
        }
        if pruned != Pruned::default() && !self.dialect.reclaim.is_empty() {
            sqlx::query(self.dialect.reclaim).execute(&self.write).await.map_err(map_err)?;
        }
        Ok(pruned)
    }

    /// One integration's old history, in one transaction under the ingest lock, so an ingest
    /// never pages through history that is vanishing under it.
    async fn prune_reports(&self, integration_id: &IntegrationId, before: Millis) -> R<(u64, u64)> {
        let mut tx = self.begin().await?;
        let Some(locked) = ingest::lock(self.dialect, &mut tx, integration_id, None, 0).await? else {
            return Ok((0, 0)); // deleted meanwhile
        };
        let head = match locked.head {
            Some(read) => read,
            None => ingest::head(&mut tx, integration_id, locked.tracked.as_deref()).await?,
        };
        let reports = sqlx::query(&format!(
            "DELETE FROM reports WHERE integration_id = $1 AND commit_ts < $2 AND id <> $3 \
             AND commit_sha NOT IN ({COMMITS_ALERTS_NAME})"
        ))
        .bind(integration_id.as_str())
        .bind(before)
        .bind(head.map(|h| h.id.into_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        // Also sweeps parts left behind by replaced or deleted reports.
        let parts = sqlx::query(&format!(
            "DELETE FROM report_parts WHERE integration_id = $1 AND id NOT IN ({PARTS_IN_USE})"
        ))
        .bind(integration_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok((reports, parts))
    }

    /// One statement is its own transaction.
    async fn delete(&self, sql: &str, before: Millis) -> R<u64> {
        let done = sqlx::query(sql).bind(before).execute(&self.write).await.map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn read_stats(&self) -> R<StoreStats> {
        // Before the snapshot takes a connection of its own.
        let mut pools = vec![pool_stats("write", &self.write)];
        if self.separate_read {
            pools.push(pool_stats("read", &self.read));
        }
        let mut snapshot = self.snapshot().await?;
        let orgs: Vec<String> = sqlx::query_scalar("SELECT id FROM organizations ORDER BY id")
            .fetch_all(&mut *snapshot)
            .await
            .map_err(map_err)?;
        let counted = sqlx::query(
            "SELECT i.org_id, a.severity, \
               CAST(CASE WHEN a.acknowledged_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS acknowledged, \
               COUNT(*) AS n \
             FROM alerts a JOIN integrations i ON i.id = a.integration_id WHERE a.status = 'open' \
             GROUP BY i.org_id, a.severity, CASE WHEN a.acknowledged_at IS NULL THEN 0 ELSE 1 END",
        )
        .fetch_all(&mut *snapshot)
        .await
        .map_err(map_err)?;
        // Per organisation: (severity, acknowledged) → open alerts.
        let mut counts: HashMap<String, HashMap<(String, bool), u64>> = HashMap::new();
        for row in &counted {
            let kind = (rows::get::<String>(row, "severity")?, rows::get::<i64>(row, "acknowledged")? != 0);
            let n = rows::get::<i64>(row, "n")?.unsigned_abs();
            counts.entry(rows::get(row, "org_id")?).or_default().insert(kind, n);
        }
        // Every combination of every organisation, so a gauge that drops to 0 says so.
        let mut open_alerts = Vec::with_capacity(orgs.len() * Severity::ALL.len() * 2);
        for org_id in orgs {
            let of_org = counts.get(&org_id);
            for severity in Severity::ALL {
                for acknowledged in [false, true] {
                    let count = of_org
                        .and_then(|c| c.get(&(severity.as_str().to_owned(), acknowledged)))
                        .copied()
                        .unwrap_or(0);
                    open_alerts.push(OpenAlertCount {
                        org_id: org_id.clone().into(),
                        severity,
                        acknowledged,
                        count,
                    });
                }
            }
        }
        let pending = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status = 'pending'",
        )
        .fetch_one(&mut *snapshot)
        .await
        .map_err(map_err)?;
        snapshot.commit().await.map_err(map_err)?;
        Ok(StoreStats {
            open_alerts,
            outbox_pending: rows::get::<i64>(&pending, "n")?.unsigned_abs(),
            outbox_oldest_pending_at: rows::get(&pending, "oldest")?,
            pools,
        })
    }
}

fn pool_stats(name: &'static str, pool: &AnyPool) -> PoolStats {
    PoolStats {
        name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
