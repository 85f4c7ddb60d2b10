//! `clef lint --push` and `clef drift --push`: a run's counts and its issues, grouped. These
//! runs carry no commit; Clef Pro keeps each integration's latest run of each kind.
//!
//! Their issues name files and keys (`clef.file`, `clef.key`) and their messages quote key
//! names, so none of that is kept: an issue is reduced to what it is (severity, category) and
//! where in the matrix (namespace, environments), and identical ones are counted together.

use crate::Severity;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Lint,
    Drift,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lint => "lint",
            Self::Drift => "drift",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "lint" => Ok(Self::Lint),
            "drift" => Ok(Self::Drift),
            other => Err(format!("unknown check kind {other:?}")),
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRun {
    pub kind: CheckKind,
    #[serde(default)]
    pub cli_version: Option<String>,
    pub passed: bool,
    /// The summary's counts, by the CLI's names without the `clef.` prefix: `fileCount`,
    /// `pendingCount`, `errorCount`, `warningCount`, `infoCount` (lint);
    /// `namespacesCompared`, `namespacesClean`, `issueCount` (drift).
    #[serde(default)]
    pub counts: Vec<CheckCount>,
    #[serde(default)]
    pub groups: Vec<CheckGroup>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCount {
    pub name: String,
    pub value: u64,
}

/// Issues alike in everything kept, counted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckGroup {
    pub severity: Severity,
    /// The lint category (`schema`, `sops`, `matrix`, …), or `drift`.
    pub category: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Drift: the environments that have the keys and those that lack them.
    #[serde(default)]
    pub present_in: Vec<String>,
    #[serde(default)]
    pub missing_from: Vec<String>,
    pub count: u64,
}
