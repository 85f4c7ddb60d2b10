//! The shared store conformance suite on PostgreSQL: a fresh schema per test.
//!
//! The server comes from CLEF_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
//! When it cannot be reached the tests are skipped, except under CI=true, where they fail.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use clef_store::conformance::{RawSql, TestStore};
use std::sync::Arc;

struct DropSchema {
    admin: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (admin, schema) = (self.admin.clone(), self.schema.clone());
        // Drop runs outside async code: a small runtime of its own does the clean-up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&pool).await;
                }
            });
        })
        .join();
    }
}

async fn postgres_fixture() -> Option<TestStore> {
    let admin = std::env::var("CLEF_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let pool = match sqlx::PgPool::connect(&admin).await {
        Ok(pool) => pool,
        Err(e) => {
            clef_testkit::skip("a PostgreSQL conformance check", &format!("unreachable at {admin}: {e}"));
            return None;
        }
    };
    let schema = format!("clef_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.expect("create schema");
    let store = clef_store_postgres::open_in_schema(&admin, Some(&schema)).await.expect("open store");
    let store = store.with_secret_key(clef_store_sql::SecretKey::generate()).await.expect("secret key");
    let pool = store.write_pool().clone();
    let raw_sql: RawSql = Arc::new(move |sql| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query(&sql).execute(&pool).await.expect("raw statement");
        })
    });
    Some(TestStore { store: Arc::new(store), guard: Box::new(DropSchema { admin, schema }), raw_sql })
}

clef_store::conformance_suite!(postgres_fixture);
