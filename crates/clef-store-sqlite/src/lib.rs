//! The embedded default store: one SQLite file in WAL mode. The statements are the shared
//! ones of `clef_store_sql`; this crate opens the file, owns the schema history and says how
//! SQLite locks.
//!
//! Writes go through a pool of exactly one connection, so writers queue in-process instead
//! of spinning on SQLITE_BUSY; reads use their own pool and never wait for writers.
#![forbid(unsafe_code)]

use clef_store::StoreError;
use clef_store_sql::{Dialect, SqlStore, map_err};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor};
use std::time::Duration;

/// SQLite has one writer at a time, taken up front; no row locks.
pub static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    begin_snapshot: "BEGIN",
    skip_locked: "",
    outbox_seq: "rowid",
    on_close: "PRAGMA wal_checkpoint(TRUNCATE)",
    head_in_lock: true,
    reclaim: "PRAGMA incremental_vacuum",
    group_commit: true,
    lifetimes: "group_concat(a.first_seen_at || ':' || COALESCE(a.resolved_at, ''), ',')",
};

/// The schema history of this backend, append-only.
fn migrator() -> Migrator {
    clef_store_sql::migrator(&[
        (1, "init", include_str!("../migrations/0001_init.sql")),
        (2, "notifications", include_str!("../migrations/0002_notifications.sql")),
        (3, "sessions", include_str!("../migrations/0003_sessions.sql")),
        (4, "report source and checks", include_str!("../migrations/0004_report_source_and_checks.sql")),
        (5, "report parts", include_str!("../migrations/0005_report_parts.sql")),
        (6, "channel secrets", include_str!("../migrations/0006_channel_secrets.sql")),
        (7, "triage", include_str!("../migrations/0007_triage.sql")),
        (8, "channel repeat interval", include_str!("../migrations/0008_channel_repeat.sql")),
        (9, "members", include_str!("../migrations/0009_members.sql")),
        (10, "alert counts", include_str!("../migrations/0010_alert_counts.sql")),
    ])
}

/// `PRAGMA auto_vacuum`'s answer for incremental.
const INCREMENTAL: i64 = 2;

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`) and applies
/// pending migrations. Refuses a schema newer than this binary.
pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
    install_default_drivers();
    let write = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL + NORMAL: a crashed process loses no committed transaction. Incremental
                // auto-vacuum lets retention hand freed pages back (effective on a new file
                // at once, on an older one after the VACUUM below).
                conn.execute(
                    "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                )
                .await
                .map(|_| ())
            })
        })
        .connect(&with_param(url, "mode=rwc"))
        .await
        .map_err(map_err)?;
    migrator().run(&write).await.map_err(StoreError::other)?;
    let auto_vacuum: i64 =
        sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(&write).await.map_err(map_err)?;
    if auto_vacuum != INCREMENTAL {
        // A file made before retention existed: rewritten once so that it can shrink.
        tracing::info!("converting the database file to incremental auto-vacuum (once)");
        write.execute("VACUUM").await.map_err(map_err)?;
    }
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move { conn.execute("PRAGMA busy_timeout = 10000;").await.map(|_| ()) })
        })
        .connect(&with_param(url, "mode=ro"))
        .await
        .map_err(map_err)?;
    Ok(SqlStore::new(write, Some(read), &DIALECT))
}

/// Writes a consistent copy of the database file `db` into the new file `out`, while servers
/// keep reading and writing it: `VACUUM INTO` copies one snapshot, compacted.
pub async fn backup(db: &std::path::Path, out: &std::path::Path) -> Result<(), StoreError> {
    install_default_drivers();
    let out = out.to_str().ok_or_else(|| StoreError::Other("the backup path is not UTF-8".into()))?;
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await.map_err(map_err)?;
    conn.execute("PRAGMA busy_timeout = 10000;").await.map_err(map_err)?;
    sqlx::query("VACUUM INTO $1").bind(out).execute(&mut conn).await.map_err(map_err)?;
    conn.close().await.map_err(map_err)
}

/// Checks that `path` holds an intact Clef Pro database this binary can open; answers its
/// schema version.
pub async fn check_backup(path: &std::path::Path) -> Result<i64, StoreError> {
    install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await.map_err(map_err)?;
    let integrity: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.map_err(map_err)?;
    if integrity != "ok" {
        return Err(StoreError::Other(format!("the file is damaged: {integrity}").into()));
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| StoreError::Other("the file is not a Clef Pro database".into()))?;
    conn.close().await.map_err(map_err)?;
    let version = version.ok_or_else(|| StoreError::Other("the file is not a Clef Pro database".into()))?;
    let newest = migrator().iter().map(|m| m.version).max().unwrap_or_default();
    if version > newest {
        return Err(StoreError::Other(
            format!("the file was written by a newer Clef Pro (schema {version}; this one knows {newest})")
                .into(),
        ));
    }
    Ok(version)
}
