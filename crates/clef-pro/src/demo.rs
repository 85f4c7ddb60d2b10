//! `clef-pro demo`: a throw-away organisation whose integration has a month of history that
//! passes through every state, so a first run shows something real.

use anyhow::Result;
use clef_core::IntegrationId;
use clef_core::notification::ChannelKind;
use clef_core::{
    Acknowledgement, Cell, CiContext, CommitSha, Drift, Health, PolicyResult, Report, Scope, Severity,
    Summary,
};
use clef_store::{
    Actor, AlertQuery, IngestBatch, NewApiKey, NewChannel, NewIntegration, NewUser, Role, Store,
};
use clef_web::credentials::{API_KEY_PREFIX, generate_password, hash_password, mint};
use clef_web::now_ms;

pub struct DemoLogin {
    pub email: String,
    pub password: String,
    pub token: String,
    pub api_key: String,
    pub integration_id: IntegrationId,
}

const COMMITS: u32 = 30;
const DAY_MS: i64 = 86_400_000;
const NAMESPACES: [&str; 4] = ["database", "payments", "oauth", "api-keys"];
const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

/// Teammates for the members page: an admin and a viewer (who log in with passwords nobody
/// knows: they are there to be seen), and an invitation still pending.
async fn team(store: &dyn Store, owner: &clef_store::Actor, org: &str) -> Result<()> {
    for (email, role) in [("priya@clef.example", Role::Admin), ("sam@clef.example", Role::Viewer)] {
        let password_hash = hash_password(&generate_password()).map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .create_user(NewUser {
                org_name: org.into(),
                email: email.into(),
                password_hash,
                role,
                now: owner.now,
            })
            .await?;
    }
    let link = mint("clefi_");
    let invitation = clef_store::NewInvitation {
        email: "new.hire@clef.example".into(),
        role: Role::Member,
        token_hash: link.hash,
        expires_at: owner.now + 7 * 86_400_000,
    };
    store.create_invitation(owner, invitation).await?;
    Ok(())
}

/// Fills an empty store with the demo organisation.
pub async fn seed(store: &dyn Store) -> Result<DemoLogin> {
    let now = now_ms();
    let email = "demo@clef.example".to_owned();
    let password = generate_password();
    let user = store
        .create_user(NewUser {
            org_name: "Acme (demo)".into(),
            email: email.clone(),
            password_hash: hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?,
            role: Role::Owner,
            now,
        })
        .await?;
    let actor = user.actor(now);
    let (_, token) = clef_web::people::mint_token(store, &user, "demo".into(), None).await?;
    team(store, &actor, "Acme (demo)").await?;
    let integration = store
        .create_integration(
            &actor,
            NewIntegration {
                name: "payments-platform".into(),
                tracked_branch: Some("main".into()),
                config: Default::default(),
            },
        )
        .await?;
    let key = mint(API_KEY_PREFIX);
    store
        .create_api_key(
            &actor,
            &integration.id,
            NewApiKey { name: "GitHub Actions".into(), prefix: key.prefix, key_hash: key.hash },
        )
        .await?;
    // Security hears critical alerts and their resolution; the dev lead hears warnings and up.
    for (target, min_severity, notify_on_resolve) in [
        ("security@acme.example", Severity::Critical, true),
        ("dev-lead@acme.example", Severity::Warning, false),
    ] {
        let channel = NewChannel {
            kind: ChannelKind::Email,
            target: target.into(),
            min_severity,
            notify_on_resolve,
            repeat_every: None,
            signing_secret: None,
        };
        store.create_channel(&actor, &integration.id, channel).await?;
    }
    let mobile = store
        .create_integration(
            &actor,
            NewIntegration {
                name: "mobile-backend".into(),
                tracked_branch: None,
                config: Default::default(),
            },
        )
        .await?;
    seed_otlp(store, &mobile.id, now).await?;

    let start = now - i64::from(COMMITS) * DAY_MS;
    for day in 1..=COMMITS {
        let report = demo_report(day, start + i64::from(day) * DAY_MS);
        // Days 10 to 14 arrive together as a backfill, as the CLI sends them after a gap.
        if (10..14).contains(&day) {
            continue;
        }
        let reports = if day == 14 {
            (10..=14).map(|d| demo_report(d, start + i64::from(d) * DAY_MS)).collect()
        } else {
            vec![report]
        };
        store
            .ingest(IngestBatch {
                integration_id: integration.id.clone(),
                reports,
                received_at: start + i64::from(day) * DAY_MS + 600_000,
            })
            .await?;
        if day == 22 {
            acknowledge_rotation(store, &actor, &integration.id).await?;
        }
    }
    seed_generated(store, &actor, &IDENTITY, now).await?;
    seed_generated(store, &actor, &PIPELINE, now).await?;
    // A feature branch: stored and browsable, never moving the head or alerts.
    let mut feature = demo_report(COMMITS + 1, now - DAY_MS / 2);
    feature.branch = "feature/rotate-oauth".into();
    store
        .ingest(IngestBatch {
            integration_id: integration.id.clone(),
            reports: vec![feature],
            received_at: now,
        })
        .await?;

    Ok(DemoLogin { email, password, token, api_key: key.secret, integration_id: integration.id })
}

