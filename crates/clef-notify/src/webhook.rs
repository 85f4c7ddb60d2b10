//! Generic webhooks, signed the Standard Webhooks way (standardwebhooks.com): headers
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` = `v1,` + base64 of
//! HMAC-SHA256(secret, "{id}.{timestamp}.{body}"), one signature per live secret so a receiver
//! can rotate without losing a message. The body's schema is in docs/webhooks.md.

use crate::http::{Http, classify};
use crate::{Links, Notifier, Outgoing, SendError};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clef_core::notification::{ChannelKind, Digest, DigestEvent};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The version of the body's schema; a breaking change gets a new one.
pub const SCHEMA_VERSION: u32 = 1;
const PREFIX: &str = "whsec_";

pub struct WebhookNotifier {
    http: Http,
    links: Links,
}

impl WebhookNotifier {
    pub fn new(http: Http, links: Links) -> Self {
        Self { http, links }
    }
}

/// The `webhook-signature` value: one `v1,<sig>` per secret, space-separated.
pub fn sign(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let key = B64
            .decode(secret.strip_prefix(PREFIX).unwrap_or(secret))
            .map_err(|_| "a signing secret is not base64".to_owned())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        out.push(format!("v1,{}", B64.encode(mac.finalize().into_bytes())));
    }
    Ok(out.join(" "))
}

fn event_type(digest: &Digest) -> &'static str {
    match digest.event() {
        DigestEvent::Test => "test",
        DigestEvent::Acknowledgement => "alert.acknowledged",
        DigestEvent::Alerts => "alerts.changed",
    }
}

/// The body: `{type, schemaVersion, timestamp, data: {integration, commit, alerts}}`.
pub fn payload(digest: &Digest, links: &Links, timestamp: &str) -> Value {
    let alerts: Vec<Value> = digest
        .alerts
        .iter()
        .map(|a| {
            json!({
                "id": a.alert_id,
                "change": a.change,
                "severity": a.severity.as_str(),
                "ruleId": a.rule_id,
                "ruleName": a.rule_name,
                "scope": a.scope,
                "message": a.message,
                "introducedByCommit": a.introduced_by_commit.as_str(),
                "resolvedByCommit": a.resolved_by_commit.as_ref().map(|c| c.as_str()),
                "url": links.alert(&a.alert_id),
            })
        })
        .collect();
    json!({
        "type": event_type(digest),
        "schemaVersion": SCHEMA_VERSION,
        "timestamp": timestamp,
        "data": {
            "integration": {
                "id": digest.integration_id,
                "name": digest.integration_name,
                "url": links.integration(&digest.integration_id),
            },
            "commit": digest.commit_sha.as_ref().map(|c| json!({
                "sha": c.as_str(),
                "branch": digest.branch,
                "pipelineUrl": digest.pipeline_url,
            })),
            "alerts": alerts,
        }
    })
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    async fn send(&self, m: &Outgoing<'_>) -> Result<String, SendError> {
        if m.signing_secrets.is_empty() {
            return Err(SendError::Invalid("the channel has no signing secret".into()));
        }
        let now = time::OffsetDateTime::now_utc();
        let stamp = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let body = serde_json::to_vec(&payload(m.digest, &self.links, &stamp))
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        // The outbox id is the message id: a retry carries the same one, so receivers de-duplicate.
        let ts = now.unix_timestamp();
        let signature = sign(m.signing_secrets, m.id.as_str(), ts, &body).map_err(SendError::Invalid)?;
        let headers = [
            ("webhook-id", m.id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signature),
        ];
        classify(self.http.post_json(m.target, body, &headers).await?, "The endpoint")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (its README).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).expect("sign");
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_live_secret_signs() {
        let (a, b) =
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(), "whsec_c2Vjb25kIHNlY3JldA==".to_owned());
        let sig = sign(&[a, b], "id", 1, b"{}").expect("sign");
        assert_eq!(sig.split(' ').filter(|s| s.starts_with("v1,")).count(), 2);
    }

    #[test]
    fn the_body_names_its_type_and_version() {
        let p = payload(&crate::slack::tests::digest(1), &Links::default(), "2026-11-24T00:00:00Z");
        assert_eq!((p["type"].as_str(), p["schemaVersion"].as_u64()), (Some("alerts.changed"), Some(1)));
        assert_eq!(p["data"]["alerts"][0]["change"], "new");
        assert_eq!(p["data"]["commit"]["branch"], "main");
    }
}
