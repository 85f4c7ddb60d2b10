use super::*;
use crate::{AttemptOutcome, Channel, ChannelPatch, DeliveryResult, DeliveryStatus, NewChannel, StoreError};
use clef_core::Acknowledgement;
use clef_core::notification::{AlertChange, ChannelKind};

fn new_email(target: &str) -> NewChannel {
    NewChannel {
        kind: ChannelKind::Email,
        target: target.into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    }
}

async fn channel(store: &dyn Store, w: &World, target: &str, min: Severity, resolve: bool) -> Channel {
    let new = NewChannel { min_severity: min, notify_on_resolve: resolve, ..new_email(target) };
    store.create_channel(&w.actor, &w.integration.id, new).await.expect("channel")
}

/// Messages per target, oldest first, each as "change:rule" entries.
async fn mailbox(store: &dyn Store, w: &World) -> Vec<(String, Vec<String>)> {
    let mut all = store
        .deliveries(&w.actor.org_id, &w.integration.id, crate::DeliveryQuery::latest(100))
        .await
        .expect("deliveries");
    all.reverse();
    all.into_iter()
        .map(|d| {
            let lines = d.digest.alerts.iter().map(|a| format!("{:?}:{}", a.change, a.rule_id)).collect();
            (d.target, lines)
        })
        .collect()
}

fn sev(rule: &str, severity: Severity) -> clef_core::PolicyResult {
    result(rule, "db/prod", false, severity)
}

pub async fn each_evaluation_writes_one_message_per_channel_with_something_to_say(store: &dyn Store) {
    let w = world(store, "acme").await;
    channel(store, &w, "security@acme.example", Severity::Critical, false).await;
    channel(store, &w, "dev-lead@acme.example", Severity::Warning, false).await;
    let out = ingest(
        store,
        &w,
        vec![report(1, vec![sev("warn", Severity::Warning), sev("crit", Severity::Critical)])],
    )
    .await;
    assert_eq!(out.messages, 2);
    let m = mailbox(store, &w).await;
    assert!(m.contains(&("security@acme.example".into(), vec!["New:crit".into()])), "{m:?}");
    assert!(
        m.contains(&("dev-lead@acme.example".into(), vec!["New:crit".into(), "New:warn".into()])),
        "{m:?}"
    );
    // A warning alone reaches only the warning channel.
    let out = ingest(store, &w, vec![report(2, vec![sev("warn", Severity::Warning)])]).await;
    assert_eq!(out.messages, 1);
    let d = store
        .deliveries(&w.actor.org_id, &w.integration.id, crate::DeliveryQuery::latest(1))
        .await
        .expect("deliveries");
    assert_eq!(
        (d[0].target.as_str(), d[0].digest.alerts[0].change),
        ("dev-lead@acme.example", AlertChange::Recurring)
    );
    assert_eq!(d[0].digest.commit_sha, Some(sha(2)));
}

pub async fn retries_history_and_acknowledged_alerts_send_nothing(store: &dyn Store) {
    let w = world(store, "acme").await;
    channel(store, &w, "ops@acme.example", Severity::Info, false).await;
    ingest(store, &w, vec![report(5, vec![fails("r", "x")])]).await;
    assert_eq!(ingest(store, &w, vec![report(5, vec![fails("r", "x")])]).await.messages, 0);
    assert_eq!(ingest(store, &w, vec![report(3, vec![fails("q", "x")])]).await.messages, 0);
    let id = store
        .alerts(&w.actor.org_id, crate::AlertQuery { limit: 5, ..Default::default() })
        .await
        .expect("alerts")
        .alerts[0]
        .alert
        .id
        .clone();
    store
        .set_acknowledgement(
            &w.actor,
            std::slice::from_ref(&id),
            Some(Acknowledgement { by: "x".into(), at: NOW, reason: None, until: None }),
        )
        .await
        .expect("ack");
    assert_eq!(ingest(store, &w, vec![report(6, vec![fails("r", "x")])]).await.messages, 0);
    // Resolution is silent unless a channel opts in.
    assert_eq!(ingest(store, &w, vec![report(7, vec![])]).await.messages, 0);
    channel(store, &w, "audit@acme.example", Severity::Info, true).await;
    ingest(store, &w, vec![report(8, vec![fails("r", "x")])]).await;
    ingest(store, &w, vec![report(9, vec![])]).await;
    let m = mailbox(store, &w).await;
    assert_eq!(m.last(), Some(&("audit@acme.example".to_owned(), vec!["Resolved:r".to_owned()])));
}

