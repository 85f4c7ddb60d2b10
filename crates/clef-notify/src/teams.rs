//! Microsoft Teams: a Workflows webhook ("When a Teams webhook request is received") receives an
//! Adaptive Card. (The Office 365 connectors it replaces are retired.)

use crate::http::{Http, classify};
use crate::slack::change_word;
use crate::{Links, MAX_LISTED, Notifier, Outgoing, SendError};
use async_trait::async_trait;
use clef_core::Severity;
use clef_core::notification::{ChannelKind, Digest};
use serde_json::{Value, json};

pub struct TeamsNotifier {
    http: Http,
    links: Links,
}

impl TeamsNotifier {
    pub fn new(http: Http, links: Links) -> Self {
        Self { http, links }
    }
}

fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Error => "Attention",
        Severity::Warning => "Warning",
        Severity::Info => "Default",
    }
}

/// The message carrying one Adaptive Card.
pub fn payload(digest: &Digest, links: &Links) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true, "text": digest.subject()}),
    ];
    if digest.is_test() {
        body.push(json!({"type": "TextBlock", "wrap": true, "text":
            format!("This is a test message from Clef Pro for {}. If you can read it, this channel works.", digest.integration_name)}));
    } else {
        let commit = digest.commit_sha.as_ref().map(|c| c.short()).unwrap_or_default();
        body.push(json!({"type": "FactSet", "facts": [
            {"title": "Integration", "value": digest.integration_name},
            {"title": "Branch", "value": digest.branch},
            {"title": "Commit", "value": commit},
        ]}));
        // Cards past about 28 KB are refused: the cap keeps well below.
        let (listed, more) = digest.listed(MAX_LISTED);
        for a in listed {
            let mut items = vec![
                json!({"type": "TextBlock", "wrap": true, "weight": "Bolder", "color": color(a.severity),
                    "text": format!("{} · {} · {}", a.severity.as_str().to_uppercase(), change_word(a.change), a.rule_name)}),
                json!({"type": "TextBlock", "wrap": true, "isSubtle": true, "spacing": "None",
                    "text": format!("{} · {} · introduced by {}", a.scope_label(), a.rule_id, a.introduced_by_commit.short())}),
            ];
            if !a.message.is_empty() {
                items.push(json!({"type": "TextBlock", "wrap": true, "spacing": "None", "text": a.message}));
            }
            if let Some(url) = links.alert(&a.alert_id) {
                items.push(json!({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "Alert", "url": url}]}));
            }
            body.push(json!({"type": "Container", "separator": true, "items": items}));
        }
        if more > 0 {
            let text = match links.inbox(&digest.integration_id) {
                Some(url) => format!("…and [{more} more in Clef Pro]({url})"),
                None => format!("…and {more} more in Clef Pro"),
            };
            body.push(json!({"type": "TextBlock", "wrap": true, "isSubtle": true, "text": text}));
        }
    }
    let actions: Vec<Value> = links
        .actions(digest)
        .into_iter()
        .map(|(title, url)| json!({"type": "Action.OpenUrl", "title": title, "url": url}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

#[async_trait]
impl Notifier for TeamsNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Teams
    }

    async fn send(&self, m: &Outgoing<'_>) -> Result<String, SendError> {
        let body = serde_json::to_vec(&payload(m.digest, &self.links))
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        // A Workflows webhook answers 202 Accepted.
        classify(self.http.post_json(m.target, body, &[]).await?, "Teams")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_adaptive_card_with_each_alert() {
        let p = payload(&crate::slack::tests::digest(3), &Links::new(Some("https://clef.example")));
        assert_eq!(p["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &p["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        let text = card.to_string();
        assert_eq!(text.matches("\"Container\"").count(), 3);
        assert!(
            text.contains("https://clef.example/alerts/a2") && text.contains("https://ci.example/runs/7")
        );
        let many = payload(&crate::slack::tests::digest(60), &Links::new(Some("https://clef.example")));
        let text = many.to_string();
        assert_eq!(text.matches("\"Container\"").count(), crate::MAX_LISTED);
        assert!(
            text.contains("[35 more in Clef Pro](https://clef.example/alerts?integration=int-1)"),
            "{text}"
        );
    }
}
