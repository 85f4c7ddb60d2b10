//! The policy rules an integration asks the CLI to evaluate. Clef Pro stores and serves them;
//! the CLI applies them locally.

use crate::{FieldError, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

const MAX_RULES: usize = 200;
const MAX_PARAMS: usize = 32;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySet {
    pub rules: Vec<PolicyRule>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub enabled: bool,
    /// Scalar settings of the rule, such as `{"maxAgeDays": 90}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSet {
    rules: Vec<WireRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRule {
    rule_id: String,
    #[serde(default)]
    rule_name: Option<String>,
    severity: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    params: BTreeMap<String, Value>,
}

impl PolicySet {
    /// Parses and validates a `{"rules": […]}` document.
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        Self::from_value_checked(crate::error::from_json(body)?)
    }

    fn from_value_checked(wire: WireSet) -> Result<Self, FieldError> {
        if wire.rules.len() > MAX_RULES {
            return Err(FieldError::new("rules", format!("at most {MAX_RULES} rules")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut rules = Vec::with_capacity(wire.rules.len());
        for (i, r) in wire.rules.into_iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            let rule_id = r.rule_id.trim().to_owned();
            if rule_id.is_empty() || rule_id.len() > 256 {
                return Err(FieldError::new(at("ruleId"), "must be 1 to 256 characters"));
            }
            if !seen.insert(rule_id.clone()) {
                return Err(FieldError::new(at("ruleId"), format!("duplicate rule {rule_id:?}")));
            }
            let rule_name = r.rule_name.unwrap_or_else(|| rule_id.clone());
            if rule_name.len() > 256 {
                return Err(FieldError::new(at("ruleName"), "at most 256 characters"));
            }
            let severity = Severity::parse(&r.severity).map_err(|m| FieldError::new(at("severity"), m))?;
            if r.params.len() > MAX_PARAMS {
                return Err(FieldError::new(at("params"), format!("at most {MAX_PARAMS} entries")));
            }
            for (k, v) in &r.params {
                let scalar = match v {
                    Value::Bool(_) | Value::Number(_) => true,
                    Value::String(s) => s.len() <= 256,
                    _ => false,
                };
                if k.is_empty() || k.len() > 64 || !scalar {
                    return Err(FieldError::new(
                        at(&format!("params.{k}")),
                        "params are named scalars: numbers, booleans or strings of at most 256 characters",
                    ));
                }
            }
            rules.push(PolicyRule {
                rule_id,
                rule_name,
                severity,
                enabled: r.enabled.unwrap_or(true),
                params: r.params,
            });
        }
        Ok(Self { rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_with_scalar_params() {
        let set = PolicySet::parse(
            br#"{"rules":[{"ruleId":"rotation_max_age","severity":"warning","params":{"maxAgeDays":90}}]}"#,
        )
        .expect("valid");
        assert_eq!(set.rules[0].rule_name, "rotation_max_age");
        assert!(set.rules[0].enabled);
    }

    #[test]
    fn rejects_nested_params_and_duplicates_with_paths() {
        let nested =
            PolicySet::parse(br#"{"rules":[{"ruleId":"a","severity":"info","params":{"x":{"y":1}}}]}"#);
        assert_eq!(nested.map_err(|e| e.path), Err("rules[0].params.x".into()));
        let dup = PolicySet::parse(
            br#"{"rules":[{"ruleId":"a","severity":"info"},{"ruleId":"a","severity":"info"}]}"#,
        );
        assert_eq!(dup.map_err(|e| e.path), Err("rules[1].ruleId".into()));
        let sev = PolicySet::parse(br#"{"rules":[{"ruleId":"a","severity":"loud"}]}"#);
        assert_eq!(sev.map_err(|e| e.path), Err("rules[0].severity".into()));
    }
}
