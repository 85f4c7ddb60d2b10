//! Channels and the outbox: messages are written by ingest, claimed with a lease by any
//! worker, and finished with a recorded attempt. No transaction is held while sending.

use crate::Statement;
use crate::rows::CHANNEL;
use crate::sealed::SigningSecret;
use crate::{SqlStore, audit, found, map_err, new_id, rows};
use clef_core::Millis;
use clef_core::ids::*;
use clef_core::notification::{ChannelKind, ChannelRule, Digest, DigestAlert, LastTold, target_hint};
use clef_store::*;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

type R<T> = Result<T, StoreError>;

fn digest(raw: &str) -> R<Digest> {
    serde_json::from_str(raw).map_err(StoreError::other)
}

/// What the delivery log shows for a message whose stored content does not parse.
fn unreadable_digest(m: &AnyRow) -> Digest {
    Digest {
        integration_id: rows::id(m, "integration_id").unwrap_or_default(),
        integration_name: String::new(),
        commit_sha: None,
        branch: String::new(),
        pipeline_url: None,
        alerts: Vec::new(),
    }
}

fn kind(raw: &str) -> R<ChannelKind> {
    ChannelKind::parse(raw).map_err(|e| StoreError::Other(e.into()))
}

/// A claimed row with its channel and insertion order; the target still sealed.
fn claimed_delivery(r: &AnyRow) -> R<(ClaimedDelivery, ChannelId, i64)> {
    Ok((
        ClaimedDelivery {
            id: rows::id(r, "id")?,
            channel_kind: kind(&rows::get::<String>(r, "channel_kind")?)?,
            target: rows::get(r, "target")?,
            signing_secrets: Vec::new(),
            digest: digest(rows::get(r, "digest")?)?,
            attempts: rows::get::<i64>(r, "attempts")?.max(0) as u32,
            created_at: rows::get(r, "created_at")?,
        },
        rows::id(r, "channel_id")?,
        rows::get(r, "seq")?,
    ))
}