pub async fn a_backfilled_batch_is_one_message_per_channel(store: &dyn Store) {
    let w = world(store, "acme").await;
    channel(store, &w, "a@acme.example", Severity::Info, false).await;
    channel(store, &w, "b@acme.example", Severity::Info, false).await;
    let batch = (1..=10).map(|n| report(n, vec![fails("r", "x"), fails(&format!("r{n}"), "y")])).collect();
    let out = ingest(store, &w, batch).await;
    assert_eq!(out.messages, 2);
    let m = mailbox(store, &w).await;
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].1, ["New:r", "New:r10"]);
}

pub async fn claims_are_leased_and_taken_over_when_the_lease_runs_out(store: &dyn Store) {
    let w = world(store, "acme").await;
    channel(store, &w, "a@acme.example", Severity::Info, false).await;
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    ingest(store, &w, vec![report(2, vec![fails("r", "x")])]).await;
    let t = NOW + 10_000_000;
    let first = store.claim_deliveries(t, 60_000, 10).await.expect("claim");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].digest.commit_sha, Some(sha(1)), "oldest first");
    assert!(store.claim_deliveries(t + 1, 60_000, 10).await.expect("claim").is_empty(), "leased");
    // The first worker died: after the lease another takes both.
    let again = store.claim_deliveries(t + 60_000, 60_000, 10).await.expect("claim");
    assert_eq!(again.len(), 2);
    store
        .finish_attempt(&again[0].id, t + 60_001, DeliveryResult::Sent { detail: "250 OK".into() })
        .await
        .expect("finish");
    store.release_deliveries(&[again[1].id.clone()]).await.expect("release");
    let rest = store.claim_deliveries(t + 60_002, 60_000, 10).await.expect("claim");
    assert_eq!(rest.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), [again[1].id.clone()]);
    assert_eq!(rest[0].attempts, 0);
}

