//! A digest as an e-mail: subject, text part and HTML part, from templates.

use crate::{Links, MAX_LISTED};
use askama::Template;
use clef_core::notification::{AlertChange, Digest};

pub struct RenderedMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

struct AlertView<'a> {
    severity: &'static str,
    rule_name: &'a str,
    rule_id: &'a str,
    scope: &'a str,
    message: &'a str,
    introduced: &'a str,
    resolved: Option<&'a str>,
    link: Option<String>,
}

struct Section<'a> {
    title: &'static str,
    alerts: Vec<AlertView<'a>>,
}

struct View<'a> {
    integration: &'a str,
    branch: &'a str,
    commit: &'a str,
    pipeline_url: Option<&'a str>,
    test: bool,
    target: &'a str,
    sections: Vec<Section<'a>>,
    /// Alerts of the message not listed.
    more: usize,
    /// The integration's open alerts in the inbox, where each can be acknowledged.
    dashboard: Option<String>,
}

#[derive(Template)]
#[template(path = "alert_digest.txt")]
struct TextPart<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "alert_digest.html")]
struct HtmlPart<'a> {
    v: &'a View<'a>,
}

fn short(sha: &clef_core::CommitSha) -> &str {
    sha.short()
}

/// Renders a digest for `target`. `public_url` is where the dashboard is reachable, for links.
pub fn render(
    digest: &Digest,
    target: &str,
    public_url: Option<&str>,
) -> Result<RenderedMessage, askama::Error> {
    let base = public_url.map(|u| u.trim_end_matches('/'));
    // The rest is a link away.
    let (shown, more) = digest.listed(MAX_LISTED);
    let section = |title, change| Section {
        title,
        alerts: shown
            .iter()
            .filter(|a| a.change == change)
            .map(|a| AlertView {
                severity: a.severity.as_str(),
                rule_name: &a.rule_name,
                rule_id: &a.rule_id,
                scope: if a.scope.is_empty() { "(whole integration)" } else { &a.scope },
                message: &a.message,
                introduced: short(&a.introduced_by_commit),
                resolved: a.resolved_by_commit.as_ref().map(short),
                // The alert's page, at its acknowledgement form.
                link: base.map(|b| format!("{b}/alerts/{}#acknowledge", a.alert_id)),
            })
            .collect(),
    };
    let sections: Vec<Section> = [
        section("New", AlertChange::New),
        section("Still failing", AlertChange::Recurring),
        section("Resolved", AlertChange::Resolved),
    ]
    .into_iter()
    .filter(|s| !s.alerts.is_empty())
    .collect();
    let view = View {
        integration: &digest.integration_name,
        branch: &digest.branch,
        commit: digest.commit_sha.as_ref().map(short).unwrap_or_default(),
        pipeline_url: digest.pipeline_url.as_deref(),
        test: digest.is_test(),
        target,
        sections,
        more,
        dashboard: Links::new(public_url).inbox(&digest.integration_id),
    };
    Ok(RenderedMessage {
        subject: digest.subject(),
        text: TextPart { v: &view }.render()?,
        html: HtmlPart { v: &view }.render()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clef_core::notification::DigestAlert;
    use clef_core::{CommitSha, Severity};

    fn digest() -> Digest {
        let sha = CommitSha::parse(&"9f2c5e0d".repeat(5)).expect("sha");
        let alert = |id: &str, change, severity| DigestAlert {
            alert_id: id.into(),
            change,
            severity,
            rule_id: "missing_keys".into(),
            rule_name: "Missing <keys>".into(),
            scope: "oauth/production".into(),
            message: "1 key & more missing".into(),
            introduced_by_commit: sha.clone(),
            resolved_by_commit: None,
        };
        Digest {
            integration_id: "int-1".into(),
            integration_name: "payments".into(),
            commit_sha: Some(sha.clone()),
            branch: "main".into(),
            pipeline_url: Some("https://ci.example/runs/7".into()),
            alerts: vec![
                alert("a1", AlertChange::New, Severity::Critical),
                alert("a2", AlertChange::Recurring, Severity::Warning),
            ],
        }
    }

    #[test]
    fn subject_names_integration_counts_and_short_commit() {
        let m = render(&digest(), "sec@acme.example", None).expect("render");
        assert_eq!(m.subject, "[Clef Pro] payments: 1 new, 1 still failing alerts at 9f2c5e0");
    }

    #[test]
    fn both_parts_carry_every_alert_new_first_with_links_and_escaping() {
        let m = render(&digest(), "sec@acme.example", Some("https://clef.acme.example/")).expect("render");
        for part in [&m.text, &m.html] {
            assert!(part.contains("oauth/production") && part.contains("9f2c5e0"));
            assert!(part.contains("https://clef.acme.example/alerts/a1"));
            assert!(part.contains("https://ci.example/runs/7"));
            assert!(part.find("a1") < part.find("a2"), "new first");
        }
        assert!(m.text.contains("Missing <keys>"));
        assert!(
            m.html.contains("Missing &#60;keys&#62;") || m.html.contains("Missing &lt;keys&gt;"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<keys>"));
    }

    #[test]
    fn a_long_digest_lists_the_most_severe_and_links_to_the_rest() {
        let mut d = digest();
        let template = d.alerts[0].clone();
        d.alerts = (0..250)
            .map(|i| DigestAlert {
                alert_id: format!("x{i:03}").into(),
                severity: if i % 50 == 7 { Severity::Critical } else { Severity::Info },
                ..template.clone()
            })
            .collect();
        let m = render(&d, "sec@acme.example", Some("https://clef.acme.example")).expect("render");
        for part in [&m.text, &m.html] {
            assert_eq!(part.matches("https://clef.acme.example/alerts/x").count(), MAX_LISTED, "{part}");
            for critical in ["x007", "x057", "x107", "x157", "x207"] {
                assert!(part.contains(critical), "the critical ones are listed");
            }
            assert!(part.contains("225 more"), "{part}");
            assert!(part.contains("https://clef.acme.example/alerts?integration=int-1"));
        }
        assert!(m.html.len() < 40_000, "{} bytes", m.html.len());
    }

    #[test]
    fn a_test_message_says_so() {
        let mut d = digest();
        d.commit_sha = None;
        d.alerts.clear();
        let m = render(&d, "sec@acme.example", None).expect("render");
        assert_eq!(m.subject, "[Clef Pro] Test message for payments");
        assert!(m.text.contains("test message"));
    }
}
