use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a policy result applies. Canonical text: `namespace/environment`, `namespace`,
/// `/environment` (an environment across namespaces), or empty (the whole integration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope {
    namespace: Option<String>,
    environment: Option<String>,
}

impl Scope {
    /// The longest text form accepted.
    pub const MAX_LEN: usize = 512;
    /// The longest namespace or environment.
    pub const MAX_PART: usize = 256;

    pub fn integration() -> Self {
        Self::default()
    }

    /// Builds a scope from optional parts; blank parts count as absent. Each part must be a
    /// matrix name ([`crate::text::axis_name`]): on error, which part and why.
    pub fn new(namespace: Option<&str>, environment: Option<&str>) -> Result<Self, ScopeError> {
        let part = |which: &'static str, raw: Option<&str>| -> Result<Option<String>, ScopeError> {
            match raw {
                Some(p) if !p.trim().is_empty() => crate::text::axis_name(p, Self::MAX_PART)
                    .map(Some)
                    .map_err(|message| ScopeError { part: which, message }),
                _ => Ok(None),
            }
        };
        Ok(Self { namespace: part("namespace", namespace)?, environment: part("environment", environment)? })
    }

    /// Parses the text form the CLI sends (`api-keys/production`, `database`, `/production`,
    /// ``): the first `/` separates namespace and environment, so an environment holding
    /// another `/` is refused rather than guessed at. Every scope this accepts reads back from
    /// its [`canonical`](Self::canonical) text as itself.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        match raw.split_once('/') {
            Some((ns, env)) => Self::new(Some(ns), Some(env)),
            None => Self::new(Some(raw), None),
        }
    }

    /// Reads a stored scope. Stored scopes were checked when they arrived; one stored by an
    /// older version that the rules above refuse is still read, split at its first `/`.
    pub fn from_stored(raw: &str) -> Self {
        Self::parse(raw).unwrap_or_else(|_| {
            let (ns, env) = raw.split_once('/').map_or((raw, None), |(n, e)| (n, Some(e)));
            let keep = |p: &str| (!p.is_empty()).then(|| p.to_owned());
            Self { namespace: keep(ns), environment: env.and_then(keep) }
        })
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub fn canonical(&self) -> String {
        match (&self.namespace, &self.environment) {
            (Some(ns), Some(env)) => format!("{ns}/{env}"),
            (Some(ns), None) => ns.clone(),
            (None, Some(env)) => format!("/{env}"),
            (None, None) => String::new(),
        }
    }
}

/// A scope part that is not a matrix name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    /// `namespace` or `environment`.
    pub part: &'static str,
    pub message: String,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.message)
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Ok(Self::from_stored(&value))
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> String {
        value.canonical()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Scope {
        Scope::parse(raw).expect("valid")
    }

    fn from_parts(ns: Option<&str>, env: Option<&str>) -> Scope {
        Scope::new(ns, env).expect("valid")
    }

    #[test]
    fn ambiguous_and_hidden_parts_are_refused() {
        assert_eq!(Scope::new(Some("team/app"), Some("prod")).map_err(|e| e.part), Err("namespace"));
        assert_eq!(Scope::new(Some("db/"), None).map_err(|e| e.part), Err("namespace"));
        assert_eq!(Scope::parse("team/app/prod").map_err(|e| e.part), Err("environment"));
        assert!(Scope::parse("db\u{200b}/prod").is_err());
        assert_eq!(parse("caf\u{65}\u{301}/prod"), from_parts(Some("café"), Some("prod")));
    }

    #[test]
    fn string_object_and_absent_forms_canonicalise_alike() {
        assert_eq!(parse("api-keys/production").canonical(), "api-keys/production");
        assert_eq!(from_parts(Some("api-keys"), Some("production")), parse("api-keys/production"));
        assert_eq!(parse("database").canonical(), "database");
        assert_eq!(from_parts(Some("database"), None), parse("database"));
        assert_eq!(parse("database/"), parse("database"));
        assert_eq!(parse("").canonical(), "");
        assert_eq!(from_parts(None, None), Scope::integration());
        assert_eq!(from_parts(Some("  "), Some("")), Scope::integration());
        assert_eq!(from_parts(None, Some("prod")).canonical(), "/prod");
        assert_eq!(parse("/prod"), from_parts(None, Some("prod")));
        assert_eq!(parse(" db / prod ").canonical(), "db/prod");
    }

    #[test]
    fn canonical_text_round_trips() {
        for s in ["a/b", "a", "", "/b"] {
            assert_eq!(parse(s).canonical(), s);
        }
    }
}
