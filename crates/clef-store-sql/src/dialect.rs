/// What differs between the SQL engines, as clauses the shared statements splice in. Everything
/// else (every statement, every decision) is written once in this crate.
#[derive(Debug)]
pub struct Dialect {
    /// Starts a writing transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`),
    /// so a read-then-write never fails half way with SQLITE_BUSY.
    pub begin_write: &'static str,
    /// Starts a read-only transaction that sees one snapshot.
    pub begin_snapshot: &'static str,
    /// Ends the inner SELECT of an outbox claim: on an engine with row locks, rows another
    /// worker is claiming are skipped instead of waited for.
    pub skip_locked: &'static str,
    /// The outbox column that gives insertion order, for ties in time.
    pub outbox_seq: &'static str,
    /// Run on the write pool at a clean stop, when not empty.
    pub on_close: &'static str,
    /// The head can be read by the statement that locks the integration. True where a writer
    /// holds the whole database (SQLite); false where a statement that waited for a row lock
    /// would read the head from its stale snapshot (PostgreSQL under READ COMMITTED).
    pub head_in_lock: bool,
    /// Run on the write pool after retention deleted rows, when not empty: hands the freed
    /// pages back to the file system where the engine does not do it by itself.
    pub reclaim: &'static str,
    /// Ingests that arrive while one is being written share the next transaction. For an
    /// engine with one writer (SQLite), where they would queue for it anyway; not where
    /// transactions lock rows, as two groups could then take the same rows in opposite orders.
    pub group_commit: bool,
    /// Aggregates the alerts `a` of a group into one text, `opened:resolved,…` (resolved empty
    /// while open): one row per group instead of one per alert, which is what reading costs.
    pub lifetimes: &'static str,
}
