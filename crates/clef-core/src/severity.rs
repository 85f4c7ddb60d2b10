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

    /// The thresholds a channel can choose from, one per rank: `error` and `critical` rank
    /// alike, so offering both would promise a difference that does not exist.
    pub const THRESHOLDS: [Severity; 3] = [Self::Info, Self::Warning, Self::Critical];

    /// The threshold of this rank (`error` is `critical`'s alias as a threshold).
    pub fn as_threshold(self) -> Severity {
        if self == Self::Error { Self::Critical } else { self }
    }

    /// What a threshold lets through, for people.
    pub fn threshold_label(self) -> &'static str {
        match self.as_threshold() {
            Self::Info => "Everything (info and above)",
            Self::Warning => "Warning and above",
            _ => "Error and critical",
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

/// How many alerts of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub info: u64,
    pub warning: u64,
    pub error: u64,
    pub critical: u64,
}

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity, n: u64) {
        match severity {
            Severity::Info => self.info += n,
            Severity::Warning => self.warning += n,
            Severity::Error => self.error += n,
            Severity::Critical => self.critical += n,
        }
    }

    pub fn total(&self) -> u64 {
        self.info + self.warning + self.error + self.critical
    }

    /// The count of one severity.
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Info => self.info,
            Severity::Warning => self.warning,
            Severity::Error => self.error,
            Severity::Critical => self.critical,
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
    fn thresholds_are_one_per_rank() {
        let ranks: Vec<u8> = Severity::THRESHOLDS.iter().map(|s| s.rank()).collect();
        assert_eq!(ranks, [0, 1, 2]);
        assert_eq!(Severity::Error.as_threshold(), Severity::Critical);
        for s in Severity::ALL {
            assert!(Severity::THRESHOLDS.contains(&s.as_threshold()));
            assert_eq!(s.as_threshold().rank(), s.rank());
        }
    }

    #[test]
    fn parses_case_insensitively_and_rejects_unknown() {
        assert_eq!(Severity::parse("CRITICAL"), Ok(Severity::Critical));
        assert!(Severity::parse("fatal").is_err());
    }
}
