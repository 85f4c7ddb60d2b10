//! How Clef Pro tells people: one `Notifier` per channel kind (e-mail first; Slack,
//! PagerDuty or webhooks are each one more implementation), and the worker that drains the
//! outbox through them with retries.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod email;
mod render;
pub mod worker;

pub use backoff::RetryPolicy;
pub use email::{EmailConfig, EmailNotifier};
pub use render::{RenderedMessage, render};
pub use worker::Worker;

use async_trait::async_trait;
use clef_core::notification::Digest;

/// One message on its way to one target.
pub struct Outgoing<'a> {
    /// The outbox id: stable across retries, so the receiver can tell repeats apart.
    pub id: &'a str,
    pub target: &'a str,
    pub digest: &'a Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (4xx, connection refused or broken, timeout).
    #[error("{0}")]
    Transient(String),
    /// The server refused for good (5xx); a few tries, as relays recover from misconfiguration.
    #[error("{0}")]
    Permanent(String),
    /// The message itself cannot be sent (it does not render, its address is malformed): no
    /// server can change that, so it fails at once.
    #[error("{0}")]
    Invalid(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel kind this notifier delivers, as stored on channels (`email`).
    fn kind(&self) -> &'static str;
    /// Delivers the message; on success, the receiving side's answer.
    async fn send(&self, message: &Outgoing<'_>) -> Result<String, SendError>;
}