/// Of the alerts the claimed messages would notify about, those acknowledged at `now`: one
/// statement for the whole claim.
async fn acknowledged_among(
    tx: &mut Transaction<'_, Any>,
    messages: &[&ClaimedDelivery],
    now: Millis,
) -> R<Vec<AlertId>> {
    let mut ids: Vec<&str> =
        messages.iter().flat_map(|m| m.digest.silenceable()).map(AlertId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Statement::new("SELECT a.id FROM alerts a WHERE ");
    crate::push_acknowledged(&mut q, now).push(" AND a.id IN (").push_list(ids).push(")");
    q.build().fetch_all(&mut **tx).await.map_err(map_err)?.iter().map(|r| rows::id(r, "id")).collect()
}

/// Leaves out of a claimed message the alerts acknowledged since it was queued (someone has it
/// in hand: telling them again is noise). A message left with nothing to say is not sent: it
/// ends as `suppressed` in the delivery log. Returns whether it was.
async fn leave_out_acknowledged(
    tx: &mut Transaction<'_, Any>,
    m: &mut ClaimedDelivery,
    acknowledged: &[AlertId],
    now: Millis,
) -> R<bool> {
    let left_out: Vec<AlertId> =
        m.digest.silenceable().filter(|id| acknowledged.contains(id)).cloned().collect();
    if left_out.is_empty() {
        return Ok(false);
    }
    if m.digest.leave_out(&left_out) {
        tracing::info!(delivery.id = %m.id, "message suppressed: its alerts were acknowledged before sending");
        sqlx::query(
            "UPDATE outbox SET status = 'suppressed', finished_at = $1, locked_until = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(m.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        return Ok(true);
    }
    // What is sent is what the log shows, and the alerts left out are not said to be notified.
    sqlx::query("UPDATE outbox SET digest = $1 WHERE id = $2")
        .bind(serde_json::to_string(&m.digest).map_err(StoreError::other)?)
        .bind(m.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    let mut unlink = Statement::new("DELETE FROM delivery_alerts WHERE outbox_id = ");
    unlink
        .push_bind(m.id.as_str())
        .push(" AND alert_id IN (")
        .push_list(left_out.iter().map(AlertId::as_str))
        .push(")");
    unlink.build().execute(&mut **tx).await.map_err(map_err)?;
    Ok(false)
}

/// Ends a message as failed with one recorded attempt saying why.
async fn park(tx: &mut Transaction<'_, Any>, id: &DeliveryId, at: Millis, reason: &str) -> R<()> {
    tracing::error!(delivery.id = %id, reason, "outbox message parked as failed");
    sqlx::query(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, finished_at = $1, \
         locked_until = NULL WHERE id = $2",
    )
    .bind(at)
    .bind(id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    record_attempt(tx, id, at, AttemptOutcome::Permanent, reason).await
}

async fn record_attempt(
    tx: &mut Transaction<'_, Any>,
    id: &DeliveryId,
    at: Millis,
    outcome: AttemptOutcome,
    detail: &str,
) -> R<()> {
    sqlx::query("INSERT INTO delivery_attempts (outbox_id, at, outcome, detail) VALUES ($1, $2, $3, $4)")
        .bind(id.as_str())
        .bind(at)
        .bind(outcome.as_str())
        .bind(detail.chars().take(1000).collect::<String>())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Writes one outbox message per channel with something to say; returns how many.
pub(crate) async fn enqueue_evaluation(
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    head: &clef_core::Report,
    evaluation: &clef_core::Evaluation,
    now: Millis,
) -> R<usize> {
    let channels = integration_channels(&mut **tx, integration_id).await?;
    if channels.is_empty() {
        return Ok(0);
    }
    let rules = rules(&channels);
    let told = last_told(tx, &rules, &evaluation.recurring).await?;
    let planned = clef_core::notification::plan(evaluation, &rules, &told, now);
    let head = MessageHead {
        commit_sha: Some(head.commit_sha.clone()),
        branch: head.branch.clone(),
        pipeline_url: head.ci_context.as_ref().and_then(|c| c.pipeline_url.clone()),
    };
    enqueue_planned(tx, integration_id, &channels, planned, head, now).await
}

/// Queues one message per acknowledged alert (of one integration) to each channel that tracks
/// alert state.
pub(crate) async fn enqueue_acknowledgements(
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    alerts: &[&clef_core::Alert],
    now: Millis,
) -> R<usize> {
    let channels = integration_channels(&mut **tx, integration_id).await?;
    let rules = rules(&channels);
    let mut queued = 0;
    for alert in alerts {
        let planned = clef_core::notification::plan_acknowledgement(alert, &rules);
        let head = MessageHead {
            commit_sha: Some(alert.last_seen_commit.clone()),
            branch: String::new(),
            pipeline_url: None,
        };
        queued += enqueue_planned(tx, integration_id, &channels, planned, head, now).await?;
    }
    Ok(queued)
}

/// The commit a message is about (none for a test).
struct MessageHead {
    commit_sha: Option<clef_core::CommitSha>,
    branch: String,
    pipeline_url: Option<String>,
}

impl MessageHead {
    const TEST: MessageHead = MessageHead { commit_sha: None, branch: String::new(), pipeline_url: None };

    /// The message for the integration, before its alerts.
    fn digest(self, integration_id: &IntegrationId, integration_name: String) -> Digest {
        Digest {
            integration_id: integration_id.clone(),
            integration_name,
            commit_sha: self.commit_sha,
            branch: self.branch,
            pipeline_url: self.pipeline_url,
            alerts: Vec::new(),
        }
    }
}

async fn integration_name(tx: &mut Transaction<'_, Any>, integration_id: &IntegrationId) -> R<String> {
    sqlx::query_scalar("SELECT name FROM integrations WHERE id = $1")
        .bind(integration_id.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)
}

/// Which messages of an integration's delivery log.
pub(crate) enum DeliveryFilter<'a> {
    All,
    /// Older than this message.
    Before(&'a DeliveryId),
    /// Those that named this alert.
    Alert(&'a AlertId),
}

/// A channel with its target as stored (sealed when secret).
type StoredChannel = (Channel, String);

async fn integration_channels<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    integration_id: &IntegrationId,
) -> R<Vec<StoredChannel>> {
    sqlx::query(&format!(
        "SELECT {CHANNEL}, target FROM channels WHERE integration_id = $1 ORDER BY created_at, id"
    ))
    .bind(integration_id.as_str())
    .fetch_all(executor)
    .await
    .map_err(map_err)?
    .iter()
    .map(|r| Ok((rows::channel(r)?, rows::get(r, "target")?)))
    .collect()
}

fn rules(channels: &[StoredChannel]) -> Vec<ChannelRule> {
    channels
        .iter()
        .map(|(c, _)| ChannelRule {
            channel_id: c.id.clone(),
            kind: c.kind,
            min_severity: c.min_severity,
            notify_on_resolve: c.notify_on_resolve,
            repeat_every: c.repeat_every,
        })
        .collect()
}

/// When each channel with a repeat interval last heard of each recurring alert: the newest
/// message naming it that was not suppressed (an alert left out of a message is unlinked).
async fn last_told(
    tx: &mut Transaction<'_, Any>,
    rules: &[ChannelRule],
    recurring: &[clef_core::Alert],
) -> R<LastTold> {
    let quiet: Vec<&str> =
        rules.iter().filter(|r| r.repeat_every.is_some()).map(|r| r.channel_id.as_str()).collect();
    let mut told = LastTold::new();
    if quiet.is_empty() {
        return Ok(told);
    }
    for chunk in recurring.chunks(500) {
        let mut q = Statement::new(
            "SELECT o.channel_id, da.alert_id, MAX(o.created_at) AS at FROM delivery_alerts da \
             JOIN outbox o ON o.id = da.outbox_id WHERE o.status <> 'suppressed' AND o.channel_id IN (",
        );
        q.push_list(quiet.iter().copied())
            .push(") AND da.alert_id IN (")
            .push_list(chunk.iter().map(|a| a.id.as_str()))
            .push(") GROUP BY o.channel_id, da.alert_id");
        for r in q.build().fetch_all(&mut **tx).await.map_err(map_err)? {
            told.entry(rows::id(&r, "channel_id")?)
                .or_default()
                .insert(rows::id(&r, "alert_id")?, rows::get(&r, "at")?);
        }
    }
    Ok(told)
}

async fn enqueue_planned(
    tx: &mut Transaction<'_, Any>,
    integration_id: &IntegrationId,
    channels: &[StoredChannel],
    planned: Vec<(ChannelId, Vec<DigestAlert>)>,
    head: MessageHead,
    now: Millis,
) -> R<usize> {
    if planned.is_empty() {
        return Ok(0);
    }
    let template = head.digest(integration_id, integration_name(tx, integration_id).await?);
    for (channel_id, alerts) in &planned {
        let Some(ch) = channels.iter().find(|(c, _)| &c.id == channel_id) else { continue };
        let digest = Digest { alerts: alerts.clone(), ..template.clone() };
        insert_message(tx, ch, &digest, now).await?;
    }
    Ok(planned.len())
}

async fn insert_message(
    tx: &mut Transaction<'_, Any>,
    (ch, stored_target): &StoredChannel,
    digest: &Digest,
    now: Millis,
) -> R<DeliveryId> {
    let id: DeliveryId = new_id();
    sqlx::query(
        "INSERT INTO outbox (id, integration_id, channel_id, channel_kind, target, target_hint, digest, status, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
    )
    .bind(id.as_str())
    .bind(ch.integration_id.as_str())
    .bind(ch.id.as_str())
    .bind(ch.kind.as_str())
    .bind(stored_target)
    .bind(&ch.target)
    .bind(serde_json::to_string(digest).map_err(StoreError::other)?)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    if !digest.alerts.is_empty() {
        let mut links = Statement::new("INSERT INTO delivery_alerts (alert_id, outbox_id) VALUES ");
        for (i, a) in digest.alerts.iter().enumerate() {
            links.push(if i == 0 { "(" } else { ", (" });
            links.push_bind(a.alert_id.as_str()).push(", ").push_bind(id.as_str()).push(")");
        }
        links.build().execute(&mut **tx).await.map_err(map_err)?;
    }
    Ok(id)
}

async fn channel_in(
    tx: &mut Transaction<'_, Any>,
    org_id: &OrgId,
    integration_id: &IntegrationId,
    channel_id: &ChannelId,
) -> R<(StoredChannel, Option<String>)> {
    let row = sqlx::query(&format!(
        "SELECT c.{}, c.target, c.signing_secrets FROM channels c JOIN integrations i ON i.id = c.integration_id \
         WHERE i.org_id = $1 AND c.integration_id = $2 AND c.id = $3",
        CHANNEL.replace(", ", ", c.")
    ))
    .bind(org_id.as_str())
    .bind(integration_id.as_str())
    .bind(channel_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)?;
    Ok(((rows::channel(&row)?, rows::get(&row, "target")?), rows::get(&row, "signing_secrets")?))
}

impl SqlStore {
    /// The stored form of a target: sealed when it is a secret.
    fn stored_target(&self, kind: ChannelKind, target: &str) -> R<String> {
        if kind.target_is_secret() { self.seal(target) } else { Ok(target.to_owned()) }
    }

    fn stored_secrets(&self, secrets: &[SigningSecret]) -> R<String> {
        self.seal(&serde_json::to_string(secrets).map_err(StoreError::other)?)
    }

    /// Refuses a second channel of one kind to one target (`except` is the channel being edited).
    async fn refuse_duplicate(
        &self,
        tx: &mut Transaction<'_, Any>,
        integration_id: &IntegrationId,
        kind: ChannelKind,
        target: &str,
        except: Option<&ChannelId>,
    ) -> R<()> {
        // Secret targets are sealed with a fresh nonce each, so they are compared opened.
        let same_target = |(c, stored): &StoredChannel| {
            c.kind == kind
                && Some(&c.id) != except
                && if kind.target_is_secret() {
                    self.open_secret(stored).is_ok_and(|t| t == target)
                } else {
                    stored.eq_ignore_ascii_case(target)
                }
        };
        if integration_channels(&mut **tx, integration_id).await?.iter().any(same_target) {
            return Err(StoreError::Refused(format!(
                "the integration has a {kind} channel to this target already: edit that one instead"
            )));
        }
        Ok(())
    }

    pub(crate) async fn create_channel_impl(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        new: NewChannel,
    ) -> R<Channel> {
        let stored_target = self.stored_target(new.kind, &new.target)?;
        let secrets = match &new.signing_secret {
            Some(secret) if new.kind.signs() => {
                Some(self.stored_secrets(&[SigningSecret { secret: secret.clone(), until: None }])?)
            }
            _ => None,
        };
        let mut tx = self.begin().await?;
        Self::check_integration(&mut *tx, &actor.org_id, integration_id).await?;
        self.refuse_duplicate(&mut tx, integration_id, new.kind, &new.target, None).await?;
        let ch = Channel {
            id: new_id(),
            integration_id: integration_id.to_owned(),
            kind: new.kind,
            target: target_hint(new.kind, &new.target),
            min_severity: new.min_severity.as_threshold(),
            notify_on_resolve: new.notify_on_resolve,
            repeat_every: new.repeat_every,
            created_at: actor.now,
            updated_at: actor.now,
        };
        sqlx::query(&format!(
            "INSERT INTO channels ({CHANNEL}, target, signing_secrets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(ch.id.as_str())
        .bind(ch.integration_id.as_str())
        .bind(ch.kind.as_str())
        .bind(&ch.target)
        .bind(ch.min_severity.as_str())
        .bind(ch.notify_on_resolve)
        .bind(ch.repeat_every)
        .bind(ch.created_at)
        .bind(ch.updated_at)
        .bind(stored_target)
        .bind(secrets)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let what = format!("{} channel {} ({}) of integration {integration_id}", ch.kind, ch.target, ch.id);
        audit(&mut tx, actor, "channel.create", &what).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ch)
    }

    pub(crate) async fn channels_impl(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
    ) -> R<Vec<Channel>> {
        Self::check_integration(&self.read, org_id, integration_id).await?;
        let channels = integration_channels(&self.read, integration_id).await?;
        Ok(channels.into_iter().map(|(c, _)| c).collect())
    }

    pub(crate) async fn update_channel_impl(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        patch: ChannelPatch,
    ) -> R<Channel> {
        let mut tx = self.begin().await?;
        let ((mut ch, mut stored), _) =
            channel_in(&mut tx, &actor.org_id, integration_id, channel_id).await?;
        if let Some(target) = patch.target {
            self.refuse_duplicate(&mut tx, integration_id, ch.kind, &target, Some(channel_id)).await?;
            stored = self.stored_target(ch.kind, &target)?;
            ch.target = target_hint(ch.kind, &target);
        }
        if let Some(min) = patch.min_severity {
            ch.min_severity = min.as_threshold();
        }
        if let Some(resolve) = patch.notify_on_resolve {
            ch.notify_on_resolve = resolve;
        }
        if let Some(every) = patch.repeat_every {
            ch.repeat_every = every;
        }
        ch.updated_at = actor.now;
        sqlx::query(
            "UPDATE channels SET target = $1, target_hint = $2, min_severity = $3, notify_on_resolve = $4, \
             repeat_interval_ms = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(stored)
        .bind(&ch.target)
        .bind(ch.min_severity.as_str())
        .bind(ch.notify_on_resolve)
        .bind(ch.repeat_every)
        .bind(ch.updated_at)
        .bind(ch.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit(&mut tx, actor, "channel.update", &format!("channel {} ({})", ch.target, ch.id)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ch)
    }

    pub(crate) async fn rotate_signing_secret_impl(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        secret: String,
        overlap_until: Millis,
    ) -> R<Channel> {
        let mut tx = self.begin().await?;
        let ((mut ch, _), sealed) = channel_in(&mut tx, &actor.org_id, integration_id, channel_id).await?;
        if !ch.kind.signs() {
            return Err(StoreError::Conflict(format!(
                "{} channels do not sign their messages",
                ch.kind.label()
            )));
        }
        // The previous secrets that still sign, each ending no later than the new overlap.
        let mut secrets = vec![SigningSecret { secret, until: None }];
        if let Some(sealed) = sealed {
            let old: Vec<SigningSecret> = self
                .open_secret(&sealed)
                .ok()
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            secrets.extend(old.into_iter().filter(|s| s.until.is_none_or(|u| u > actor.now)).map(|s| {
                SigningSecret { until: Some(s.until.map_or(overlap_until, |u| u.min(overlap_until))), ..s }
            }));
        }
        ch.updated_at = actor.now;
        sqlx::query("UPDATE channels SET signing_secrets = $1, updated_at = $2 WHERE id = $3")
            .bind(self.stored_secrets(&secrets)?)
            .bind(ch.updated_at)
            .bind(ch.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit(&mut tx, actor, "channel.rotate_secret", &format!("channel {} ({})", ch.target, ch.id)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ch)
    }

    pub(crate) async fn delete_channel_impl(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> R<()> {
        let mut tx = self.begin().await?;
        let ((ch, _), _) = channel_in(&mut tx, &actor.org_id, integration_id, channel_id).await?;
        sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(ch.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit(&mut tx, actor, "channel.delete", &format!("channel {} ({})", ch.target, ch.id)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn enqueue_test_impl(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> R<DeliveryId> {
        let mut tx = self.begin().await?;
        let (ch, _) = channel_in(&mut tx, &actor.org_id, integration_id, channel_id).await?;
        let digest =
            MessageHead::TEST.digest(integration_id, integration_name(&mut tx, integration_id).await?);
        let id = insert_message(&mut tx, &ch, &digest, actor.now).await?;
        audit(&mut tx, actor, "channel.test", &format!("channel {} ({})", ch.0.target, ch.0.id)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(id)
    }

    /// Opens a claimed message's target and signing secrets; the reason when they do not open.
    async fn unseal(
        &self,
        tx: &mut Transaction<'_, Any>,
        m: &mut ClaimedDelivery,
        channel_id: &ChannelId,
        now: Millis,
    ) -> Result<(), String> {
        if m.channel_kind.target_is_secret() {
            m.target = self.open_secret(&m.target)?;
        }
        if m.channel_kind.signs() {
            let sealed: Option<String> =
                sqlx::query_scalar("SELECT signing_secrets FROM channels WHERE id = $1")
                    .bind(channel_id.as_str())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(|e| e.to_string())?
                    .flatten();
            let json = self.open_secret(&sealed.ok_or("the channel has no signing secret")?)?;
            let secrets: Vec<SigningSecret> =
                serde_json::from_str(&json).map_err(|e| format!("the signing secrets do not read: {e}"))?;
            m.signing_secrets =
                secrets.into_iter().filter(|s| s.until.is_none_or(|u| u > now)).map(|s| s.secret).collect();
        }
        Ok(())
    }

    pub(crate) async fn claim_impl(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> R<Vec<ClaimedDelivery>> {
        let mut tx = self.begin().await?;
        let (seq, skip_locked) = (self.dialect.outbox_seq, self.dialect.skip_locked);
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET locked_until = $1 WHERE id IN ( \
               SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
                 AND (locked_until IS NULL OR locked_until <= $3) \
               ORDER BY next_attempt_at, created_at, {seq} LIMIT $4{skip_locked}) \
             RETURNING id, channel_id, channel_kind, target, digest, attempts, created_at, {seq} AS seq"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut readable = Vec::with_capacity(rows.len());
        for r in &rows {
            match claimed_delivery(r) {
                Ok(c) => readable.push(c),
                // A message that cannot be read would fail every claim that returns it and so
                // stall the queue: it is parked as failed, with the reason in its log.
                Err(e) => {
                    let id: DeliveryId = rows::id(r, "id")?;
                    park(&mut tx, &id, now, &format!("the stored message cannot be read: {e}")).await?;
                }
            }
        }
        let acknowledged =
            acknowledged_among(&mut tx, &readable.iter().map(|(c, _, _)| c).collect::<Vec<_>>(), now).await?;
        let mut claimed = Vec::with_capacity(readable.len());
        for (mut c, channel_id, seq) in readable {
            if leave_out_acknowledged(&mut tx, &mut c, &acknowledged, now).await? {
                continue;
            }
            match self.unseal(&mut tx, &mut c, &channel_id, now).await {
                Ok(()) => claimed.push((c, seq)),
                Err(why) => park(&mut tx, &c.id, now, &format!("cannot be sent: {why}")).await?,
            }
        }
        tx.commit().await.map_err(map_err)?;
        // RETURNING comes in no particular order: oldest first, ties in insertion order.
        claimed.sort_by_key(|(c, seq): &(ClaimedDelivery, i64)| (c.created_at, *seq));
        Ok(claimed.into_iter().map(|(c, _)| c).collect())
    }

    pub(crate) async fn release_impl(&self, ids: &[DeliveryId]) -> R<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q =
            Statement::new("UPDATE outbox SET locked_until = NULL WHERE status = 'pending' AND id IN (");
        q.push_list(ids.iter().map(DeliveryId::as_str)).push(")");
        q.build().execute(&self.write).await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn finish_impl(&self, id: &DeliveryId, at: Millis, result: DeliveryResult) -> R<()> {
        let mut tx = self.begin().await?;
        let (outcome, detail) = match &result {
            DeliveryResult::Sent { detail } => (AttemptOutcome::Sent, detail),
            DeliveryResult::Retry { outcome, detail, .. } => (*outcome, detail),
            DeliveryResult::GiveUp { outcome, detail } => (*outcome, detail),
        };
        let (status, next, finished) = match &result {
            DeliveryResult::Sent { .. } => ("sent", at, Some(at)),
            DeliveryResult::Retry { next_attempt_at, .. } => ("pending", *next_attempt_at, None),
            DeliveryResult::GiveUp { .. } => ("failed", at, Some(at)),
        };
        let done = sqlx::query(
            "UPDATE outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2, finished_at = $3, \
             locked_until = NULL WHERE id = $4",
        )
        .bind(status)
        .bind(next)
        .bind(finished)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        found(&done)?;
        record_attempt(&mut tx, id, at, outcome, detail).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn deliveries_impl(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        query: DeliveryQuery,
    ) -> R<Vec<Delivery>> {
        Self::check_integration(&self.read, org_id, integration_id).await?;
        let filter = match &query.before {
            Some(before) => DeliveryFilter::Before(before),
            None => DeliveryFilter::All,
        };
        self.deliveries_where(integration_id, filter, query.limit).await
    }

    /// An integration's messages that `filter` selects, newest first, with their attempts.
    pub(crate) async fn deliveries_where(
        &self,
        integration_id: &IntegrationId,
        filter: DeliveryFilter<'_>,
        limit: u32,
    ) -> R<Vec<Delivery>> {
        let seq = self.dialect.outbox_seq;
        let mut snapshot = self.snapshot().await?;
        let mut sql = Statement::new(
            "SELECT o.id, o.integration_id, o.channel_id, o.channel_kind, o.target_hint, o.digest, o.status, \
             o.next_attempt_at, o.created_at, o.finished_at FROM outbox o WHERE o.integration_id = ",
        );
        sql.push_bind(integration_id.as_str());
        match filter {
            DeliveryFilter::All => {}
            DeliveryFilter::Before(id) => {
                sql.push(&format!(
                    " AND (o.created_at, o.{seq}) < (SELECT created_at, {seq} FROM outbox WHERE id = "
                ))
                .push_bind(id.as_str())
                .push(")");
            }
            DeliveryFilter::Alert(id) => {
                sql.push(" AND o.id IN (SELECT outbox_id FROM delivery_alerts WHERE alert_id = ")
                    .push_bind(id.as_str())
                    .push(")");
            }
        }
        sql.push(&format!(" ORDER BY o.created_at DESC, o.{seq} DESC LIMIT ")).push_bind(i64::from(limit));
        let messages = sql.build().fetch_all(&mut *snapshot).await.map_err(map_err)?;
        // All their attempts in one statement, grouped in memory.
        let mut attempts: std::collections::HashMap<DeliveryId, Vec<DeliveryAttempt>> = Default::default();
        if !messages.is_empty() {
            let mut q = Statement::new(
                "SELECT outbox_id, at, outcome, detail FROM delivery_attempts WHERE outbox_id IN (",
            );
            let ids = messages.iter().map(|m| rows::get::<String>(m, "id")).collect::<R<Vec<_>>>()?;
            q.push_list(ids).push(") ORDER BY id");
            for a in q.build().fetch_all(&mut *snapshot).await.map_err(map_err)? {
                let outcome: String = rows::get(&a, "outcome")?;
                attempts.entry(rows::id(&a, "outbox_id")?).or_default().push(DeliveryAttempt {
                    at: rows::get(&a, "at")?,
                    outcome: AttemptOutcome::parse(&outcome)
                        .ok_or_else(|| StoreError::Other(format!("stored outcome {outcome:?}").into()))?,
                    detail: rows::get(&a, "detail")?,
                });
            }
        }
        let mut out = Vec::with_capacity(messages.len());
        for m in &messages {
            let id: DeliveryId = rows::id(m, "id")?;
            let status: String = rows::get(m, "status")?;
            out.push(Delivery {
                attempts: attempts.remove(&id).unwrap_or_default(),
                id,
                integration_id: rows::id(m, "integration_id")?,
                channel_id: rows::id(m, "channel_id")?,
                channel_kind: kind(&rows::get::<String>(m, "channel_kind")?)?,
                target: rows::get(m, "target_hint")?,
                // The log still lists a message whose content cannot be read (it was parked).
                digest: digest(rows::get(m, "digest")?).unwrap_or_else(|_| unreadable_digest(m)),
                status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| StoreError::Other(format!("stored status {status:?}").into()))?,
                next_attempt_at: rows::get(m, "next_attempt_at")?,
                created_at: rows::get(m, "created_at")?,
                finished_at: rows::get(m, "finished_at")?,
            });
        }
        Ok(out)
    }
}
