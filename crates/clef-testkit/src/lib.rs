//! Fixtures shared by the test suites and the benchmark.
#![forbid(unsafe_code)]

use serde_json::{Value, json};

/// Commit `n` as a 40-hex SHA.
pub fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// A large, realistic report for commit `n`: 100 cells (20 namespaces × 5 environments),
/// 50 policy results (5 failing), 20 drift entries; about 24 KB of JSON.
pub fn big_report(n: u32) -> Value {
    let namespaces: Vec<String> = (0..20).map(|i| format!("namespace-{i:02}")).collect();
    let environments = ["dev", "staging", "qa", "preprod", "production"];
    let cells: Vec<Value> = namespaces
        .iter()
        .flat_map(|ns| {
            environments.iter().map(move |env| {
                json!({"namespace": ns, "environment": env, "healthStatus": "healthy",
                       "description": "12 key(s), 3 recipient(s), rotated 12d ago"})
            })
        })
        .collect();
    let results: Vec<Value> = (0..50)
        .map(|i| {
            json!({"ruleId": format!("rule-{i:02}"), "ruleName": format!("Rule {i}"),
                   "passed": i % 10 != 0, "severity": "warning",
                   "message": format!("Rotation overdue ({} days)", 90 + i),
                   "scope": {"namespace": format!("namespace-{:02}", i % 20), "environment": "production"}})
        })
        .collect();
    let drift: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            json!({"namespace": ns, "isDrifted": true, "severity": "warning", "driftCount": 2,
                   "summary": "dev has an additional recipient"})
        })
        .collect();
    json!({"commitSha": sha(n), "branch": "main", "commitTimestamp": 1_732_400_000_000_i64 + i64::from(n),
        "cliVersion": "0.1.30",
        "summary": {"filesScanned": 100, "namespaces": namespaces, "environments": environments, "cells": cells,
                    "violations": 5, "passed": false},
        "drift": drift, "policyResults": results,
        "ciContext": {"provider": "github-actions", "pipelineUrl": "https://ci.example/acme/secrets/runs/123456",
                      "trigger": "push"}})
}

/// A test leg that cannot run here (a server or tool is missing). Under `CI=true` that is a
/// failure, never a silent pass. Elsewhere the leg is skipped: said on stderr and, when
/// `CLEF_TEST_SKIPS` names a file, recorded there so the run's closing line counts it apart.
#[allow(clippy::panic)]
pub fn skip(leg: &str, reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{leg} cannot run under CI=true: {reason}");
    }
    eprintln!("SKIPPED {leg}: {reason}");
    if let Ok(path) = std::env::var("CLEF_TEST_SKIPS") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{leg}: {reason}");
        }
    }
}
