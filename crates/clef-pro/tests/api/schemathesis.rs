//! The served OpenAPI document, exercised by schemathesis (from PyPI) against a running
//! server: every operation, with generated valid and invalid input, must answer without a
//! server error and within 5 s. `.ci/run` installs it; elsewhere the test is skipped when
//! `st` is missing.

use crate::helpers::*;
use std::process::Command;

fn schemathesis_available() -> bool {
    let found = Command::new("st").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        clef_testkit::skip("schemathesis", "st is not installed (pip install schemathesis)");
    }
    found
}

#[tokio::test]
async fn the_openapi_document_survives_schemathesis() {
    if !schemathesis_available() {
        return;
    }
    let app = TestApp::spawn_with(&["--api-key-rate", "0"]).await;
    let (_, key) = app.integration("svc").await;
    app.post("/api/v1/reports", &key, &report(1, &[("r", "a/b")])).await;
    let (token, server) = (app.token.clone(), Server(app.url("")));
    // Once as a person (management API), once as CI (the CI endpoints).
    tokio::task::spawn_blocking(move || {
        server.schemathesis(&token, "25");
        server.schemathesis(&key, "10");
    })
    .await
    .expect("schemathesis runs");
    // The server is still healthy afterwards.
    assert_eq!(app.client.get(app.url("/readyz")).send().await.expect("send").status().as_u16(), 200);
    assert!(!app.server_log().contains("panicked"), "a handler panicked");
}

/// The server's base URL, for the blocking schemathesis runs.
struct Server(String);

impl Server {
    fn schemathesis(&self, credential: &str, examples: &str) {
        let out = Command::new("st")
            .args(["run", &format!("{}/api/openapi.json", self.0), "--checks", "not_a_server_error"])
            .args(["--max-response-time", "5", "--max-examples", examples, "--generation-deterministic"])
            .args(["--header", &format!("Authorization: Bearer {credential}")])
            .output()
            .expect("run schemathesis");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "schemathesis found failures:\n{text}");
    }
}
