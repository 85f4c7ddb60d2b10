//! The ingest transaction: a short run of loads and writes; `clef_core` decides.

use crate::{Dialect, SqlStore, Statement, map_err, rows};
use clef_core::ids::*;
use clef_core::report::EncodedReport;
use clef_core::{Alert, EvalInput, EvalOutcome, HistoryEntry, Millis, Report, evaluate};
use clef_store::{IngestBatch, IngestOutcome, StoreError};
use sqlx::AnyPool;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

type R<T> = Result<T, StoreError>;

/// The head's identity and content: a change in either re-derives alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeadRef {
    pub id: ReportId,
    digest: String,
    commit_ts: i64,
    seq: i64,
}

/// An integration locked for writing, and what its writers need of it.
pub(crate) struct Locked {
    pub tracked: Option<String>,
    /// The last arrival number reserved.
    pub end_seq: i64,
    pub has_channels: bool,
    /// The head, when the dialect reads it within the lock and a branch is tracked.
    pub head: Option<Option<HeadRef>>,
}

/// Locks the integration for the rest of the transaction, in one statement: the update takes
/// its row lock (which serialises writers across replicas), reserves `reserve` arrival
/// numbers, and reads what writers need; where the dialect allows, the head too (see
/// `Dialect::head_in_lock`). `None` when there is no such integration (in `org_id`, if given).
pub(crate) async fn lock(
    dialect: &Dialect,
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    org_id: Option<&OrgId>,
    reserve: i64,
) -> R<Option<Locked>> {
    let head_columns = if dialect.head_in_lock {
        let of = |col: &str| {
            format!(
                ", (SELECT {col} FROM reports WHERE integration_id = integrations.id \
                 AND branch = integrations.tracked_branch ORDER BY commit_ts DESC, seq DESC LIMIT 1) AS head_{col}"
            )
        };
        ["id", "digest", "commit_ts", "seq"].map(of).concat()
    } else {
        String::new()
    };
    let Some(row) = sqlx::query(&format!(
        "UPDATE integrations SET next_seq = next_seq + $2 WHERE id = $1 AND ($3 IS NULL OR org_id = $3) \
         RETURNING tracked_branch, next_seq, \
           EXISTS (SELECT 1 FROM channels c WHERE c.integration_id = integrations.id) AS has_channels{head_columns}"
    ))
    .bind(integration_id.as_str())
    .bind(reserve)
    .bind(org_id.map(OrgId::as_str))
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?
    else {
        return Ok(None);
    };
    let tracked: Option<String> = rows::get(&row, "tracked_branch")?;
    let head = match (dialect.head_in_lock, &tracked) {
        (true, Some(_)) => Some(match rows::get::<Option<String>>(&row, "head_id")? {
            Some(id) => Some(HeadRef {
                id: ReportId::from(id),
                digest: rows::get(&row, "head_digest")?,
                commit_ts: rows::get(&row, "head_commit_ts")?,
                seq: rows::get(&row, "head_seq")?,
            }),
            None => None,
        }),
        _ => None,
    };
    Ok(Some(Locked {
        tracked,
        end_seq: rows::get(&row, "next_seq")?,
        has_channels: rows::flag(&row, "has_channels")?,
        head,
    }))
}

pub(crate) async fn ingest(store: &SqlStore, batch: IngestBatch) -> R<IngestOutcome> {
    // Serialising and hashing happen before the integration is locked, so other requests can
    // encode while one writes.
    let encoded: Vec<EncodedReport> = batch.reports.iter().map(Report::encode).collect();
    let job = Job { batch, encoded };
    if store.dialect.group_commit {
        store.group.submit(store, job).await
    } else {
        alone(&store.write, store.dialect, &job).await
    }
}

/// A queued ingest and where its outcome goes.
type Queued = (Job, oneshot::Sender<R<IngestOutcome>>);

/// One ingest request, encoded and ready to write.
pub(crate) struct Job {
    batch: IngestBatch,
    encoded: Vec<EncodedReport>,
}

/// One ingest in a transaction of its own.
async fn alone(pool: &AnyPool, dialect: &Dialect, job: &Job) -> R<IngestOutcome> {
    let mut outcomes = together(pool, dialect, &[job]).await?;
    outcomes
        .pop()
        .ok_or_else(|| StoreError::Other("an ingest transaction answered without an outcome".into()))
}

