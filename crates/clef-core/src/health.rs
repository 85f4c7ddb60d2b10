use serde::{Deserialize, Serialize};
use std::fmt;

/// The health of one namespace × environment cell, as the CLI reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Warning,
    Critical,
    Unknown,
}

impl Health {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "healthy" => Ok(Self::Healthy),
            "warning" => Ok(Self::Warning),
            "critical" => Ok(Self::Critical),
            "unknown" => Ok(Self::Unknown),
            _ => {
                Err(format!("unknown health status {raw:?}: expected healthy, warning, critical or unknown"))
            }
        }
    }

    /// Order for "worst health": healthy < unknown < warning < critical.
    pub fn badness(self) -> u8 {
        match self {
            Self::Healthy => 0,
            Self::Unknown => 1,
            Self::Warning => 2,
            Self::Critical => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
