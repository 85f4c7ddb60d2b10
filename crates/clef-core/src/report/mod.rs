//! A report: one commit's secrets governance state as the CLI summarised it. The model holds
//! only the modelled fields; everything else the CLI (or anyone) sends is dropped at parse time.

mod otlp;
mod validate;
mod wire;

pub use otlp::{OtlpPush, parse_otlp};
pub use validate::{MAX_BATCH, parse_batch, parse_report};

use crate::{CommitSha, Health, Millis, Scope, Severity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "9f2c5e0d8a1b4c7e6f3a2d1c0b9a8f7e6d5c4b3a"))]
    pub commit_sha: CommitSha,
    /// Empty for a detached checkout.
    pub branch: String,
    /// Epoch milliseconds (an RFC 3339 string is accepted too).
    pub commit_timestamp: Millis,
    pub cli_version: Option<String>,
    /// Repo URL or organisation name, when the OTLP variant sends it.
    pub repo_origin: Option<String>,
    pub summary: Summary,
    pub drift: Vec<Drift>,
    pub policy_results: Vec<PolicyResult>,
    pub ci_context: Option<CiContext>,
    /// How it reached us. Fields added after the first release default when absent, so stored
    /// reports of older versions still read.
    #[serde(default)]
    pub source: ReportSource,
    /// The issue counts the OTLP summary carries; `None` for the report JSON.
    #[serde(default)]
    pub issue_counts: Option<IssueCounts>,
}

/// The CLI's report JSON (the Cloud API), or OTLP logs: these carry issues only, so their
/// cells and drift are drawn from the issues, and their commit time is the push time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportSource {
    #[default]
    Json,
    Otlp,
}

impl ReportSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Otlp => "otlp",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "json" => Ok(Self::Json),
            "otlp" => Ok(Self::Otlp),
            other => Err(format!("unknown report source {other:?}")),
        }
    }

    /// The commit time is when the CLI pushed, not when the commit was made.
    pub fn time_is_push_time(self) -> bool {
        self == Self::Otlp
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCounts {
    #[serde(default)]
    pub error: u64,
    #[serde(default)]
    pub warning: u64,
    #[serde(default)]
    pub info: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files_scanned: u64,
    pub namespaces: Vec<String>,
    pub environments: Vec<String>,
    pub cells: Vec<Cell>,
    pub violations: u64,
    pub passed: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub namespace: String,
    pub environment: String,
    pub health_status: Health,
    pub description: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub namespace: String,
    pub is_drifted: bool,
    pub drift_count: Option<u64>,
    pub severity: Option<Severity>,
    pub summary: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResult {
    pub rule_id: String,
    pub rule_name: String,
    pub passed: bool,
    pub severity: Severity,
    pub message: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "database/production"))]
    pub scope: Scope,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiContext {
    pub provider: Option<String>,
    pub pipeline_url: Option<String>,
    pub trigger: Option<String>,
}

/// A report's list-valued parts as JSON, ready for storage, and a digest of every modelled
/// field: equal digests mean an identical resubmission. Encoded once per report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedReport {
    pub namespaces: String,
    pub environments: String,
    pub cells: String,
    pub drift: String,
    pub policy_results: String,
    pub digest: String,
    /// SHA-256 (hex) of each list part, in the order namespaces, environments, cells, drift,
    /// policy results: storage keeps a part once per content.
    pub part_hashes: [String; 5],
}

impl EncodedReport {
    /// The list parts with their hashes, in the order of `part_hashes`.
    pub fn parts(&self) -> [(&str, &str); 5] {
        let bodies = [&self.namespaces, &self.environments, &self.cells, &self.drift, &self.policy_results];
        std::array::from_fn(|i| (bodies[i].as_str(), self.part_hashes[i].as_str()))
    }
}

impl Report {
    pub fn encode(&self) -> EncodedReport {
        let namespaces = json(&self.summary.namespaces);
        let environments = json(&self.summary.environments);
        let cells = json(&self.summary.cells);
        let drift = json(&self.drift);
        let policy_results = json(&self.policy_results);
        // A push time changes with every push of the same content: it is not content.
        let time = if self.source.time_is_push_time() { 0 } else { self.commit_timestamp };
        let mut scalars = json(&(
            &self.commit_sha,
            &self.branch,
            time,
            &self.cli_version,
            &self.repo_origin,
            (self.summary.files_scanned, self.summary.violations, self.summary.passed),
            &self.ci_context,
        ));
        // Appended only when not the default, so digests stored before these fields existed
        // still match an identical retry.
        if self.source != ReportSource::Json || self.issue_counts.is_some() {
            scalars.push_str(&json(&(self.source, &self.issue_counts)));
        }
        let mut hasher = Sha256::new();
        for part in [&scalars, &namespaces, &environments, &cells, &drift, &policy_results] {
            // Length-prefixed, so no two different reports hash the same concatenation.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hex::encode(hasher.finalize());
        let part_hashes = [&namespaces, &environments, &cells, &drift, &policy_results]
            .map(|part| hex::encode(Sha256::digest(part.as_bytes())));
        EncodedReport { namespaces, environments, cells, drift, policy_results, digest, part_hashes }
    }

    /// The worst cell health, or `None` for a report without cells.
    pub fn worst_health(&self) -> Option<Health> {
        self.summary.cells.iter().map(|c| c.health_status).max_by_key(|h| h.badness())
    }
}

/// Serialising our own model cannot fail: it has no maps with non-string keys.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
