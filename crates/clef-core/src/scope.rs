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
    pub const MAX_LEN: usize = 512;

    pub fn integration() -> Self {
        Self::default()
    }

    /// Builds a scope from optional parts; blank parts count as absent.
    pub fn from_parts(namespace: Option<&str>, environment: Option<&str>) -> Self {
        let clean = |part: Option<&str>| part.map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
        Self { namespace: clean(namespace), environment: clean(environment) }
    }

    /// Parses the string form the CLI sends (`api-keys/production`, `database`, ``).
    pub fn parse(raw: &str) -> Self {
        match raw.split_once('/') {
            Some((ns, env)) => Self::from_parts(Some(ns), Some(env)),
            None => Self::from_parts(Some(raw), None),
        }
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

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Ok(Self::parse(&value))
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

    #[test]
    fn string_object_and_absent_forms_canonicalise_alike() {
        assert_eq!(Scope::parse("api-keys/production").canonical(), "api-keys/production");
        assert_eq!(
            Scope::from_parts(Some("api-keys"), Some("production")),
            Scope::parse("api-keys/production")
        );
        assert_eq!(Scope::parse("database").canonical(), "database");
        assert_eq!(Scope::from_parts(Some("database"), None), Scope::parse("database"));
        assert_eq!(Scope::parse("database/"), Scope::parse("database"));
        assert_eq!(Scope::parse("").canonical(), "");
        assert_eq!(Scope::from_parts(None, None), Scope::integration());
        assert_eq!(Scope::from_parts(Some("  "), Some("")), Scope::integration());
        assert_eq!(Scope::from_parts(None, Some("prod")).canonical(), "/prod");
        assert_eq!(Scope::parse("/prod"), Scope::from_parts(None, Some("prod")));
        assert_eq!(Scope::parse(" db / prod ").canonical(), "db/prod");
    }

    #[test]
    fn canonical_text_round_trips() {
        for s in ["a/b", "a", "", "/b"] {
            assert_eq!(Scope::parse(s).canonical(), s);
        }
    }
}
