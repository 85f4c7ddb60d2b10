//! How Clef Pro tells people: one `Notifier` per channel kind (e-mail, Slack, Microsoft
//! Teams, PagerDuty, signed webhooks), and the worker that drains the outbox through them with
//! retries. The HTTP kinds share one client that refuses internal addresses (`http`).
#![forbid(unsafe_code)]

pub mod backoff;
pub mod email;
pub mod http;
pub mod pagerduty;
mod render;
pub mod slack;
pub mod teams;
pub mod webhook;
pub mod worker;

pub use backoff::RetryPolicy;
pub use email::{EmailConfig, EmailNotifier};
pub use http::{Http, HttpConfig};
pub use render::{RenderedMessage, render};
pub use worker::Worker;

use async_trait::async_trait;
use clef_core::notification::{ChannelKind, Digest};
use clef_core::{AlertId, DeliveryId, IntegrationId};
use std::time::Duration;

/// One message on its way to one target.
pub struct Outgoing<'a> {
    /// The outbox id: stable across retries, so the receiver can tell repeats apart.
    pub id: &'a DeliveryId,
    pub target: &'a str,
    pub digest: &'a Digest,
    /// Secrets to sign with (webhooks), newest first.
    pub signing_secrets: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (an SMTP 4xx, an HTTP 5xx, connection refused or broken, timeout).
    #[error("{0}")]
    Transient(String),
    /// The receiver asked us to wait this long (HTTP 429 with `Retry-After`).
    #[error("{0}")]
    RetryAfter(String, Duration),
    /// The receiver refused for good (an SMTP 5xx, an HTTP 4xx); see `Notifier::permanent_attempts`.
    #[error("{0}")]
    Permanent(String),
    /// The message itself cannot be sent (it does not render, its address is malformed or
    /// refused): no server can change that, so it fails at once.
    #[error("{0}")]
    Invalid(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel kind this notifier delivers.
    fn kind(&self) -> ChannelKind;
    /// Attempts a message gets when the receiver refuses it for good. Mail relays answer 5xx
    /// during a misconfiguration that is fixed soon after, so e-mail tries a few times; an
    /// HTTP 4xx from a chat or paging service does not change on retry.
    fn permanent_attempts(&self) -> u32 {
        1
    }
    /// Delivers the message; on success, the receiving side's answer.
    async fn send(&self, message: &Outgoing<'_>) -> Result<String, SendError>;
}

/// The most alerts one message lists, in every kind of channel: a mail of 250 was 212 KB and
/// nobody read its end. The rest is one link away, in the integration's inbox.
pub const MAX_LISTED: usize = 25;

/// Links into the dashboard, when its address is known.
#[derive(Debug, Clone, Default)]
pub struct Links {
    base: Option<String>,
}

impl Links {
    pub fn new(public_url: Option<&str>) -> Self {
        Self { base: public_url.map(|u| u.trim_end_matches('/').to_owned()) }
    }

    pub fn alert(&self, alert_id: &AlertId) -> Option<String> {
        self.base.as_ref().map(|b| format!("{b}/alerts/{alert_id}"))
    }

    /// The integration's alerts in the inbox, where each can be acknowledged.
    pub fn inbox(&self, integration_id: &IntegrationId) -> Option<String> {
        self.base.as_ref().map(|b| format!("{b}/alerts?integration={integration_id}"))
    }

    pub fn integration(&self, integration_id: &IntegrationId) -> Option<String> {
        self.base.as_ref().map(|b| format!("{b}/integrations/{integration_id}"))
    }

    /// The buttons under a chat message: (title, URL) of the integration in Clef Pro and of
    /// the CI run, where known.
    pub fn actions(&self, digest: &clef_core::notification::Digest) -> Vec<(&'static str, String)> {
        let dashboard = self.integration(&digest.integration_id).map(|u| ("Open in Clef Pro", u));
        let pipeline = digest.pipeline_url.clone().map(|u| ("CI pipeline", u));
        dashboard.into_iter().chain(pipeline).collect()
    }
}
