use crate::{AlertId, CommitSha, Millis, Scope, Severity};
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

/// Someone said "I've seen this, stop notifying me". Nothing else follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: Millis,
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
    /// Evaluations in which the violation was present.
    pub occurrences: u64,
}

impl Alert {
    pub fn key(&self) -> AlertKey {
        AlertKey { rule_id: self.rule_id.clone(), scope: self.scope.clone() }
    }

    pub fn is_open(&self) -> bool {
        self.status == AlertStatus::Open
    }

    pub fn is_acknowledged(&self) -> bool {
        self.acknowledgement.is_some()
    }
}
