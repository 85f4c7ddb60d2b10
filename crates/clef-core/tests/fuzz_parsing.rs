//! Property-based fuzzing of everything that parses client input: arbitrary bytes and
//! mutated valid reports must give `Ok` or a located error, never a panic; what is accepted
//! must respect the model's invariants. Run longer with `PROPTEST_CASES=100000`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use clef_core::PolicySet;
use clef_core::report::{parse_batch, parse_otlp, parse_report};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The value of an unknown field injected into reports: it must never reach the model.
const UNKNOWN_VALUE: &str = "canary-unknown-field-3c9d";

/// The server clock in these tests: 2027.
const NOW: i64 = 1_800_000_000_000;

fn valid() -> Value {
    json!({
        "commitSha": "9f2c".repeat(10), "branch": "main", "commitTimestamp": 1_732_400_000_000_i64,
        "cliVersion": "0.1.30",
        "summary": {"filesScanned": 6, "namespaces": ["database"], "environments": ["production"],
            "cells": [{"namespace": "database", "environment": "production", "healthStatus": "healthy", "description": "ok"}],
            "violations": 1, "passed": false},
        "drift": [{"namespace": "database", "isDrifted": true, "driftCount": 2, "severity": "warning", "summary": "s"}],
        "policyResults": [{"ruleId": "r", "ruleName": "R", "passed": false, "severity": "error", "message": "m",
                           "scope": {"namespace": "database", "environment": "production"}}],
        "ciContext": {"provider": "p", "pipelineUrl": "https://ci.example/1", "trigger": "push"}
    })
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
        "[0-9a-fA-F]{38,66}".prop_map(Value::String),
        prop_oneof![
            Just("healthy"),
            Just("critical"),
            Just("info"),
            Just("error"),
            Just("2024-11-23T22:13:20Z")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer inside `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn check_accepted(bytes: &[u8]) {
    if let Ok(r) = parse_report(bytes, NOW) {
        let sha = r.commit_sha.as_str();
        assert!(sha.len() == 40 || sha.len() == 64);
        assert!(sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(r.branch.chars().count() <= 256);
        assert!(r.commit_timestamp >= 0);
        assert!(
            r.policy_results
                .iter()
                .all(|p| !p.rule_id.trim().is_empty() && p.message.chars().count() <= 2048)
        );
        if let Some(url) = r.ci_context.as_ref().and_then(|c| c.pipeline_url.as_deref()) {
            assert!(url.to_ascii_lowercase().starts_with("http"));
        }
        // Nothing but the model survives: re-serialising knows no other field or its value.
        let text = serde_json::to_string(&r).expect("serialise");
        assert!(!text.contains("\"filePath\"") && !text.contains("\"keys\""));
        assert!(!text.contains(UNKNOWN_VALUE), "an unknown field's value survived parsing: {text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_report(&bytes, NOW);
        let _ = parse_batch(&bytes, NOW);
        let _ = parse_otlp(&bytes, 0);
        let _ = PolicySet::parse(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        let bytes = serde_json::to_vec(&v).expect("json");
        check_accepted(&bytes);
        let _ = parse_batch(&serde_json::to_vec(&json!({"reports": [v.clone()]})).expect("json"), NOW);
        let _ = parse_otlp(&bytes, 0);
        let _ = PolicySet::parse(&bytes);
    }

    #[test]
    fn mutated_valid_reports_parse_or_name_the_field(pick in any::<prop::sample::Index>(), value in any_json(), extra in ".{1,10}") {
        let mut report = valid();
        let mut all = Vec::new();
        pointers(&report, String::new(), &mut all);
        let at = pick.get(&all).clone();
        if at.is_empty() {
            report = value;
        } else if let Some(slot) = report.pointer_mut(&at) {
            *slot = value;
        }
        if let Some(obj) = report.as_object_mut() {
            obj.insert(format!("x-{extra}"), json!(UNKNOWN_VALUE));
        }
        if let Some(cell) = report.pointer_mut("/summary/cells/0").and_then(Value::as_object_mut) {
            cell.insert("keyNames".into(), json!([UNKNOWN_VALUE]));
        }
        let bytes = serde_json::to_vec(&report).expect("json");
        match parse_report(&bytes, NOW) {
            Ok(_) => check_accepted(&bytes),
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                // A mutated field is named: only a report replaced whole may fail at its root.
                prop_assert!(at.is_empty() || !e.path.is_empty(), "no path for a change at {at}: {}", e.message);
            }
        }
        // In a batch, the error names the bad report by its index, never the valid one before it.
        let batch = json!({"reports": [valid(), report]});
        if let Err(e) = parse_batch(&serde_json::to_vec(&batch).expect("json"), NOW) {
            prop_assert!(e.path.starts_with("reports[1]"), "{}: {}", e.path, e.message);
        }
    }
}