/// Writes the ingests in one transaction, all or nothing; an outcome per ingest, in order.
async fn together(pool: &AnyPool, dialect: &Dialect, jobs: &[&Job]) -> R<Vec<IngestOutcome>> {
    let mut tx = pool.begin_with(dialect.begin_write).await.map_err(map_err)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(write(dialect, &mut tx, job).await?);
    }
    tx.commit().await.map_err(map_err)?;
    for job in jobs {
        tracing::debug!(integration.id = %job.batch.integration_id, "ingest transaction committed");
    }
    Ok(outcomes)
}

/// Group commit, where the engine has one writer (SQLite): ingests that arrive while a
/// transaction is open queue, and the next transaction writes all of them and commits once.
/// Each caller hears back only after the commit that holds its reports; when anything in a
/// group fails, the group is rolled back and each of its ingests runs alone, so one bad
/// request never fails another.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Queued>>,
}

/// At most this many requests, or this many reports, share a transaction.
const GROUP_REQUESTS: usize = 64;
const GROUP_REPORTS: usize = 500;

impl GroupCommit {
    async fn submit(&self, store: &SqlStore, job: Job) -> R<IngestOutcome> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::channel(1024);
            tokio::spawn(group_writer(store.write.clone(), store.dialect, jobs));
            queue
        });
        let closed = || StoreError::Busy("the store is closing".into());
        let (reply, answer) = oneshot::channel();
        queue.send((job, reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn group_writer(pool: AnyPool, dialect: &'static Dialect, mut jobs: mpsc::Receiver<Queued>) {
    while let Some(first) = jobs.recv().await {
        let mut reports = first.0.batch.reports.len();
        let mut group = vec![first];
        while group.len() < GROUP_REQUESTS && reports < GROUP_REPORTS {
            let Ok(next) = jobs.try_recv() else { break };
            reports += next.0.batch.reports.len();
            group.push(next);
        }
        let written: Vec<&Job> = group.iter().map(|(job, _)| job).collect();
        match together(&pool, dialect, &written).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in group.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if group.len() == 1 => {
                let _ = group.into_iter().next().map(|(_, reply)| reply.send(Err(e)));
            }
            Err(_) => {
                for (job, reply) in group {
                    let _ = reply.send(alone(&pool, dialect, &job).await);
                }
            }
        }
    }
}

/// The writes of one ingest, inside the caller's transaction.
async fn write(dialect: &Dialect, tx: &mut Transaction<'_, Any>, job: &Job) -> R<IngestOutcome> {
    let Job { batch, encoded } = job;
    let n = i64::try_from(batch.reports.len()).unwrap_or(i64::MAX);
    let locked = lock(dialect, tx, &batch.integration_id, None, n).await?.ok_or(StoreError::NotFound)?;
    // The crash test counts this line and `committed`'s to show kills landing inside the
    // transaction.
    tracing::debug!(integration.id = %batch.integration_id, reports = n, "ingest transaction open");
    let mut tracked = locked.tracked;
    let head_in_lock = locked.head;
    // The batch's reports take the arrival numbers after the previous end, in batch order.
    let first_seq = locked.end_seq - n + 1;
    let has_channels = locked.has_channels;
    if tracked.is_none() {
        tracked = batch.reports.iter().map(|r| &r.branch).find(|b| !b.is_empty()).cloned();
        if tracked.is_some() {
            sqlx::query("UPDATE integrations SET tracked_branch = $1 WHERE id = $2")
                .bind(&tracked)
                .bind(batch.integration_id.as_str())
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
        }
    }

    let old_head = match head_in_lock {
        Some(read) => read,
        // Read now: the dialect cannot read it within the lock, or the branch was chosen just now.
        None => head(tx, &batch.integration_id, tracked.as_deref()).await?,
    };
    // A commit sent twice in one batch: the later copy is the one that stands (as if each had
    // replaced the one before), and both positions answer with its id.
    let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(batch.reports.len());
    for (i, r) in batch.reports.iter().enumerate() {
        last_of.insert(r.commit_sha.as_str(), i);
    }
    let kept: Vec<usize> =
        (0..batch.reports.len()).filter(|i| last_of[batch.reports[*i].commit_sha.as_str()] == *i).collect();
    let mut written_rows: HashMap<String, (ReportId, i64)> = HashMap::with_capacity(kept.len());
    for chunk in kept.chunks(UPSERT_CHUNK) {
        let rows: Vec<Row<'_>> = chunk
            .iter()
            .map(|&i| Row { seq: first_seq + i as i64, report: &batch.reports[i], encoded: &encoded[i] })
            .collect();
        written_rows.extend(upsert_reports(tx, &batch.integration_id, batch.received_at, &rows).await?);
    }
    // Identical to what is stored (retries): nothing changes; they answer with their ids.
    let unchanged: Vec<&str> = kept
        .iter()
        .map(|&i| batch.reports[i].commit_sha.as_str())
        .filter(|sha| !written_rows.contains_key(*sha))
        .collect();
    let mut ids: HashMap<String, ReportId> =
        written_rows.iter().map(|(sha, (id, _))| (sha.clone(), id.clone())).collect();
    for chunk in unchanged.chunks(UPSERT_CHUNK * 20) {
        let mut q = Statement::new("SELECT id, commit_sha FROM reports WHERE integration_id = ");
        q.push_bind(batch.integration_id.as_str())
            .push(" AND commit_sha IN (")
            .push_list(chunk.iter().copied())
            .push(")");
        for row in q.build().fetch_all(&mut **tx).await.map_err(map_err)? {
            ids.insert(rows::get(&row, "commit_sha")?, rows::id(&row, "id")?);
        }
    }
    let report_ids = batch
        .reports
        .iter()
        .map(|r| ids.get(r.commit_sha.as_str()).cloned().ok_or(StoreError::NotFound))
        .collect::<R<Vec<_>>>()?;

    // The new head follows from the old one and what this batch wrote, unless the batch
    // rewrote the old head itself (it may have moved back in time): then ask the database.
    let mut new_head = old_head.clone();
    let mut old_head_rewritten = false;
    for &i in &kept {
        let report = &batch.reports[i];
        let Some((id, commit_ts)) = written_rows.get(report.commit_sha.as_str()) else { continue };
        let seq = first_seq + i as i64;
        old_head_rewritten |= old_head.as_ref().is_some_and(|h| &h.id == id);
        let on_tracked = tracked.as_deref() == Some(report.branch.as_str());
        if on_tracked && new_head.as_ref().is_none_or(|h| (*commit_ts, seq) > (h.commit_ts, h.seq)) {
            new_head = Some(HeadRef {
                id: id.clone(),
                digest: encoded[i].digest.clone(),
                commit_ts: *commit_ts,
                seq,
            });
        }
    }
    let written = written_rows.len();

    let mut outcome =
        IngestOutcome { report_ids, written, evaluated: false, opened: 0, resolved: 0, messages: 0 };
    if written == 0 {
        // An identical retry: nothing changed, so nothing is evaluated or sent.
        return Ok(outcome);
    }
    if old_head_rewritten {
        new_head = head(tx, &batch.integration_id, tracked.as_deref()).await?;
    }
    if let (Some(new), Some(branch)) = (new_head, tracked.as_deref())
        && old_head.as_ref() != Some(&new)
    {
        // The head is nearly always in the batch (the last copy of its commit wins).
        let in_batch = outcome.report_ids.iter().rposition(|id| *id == new.id).map(|i| &batch.reports[i]);
        let since = old_head.as_ref().map(|h| (h.commit_ts, h.seq));
        let change = HeadChange {
            integration_id: &batch.integration_id,
            now: batch.received_at,
            branch,
            since,
            head: &new,
            report: in_batch,
            has_channels,
        };
        let (opened, resolved, messages) = evaluate_head(tx, change).await?;
        outcome.evaluated = true;
        outcome.opened = opened;
        outcome.resolved = resolved;
        outcome.messages = messages;
    }
    Ok(outcome)
}

pub(crate) async fn head(
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    branch: Option<&str>,
) -> R<Option<HeadRef>> {
    let Some(branch) = branch else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id, digest, commit_ts, seq FROM reports WHERE integration_id = $1 AND branch = $2 \
         ORDER BY commit_ts DESC, seq DESC LIMIT 1",
    )
    .bind(integration_id.as_str())
    .bind(branch)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    row.map(|r| {
        Ok(HeadRef {
            id: rows::id(&r, "id")?,
            digest: rows::get(&r, "digest")?,
            commit_ts: rows::get(&r, "commit_ts")?,
            seq: rows::get(&r, "seq")?,
        })
    })
    .transpose()
}

