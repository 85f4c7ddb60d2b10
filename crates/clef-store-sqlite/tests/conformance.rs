#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The shared store conformance suite, on a fresh SQLite file per test.

use clef_store::conformance::{RawSql, TestStore};

use std::sync::Arc;

async fn sqlite_fixture() -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("clef-pro.db").display());
    let store = clef_store_sqlite::open(&url).await.expect("open store");
    let store = store.with_secret_key(clef_store_sql::SecretKey::generate()).await.expect("secret key");
    let pool = store.write_pool().clone();
    let raw_sql: RawSql = Arc::new(move |sql| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query(&sql).execute(&pool).await.expect("raw statement");
        })
    });
    Some(TestStore { store: Arc::new(store), guard: Box::new(dir), raw_sql })
}

clef_store::conformance_suite!(sqlite_fixture);