/// An integration fed by the CLI as it ships: OTLP pushes (issues only, the push time as
/// commit time), the last three a gap-fill with detached commits, plus a lint and a drift run.
async fn seed_otlp(store: &dyn Store, integration_id: &IntegrationId, now: i64) -> Result<()> {
    use clef_core::report::{OtlpPush, parse_otlp};
    let kv = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
    let int = |k: &str, v: usize| serde_json::json!({"key": k, "value": {"intValue": v.to_string()}});
    let push = |event: &str, attrs: Vec<serde_json::Value>, resource: Vec<serde_json::Value>, at: i64| {
        let count =
            |sev: &str| attrs.iter().filter(|a| a.to_string().contains(&format!("\"{sev}\""))).count();
        let summary = vec![
            kv("event.name", &format!("{event}.summary")),
            int("clef.errorCount", count("error")),
            int("clef.warningCount", count("warning")),
            int("clef.infoCount", count("info")),
            int("clef.issueCount", attrs.len()),
        ];
        let mut records =
            vec![serde_json::json!({"timeUnixNano": (at * 1_000_000).to_string(), "attributes": summary})];
        records.extend(
            attrs
                .into_iter()
                .map(|a| serde_json::json!({"timeUnixNano": (at * 1_000_000).to_string(), "attributes": a})),
        );
        serde_json::to_vec(&serde_json::json!({"resourceLogs": [{"resource": {"attributes": resource},
            "scopeLogs": [{"logRecords": records}]}]}))
    };
    let issue = |sev: &str, cat: &str, ns: &str, env: &str, msg: &str| {
        serde_json::json!([
            kv("event.name", "clef.report.issue"),
            kv("clef.severity", sev),
            kv("clef.category", cat),
            kv("clef.namespace", ns),
            kv("clef.environment", env),
            kv("clef.message", msg)
        ])
    };
    for day in 1..=6u32 {
        let at = now - i64::from(7 - day) * DAY_MS;
        let mut issues = vec![issue("warning", "sops", "push", "dev", "1 file has a single recipient")];
        if day >= 4 {
            issues.push(issue("error", "schema", "auth", "production", "2 keys fail schema validation"));
        }
        issues.push(issue(
            "warning",
            "drift",
            "auth",
            "staging",
            "1 key in [production] missing from staging",
        ));
        // Days 4 and 5 come from detached worktrees in the gap-fill that day 6 closes.
        let branch = if day == 1 || day == 2 || day == 3 || day == 6 { "main" } else { "" };
        let resource = vec![
            kv("service.version", "0.1.30"),
            kv("clef.repo.commit", sha_for(100 + day).as_str()),
            kv("clef.repo.branch", branch),
        ];
        let body = push("clef.report", issues, resource, at)?;
        if let OtlpPush::Report(report) = parse_otlp(&body, at).map_err(|e| anyhow::anyhow!("{e}"))? {
            let batch = IngestBatch {
                integration_id: integration_id.clone(),
                reports: vec![*report],
                received_at: at,
            };
            store.ingest(batch).await?;
        }
    }
    let lint = push(
        "clef.lint",
        vec![serde_json::json!([
            kv("event.name", "clef.lint.issue"),
            kv("clef.severity", "warning"),
            kv("clef.category", "schema")
        ])],
        vec![kv("service.version", "0.1.30")],
        now,
    )?;
    let drift = push(
        "clef.drift",
        vec![serde_json::json!([
            kv("event.name", "clef.drift.issue"),
            kv("clef.namespace", "auth"),
            kv("clef.presentIn", "production"),
            kv("clef.missingFrom", "staging")
        ])],
        vec![kv("service.version", "0.1.30")],
        now,
    )?;
    for body in [lint, drift] {
        if let OtlpPush::Check(run) = parse_otlp(&body, now).map_err(|e| anyhow::anyhow!("{e}"))? {
            store.record_check(integration_id, &run, now).await?;
        }
    }
    Ok(())
}

