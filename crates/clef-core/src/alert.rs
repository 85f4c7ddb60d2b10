use crate::{AlertId, CommitSha, FieldError, Millis, Scope, Severity};
use serde::{Deserialize, Serialize};

/// What makes two failures the same alert: the rule and the canonical scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey {
    pub rule_id: String,
    pub scope: Scope,
}

/// Open while the violation is in the code; resolved once a report shows it gone.
/// Only reports change this, never a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            _ => Err(format!("unknown alert status {raw:?}: expected open or resolved")),
        }
    }

    /// A status filter: `open`, `resolved`, or `any` / `all` for both (`None`).
    pub fn parse_filter(raw: &str) -> Result<Option<Self>, String> {
        match raw {
            "any" | "all" => Ok(None),
            other => Self::parse(other)
                .map(Some)
                .map_err(|_| format!("unknown alert status {raw:?}: expected open, resolved or any")),
        }
    }
}

/// Someone said "I've seen this, stop notifying me". Nothing else follows from it. With
/// `until` it is a snooze: from then on the alert counts as unacknowledged again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: Millis,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub until: Option<Millis>,
}

impl Acknowledgement {
    /// The longest reason kept, in characters.
    pub const MAX_REASON: usize = 500;

    /// An acknowledgement by `by` at `at`; the reason is trimmed (blank is none) and an expiry
    /// must lie ahead. An error names the field at fault (`reason` or `until`).
    pub fn new(
        by: &str,
        at: Millis,
        reason: Option<&str>,
        until: Option<Millis>,
    ) -> Result<Self, FieldError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            if r.chars().count() > Self::MAX_REASON {
                return Err(FieldError::new(
                    "reason",
                    format!("has at most {} characters", Self::MAX_REASON),
                ));
            }
            if r.chars().any(char::is_control) {
                return Err(FieldError::new("reason", "is one line of text without control characters"));
            }
        }
        if until.is_some_and(|u| u <= at) {
            return Err(FieldError::new("until", "must be in the future: a snooze ends later than now"));
        }
        Ok(Self { by: by.to_owned(), at, reason: reason.map(str::to_owned), until })
    }

    /// Whether it still silences the alert at `now`.
    pub fn is_live(&self, now: Millis) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub rule_id: String,
    pub rule_name: String,
    pub scope: Scope,
    pub severity: Severity,
    pub message: String,
    pub status: AlertStatus,
    pub acknowledgement: Option<Acknowledgement>,
    pub introduced_by_commit: CommitSha,
    pub resolved_by_commit: Option<CommitSha>,
    pub last_seen_commit: CommitSha,
    pub first_seen_at: Millis,
    pub last_seen_at: Millis,
    pub resolved_at: Option<Millis>,
    /// Tracked-branch reports in which it failed, backfilled ones included.
    pub occurrences: u64,
}

impl Alert {
    pub fn key(&self) -> AlertKey {
        AlertKey { rule_id: self.rule_id.clone(), scope: self.scope.clone() }
    }

    pub fn is_open(&self) -> bool {
        self.status == AlertStatus::Open
    }

    /// Acknowledged at `now`: a snooze that has run out no longer counts.
    pub fn is_acknowledged(&self, now: Millis) -> bool {
        self.acknowledgement.as_ref().is_some_and(|a| a.is_live(now))
    }
}