/// Reports written per statement: 24 values each, well within both engines' limits.
const UPSERT_CHUNK: usize = 40;

/// One report to write, with its arrival number and its encoded parts.
struct Row<'a> {
    seq: i64,
    report: &'a Report,
    encoded: &'a EncodedReport,
}

/// Inserts or replaces the rows in one statement. Replacing keeps the id: ON CONFLICT updates
/// every column but the key, and only when the content differs. A push time (OTLP) is not a
/// commit time: a commit pushed again keeps its place in history. Answers, per commit written,
/// its id and commit time; a commit identical to what is stored is not in the answer.
async fn upsert_reports(
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    received_at: i64,
    rows: &[Row<'_>],
) -> R<HashMap<String, (ReportId, i64)>> {
    // The parts first, each content once; the reports then name them by hash.
    let mut parts = Statement::new("INSERT INTO report_parts (integration_id, hash, body) VALUES ");
    let mut seen = std::collections::HashSet::new();
    for (body, hash) in rows.iter().flat_map(|row| row.encoded.parts()) {
        if seen.insert(hash) {
            parts.push(if seen.len() == 1 { "(" } else { ", (" });
            parts
                .push_bind(integration_id.as_str())
                .push(", ")
                .push_bind(hash)
                .push(", ")
                .push_bind(body)
                .push(")");
        }
    }
    parts.push(" ON CONFLICT (integration_id, hash) DO NOTHING");
    parts.build().execute(&mut **tx).await.map_err(map_err)?;

    let mut q = Statement::new(
        "INSERT INTO reports (id, integration_id, commit_sha, branch, commit_ts, seq, digest, received_at, \
           cli_version, repo_origin, files_scanned, violations, passed, worst_health, namespaces, \
           environments, cells, drift, policy_results, ci_provider, ci_pipeline_url, ci_trigger, \
           source, issue_counts, namespaces_part, environments_part, cells_part, drift_part, results_part) \
         VALUES ",
    );
    for (n, row) in rows.iter().enumerate() {
        let r = row.report;
        let ci = r.ci_context.as_ref();
        let counts =
            r.issue_counts.map(|c| serde_json::to_string(&c)).transpose().map_err(StoreError::other)?;
        q.push(if n == 0 { "(" } else { ", (" });
        q.push_bind(crate::new_id::<String>()).push(", ");
        q.push_bind(integration_id.as_str()).push(", ");
        q.push_bind(r.commit_sha.as_str()).push(", ");
        q.push_bind(r.branch.as_str()).push(", ");
        q.push_bind(r.commit_timestamp).push(", ");
        q.push_bind(row.seq).push(", ");
        q.push_bind(row.encoded.digest.as_str()).push(", ");
        q.push_bind(received_at).push(", ");
        q.push_bind(r.cli_version.as_deref()).push(", ");
        q.push_bind(r.repo_origin.as_deref()).push(", ");
        q.push_bind(r.summary.files_scanned as i64).push(", ");
        q.push_bind(r.summary.violations as i64).push(", ");
        q.push_bind(r.summary.passed).push(", ");
        q.push_bind(r.worst_health().map(|h| h.as_str())).push(", ");
        // The inline JSON columns stay empty: the parts hold it.
        q.push("'', '', '', '', '', ");
        q.push_bind(ci.and_then(|c| c.provider.as_deref())).push(", ");
        q.push_bind(ci.and_then(|c| c.pipeline_url.as_deref())).push(", ");
        q.push_bind(ci.and_then(|c| c.trigger.as_deref())).push(", ");
        q.push_bind(r.source.as_str()).push(", ");
        q.push_bind(counts);
        for (_, hash) in row.encoded.parts() {
            q.push(", (SELECT id FROM report_parts WHERE integration_id = ")
                .push_bind(integration_id.as_str());
            q.push(" AND hash = ").push_bind(hash).push(")");
        }
        q.push(")");
    }
    q.push(
        " ON CONFLICT (integration_id, commit_sha) DO UPDATE SET \
           branch = excluded.branch, \
           commit_ts = CASE WHEN excluded.source = 'otlp' THEN reports.commit_ts ELSE excluded.commit_ts END, \
           seq = excluded.seq, digest = excluded.digest, received_at = excluded.received_at, \
           cli_version = excluded.cli_version, repo_origin = excluded.repo_origin, \
           files_scanned = excluded.files_scanned, violations = excluded.violations, \
           passed = excluded.passed, worst_health = excluded.worst_health, \
           namespaces = excluded.namespaces, environments = excluded.environments, \
           cells = excluded.cells, drift = excluded.drift, policy_results = excluded.policy_results, \
           ci_provider = excluded.ci_provider, ci_pipeline_url = excluded.ci_pipeline_url, \
           ci_trigger = excluded.ci_trigger, source = excluded.source, issue_counts = excluded.issue_counts, \
           namespaces_part = excluded.namespaces_part, environments_part = excluded.environments_part, \
           cells_part = excluded.cells_part, drift_part = excluded.drift_part, results_part = excluded.results_part \
         WHERE reports.digest <> excluded.digest \
         RETURNING id, commit_sha, commit_ts",
    );
    q.build()
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?
        .iter()
        .map(|row| Ok((rows::get(row, "commit_sha")?, (rows::id(row, "id")?, rows::get(row, "commit_ts")?))))
        .collect()
}

/// A head that changed: what re-deriving alerts needs to know.
pub(crate) struct HeadChange<'a> {
    pub integration_id: &'a IntegrationId,
    pub now: Millis,
    pub branch: &'a str,
    /// The previous head's place in time (commit time, arrival), after which detached reports
    /// count as the tracked branch's; `None`: all of them.
    pub since: Option<(i64, i64)>,
    pub head: &'a HeadRef,
    /// The head's report when the caller has it at hand (nearly always: it is in the batch).
    pub report: Option<&'a Report>,
    pub has_channels: bool,
}

