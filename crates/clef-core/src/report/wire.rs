//! The CLI's JSON as it arrives. Lenient in shape (the variants the CLI has shipped), strict
//! in types; fields not named here are ignored by serde and so never reach the model.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireBatch {
    pub reports: Vec<WireReport>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireReport {
    pub commit_sha: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// Epoch milliseconds or an RFC 3339 string.
    pub commit_timestamp: Value,
    #[serde(default)]
    pub cli_version: Option<String>,
    pub summary: WireSummary,
    #[serde(default)]
    pub drift: Option<Vec<WireDrift>>,
    #[serde(default)]
    pub policy_results: Option<Vec<WirePolicyResult>>,
    #[serde(default)]
    pub ci_context: Option<WireCiContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireSummary {
    #[serde(default)]
    pub files_scanned: Option<u64>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub cells: Vec<WireCell>,
    #[serde(default)]
    pub violations: Option<u64>,
    #[serde(default)]
    pub passed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireCell {
    pub namespace: String,
    pub environment: String,
    pub health_status: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireDrift {
    pub namespace: String,
    pub is_drifted: bool,
    #[serde(default)]
    pub drift_count: Option<u64>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WirePolicyResult {
    pub rule_id: String,
    #[serde(default)]
    pub rule_name: Option<String>,
    pub passed: bool,
    pub severity: String,
    #[serde(default)]
    pub message: Option<String>,
    /// A string, an object with `namespace` and/or `environment`, or absent.
    #[serde(default)]
    pub scope: Option<WireScope>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a string or an object with namespace and/or environment")]
pub(super) enum WireScope {
    Text(String),
    Parts {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        environment: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireCiContext {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub pipeline_url: Option<String>,
    #[serde(default)]
    pub trigger: Option<String>,
}
