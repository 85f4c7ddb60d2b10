//! PagerDuty Events API v2: one event per alert, keyed by the alert's id (`dedup_key`), so an
//! alert's lifecycle here is one incident there: `trigger` when it opens (again on recurrence,
//! which PagerDuty folds into the open incident), `acknowledge` when someone acknowledges it
//! here, `resolve` when the code fixes it.

use crate::http::{Http, classify};
use crate::{Links, Notifier, Outgoing, SendError};
use async_trait::async_trait;
use clef_core::Severity;
use clef_core::notification::{AlertChange, ChannelKind, Digest, DigestAlert};
use serde_json::{Value, json};

pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

pub struct PagerDutyNotifier {
    http: Http,
    links: Links,
    events_url: String,
}

impl PagerDutyNotifier {
    pub fn new(http: Http, links: Links, events_url: Option<String>) -> Self {
        Self { http, links, events_url: events_url.unwrap_or_else(|| EVENTS_URL.to_owned()) }
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn action(change: AlertChange) -> &'static str {
    match change {
        AlertChange::New | AlertChange::Recurring => "trigger",
        AlertChange::Acknowledged => "acknowledge",
        AlertChange::Resolved => "resolve",
    }
}

fn event(routing_key: &str, digest: &Digest, a: &DigestAlert, links: &Links) -> Value {
    let mut e = json!({
        "routing_key": routing_key,
        "event_action": action(a.change),
        "dedup_key": a.alert_id,
    });
    if a.change == AlertChange::Resolved || a.change == AlertChange::Acknowledged {
        return e;
    }
    let scope = a.scope_label();
    let summary: String = format!("{}: {} on {scope} — {}", digest.integration_name, a.rule_name, a.message)
        .chars()
        .take(1024)
        .collect();
    e["payload"] = json!({
        "summary": summary,
        "source": format!("clef-pro/{}", digest.integration_name),
        "severity": severity(a.severity),
        "component": scope,
        "group": digest.integration_name,
        "class": a.rule_id,
        "custom_details": {
            "rule": a.rule_name,
            "introduced_by_commit": a.introduced_by_commit.as_str(),
            "branch": digest.branch,
        },
    });
    e["client"] = json!("Clef Pro");
    let mut links_out = Vec::new();
    if let Some(url) = links.alert(&a.alert_id) {
        e["client_url"] = json!(url);
        links_out.push(json!({"href": url, "text": "Alert in Clef Pro"}));
    }
    if let Some(url) = &digest.pipeline_url {
        links_out.push(json!({"href": url, "text": "CI pipeline"}));
    }
    e["links"] = Value::Array(links_out);
    e
}

/// The events a digest becomes, in order. A test message triggers and at once resolves an
/// incident of its own, so it pages nobody for long.
pub fn events(message_id: &str, routing_key: &str, digest: &Digest, links: &Links) -> Vec<Value> {
    if digest.is_test() {
        let key = format!("clef-pro-test-{message_id}");
        return vec![
            json!({"routing_key": routing_key, "event_action": "trigger", "dedup_key": key, "payload": {
                "summary": format!("Clef Pro test event for {}", digest.integration_name),
                "source": "clef-pro", "severity": "info"}}),
            json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}),
        ];
    }
    digest.alerts.iter().map(|a| event(routing_key, digest, a, links)).collect()
}

#[async_trait]
impl Notifier for PagerDutyNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::PagerDuty
    }

    async fn send(&self, m: &Outgoing<'_>) -> Result<String, SendError> {
        // A retry re-sends events already accepted: PagerDuty de-duplicates them by key.
        let all = events(m.id.as_str(), m.target, m.digest, &self.links);
        let mut last = String::new();
        for e in &all {
            let body = serde_json::to_vec(e).map_err(|err| SendError::Invalid(err.to_string()))?;
            last = classify(self.http.post_json(&self.events_url, body, &[]).await?, "PagerDuty")?;
        }
        Ok(format!("{} event(s) accepted; {last}", all.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_alert_keyed_by_its_id() {
        let mut d = crate::slack::tests::digest(2);
        d.alerts[1].change = AlertChange::Resolved;
        let e = events("m1", "KEY", &d, &Links::new(Some("https://clef.example")));
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0]["event_action"].as_str(), e[0]["dedup_key"].as_str()),
            (Some("trigger"), Some("a0"))
        );
        assert_eq!(e[0]["payload"]["severity"], "warning");
        assert_eq!(e[0]["client_url"], "https://clef.example/alerts/a0");
        assert_eq!((e[1]["event_action"].as_str(), e[1].get("payload")), (Some("resolve"), None));
        d.alerts[0].change = AlertChange::Acknowledged;
        assert_eq!(events("m1", "KEY", &d, &Links::default())[0]["event_action"], "acknowledge");
    }
}