/// Re-derives alerts from the new head, writes the changes and the outbox messages that
/// announce them. Returns (opened, resolved, messages).
pub(crate) async fn evaluate_head(
    tx: &mut Transaction<'_, Any>,
    change: HeadChange<'_>,
) -> R<(usize, usize, usize)> {
    let HeadChange { integration_id, now, branch, since, head, report, has_channels } = change;
    let since = since.unwrap_or((i64::MIN, i64::MIN));
    let loaded;
    let head_report = match report {
        Some(r) => r,
        None => {
            // A replaced head that moved back in time leaves an older stored report as head.
            let row = sqlx::query(&format!(
                "SELECT {} FROM {} WHERE r.id = $1",
                rows::REPORT_FULL,
                rows::REPORT_FULL_FROM
            ))
            .bind(head.id.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(map_err)?;
            loaded = rows::stored_report(&row)?.report;
            &loaded
        }
    };

    let open: Vec<Alert> = sqlx::query(&format!(
        "SELECT {} FROM alerts a WHERE a.integration_id = $1 AND a.status = 'open'",
        rows::ALERT
    ))
    .bind(integration_id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?
    .iter()
    .map(|r| rows::stored_alert(r).map(|s| s.alert))
    .collect::<R<_>>()?;

    let mut history: Vec<HistoryEntry> = Vec::new();
    let mut cursor = (head.commit_ts, head.seq);
    let mut complete = false;
    // Most evaluations need only the previous head (a recurring alert's last sighting).
    let mut page = 4;
    let mut evaluation = loop {
        let input = EvalInput {
            head: head_report,
            open_alerts: &open,
            history: &history,
            history_complete: complete,
            now,
        };
        match evaluate(&input) {
            EvalOutcome::Done(e) => break e,
            EvalOutcome::NeedMoreHistory => {
                // The tracked branch's reports, and the detached ones (empty branch) that came
                // after the previous head: the CLI sends the commits of a gap that way.
                let rows = sqlx::query(
                    "SELECT r.commit_sha, r.commit_ts, r.seq, COALESCE(pr.body, r.policy_results) AS policy_results \
                     FROM reports r LEFT JOIN report_parts pr ON pr.id = r.results_part \
                     WHERE r.integration_id = $1 \
                       AND (r.branch = $2 OR (r.branch = '' AND (r.commit_ts > $3 OR (r.commit_ts = $3 AND r.seq > $4)))) \
                       AND (r.commit_ts < $5 OR (r.commit_ts = $5 AND r.seq < $6)) \
                     ORDER BY r.commit_ts DESC, r.seq DESC LIMIT $7",
                )
                .bind(integration_id.as_str())
                .bind(branch)
                .bind(since.0)
                .bind(since.1)
                .bind(cursor.0)
                .bind(cursor.1)
                .bind(page)
                .fetch_all(&mut **tx)
                .await
                .map_err(map_err)?;
                complete = (rows.len() as i64) < page;
                for row in &rows {
                    history.push(HistoryEntry::new(
                        rows::commit(row, "commit_sha")?,
                        rows::get(row, "commit_ts")?,
                        &rows::policy_results(row)?,
                    ));
                    cursor = (rows::get(row, "commit_ts")?, rows::get(row, "seq")?);
                }
                page *= 8;
            }
        }
    };

    // Resolutions first: an evaluation may resolve an alert and open a new one for the same
    // rule and scope, and the one-open-alert index must never see both open.
    for a in &evaluation.resolved {
        sqlx::query(
            "UPDATE alerts SET status = 'resolved', resolved_by_commit = $1, resolved_at = $2 WHERE id = $3",
        )
        .bind(a.resolved_by_commit.as_ref().map(|c| c.as_str()))
        .bind(a.resolved_at)
        .bind(a.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    for a in &mut evaluation.opened {
        a.id = crate::new_id();
        sqlx::query(
            "INSERT INTO alerts (id, integration_id, rule_id, rule_name, scope, severity, message, status, \
               introduced_by_commit, last_seen_commit, first_seen_at, last_seen_at, occurrences, namespace, environment) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(a.id.as_str())
        .bind(integration_id.as_str())
        .bind(&a.rule_id)
        .bind(&a.rule_name)
        .bind(a.scope.canonical())
        .bind(a.severity.as_str())
        .bind(&a.message)
        .bind(a.introduced_by_commit.as_str())
        .bind(a.last_seen_commit.as_str())
        .bind(a.first_seen_at)
        .bind(a.last_seen_at)
        .bind(a.occurrences as i64)
        .bind(a.scope.namespace())
        .bind(a.scope.environment())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    // Recurring alerts all move to the same commit and time: one statement for all that were
    // seen once more with the same message, one each for the others (a backfill, a new text).
    let before: HashMap<&AlertId, &Alert> = open.iter().map(|a| (&a.id, a)).collect();
    let (plain, changed): (Vec<&Alert>, Vec<&Alert>) = evaluation.recurring.iter().partition(|a| {
        before.get(&a.id).is_some_and(|b| b.message == a.message && b.occurrences + 1 == a.occurrences)
    });
    if let Some(first) = plain.first() {
        let mut update = Statement::new("UPDATE alerts SET last_seen_commit = ");
        update.push_bind(first.last_seen_commit.as_str());
        update.push(", last_seen_at = ").push_bind(first.last_seen_at);
        update.push(", occurrences = occurrences + 1 WHERE id IN (");
        update.push_list(plain.iter().map(|a| a.id.as_str())).push(")");
        update.build().execute(&mut **tx).await.map_err(map_err)?;
    }
    for a in changed {
        sqlx::query(
            "UPDATE alerts SET last_seen_commit = $1, last_seen_at = $2, occurrences = $3, message = $4 WHERE id = $5",
        )
        .bind(a.last_seen_commit.as_str())
        .bind(a.last_seen_at)
        .bind(a.occurrences as i64)
        .bind(&a.message)
        .bind(a.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    // Most integrations without channels skip the channel lookup altogether.
    let messages = if has_channels {
        crate::outbox::enqueue_evaluation(tx, integration_id, head_report, &evaluation, now).await?
    } else {
        0
    };
    Ok((evaluation.opened.len(), evaluation.resolved.len(), messages))
}
