use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a policy failure is. `error` and `critical` rank the same.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Info, Self::Warning, Self::Error, Self::Critical];

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Self::Info),
            "warning" => Ok(Self::Warning),
            "error" => Ok(Self::Error),
            "critical" => Ok(Self::Critical),
            _ => Err(format!("unknown severity {raw:?}: expected info, warning, error or critical")),
        }
    }

    /// info < warning < error = critical.
    pub fn rank(self) -> u8 {
        match self {
            Self::Info => 0,
            Self::Warning => 1,
            Self::Error | Self::Critical => 2,
        }
    }

    /// Whether an alert of this severity passes a channel's `minSeverity` filter.
    pub fn reaches(self, min: Severity) -> bool {
        self.rank() >= min.rank()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_and_critical_rank_alike_above_warning_and_info() {
        assert!(Severity::Critical.reaches(Severity::Error));
        assert!(Severity::Error.reaches(Severity::Critical));
        assert!(Severity::Warning.reaches(Severity::Info));
        assert!(!Severity::Warning.reaches(Severity::Critical));
        assert!(!Severity::Info.reaches(Severity::Warning));
    }

    #[test]
    fn parses_case_insensitively_and_rejects_unknown() {
        assert_eq!(Severity::parse("CRITICAL"), Ok(Severity::Critical));
        assert!(Severity::parse("fatal").is_err());
    }
}
