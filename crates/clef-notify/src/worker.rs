//! Drains the outbox: claim with a lease, send, record the attempt, back off or give up.
//! Any number of workers (one per replica) can run against one store.

use crate::{Notifier, Outgoing, RetryPolicy, SendError};
use clef_core::{DeliveryId, Millis};
use clef_store::{AttemptOutcome, ClaimedDelivery, DeliveryResult, Store, now_ms};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

const DELIVERY_ATTEMPTS: &str = "clef_delivery_attempts_total";

/// Describes the worker's metrics to the process-wide recorder (call once it is installed).
pub fn describe_metrics() {
    metrics::describe_counter!(
        DELIVERY_ATTEMPTS,
        metrics::Unit::Count,
        "Notification delivery attempts by channel kind and outcome (sent, retry, failed)."
    );
    for kind in clef_core::notification::ChannelKind::ALL {
        for outcome in ["sent", "retry", "failed"] {
            metrics::counter!(DELIVERY_ATTEMPTS, "kind" => kind.as_str(), "outcome" => outcome).absolute(0);
        }
    }
}

pub struct Worker {
    store: Arc<dyn Store>,
    notifiers: Vec<Arc<dyn Notifier>>,
    policy: RetryPolicy,
    /// How long a claim is ours; longer than a batch of sends can take.
    lease_ms: Millis,
    /// How often to look for due messages when nobody wakes us (retries, other replicas).
    poll: Duration,
    wake: Arc<Notify>,
}

/// Messages claimed at once: few, so a lease never outlives the sends it covers.
const CLAIM: u32 = 4;

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        notifiers: Vec<Arc<dyn Notifier>>,
        policy: RetryPolicy,
        poll: Duration,
        wake: Arc<Notify>,
    ) -> Self {
        Self { store, notifiers, policy, lease_ms: 5 * 60_000, poll, wake }
    }

    /// How long a claim lasts before another worker may take the message over. It must
    /// outlast a few sends (the SMTP timeout times the claim size).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease_ms = Millis::try_from(lease.as_millis()).unwrap_or(Millis::MAX).max(1);
        self
    }

    /// Runs until `shutdown` turns true. A send in progress completes and is recorded;
    /// claimed messages not yet sent go back to the queue.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("delivery worker started");
        while !*shutdown.borrow() {
            let claimed = match self.store.claim_deliveries(now_ms(), self.lease_ms, CLAIM).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim deliveries");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let mut queue = claimed.into_iter();
            while let Some(message) = queue.next() {
                if *shutdown.borrow() {
                    let unsent: Vec<DeliveryId> =
                        std::iter::once(message).chain(queue).map(|m| m.id).collect();
                    if let Err(e) = self.store.release_deliveries(&unsent).await {
                        tracing::warn!(error = %e, "cannot release claimed deliveries; their lease will expire");
                    }
                    break;
                }
                self.deliver(message).await;
            }
        }
        tracing::info!("delivery worker stopped");
    }

    async fn deliver(&self, m: ClaimedDelivery) {
        let result = match self.notifiers.iter().find(|n| n.kind() == m.channel_kind) {
            None => DeliveryResult::GiveUp {
                outcome: AttemptOutcome::Permanent,
                detail: format!("no notifier for channel kind {:?}", m.channel_kind),
            },
            Some(notifier) => {
                let outgoing = Outgoing {
                    id: &m.id,
                    target: &m.target,
                    digest: &m.digest,
                    signing_secrets: &m.signing_secrets,
                };
                let failures = m.attempts + 1;
                let jitter = rand::thread_rng().r#gen::<f64>();
                let next = self.policy.next_attempt(failures, m.created_at, now_ms(), jitter);
                match notifier.send(&outgoing).await {
                    Ok(detail) => DeliveryResult::Sent { detail },
                    Err(SendError::Invalid(detail)) => {
                        DeliveryResult::GiveUp { outcome: AttemptOutcome::Permanent, detail }
                    }
                    // The receiver said when: then, unless the message's time is up by then.
                    Err(SendError::RetryAfter(detail, wait)) => {
                        match self.policy.after(wait, m.created_at, now_ms()) {
                            Some(next_attempt_at) => DeliveryResult::Retry {
                                next_attempt_at,
                                outcome: AttemptOutcome::Transient,
                                detail,
                            },
                            None => DeliveryResult::GiveUp { outcome: AttemptOutcome::Expired, detail },
                        }
                    }
                    Err(SendError::Permanent(detail)) => match next {
                        Some(next_attempt_at) if failures < notifier.permanent_attempts() => {
                            DeliveryResult::Retry {
                                next_attempt_at,
                                outcome: AttemptOutcome::Permanent,
                                detail,
                            }
                        }
                        _ => DeliveryResult::GiveUp { outcome: AttemptOutcome::Permanent, detail },
                    },
                    Err(SendError::Transient(detail)) => match next {
                        Some(next_attempt_at) => DeliveryResult::Retry {
                            next_attempt_at,
                            outcome: AttemptOutcome::Transient,
                            detail,
                        },
                        None => DeliveryResult::GiveUp { outcome: AttemptOutcome::Expired, detail },
                    },
                }
            }
        };
        let outcome = match &result {
            DeliveryResult::Sent { .. } => "sent",
            DeliveryResult::Retry { .. } => "retry",
            DeliveryResult::GiveUp { .. } => "failed",
        };
        tracing::info!(delivery.id = %m.id, delivery.attempt = m.attempts + 1, outcome, "delivery attempt");
        metrics::counter!(DELIVERY_ATTEMPTS, "kind" => m.channel_kind.as_str(), "outcome" => outcome)
            .increment(1);
        if let Err(e) = self.store.finish_attempt(&m.id, now_ms(), result).await {
            // The lease will run out and the message be tried again: at least once, not lost.
            tracing::error!(delivery.id = %m.id, error = %e, "cannot record a delivery attempt");
        }
    }
}