async fn acknowledge_rotation(
    store: &dyn Store,
    actor: &Actor,
    integration_id: &IntegrationId,
) -> Result<()> {
    let open = store
        .alerts(
            &actor.org_id,
            AlertQuery { integration_id: Some(integration_id.clone()), limit: 100, ..Default::default() },
        )
        .await?
        .alerts;
    if let Some(a) = open.iter().find(|a| a.alert.rule_id == "rotation_max_age" && a.alert.is_open()) {
        let ack =
            Acknowledgement::new(&actor.email, actor.now, Some("rotation booked for the next release"), None)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        store.set_acknowledgement(actor, std::slice::from_ref(&a.alert.id), Some(ack)).await?;
    }
    Ok(())
}

fn sha_for(day: u32) -> CommitSha {
    sha_of(0, day)
}

/// Deterministic, git-looking hashes, one series per integration.
fn sha_of(series: u64, n: u32) -> CommitSha {
    let mut x = (u64::from(n) + (series << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC1EF_0000_5EC2_E75A;
    let hex: String = (0..5)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:08x}", x as u32)
        })
        .collect();
    CommitSha::parse(&hex).unwrap_or_else(|_| unreachable!("40 hex digits"))
}

/// The story of the demo month, one commit a day:
/// - days 3–8: oauth/production misses a key (critical), fixed on day 9;
/// - days 11–30: api-keys/production rotation overdue (warning), acknowledged on day 22;
/// - day 12 (inside the backfill of days 10–14): database/staging has too few recipients, fixed
///   by day 13, so no alert ever opens: a backfill is one evaluation, of its head;
/// - days 18–30: payments drifts between environments; from day 26 a schema error in
///   payments/dev (error) is open;
/// - day 27 onwards: staging of oauth is unknown (the CLI could not decrypt it).
fn demo_report(day: u32, commit_timestamp: i64) -> Report {
    let missing_key = (3..=8).contains(&day);
    let rotation = day >= 11;
    let recipients = day == 12;
    let drifted = day >= 18;
    let schema = day >= 26;
    let mut results = vec![
        result(
            "missing_keys",
            "Missing encryption keys",
            "oauth/production",
            Severity::Critical,
            !missing_key,
            "oauth/production references 1 key that is not present",
        ),
        result(
            "rotation_max_age",
            "Key rotation max age",
            "api-keys/production",
            Severity::Warning,
            !rotation,
            &format!("Rotation overdue for api-keys/production ({} days)", 80 + day),
        ),
        result(
            "min_recipients",
            "Minimum recipients",
            "database/staging",
            Severity::Error,
            !recipients,
            "database/staging has 1 recipient, policy requires 2",
        ),
    ];
    if schema {
        results.push(result(
            "schema/error",
            "schema",
            "payments/dev",
            Severity::Error,
            false,
            "2 keys fail schema validation",
        ));
    }
    let mut cells = Vec::new();
    for ns in NAMESPACES {
        for env in ENVIRONMENTS {
            let (health, description) = match (ns, env) {
                ("oauth", "production") if missing_key => {
                    (Health::Critical, "3 key(s), 1 missing".to_owned())
                }
                ("oauth", "staging") if day >= 27 => {
                    (Health::Unknown, "could not be decrypted in CI".to_owned())
                }
                ("api-keys", "production") if rotation => {
                    (Health::Warning, format!("5 key(s), rotated {}d ago", 80 + day))
                }
                ("database", "staging") if recipients => {
                    (Health::Warning, "6 key(s), 1 recipient".to_owned())
                }
                ("payments", "dev") if schema => (Health::Critical, "9 key(s), 2 fail schema".to_owned()),
                _ => (Health::Healthy, format!("{} key(s), 3 recipient(s), no issues", 4 + ns.len() % 5)),
            };
            cells.push(Cell {
                namespace: ns.into(),
                environment: env.into(),
                health_status: health,
                description,
            });
        }
    }
    let violations = results.iter().filter(|r| !r.passed).count() as u64;
    Report {
        commit_sha: sha_for(day),
        branch: "main".into(),
        commit_timestamp,
        cli_version: Some("0.1.30".into()),
        repo_origin: None,
        summary: Summary {
            files_scanned: 12,
            namespaces: NAMESPACES.map(String::from).to_vec(),
            environments: ENVIRONMENTS.map(String::from).to_vec(),
            cells,
            violations,
            passed: violations == 0,
        },
        drift: vec![Drift {
            namespace: "payments".into(),
            is_drifted: drifted,
            drift_count: Some(if drifted { 2 } else { 0 }),
            severity: drifted.then_some(Severity::Warning),
            summary: drifted.then(|| "production has 2 keys that staging lacks".into()),
        }],
        policy_results: results,
        ci_context: Some(CiContext {
            provider: Some("github-actions".into()),
            pipeline_url: Some(format!("https://ci.example/acme/payments-platform/runs/{}", 4100 + day)),
            trigger: Some("push".into()),
        }),
        source: Default::default(),
        issue_counts: None,
    }
}