pub async fn attempts_are_recorded_and_failures_end_visibly(store: &dyn Store) {
    let w = world(store, "acme").await;
    channel(store, &w, "a@acme.example", Severity::Info, false).await;
    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    let t = NOW + 10_000_000;
    let c = store.claim_deliveries(t, 60_000, 1).await.expect("claim").remove(0);
    let retry = DeliveryResult::Retry {
        next_attempt_at: t + 5_000,
        outcome: AttemptOutcome::Transient,
        detail: "451 try later".into(),
    };
    store.finish_attempt(&c.id, t, retry).await.expect("retry");
    assert!(store.claim_deliveries(t + 4_999, 60_000, 1).await.expect("claim").is_empty(), "backing off");
    let c = store.claim_deliveries(t + 5_000, 60_000, 1).await.expect("claim").remove(0);
    assert_eq!(c.attempts, 1);
    let give_up =
        DeliveryResult::GiveUp { outcome: AttemptOutcome::Permanent, detail: "550 no such user".into() };
    store.finish_attempt(&c.id, t + 5_001, give_up).await.expect("give up");
    assert!(store.claim_deliveries(t + 100_000, 60_000, 1).await.expect("claim").is_empty());
    let d = store
        .deliveries(&w.actor.org_id, &w.integration.id, crate::DeliveryQuery::latest(10))
        .await
        .expect("log")
        .remove(0);
    assert_eq!(d.status, DeliveryStatus::Failed);
    let outcomes: Vec<(AttemptOutcome, &str)> =
        d.attempts.iter().map(|a| (a.outcome, a.detail.as_str())).collect();
    assert_eq!(
        outcomes,
        [(AttemptOutcome::Transient, "451 try later"), (AttemptOutcome::Permanent, "550 no such user")]
    );
    assert!(matches!(
        store.finish_attempt(&"missing".into(), t, DeliveryResult::Sent { detail: String::new() }).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn channels_belong_to_their_organisation_and_take_their_queue_with_them(store: &dyn Store) {
    let w = world(store, "acme").await;
    let other = world(store, "other").await;
    let ch = channel(store, &w, "a@acme.example", Severity::Warning, false).await;
    let (org, int) = (&w.actor.org_id, &w.integration.id);
    let patch = ChannelPatch {
        target: Some("b@acme.example".into()),
        min_severity: Some(Severity::Critical),
        notify_on_resolve: Some(true),
        repeat_every: None,
    };
    let updated = store.update_channel(&w.actor, int, &ch.id, patch).await.expect("update");
    assert_eq!(
        (updated.target.as_str(), updated.min_severity, updated.notify_on_resolve),
        ("b@acme.example", Severity::Critical, true)
    );
    assert_eq!(store.channels(org, int).await.expect("list"), std::slice::from_ref(&updated));
    let test_id = store.enqueue_test(&w.actor, int, &ch.id).await.expect("test");
    let d = store.deliveries(org, int, crate::DeliveryQuery::latest(5)).await.expect("log");
    assert_eq!(
        (d[0].id.as_str(), d[0].digest.is_test(), d[0].target.as_str()),
        (test_id.as_str(), true, "b@acme.example")
    );

    assert!(matches!(store.channels(&other.actor.org_id, int).await, Err(StoreError::NotFound)));
    assert!(matches!(store.enqueue_test(&other.actor, int, &ch.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.deliveries(&other.actor.org_id, int, crate::DeliveryQuery::latest(5)).await,
        Err(StoreError::NotFound)
    ));
    assert!(is_not_found(store.delete_channel(&other.actor, int, &ch.id).await));
    assert!(is_not_found(store.delete_channel(&other.actor, &other.integration.id, &ch.id).await));

    store.delete_channel(&w.actor, int, &ch.id).await.expect("delete");
    assert!(store.channels(org, int).await.expect("list").is_empty());
    assert!(store.deliveries(org, int, crate::DeliveryQuery::latest(5)).await.expect("log").is_empty());
    let actions = actions(store, org).await;
    assert_eq!(&actions[..4], ["channel.delete", "channel.test", "channel.update", "channel.create"]);
}

pub async fn secret_targets_are_shown_as_hints_and_opened_only_for_delivery(store: &dyn Store) {
    let w = world(store, "acme").await;
    let (org, int) = (&w.actor.org_id, &w.integration.id);
    let url = "https://hooks.example/services/T000/B000/s3cr3tWXYZ";
    let hook = NewChannel {
        kind: ChannelKind::Webhook,
        target: url.into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: Some("whsec_first".into()),
    };
    let hook = store.create_channel(&w.actor, int, hook).await.expect("webhook");
    let pd = NewChannel {
        kind: ChannelKind::PagerDuty,
        target: "R0UT1NGKEY0000000000000000000KEY".into(),
        min_severity: Severity::Warning,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    let pd = store.create_channel(&w.actor, int, pd).await.expect("pagerduty");
    // The same target twice is refused, secret or not (secrets are compared opened).
    let again = NewChannel {
        kind: ChannelKind::Webhook,
        target: url.into(),
        min_severity: Severity::Critical,
        notify_on_resolve: true,
        repeat_every: None,
        signing_secret: Some("whsec_second".into()),
    };
    assert!(matches!(store.create_channel(&w.actor, int, again).await, Err(StoreError::Refused(_))));
    let mail = |target: &str| NewChannel {
        kind: ChannelKind::Email,
        target: target.into(),
        min_severity: Severity::Info,
        notify_on_resolve: false,
        repeat_every: None,
        signing_secret: None,
    };
    let first = store.create_channel(&w.actor, int, mail("sec@acme.example")).await.expect("e-mail");
    let dup = store.create_channel(&w.actor, int, mail("SEC@acme.example")).await;
    assert!(matches!(dup, Err(StoreError::Refused(_))), "{dup:?}");
    store.delete_channel(&w.actor, int, &first.id).await.expect("delete");
    assert_eq!(hook.target, "\u{2026}WXYZ");
    let mut hints: Vec<String> =
        store.channels(org, int).await.expect("list").into_iter().map(|c| c.target).collect();
    hints.sort();
    assert_eq!(hints, ["\u{2026}0KEY", "\u{2026}WXYZ"]);
    let audit = store.audit_log(org, None, 5).await.expect("audit");
    assert!(audit.iter().all(|e| !e.target.contains("s3cr3t") && !e.target.contains("R0UT1NG")), "{audit:?}");

    ingest(store, &w, vec![report(1, vec![fails("r", "x")])]).await;
    let t = NOW + 10_000_000;
    let claimed = store.claim_deliveries(t, 60_000, 10).await.expect("claim");
    let hook_msg = claimed.iter().find(|c| c.channel_kind == ChannelKind::Webhook).expect("webhook message");
    assert_eq!(
        (hook_msg.target.as_str(), hook_msg.signing_secrets.as_slice()),
        (url, &["whsec_first".to_owned()][..])
    );
    let pd_msg =
        claimed.iter().find(|c| c.channel_kind == ChannelKind::PagerDuty).expect("pagerduty message");
    assert_eq!(pd_msg.target, "R0UT1NGKEY0000000000000000000KEY");
    for c in &claimed {
        store.finish_attempt(&c.id, t, DeliveryResult::Sent { detail: "202".into() }).await.expect("sent");
    }
    let log = store.deliveries(org, int, crate::DeliveryQuery::latest(10)).await.expect("log");
    assert!(log.iter().all(|d| d.target.starts_with('\u{2026}')), "the log shows hints only");

    // Rotation: both secrets sign until the overlap ends, then only the new one.
    let actor = |now| crate::Actor { now, ..w.actor.clone() };
    store
        .rotate_signing_secret(&actor(t), int, &hook.id, "whsec_second".into(), t + 1_000)
        .await
        .expect("rotate");
    store.enqueue_test(&actor(t), int, &hook.id).await.expect("test");
    let c = store.claim_deliveries(t + 1, 60_000, 10).await.expect("claim").remove(0);
    assert_eq!(c.signing_secrets, ["whsec_second", "whsec_first"]);
    store.release_deliveries(&[c.id]).await.expect("release");
    let c = store.claim_deliveries(t + 1_000, 60_000, 10).await.expect("claim").remove(0);
    assert_eq!(c.signing_secrets, ["whsec_second"]);
    store
        .finish_attempt(&c.id, t + 1_000, DeliveryResult::Sent { detail: "200".into() })
        .await
        .expect("sent");
    assert!(matches!(
        store.rotate_signing_secret(&w.actor, int, &pd.id, "whsec_x".into(), t).await,
        Err(StoreError::Conflict(_))
    ));

    // An acknowledgement reaches the channels that track alert state, not e-mail.
    channel(store, &w, "a@acme.example", Severity::Info, false).await;
    let alert = store
        .alerts(org, crate::AlertQuery { limit: 10, ..Default::default() })
        .await
        .expect("alerts")
        .alerts
        .remove(0);
    let ack = Acknowledgement { by: "sam@acme.example".into(), at: t, reason: None, until: None };
    store
        .set_acknowledgement(&actor(t + 2_000), std::slice::from_ref(&alert.alert.id), Some(ack))
        .await
        .expect("ack");
    let acks = store.claim_deliveries(t + 3_000, 60_000, 10).await.expect("claim");
    let mut kinds: Vec<ChannelKind> = acks.iter().map(|c| c.channel_kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(kinds, [ChannelKind::PagerDuty, ChannelKind::Webhook]);
    assert!(
        acks.iter()
            .all(|c| c.digest.alerts.len() == 1 && c.digest.alerts[0].change == AlertChange::Acknowledged)
    );
}

pub async fn an_unreadable_message_is_parked_and_the_queue_flows(t: &TestStore) {
    let store = t.store.as_ref();
    let w = world(store, "acme").await;
    let ch = channel(store, &w, "a@acme.example", Severity::Info, false).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(store.enqueue_test(&w.actor, &w.integration.id, &ch.id).await.expect("queue"));
    }
    (t.raw_sql)(format!("UPDATE outbox SET digest = '{{\"alerts\": 7' WHERE id = '{}'", ids[1])).await;

    let claimed =
        store.claim_deliveries(NOW + 1, 60_000, 10).await.expect("a bad row does not fail the claim");
    assert_eq!(claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [ids[0].as_str(), ids[2].as_str()]);
    for c in &claimed {
        store
            .finish_attempt(&c.id, NOW + 2, DeliveryResult::Sent { detail: "250 ok".into() })
            .await
            .expect("sent");
    }
    let again = store.enqueue_test(&w.actor, &w.integration.id, &ch.id).await.expect("queue");
    let claimed = store.claim_deliveries(NOW + 120_000, 60_000, 10).await.expect("claim");
    assert_eq!(
        claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [again.as_str()],
        "the bad row is parked"
    );

    let log = store
        .deliveries(&w.actor.org_id, &w.integration.id, crate::DeliveryQuery::latest(10))
        .await
        .expect("the log still reads");
    let parked = log.iter().find(|d| d.id == ids[1]).expect("listed");
    assert_eq!(parked.status, DeliveryStatus::Failed);
    assert_eq!(parked.attempts.len(), 1);
    assert_eq!(parked.attempts[0].outcome, AttemptOutcome::Permanent);
    assert!(parked.attempts[0].detail.contains("cannot be read"), "{:?}", parked.attempts[0]);
}

pub async fn a_repeat_interval_quiets_a_channel_about_alerts_it_was_told_of(store: &dyn Store) {
    const HOUR: i64 = 3_600_000;
    let w = world(store, "acme").await;
    let daily = NewChannel {
        repeat_every: Some(24 * HOUR),
        // error ranks as critical: one threshold, stored as critical.
        min_severity: Severity::Error,
        ..new_email("daily@acme.example")
    };
    let daily = store.create_channel(&w.actor, &w.integration.id, daily).await.expect("channel");
    assert_eq!((daily.repeat_every, daily.min_severity), (Some(24 * HOUR), Severity::Critical));
    channel(store, &w, "every@acme.example", Severity::Info, false).await;
    let at = |n: u32, hours: i64, results| {
        let mut r = report(n, results);
        r.commit_timestamp = NOW + hours * HOUR;
        r
    };
    assert_eq!(ingest(store, &w, vec![at(1, 0, vec![fails("r", "x")])]).await.messages, 2);
    // An hour later: only the channel without an interval hears it is still failing.
    assert_eq!(ingest(store, &w, vec![at(2, 1, vec![fails("r", "x")])]).await.messages, 1);
    // A new alert goes to both at once; the old one still only to the one.
    ingest(store, &w, vec![at(3, 2, vec![fails("r", "x"), fails("s", "x")])]).await;
    // A day after it was told, the daily channel hears of `r` again (and not yet of `s`).
    ingest(store, &w, vec![at(4, 24, vec![fails("r", "x"), fails("s", "x")])]).await;
    let daily_mail: Vec<Vec<String>> = mailbox(store, &w)
        .await
        .into_iter()
        .filter(|(t, _)| t == "daily@acme.example")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(daily_mail, [vec!["New:r"], vec!["New:s"], vec!["Recurring:r"]]);
    // Back to every report.
    let patch = ChannelPatch { repeat_every: Some(None), ..Default::default() };
    let updated = store.update_channel(&w.actor, &w.integration.id, &daily.id, patch).await.expect("patch");
    assert_eq!(updated.repeat_every, None);
    assert_eq!(ingest(store, &w, vec![at(5, 25, vec![fails("r", "x"), fails("s", "x")])]).await.messages, 2);
    // A channel cannot be moved onto another's target.
    let patch = ChannelPatch { target: Some("every@acme.example".into()), ..Default::default() };
    assert!(matches!(
        store.update_channel(&w.actor, &w.integration.id, &daily.id, patch).await,
        Err(StoreError::Refused(_))
    ));
    let same = ChannelPatch { target: Some("daily@acme.example".into()), ..Default::default() };
    store.update_channel(&w.actor, &w.integration.id, &daily.id, same).await.expect("its own target is fine");
}
