#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The shared store conformance suite, on a fresh SQLite file per test.

use clef_store::conformance::TestStore;
use clef_store_sqlite::SqliteStore;
use std::sync::Arc;

async fn sqlite_fixture() -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("clef-pro.db").display());
    let store = SqliteStore::open(&url).await.expect("open store");
    Some(TestStore { store: Arc::new(store), guard: Box::new(dir) })
}

clef_store::conformance_suite!(sqlite_fixture);