fn result(
    rule_id: &str,
    rule_name: &str,
    scope: &str,
    severity: Severity,
    passed: bool,
    message: &str,
) -> PolicyResult {
    PolicyResult {
        rule_id: rule_id.into(),
        rule_name: rule_name.into(),
        passed,
        severity,
        message: message.into(),
        scope: Scope::from_stored(scope),
    }
}

/// An integration whose history is generated: its matrix, its age, and incidents (a rule
/// failing in one cell from one report to another) that open, get acknowledged or snoozed, and
/// resolve, so the inbox, the timelines and the trends have a living organisation to show.
struct Generated {
    name: &'static str,
    series: u64,
    namespaces: &'static [&'static str],
    environments: &'static [&'static str],
    days: u32,
    reports_per_day: u32,
    incidents: u32,
}

const IDENTITY: Generated = Generated {
    name: "identity-platform",
    series: 7,
    namespaces: &[
        "auth",
        "sessions",
        "oauth-clients",
        "saml",
        "mfa",
        "directory",
        "audit",
        "billing-sync",
        "scim",
        "webauthn",
        "recovery",
        "risk-engine",
    ],
    environments: &["dev", "qa", "staging", "production", "dr"],
    days: 90,
    reports_per_day: 2,
    incidents: 44,
};

const PIPELINE: Generated = Generated {
    name: "data-pipeline",
    series: 11,
    namespaces: &["ingest", "warehouse"],
    environments: &["staging", "production"],
    days: 4,
    reports_per_day: 1,
    incidents: 2,
};

/// The rules an incident can break: id, name, severity, message.
const RULES: [(&str, &str, Severity, &str); 5] = [
    ("missing_keys", "Missing encryption keys", Severity::Critical, "references 1 key that is not present"),
    ("min_recipients", "Minimum recipients", Severity::Error, "has 1 recipient, policy requires 2"),
    ("rotation_max_age", "Key rotation max age", Severity::Warning, "rotation is overdue"),
    ("schema/error", "schema", Severity::Error, "2 keys fail schema validation"),
    ("sops/single-recipient", "sops", Severity::Info, "1 file has a single recipient"),
];

/// A rule failing in one cell, reports `from..until` (open-ended: still failing).
struct Incident {
    rule: usize,
    namespace: usize,
    environment: usize,
    from: u32,
    until: Option<u32>,
}

fn incidents(g: &Generated) -> Vec<Incident> {
    let total = g.days * g.reports_per_day;
    let mut x = 0x2545_F491_4F6C_DD1D ^ g.series;
    let mut next = |n: u32| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % u64::from(n.max(1))) as u32
    };
    (0..g.incidents)
        .map(|i| {
            let from = next(total.saturating_sub(2)) + 1;
            // One in four is still failing; the rest last from one report to three weeks.
            let until = (i % 4 != 0).then(|| (from + 1 + next(42)).min(total + 1)).filter(|u| *u <= total);
            Incident {
                rule: next(RULES.len() as u32) as usize,
                namespace: next(g.namespaces.len() as u32) as usize,
                environment: next(g.environments.len() as u32) as usize,
                from,
                until,
            }
        })
        .collect()
}

