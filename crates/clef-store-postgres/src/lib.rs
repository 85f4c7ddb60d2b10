//! The PostgreSQL store, for several stateless replicas on one database. The statements are
//! the shared ones of `clef_store_sql`; this crate connects, owns the schema history and says
//! how PostgreSQL locks: ingestion locks the integration's row (it updates it first), so racing
//! replicas serialise per integration, and delivery workers claim outbox messages with
//! `FOR UPDATE SKIP LOCKED` and a lease.
#![forbid(unsafe_code)]

use clef_store::StoreError;
use clef_store_sql::{Dialect, SqlStore, map_err};
use sqlx::Executor;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use std::time::Duration;

pub static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN",
    begin_snapshot: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    outbox_seq: "seq",
    on_close: "",
    head_in_lock: false,
    // Autovacuum returns the space.
    reclaim: "",
    group_commit: false,
    lifetimes: "string_agg(a.first_seen_at::text || ':' || COALESCE(a.resolved_at::text, ''), ',')",
};

/// The schema history of this backend, append-only.
fn migrator() -> Migrator {
    clef_store_sql::migrator(&[
        (1, "init", include_str!("../migrations/0001_init.sql")),
        (2, "report source and checks", include_str!("../migrations/0002_report_source_and_checks.sql")),
        (3, "report parts", include_str!("../migrations/0003_report_parts.sql")),
        (4, "channel secrets", include_str!("../migrations/0004_channel_secrets.sql")),
        (5, "triage", include_str!("../migrations/0005_triage.sql")),
        (6, "channel repeat interval", include_str!("../migrations/0006_channel_repeat.sql")),
        (7, "members", include_str!("../migrations/0007_members.sql")),
        (8, "alert counts", include_str!("../migrations/0008_alert_counts.sql")),
    ])
}

/// Connects to `postgres://user:password@host:port/database` and applies pending migrations
/// (replicas starting together take turns: the migrator holds an advisory lock).
pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
    open_in_schema(url, None).await
}

/// As [`open`], with every table in `schema` (each test gets a schema of its own).
pub async fn open_in_schema(url: &str, schema: Option<&str>) -> Result<SqlStore, StoreError> {
    install_default_drivers();
    let search_path = schema.map(|s| format!("SET search_path TO \"{}\"", s.replace('"', "\"\"")));
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        // No ping before every transaction (a round trip each): a connection the server has
        // dropped fails its first statement, which is a 503, and the pool replaces it.
        .test_before_acquire(false)
        // Short enough that an unreachable database answers 503 well before a client gives up.
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                if let Some(sql) = search_path {
                    conn.execute(sql.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(map_err)?;
    migrator().run(&pool).await.map_err(StoreError::other)?;
    // One pool: PostgreSQL has no single-writer rule to keep reads apart from.
    Ok(SqlStore::new(pool, None, &DIALECT))
}
