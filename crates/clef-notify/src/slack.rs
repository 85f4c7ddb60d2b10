//! Slack: an incoming webhook receives one message per digest, built with Block Kit, with a
//! plain-text fallback for notifications and old clients.

use crate::http::{Http, classify};
use crate::{Links, MAX_LISTED, Notifier, Outgoing, SendError};
use async_trait::async_trait;
use clef_core::notification::{AlertChange, ChannelKind, Digest};
use serde_json::{Value, json};

pub struct SlackNotifier {
    http: Http,
    links: Links,
}

impl SlackNotifier {
    pub fn new(http: Http, links: Links) -> Self {
        Self { http, links }
    }
}

/// Slack's mrkdwn treats these three as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub(crate) fn change_word(change: AlertChange) -> &'static str {
    match change {
        AlertChange::New => "New",
        AlertChange::Recurring => "Still failing",
        AlertChange::Resolved => "Resolved",
        AlertChange::Acknowledged => "Acknowledged",
    }
}

/// The Block Kit message for a digest.
pub fn payload(digest: &Digest, links: &Links) -> Value {
    let subject = digest.subject();
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": clip(&subject, 150)}})];
    if digest.is_test() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text":
            format!("This is a test message from Clef Pro for *{}*. If you can read it, this channel works.", escape(&digest.integration_name))}}));
        return json!({"text": subject, "blocks": blocks});
    }
    let commit = digest.commit_sha.as_ref().map(|c| c.short()).unwrap_or_default();
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text":
        format!("*{}* · branch `{}` · commit `{commit}`", escape(&digest.integration_name), escape(&digest.branch))}]}));
    // One block per alert listed: well under Slack's 50 blocks.
    let (listed, more) = digest.listed(MAX_LISTED);
    for a in listed {
        let name = match links.alert(&a.alert_id) {
            Some(url) => format!("<{url}|{}>", escape(&a.rule_name)),
            None => escape(&a.rule_name),
        };
        let mut text = format!(
            "*{}* · {} · {name} (`{}`)\nScope `{}` · introduced by `{}`",
            a.severity.as_str().to_uppercase(),
            change_word(a.change),
            escape(&a.rule_id),
            escape(a.scope_label()),
            a.introduced_by_commit.short(),
        );
        if let Some(resolved) = &a.resolved_by_commit {
            text.push_str(&format!(" · resolved by `{}`", resolved.short()));
        }
        if !a.message.is_empty() {
            text.push_str(&format!("\n{}", escape(&clip(&a.message, 1500))));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if more > 0 {
        let text = match links.inbox(&digest.integration_id) {
            Some(url) => format!("…and <{url}|{more} more in Clef Pro>"),
            None => format!("…and {more} more in Clef Pro"),
        };
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}));
    }
    let buttons: Vec<Value> = links
        .actions(digest)
        .into_iter()
        .map(|(title, url)| json!({"type": "button", "text": {"type": "plain_text", "text": title}, "url": url}))
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({"text": subject, "blocks": blocks})
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    async fn send(&self, m: &Outgoing<'_>) -> Result<String, SendError> {
        let body = serde_json::to_vec(&payload(m.digest, &self.links))
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        // Slack answers 400 invalid_payload, 403 action_prohibited, 404 no_service and 410
        // channel_is_archived for good; 429 with Retry-After; 5xx passes.
        classify(self.http.post_json(m.target, body, &[]).await?, "Slack")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clef_core::notification::DigestAlert;
    use clef_core::{CommitSha, Severity};

    pub(crate) fn digest(n: usize) -> Digest {
        let sha = CommitSha::parse(&"9f2c5e0d".repeat(5)).expect("sha");
        Digest {
            integration_id: "int-1".into(),
            integration_name: "pay<ments>".into(),
            commit_sha: Some(sha.clone()),
            branch: "main".into(),
            pipeline_url: Some("https://ci.example/runs/7".into()),
            alerts: (0..n)
                .map(|i| DigestAlert {
                    alert_id: format!("a{i}").into(),
                    change: if i == 0 { AlertChange::New } else { AlertChange::Recurring },
                    // The last one is the most severe: a capped message still lists it.
                    severity: if i + 1 == n { Severity::Critical } else { Severity::Warning },
                    rule_id: "missing_keys".into(),
                    rule_name: "Missing keys".into(),
                    scope: "oauth/production".into(),
                    message: "1 key & more missing".into(),
                    introduced_by_commit: sha.clone(),
                    resolved_by_commit: None,
                })
                .collect(),
        }
    }

    #[test]
    fn blocks_carry_each_alert_with_links_escaped_and_bounded() {
        let links = Links::new(Some("https://clef.acme.example/"));
        let p = payload(&digest(2), &links);
        let text = p.to_string();
        assert!(p["text"].as_str().is_some_and(|t| t.contains("1 new, 1 still failing")), "fallback text");
        assert!(text.contains("<https://clef.acme.example/alerts/a0|Missing keys>"));
        assert!(text.contains("1 key &amp; more missing") && text.contains("pay&lt;ments&gt;"));
        assert!(text.contains("https://ci.example/runs/7"));
        let many = payload(&digest(120), &links);
        let blocks = many["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= 50, "{} blocks", blocks.len());
        let text = many.to_string();
        assert!(
            text.contains("<https://clef.acme.example/alerts?integration=int-1|95 more in Clef Pro>"),
            "{text}"
        );
        assert!(text.contains("/alerts/a119|"), "the critical alert is listed, first: {text}");
        assert!(blocks[2]["text"]["text"].as_str().is_some_and(|t| t.starts_with("*CRITICAL*")), "{text}");
    }
}