fn generated_report(g: &Generated, incidents: &[Incident], n: u32, at: i64) -> Report {
    let active: Vec<&Incident> =
        incidents.iter().filter(|i| i.from <= n && i.until.is_none_or(|u| n < u)).collect();
    let mut results: Vec<PolicyResult> = Vec::new();
    for i in &active {
        let (rule_id, rule_name, severity, message) = RULES[i.rule];
        let scope = format!("{}/{}", g.namespaces[i.namespace], g.environments[i.environment]);
        if results.iter().any(|r| r.rule_id == rule_id && r.scope.canonical() == scope) {
            continue;
        }
        results.push(result(rule_id, rule_name, &scope, severity, false, &format!("{scope} {message}")));
    }
    let cells = g
        .namespaces
        .iter()
        .enumerate()
        .flat_map(|(ni, ns)| g.environments.iter().enumerate().map(move |(ei, env)| (ni, ns, ei, env)))
        .map(|(ni, ns, ei, env)| {
            let worst = active
                .iter()
                .filter(|i| i.namespace == ni && i.environment == ei)
                .map(|i| RULES[i.rule].2.rank())
                .max();
            let (health, description) = match worst {
                Some(2) => (Health::Critical, "1 key failing policy".to_owned()),
                Some(_) => (Health::Warning, "policy warnings".to_owned()),
                None => (Health::Healthy, format!("{} key(s), 2 recipient(s), no issues", 3 + (ni + ei) % 6)),
            };
            Cell { namespace: (*ns).into(), environment: (*env).into(), health_status: health, description }
        })
        .collect();
    let violations = results.len() as u64;
    Report {
        commit_sha: sha_of(g.series, n),
        branch: "main".into(),
        commit_timestamp: at,
        cli_version: Some("0.1.30".into()),
        repo_origin: None,
        summary: Summary {
            files_scanned: (g.namespaces.len() * g.environments.len()) as u64,
            namespaces: g.namespaces.iter().map(|s| (*s).to_owned()).collect(),
            environments: g.environments.iter().map(|s| (*s).to_owned()).collect(),
            cells,
            violations,
            passed: violations == 0,
        },
        drift: vec![],
        policy_results: results,
        ci_context: None,
        source: Default::default(),
        issue_counts: None,
    }
}

async fn seed_generated(store: &dyn Store, actor: &Actor, g: &Generated, now: i64) -> Result<()> {
    let integration = store
        .create_integration(
            actor,
            NewIntegration {
                name: g.name.into(),
                tracked_branch: Some("main".into()),
                config: Default::default(),
            },
        )
        .await?;
    let incidents = incidents(g);
    let total = g.days * g.reports_per_day;
    let step = DAY_MS / i64::from(g.reports_per_day);
    // The newest report an hour ago: nothing is dated in the future.
    let start = now - 3_600_000 - i64::from(total - 1) * step;
    for n in 1..=total {
        let at = start + i64::from(n - 1) * step;
        let report = generated_report(g, &incidents, n, at);
        store
            .ingest(IngestBatch {
                integration_id: integration.id.clone(),
                reports: vec![report],
                received_at: at + 240_000,
            })
            .await?;
    }
    // Some open alerts are in hand: acknowledged with a reason, snoozed for a week, or snoozed
    // until a moment already past (so they notify again).
    let open = store
        .alerts(
            &actor.org_id,
            AlertQuery {
                integration_id: Some(integration.id.clone()),
                status: Some(clef_core::AlertStatus::Open),
                limit: 100,
                ..Default::default()
            },
        )
        .await?
        .alerts;
    let plans: [(Option<&str>, i64, Option<i64>); 5] = [
        (Some("owner team paged, fix in review"), now - 3 * 3_600_000, None),
        (Some("accepted risk until the migration"), now - DAY_MS, Some(now + 7 * DAY_MS)),
        (None, now - 2 * DAY_MS, None),
        (Some("waiting on the vendor"), now - 5 * DAY_MS, Some(now - DAY_MS)),
        (Some("false positive, rule change requested"), now - 6 * 3_600_000, Some(now + 30 * DAY_MS)),
    ];
    for (a, (reason, at, until)) in open.iter().zip(plans) {
        let ack =
            Acknowledgement::new(&actor.email, at, reason, until).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.set_acknowledgement(actor, std::slice::from_ref(&a.alert.id), Some(ack)).await?;
    }
    Ok(())
}
