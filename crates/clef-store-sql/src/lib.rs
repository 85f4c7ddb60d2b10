//! The SQL both backends share, written once. SQLite and PostgreSQL run the same
//! statements through sqlx's `Any` driver (numbered placeholders `$1`, `$2`, … read the same
//! in both); a backend crate supplies only its connection set-up, its migrations and the few
//! clauses of its [`Dialect`]: how a writing transaction starts, how rows are locked.
#![forbid(unsafe_code)]

mod dialect;
mod ingest;
mod operations;
mod outbox;
mod people;
mod rows;
mod sealed;
mod spans;
mod sso;
mod statement;

use clef_core::ids::*;
pub use dialect::Dialect;
use rows::INTEGRATION;
pub use sealed::{KeyError, SecretKey};
use statement::Statement;

use async_trait::async_trait;
use clef_core::{Acknowledgement, CheckKind, CheckRun, CommitSha, Millis, PolicySet};
use clef_store::*;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};

type R<T> = Result<T, StoreError>;

/// The store over any SQL backend: the backend opened the pools and chose the dialect.
pub struct SqlStore {
    write: AnyPool,
    read: AnyPool,
    dialect: &'static Dialect,
    /// Whether reads have a pool of their own (SQLite) or share the writers' (PostgreSQL).
    separate_read: bool,
    /// Seals channel secrets; without one, only e-mail channels can be created.
    key: Option<SecretKey>,
    /// Where ingests queue for a shared transaction (see `Dialect::group_commit`).
    group: ingest::GroupCommit,
    /// Alert lifetimes per integration, for trends (see `spans`).
    spans: spans::SpanCache,
}

/// A schema history, append-only: (version, description, SQL) steps. Each backend keeps its
/// own, in its dialect.
pub fn migrator(steps: &[(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    let migrations = steps
        .iter()
        .map(|&(v, d, sql)| {
            Migration::new(v, Cow::Borrowed(d), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect::<Vec<_>>();
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

/// Driver errors become the store's few semantic kinds here, at the edge.
pub fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        // PostgreSQL: serialization failure, deadlock, too many connections, shutting down.
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("40001" | "40P01" | "53300" | "57P01")) =>
        {
            StoreError::Busy(Box::new(e))
        }
        // SQLite: the write lock was not had within the busy timeout.
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Busy(Box::new(e))
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Busy(Box::new(e))
        }
        _ => StoreError::other(e),
    }
}

/// A write that had to touch a row: touching none means the id is not there (for this
/// organisation).
pub(crate) fn found(done: &sqlx::any::AnyQueryResult) -> R<()> {
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

impl SqlStore {
    /// A store over pools whose schema the backend has migrated; reads go to `read` when
    /// given, else to `write`.
    pub fn new(write: AnyPool, read: Option<AnyPool>, dialect: &'static Dialect) -> Self {
        let separate_read = read.is_some();
        let read = read.unwrap_or_else(|| write.clone());
        Self {
            write,
            read,
            dialect,
            separate_read,
            key: None,
            group: Default::default(),
            spans: Default::default(),
        }
    }

    /// Seals channel secrets under `key`. The first key given to a database is recorded (as a
    /// sealed check value, not the key); a different one is refused, so replicas that do not
    /// share the key fail at start instead of parking every message they cannot open.
    pub async fn with_secret_key(mut self, key: SecretKey) -> R<Self> {
        const CHECK: &str = "clef-pro secret key check";
        sqlx::query(
            "INSERT INTO server_settings (name, value) VALUES ('secret_key_check', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(key.seal(CHECK))
        .execute(&self.write)
        .await
        .map_err(map_err)?;
        let recorded: String =
            sqlx::query_scalar("SELECT value FROM server_settings WHERE name = 'secret_key_check'")
                .fetch_one(&self.write)
                .await
                .map_err(map_err)?;
        if key.open(&recorded).as_deref() != Some(CHECK) {
            return Err(StoreError::Conflict(
                "this database's channel secrets were sealed with another secret key: give every \
                 server the same --secret-key-file (or CLEF_PRO_SECRET_KEY)"
                    .into(),
            ));
        }
        self.key = Some(key);
        Ok(self)
    }

    /// Seals a channel secret; refused when the store has no key.
    pub(crate) fn seal(&self, plain: &str) -> R<String> {
        self.key.as_ref().map(|k| k.seal(plain)).ok_or_else(|| {
            StoreError::Other(
                "no secret key is configured, so secret channel targets cannot be stored".into(),
            )
        })
    }

    /// Opens a channel secret, saying why when it cannot be.
    pub(crate) fn open_secret(&self, sealed: &str) -> Result<String, String> {
        let key = self.key.as_ref().ok_or("no secret key is configured")?;
        key.open(sealed)
            .ok_or_else(|| "the channel secret does not open under this server's secret key".into())
    }

    /// The pool writes go through (for a backend's own maintenance statements).
    pub fn write_pool(&self) -> &AnyPool {
        &self.write
    }

    /// A read-only transaction that sees one snapshot for all its statements.
    pub(crate) async fn snapshot(&self) -> R<Transaction<'static, Any>> {
        self.read.begin_with(self.dialect.begin_snapshot).await.map_err(map_err)
    }

    pub(crate) async fn begin(&self) -> R<Transaction<'static, Any>> {
        self.write.begin_with(self.dialect.begin_write).await.map_err(map_err)
    }

    async fn integration_row(&self, org_id: &OrgId, id: &IntegrationId) -> R<Integration> {
        // One read transaction: the row, its head and its counts come from one snapshot.
        let mut snapshot = self.snapshot().await?;
        let row =
            sqlx::query(&format!("SELECT {INTEGRATION} FROM integrations WHERE org_id = $1 AND id = $2"))
                .bind(org_id.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *snapshot)
                .await
                .map_err(map_err)?
                .ok_or(StoreError::NotFound)?;
        with_state(&mut snapshot, &row).await
    }

    /// Fails with NotFound unless the integration exists in the organisation.
    pub(crate) async fn check_integration<'e, E: sqlx::Executor<'e, Database = Any>>(
        executor: E,
        org_id: &OrgId,
        integration_id: &IntegrationId,
    ) -> R<()> {
        sqlx::query("SELECT 1 FROM integrations WHERE org_id = $1 AND id = $2")
            .bind(org_id.as_str())
            .bind(integration_id.as_str())
            .fetch_optional(executor)
            .await
            .map_err(map_err)?
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }

    /// The tracked-branch reports between the alert's introducing commit and its last
    /// sighting, newest first.
    async fn reports_seeing(
        &self,
        stored: &StoredAlert,
        before: Option<CommitSha>,
        limit: u32,
    ) -> R<Vec<ReportMeta>> {
        let (integration_id, alert) = (&stored.integration_id, &stored.alert);
        // The outer query reads only `r`, so the report columns need no prefix.
        let mut sql =
            Statement::new(format!("SELECT {} FROM reports r WHERE r.integration_id = ", rows::REPORT_META));
        sql.push_bind(integration_id.as_str());
        sql.push(
            " AND (r.branch = '' OR r.branch = (SELECT tracked_branch FROM integrations WHERE id = r.integration_id))",
        );
        // Each bound is a stored report's place in time; a commit no longer stored bounds nothing.
        let bound = |sql: &mut Statement<'_>, op: &str, sha: String| {
            sql.push(" AND NOT EXISTS (SELECT 1 FROM reports p WHERE p.integration_id = r.integration_id AND p.commit_sha = ")
                .push_bind(sha)
                .push(&format!(" AND NOT ((r.commit_ts, r.seq) {op} (p.commit_ts, p.seq)))"));
        };
        bound(&mut sql, ">=", alert.introduced_by_commit.as_str().to_owned());
        bound(&mut sql, "<=", alert.last_seen_commit.as_str().to_owned());
        if let Some(before) = before {
            bound(&mut sql, "<", before.as_str().to_owned());
        }
        sql.push(" ORDER BY r.commit_ts DESC, r.seq DESC LIMIT ").push_bind(i64::from(limit));
        sql.build().fetch_all(&self.read).await.map_err(map_err)?.iter().map(rows::report_meta).collect()
    }

    async fn alert_in(&self, org_id: &OrgId, alert_id: &AlertId) -> R<StoredAlert> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM alerts a JOIN integrations i ON i.id = a.integration_id \
             WHERE i.org_id = $1 AND a.id = $2",
            rows::ALERT
        ))
        .bind(org_id.as_str())
        .bind(alert_id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        rows::stored_alert(&row)
    }
}

/// The alert's sort keys in SQL: open before resolved; error and critical rank alike.
const OPEN_KEY: &str = "CASE WHEN a.status = 'open' THEN 1 ELSE 0 END";
const RANK_KEY: &str = "CASE a.severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END";

/// ` WHERE …` for `q`'s filters (the severity's only when `with_severity`); the cursor and the
/// order are the caller's.
fn alert_filters<'a>(sql: &mut Statement<'a>, org_id: &'a OrgId, q: &'a AlertQuery, with_severity: bool) {
    sql.push(" JOIN integrations i ON i.id = a.integration_id WHERE i.org_id = ").push_bind(org_id.as_str());
    if let Some(id) = &q.integration_id {
        sql.push(" AND a.integration_id = ").push_bind(id.as_str());
    }
    if let Some(status) = q.status {
        sql.push(" AND a.status = ").push_bind(status.as_str());
    }
    if let Some(acked) = q.acknowledged {
        sql.push(if acked { " AND " } else { " AND NOT " });
        push_acknowledged(sql, q.now);
    }
    if let (Some(severity), true) = (q.severity, with_severity) {
        sql.push(" AND a.severity = ").push_bind(severity.as_str());
    }
    if let Some(rule) = &q.rule_id {
        sql.push(" AND a.rule_id = ").push_bind(rule.as_str());
    }
    if let Some(ns) = &q.namespace {
        sql.push(" AND a.namespace = ").push_bind(ns.as_str());
    }
    if let Some(env) = &q.environment {
        sql.push(" AND a.environment = ").push_bind(env.as_str());
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // A substring, not a pattern: LIKE's wildcards in the text are matched as themselves.
        let pattern = format!(
            "%{}%",
            text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        sql.push(" AND (");
        for (i, col) in ["a.rule_id", "a.rule_name", "a.message"].iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(&format!("LOWER({col}) LIKE ")).push_bind(pattern.clone()).push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
}

/// Adds the head and the open-alert counts to an integration row, within `snapshot`.
async fn with_state(snapshot: &mut Transaction<'_, Any>, row: &AnyRow) -> R<Integration> {
    let mut integration = rows::integration(row)?;
    if let Some(branch) = &integration.tracked_branch {
        integration.head = sqlx::query(&format!(
            "SELECT {} FROM reports WHERE integration_id = $1 AND branch = $2 \
                 ORDER BY commit_ts DESC, seq DESC LIMIT 1",
            rows::REPORT_META
        ))
        .bind(integration.id.as_str())
        .bind(branch)
        .fetch_optional(&mut **snapshot)
        .await
        .map_err(map_err)?
        .map(|r| rows::report_meta(&r))
        .transpose()?;
    }
    let mut counts = open_counts(|q| {
        q.push("a.integration_id = ").push_bind(integration.id.to_string());
    });
    for row in counts.build().fetch_all(&mut **snapshot).await.map_err(map_err)? {
        rows::add_open(&mut integration, &row)?;
    }
    Ok(integration)
}

/// Pushes "alert `a` is acknowledged at `now`": a snooze that has ended no longer counts.
pub(crate) fn push_acknowledged<'a, 's>(sql: &'s mut Statement<'a>, now: Millis) -> &'s mut Statement<'a> {
    sql.push("(a.acknowledged_at IS NOT NULL AND (a.acknowledged_until IS NULL OR a.acknowledged_until > ")
        .push_bind(now)
        .push("))")
}

/// Open alerts `a` of the integrations `i` that `scope` selects, by integration and severity,
/// with how many of them are acknowledged now.
fn open_counts<'a>(scope: impl FnOnce(&mut Statement<'a>)) -> Statement<'a> {
    let mut sql = Statement::new("SELECT a.integration_id, a.severity, COUNT(*) AS n, COUNT(CASE WHEN ");
    push_acknowledged(&mut sql, now_ms());
    sql.push(" THEN 1 END) AS acked FROM alerts a JOIN integrations i ON i.id = a.integration_id");
    sql.push(" WHERE a.status = 'open' AND ");
    scope(&mut sql);
    sql.push(" GROUP BY a.integration_id, a.severity");
    sql
}

pub(crate) async fn audit(tx: &mut Transaction<'_, Any>, actor: &Actor, action: &str, target: &str) -> R<()> {
    sqlx::query("INSERT INTO audit_log (org_id, actor, action, target, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(actor.org_id.as_str())
        .bind(&actor.email)
        .bind(action)
        .bind(target)
        .bind(actor.now)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// A fresh id of any kind: a random UUID.
pub(crate) fn new_id<T: From<String>>() -> T {
    T::from(uuid::Uuid::new_v4().to_string())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> R<()> {
        sqlx::query("SELECT 1").execute(&self.read).await.map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) -> R<()> {
        // Readers first: an open reader can hold back a checkpoint.
        self.read.close().await;
        if !self.dialect.on_close.is_empty() {
            sqlx::query(self.dialect.on_close).execute(&self.write).await.map_err(map_err)?;
        }
        self.write.close().await;
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> R<User> {
        self.create_user_impl(new).await
    }

    async fn user_by_email(&self, email: &str) -> R<Option<User>> {
        self.user_by_email_impl(email).await
    }

    async fn member(&self, user_id: &UserId, org_id: &OrgId) -> R<Option<User>> {
        self.member_impl(user_id, org_id).await
    }

    async fn memberships(&self, user_id: &UserId) -> R<Vec<Membership>> {
        self.memberships_impl(user_id).await
    }

    async fn members(&self, org_id: &OrgId) -> R<Vec<Member>> {
        self.members_impl(org_id).await
    }

    async fn set_role(&self, actor: &Actor, user_id: &UserId, role: Role) -> R<()> {
        self.set_role_impl(actor, user_id, role).await
    }

    async fn remove_member(&self, actor: &Actor, user_id: &UserId) -> R<()> {
        self.remove_member_impl(actor, user_id).await
    }

    async fn change_password(&self, actor: &Actor, password_hash: &str, keep_session: &SessionId) -> R<()> {
        self.change_password_impl(actor, password_hash, keep_session).await
    }

    async fn create_token(&self, actor: &Actor, token: NewToken) -> R<PersonalToken> {
        self.create_token_impl(actor, token).await
    }

    async fn authenticate_token(&self, token_hash: &str, now: Millis) -> R<Option<User>> {
        self.authenticate_token_impl(token_hash, now).await
    }

    async fn revoke_token(&self, actor: &Actor, token_id: &TokenId) -> R<()> {
        self.revoke_token_impl(actor, token_id).await
    }

    async fn tokens(&self, user_id: &UserId, org_id: &OrgId) -> R<Vec<PersonalToken>> {
        self.tokens_impl(user_id, org_id).await
    }

    async fn create_invitation(&self, actor: &Actor, new: NewInvitation) -> R<Invitation> {
        self.create_invitation_impl(actor, new).await
    }

    async fn invitations(&self, org_id: &OrgId) -> R<Vec<Invitation>> {
        self.invitations_impl(org_id).await
    }

    async fn revoke_invitation(&self, actor: &Actor, id: &InvitationId) -> R<()> {
        self.revoke_invitation_impl(actor, id).await
    }

    async fn invitation(&self, token_hash: &str) -> R<Option<Invitation>> {
        self.invitation_impl(token_hash).await
    }

    async fn accept_invitation(&self, token_hash: &str, who: Acceptance, now: Millis) -> R<User> {
        self.accept_invitation_impl(token_hash, who, now).await
    }

    async fn create_integration(&self, actor: &Actor, new: NewIntegration) -> R<Integration> {
        let id: IntegrationId = new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO integrations (id, org_id, name, tracked_branch, collect_ci_context, policies, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(actor.org_id.as_str())
        .bind(&new.name)
        .bind(&new.tracked_branch)
        .bind(new.config.collect_ci_context)
        .bind(serde_json::to_string(&PolicySet::default()).map_err(StoreError::other)?)
        .bind(actor.now)
        .bind(actor.now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit(&mut tx, actor, "integration.create", &format!("integration {} ({id})", new.name)).await?;
        tx.commit().await.map_err(map_err)?;
        self.integration_row(&actor.org_id, &id).await
    }

    async fn integrations(&self, org_id: &OrgId) -> R<Vec<Integration>> {
        // Three statements in one snapshot, however many integrations there are.
        let mut snapshot = self.snapshot().await?;
        let mut list: Vec<Integration> =
            sqlx::query(&format!("SELECT {INTEGRATION} FROM integrations WHERE org_id = $1 ORDER BY name"))
                .bind(org_id.as_str())
                .fetch_all(&mut *snapshot)
                .await
                .map_err(map_err)?
                .iter()
                .map(rows::integration)
                .collect::<R<_>>()?;
        let meta: String =
            rows::REPORT_META.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
        let heads = sqlx::query(&format!(
            "SELECT i.id AS integration_id, {meta} FROM integrations i \
             JOIN reports r ON r.id = ( \
               SELECT id FROM reports WHERE integration_id = i.id AND branch = i.tracked_branch \
               ORDER BY commit_ts DESC, seq DESC LIMIT 1) \
             WHERE i.org_id = $1"
        ))
        .bind(org_id.as_str())
        .fetch_all(&mut *snapshot)
        .await
        .map_err(map_err)?;
        for row in &heads {
            let id: IntegrationId = rows::id(row, "integration_id")?;
            if let Some(i) = list.iter_mut().find(|i| i.id == id) {
                i.head = Some(rows::report_meta(row)?);
            }
        }
        let mut counts = open_counts(|q| {
            q.push("i.org_id = ").push_bind(org_id.as_str());
        });
        for row in counts.build().fetch_all(&mut *snapshot).await.map_err(map_err)? {
            let id: IntegrationId = rows::id(&row, "integration_id")?;
            if let Some(i) = list.iter_mut().find(|i| i.id == id) {
                rows::add_open(i, &row)?;
            }
        }
        Ok(list)
    }

    async fn integration(&self, org_id: &OrgId, id: &IntegrationId) -> R<Integration> {
        self.integration_row(org_id, id).await
    }

    async fn update_integration(
        &self,
        actor: &Actor,
        id: &IntegrationId,
        patch: IntegrationPatch,
    ) -> R<Integration> {
        let mut tx = self.begin().await?;
        Self::check_integration(&mut *tx, &actor.org_id, id).await?;
        let policies =
            patch.policies.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::other)?;
        let mut update = Statement::new("UPDATE integrations SET updated_at = ");
        update.push_bind(actor.now);
        let mut changed = Vec::new();
        if let Some(name) = &patch.name {
            update.push(", name = ").push_bind(name);
            changed.push("name");
        }
        match &patch.tracked_branch {
            Some(Some(branch)) => {
                update.push(", tracked_branch = ").push_bind(branch);
                changed.push("trackedBranch");
            }
            // Cleared: back to the default, the branch of the first report, so a live
            // integration keeps its head (until it has a report, none).
            Some(None) => {
                update
                    .push(", tracked_branch = (SELECT branch FROM reports WHERE integration_id = ")
                    .push_bind(id.as_str())
                    .push(" AND branch <> '' ORDER BY seq LIMIT 1)");
                changed.push("trackedBranch");
            }
            None => {}
        }
        if let Some(config) = &patch.config {
            update.push(", collect_ci_context = ").push_bind(config.collect_ci_context);
            changed.push("config");
        }
        if let Some(policies) = &policies {
            update.push(", policies = ").push_bind(policies);
            changed.push("policies");
        }
        if !changed.is_empty() {
            update.push(" WHERE id = ").push_bind(id.as_str());
            update.build().execute(&mut *tx).await.map_err(map_err)?;
            audit(&mut tx, actor, "integration.update", &format!("integration {id}: {}", changed.join(", ")))
                .await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.integration_row(&actor.org_id, id).await
    }

    async fn delete_integration(&self, actor: &Actor, id: &IntegrationId) -> R<()> {
        let mut tx = self.begin().await?;
        Self::check_integration(&mut *tx, &actor.org_id, id).await?;
        sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit(&mut tx, actor, "integration.delete", &format!("integration {id}")).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn create_api_key(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        key: NewApiKey,
    ) -> R<ApiKey> {
        let id: ApiKeyId = new_id();
        let mut tx = self.begin().await?;
        Self::check_integration(&mut *tx, &actor.org_id, integration_id).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, integration_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(integration_id.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(actor.now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit(
            &mut tx,
            actor,
            "api_key.create",
            &format!("key {} ({}) of integration {integration_id}", key.prefix, key.name),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ApiKey {
            id,
            integration_id: integration_id.to_owned(),
            name: key.name,
            prefix: key.prefix,
            created_at: actor.now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    async fn api_keys(&self, org_id: &OrgId, integration_id: &IntegrationId) -> R<Vec<ApiKey>> {
        Self::check_integration(&self.read, org_id, integration_id).await?;
        sqlx::query(&format!(
            "SELECT {} FROM api_keys WHERE integration_id = $1 ORDER BY created_at, id",
            rows::API_KEY
        ))
        .bind(integration_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(rows::api_key)
        .collect()
    }

    async fn revoke_api_key(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        key_id: &ApiKeyId,
    ) -> R<()> {
        let mut tx = self.begin().await?;
        Self::check_integration(&mut *tx, &actor.org_id, integration_id).await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND integration_id = $3 AND revoked_at IS NULL",
        )
        .bind(actor.now)
        .bind(key_id.as_str())
        .bind(integration_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        found(&done)?;
        audit(&mut tx, actor, "api_key.revoke", &format!("key {key_id} of integration {integration_id}"))
            .await?;
        tx.commit().await.map_err(map_err)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> R<Option<ApiKeyGrant>> {
        sqlx::query(
            "SELECT k.id, k.integration_id, i.org_id, k.last_used_at, i.collect_ci_context FROM api_keys k \
             JOIN integrations i ON i.id = k.integration_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        .map(|r| {
            Ok(ApiKeyGrant {
                key_id: rows::id(&r, "id")?,
                integration_id: rows::id(&r, "integration_id")?,
                org_id: rows::id(&r, "org_id")?,
                last_used_at: rows::get(&r, "last_used_at")?,
                collect_ci_context: rows::flag(&r, "collect_ci_context")?,
            })
        })
        .transpose()
    }

    async fn touch_api_key(&self, key_id: &ApiKeyId, now: Millis) -> R<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(key_id.as_str())
            .execute(&self.write)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn ingest(&self, batch: IngestBatch) -> R<IngestOutcome> {
        ingest::ingest(self, batch).await
    }

    async fn reports(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        q: ReportQuery,
    ) -> R<Vec<ReportMeta>> {
        Self::check_integration(&self.read, org_id, integration_id).await?;
        let mut sql =
            Statement::new(format!("SELECT {} FROM reports WHERE integration_id = ", rows::REPORT_META));
        sql.push_bind(integration_id.as_str());
        if let Some(branch) = &q.branch {
            sql.push(" AND branch = ").push_bind(branch);
        }
        if let Some(before) = &q.before {
            let cursor = sqlx::query(
                "SELECT commit_ts, seq FROM reports WHERE integration_id = $1 AND commit_sha = $2",
            )
            .bind(integration_id.as_str())
            .bind(before.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
            let (ts, seq): (i64, i64) = (rows::get(&cursor, "commit_ts")?, rows::get(&cursor, "seq")?);
            sql.push(" AND (commit_ts < ").push_bind(ts);
            sql.push(" OR (commit_ts = ").push_bind(ts).push(" AND seq < ").push_bind(seq).push("))");
        }
        sql.push(" ORDER BY commit_ts DESC, seq DESC LIMIT ").push_bind(i64::from(q.limit));
        sql.build().fetch_all(&self.read).await.map_err(map_err)?.iter().map(rows::report_meta).collect()
    }

    async fn delete_report(&self, actor: &Actor, integration_id: &IntegrationId, commit_sha: &str) -> R<()> {
        let sha = CommitSha::parse(commit_sha).map_err(|_| StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        // Locked as an ingest locks it: the head and alerts move under the same rule, and the
        // counter moves (by one) as alerts may change.
        let locked = ingest::lock(self.dialect, &mut tx, integration_id, Some(&actor.org_id), 1)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (tracked, has_channels) = (locked.tracked, locked.has_channels);
        let old_head = match locked.head {
            Some(read) => read,
            None => ingest::head(&mut tx, integration_id, tracked.as_deref()).await?,
        };
        let done = sqlx::query("DELETE FROM reports WHERE integration_id = $1 AND commit_sha = $2")
            .bind(integration_id.as_str())
            .bind(sha.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        found(&done)?;
        audit(&mut tx, actor, "report.delete", &format!("report {sha} of integration {integration_id}"))
            .await?;
        let new_head = ingest::head(&mut tx, integration_id, tracked.as_deref()).await?;
        if let (Some(new), Some(branch)) = (&new_head, tracked.as_deref())
            && old_head.as_ref() != Some(new)
        {
            let change = ingest::HeadChange {
                integration_id,
                now: actor.now,
                branch,
                since: None,
                head: new,
                report: None,
                has_channels,
            };
            ingest::evaluate_head(&mut tx, change).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn report(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        commit_sha: &str,
    ) -> R<StoredReport> {
        let sha = CommitSha::parse(commit_sha).map_err(|_| StoreError::NotFound)?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM {} WHERE r.integration_id = $1 AND r.commit_sha = $2 \
             AND EXISTS (SELECT 1 FROM integrations i WHERE i.id = r.integration_id AND i.org_id = $3)",
            rows::REPORT_FULL,
            rows::REPORT_FULL_FROM
        ))
        .bind(integration_id.as_str())
        .bind(sha.as_str())
        .bind(org_id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        rows::stored_report(&row)
    }

    async fn head_report(&self, org_id: &OrgId, integration_id: &IntegrationId) -> R<Option<StoredReport>> {
        match self.integration_row(org_id, integration_id).await?.head {
            Some(head) => self.report(org_id, integration_id, head.commit_sha.as_str()).await.map(Some),
            None => Ok(None),
        }
    }

    async fn record_check(&self, integration_id: &IntegrationId, run: &CheckRun, at: Millis) -> R<()> {
        let done = sqlx::query(
            "INSERT INTO checks (integration_id, kind, received_at, run) \
             SELECT id, $1, $2, $3 FROM integrations WHERE id = $4 \
             ON CONFLICT (integration_id, kind) DO UPDATE SET received_at = excluded.received_at, run = excluded.run",
        )
        .bind(run.kind.as_str())
        .bind(at)
        .bind(serde_json::to_string(run).map_err(StoreError::other)?)
        .bind(integration_id.as_str())
        .execute(&self.write)
        .await
        .map_err(map_err)?;
        found(&done)?;
        Ok(())
    }

    async fn checks(&self, org_id: &OrgId, integration_id: &IntegrationId) -> R<Vec<StoredCheck>> {
        Self::check_integration(&self.read, org_id, integration_id).await?;
        let mut checks =
            sqlx::query("SELECT integration_id, received_at, run FROM checks WHERE integration_id = $1")
                .bind(integration_id.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| {
                    Ok(StoredCheck {
                        integration_id: rows::id(r, "integration_id")?,
                        received_at: rows::get(r, "received_at")?,
                        run: serde_json::from_str(&rows::get::<String>(r, "run")?)
                            .map_err(StoreError::other)?,
                    })
                })
                .collect::<R<Vec<_>>>()?;
        checks.sort_by_key(|c| c.run.kind != CheckKind::Lint);
        Ok(checks)
    }

    async fn alerts(&self, org_id: &OrgId, q: AlertQuery) -> R<AlertPage> {
        // The page's ids are chosen first, sorting only the keys; then its rows are read whole.
        let mut sql = Statement::new(format!(
            "SELECT {} FROM alerts a WHERE a.id IN (SELECT a.id FROM alerts a",
            rows::ALERT
        ));
        alert_filters(&mut sql, org_id, &q, true);
        // Keyset paging: every key descends, so "after the cursor" is one row comparison.
        let keys = match q.sort {
            AlertSort::Newest => format!("{OPEN_KEY}, a.first_seen_at, a.id"),
            AlertSort::Severity => format!("{OPEN_KEY}, {RANK_KEY}, a.first_seen_at, a.id"),
        };
        if let Some(c) = &q.after {
            sql.push(&format!(" AND ({keys}) < (")).push_bind(i64::from(c.open));
            if q.sort == AlertSort::Severity {
                sql.push(", ").push_bind(i64::from(c.rank));
            }
            sql.push(", ").push_bind(c.first_seen_at).push(", ").push_bind(c.id.as_str()).push(")");
        }
        let order = keys.replace(',', " DESC,");
        sql.push(&format!(" ORDER BY {order} DESC LIMIT ")).push_bind(i64::from(q.limit) + 1);
        sql.push(&format!(") ORDER BY {order} DESC"));
        let mut alerts = sql
            .build()
            .fetch_all(&self.read)
            .await
            .map_err(map_err)?
            .iter()
            .map(rows::stored_alert)
            .collect::<R<Vec<_>>>()?;
        let next = if alerts.len() > q.limit as usize {
            alerts.truncate(q.limit as usize);
            alerts.last().map(|a| AlertCursor::after(&a.alert))
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
    }

    async fn alert_counts(&self, org_id: &OrgId, q: &AlertQuery) -> R<SeverityCounts> {
        let mut sql = Statement::new("SELECT a.severity, COUNT(*) AS n FROM alerts a");
        alert_filters(&mut sql, org_id, q, false);
        sql.push(" GROUP BY a.severity");
        let mut counts = SeverityCounts::default();
        for row in sql.build().fetch_all(&self.read).await.map_err(map_err)? {
            rows::add_count(&mut counts, &row)?;
        }
        Ok(counts)
    }

    async fn alert(&self, org_id: &OrgId, alert_id: &AlertId) -> R<StoredAlert> {
        self.alert_in(org_id, alert_id).await
    }

    async fn alert_spans(
        &self,
        org_id: &OrgId,
        integration_id: Option<&IntegrationId>,
        from: Millis,
        to: Millis,
    ) -> R<Vec<clef_core::trends::AlertSpan>> {
        self.alert_spans_impl(org_id, integration_id, from, to).await
    }

    async fn alert_timeline(
        &self,
        org_id: &OrgId,
        alert_id: &AlertId,
        before: Option<CommitSha>,
        reports: u32,
    ) -> R<AlertTimeline> {
        let alert = self.alert_in(org_id, alert_id).await?;
        let events = sqlx::query(
            "SELECT kind, actor, at, reason, until FROM alert_events WHERE alert_id = $1 ORDER BY id",
        )
        .bind(alert_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| {
            Ok(AlertEvent {
                kind: AlertEventKind::parse(&rows::get::<String>(r, "kind")?)
                    .map_err(|e| StoreError::Other(e.into()))?,
                actor: rows::get(r, "actor")?,
                at: rows::get(r, "at")?,
                reason: rows::get(r, "reason")?,
                until: rows::get(r, "until")?,
            })
        })
        .collect::<R<_>>()?;
        let reports = self.reports_seeing(&alert, before, reports).await?;
        let filter = outbox::DeliveryFilter::Alert(alert_id);
        let deliveries = self.deliveries_where(&alert.integration_id, filter, TIMELINE_MESSAGES).await?;
        Ok(AlertTimeline { alert, events, reports, deliveries })
    }

    async fn alert_reports(
        &self,
        org_id: &OrgId,
        alert_id: &AlertId,
        before: Option<CommitSha>,
        limit: u32,
    ) -> R<Vec<ReportMeta>> {
        let alert = self.alert_in(org_id, alert_id).await?;
        self.reports_seeing(&alert, before, limit).await
    }

    async fn set_acknowledgement(
        &self,
        actor: &Actor,
        alert_ids: &[AlertId],
        ack: Option<Acknowledgement>,
    ) -> R<Vec<StoredAlert>> {
        let kind = if ack.is_some() { AlertEventKind::Acknowledged } else { AlertEventKind::Unacknowledged };
        let action = if ack.is_some() { "alert.acknowledge" } else { "alert.unacknowledge" };
        let (reason, until) =
            (ack.as_ref().and_then(|a| a.reason.as_deref()), ack.as_ref().and_then(|a| a.until));
        let mut tx = self.begin().await?;
        let mut done: Vec<StoredAlert> = Vec::with_capacity(alert_ids.len());
        for alert_id in alert_ids {
            let row = sqlx::query(&format!(
                "SELECT {} FROM alerts a JOIN integrations i ON i.id = a.integration_id WHERE i.org_id = $1 AND a.id = $2",
                rows::ALERT
            ))
            .bind(actor.org_id.as_str())
            .bind(alert_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
            let mut stored = rows::stored_alert(&row)?;
            // Nothing is left to silence: the next report that shows it again opens a new alert.
            if ack.is_some() && !stored.alert.is_open() {
                return Err(StoreError::Refused(format!(
                    "alert {alert_id} is resolved: only an open alert can be acknowledged"
                )));
            }
            sqlx::query(
                "UPDATE alerts SET acknowledged_by = $1, acknowledged_at = $2, acknowledged_reason = $3, \
                 acknowledged_until = $4 WHERE id = $5",
            )
            .bind(ack.as_ref().map(|a| a.by.as_str()))
            .bind(ack.as_ref().map(|a| a.at))
            .bind(reason)
            .bind(until)
            .bind(alert_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO alert_events (alert_id, kind, actor, at, reason, until) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(alert_id.as_str())
            .bind(kind.as_str())
            .bind(&actor.email)
            .bind(actor.now)
            .bind(reason)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            audit(&mut tx, actor, action, &format!("alert {alert_id}")).await?;
            stored.alert.acknowledgement = ack.clone();
            done.push(stored);
        }
        // Only open alerts get this far acknowledged; each integration's channels are read once.
        let mut queued = 0;
        if ack.is_some() {
            let mut integrations: Vec<&IntegrationId> = done.iter().map(|s| &s.integration_id).collect();
            integrations.sort();
            integrations.dedup();
            for integration_id in integrations {
                let alerts: Vec<&clef_core::Alert> =
                    done.iter().filter(|s| &s.integration_id == integration_id).map(|s| &s.alert).collect();
                queued +=
                    outbox::enqueue_acknowledgements(&mut tx, integration_id, &alerts, actor.now).await?;
            }
        }
        tx.commit().await.map_err(map_err)?;
        if queued > 0 {
            tracing::debug!(alerts = alert_ids.len(), queued, "acknowledgement queued for delivery");
        }
        Ok(done)
    }

    async fn create_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        new: NewChannel,
    ) -> R<Channel> {
        self.create_channel_impl(actor, integration_id, new).await
    }

    async fn channels(&self, org_id: &OrgId, integration_id: &IntegrationId) -> R<Vec<Channel>> {
        self.channels_impl(org_id, integration_id).await
    }

    async fn update_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        patch: ChannelPatch,
    ) -> R<Channel> {
        self.update_channel_impl(actor, integration_id, channel_id, patch).await
    }

    async fn delete_channel(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> R<()> {
        self.delete_channel_impl(actor, integration_id, channel_id).await
    }

    async fn rotate_signing_secret(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
        secret: String,
        overlap_until: Millis,
    ) -> R<Channel> {
        self.rotate_signing_secret_impl(actor, integration_id, channel_id, secret, overlap_until).await
    }

    async fn enqueue_test(
        &self,
        actor: &Actor,
        integration_id: &IntegrationId,
        channel_id: &ChannelId,
    ) -> R<DeliveryId> {
        self.enqueue_test_impl(actor, integration_id, channel_id).await
    }

    async fn claim_deliveries(&self, now: Millis, lease_ms: Millis, limit: u32) -> R<Vec<ClaimedDelivery>> {
        self.claim_impl(now, lease_ms, limit).await
    }

    async fn release_deliveries(&self, ids: &[DeliveryId]) -> R<()> {
        self.release_impl(ids).await
    }

    async fn finish_attempt(&self, id: &DeliveryId, at: Millis, result: DeliveryResult) -> R<()> {
        self.finish_impl(id, at, result).await
    }

    async fn deliveries(
        &self,
        org_id: &OrgId,
        integration_id: &IntegrationId,
        query: DeliveryQuery,
    ) -> R<Vec<Delivery>> {
        self.deliveries_impl(org_id, integration_id, query).await
    }

    async fn sso_config(&self, org_id: &OrgId) -> R<Option<SsoConfig>> {
        self.sso_config_impl(org_id).await
    }

    async fn sso_config_for_email(&self, email: &str) -> R<Option<SsoConfig>> {
        self.sso_config_for_email_impl(email).await
    }

    async fn set_sso_config(&self, actor: &Actor, settings: SsoSettings) -> R<()> {
        self.set_sso_config_impl(actor, settings).await
    }

    async fn delete_sso_config(&self, actor: &Actor) -> R<()> {
        self.delete_sso_config_impl(actor).await
    }

    async fn begin_sso_login(&self, login: SsoLogin, now: Millis) -> R<()> {
        self.begin_sso_login_impl(login, now).await
    }

    async fn take_sso_login(&self, state_hash: &str, now: Millis) -> R<Option<SsoLogin>> {
        self.take_sso_login_impl(state_hash, now).await
    }

    async fn sso_member(&self, org_id: &OrgId, email: &str, join_as: Option<Role>, now: Millis) -> R<User> {
        self.sso_member_impl(org_id, email, join_as, now).await
    }

    async fn create_session(&self, session: NewSession) -> R<SessionId> {
        self.create_session_impl(session).await
    }

    async fn session(&self, token_hash: &str, now: Millis) -> R<Option<Session>> {
        self.session_impl(token_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> R<()> {
        self.delete_session_impl(token_hash).await
    }

    async fn switch_organization(&self, session: &SessionId, user_id: &UserId, org_id: &OrgId) -> R<()> {
        self.switch_organization_impl(session, user_id, org_id).await
    }

    async fn sessions(&self, user_id: &UserId, now: Millis) -> R<Vec<SessionInfo>> {
        self.sessions_impl(user_id, now).await
    }

    async fn end_session(&self, actor: &Actor, session: &SessionId) -> R<()> {
        self.end_session_impl(actor, session).await
    }

    async fn violation_trends(&self, org_id: &OrgId, points: u32) -> R<Vec<(IntegrationId, Vec<u64>)>> {
        // One statement: per integration, the newest `points` tracked-branch reports, each
        // found through the timeline index.
        let rows = sqlx::query(
            "SELECT i.id AS integration_id, r.violations FROM integrations i \
             JOIN reports r ON r.id IN ( \
               SELECT id FROM reports WHERE integration_id = i.id AND branch = i.tracked_branch \
               ORDER BY commit_ts DESC, seq DESC LIMIT $1) \
             WHERE i.org_id = $2 ORDER BY i.id, r.commit_ts, r.seq",
        )
        .bind(i64::from(points))
        .bind(org_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?;
        let mut out: Vec<(IntegrationId, Vec<u64>)> = Vec::new();
        for row in &rows {
            let id: IntegrationId = rows::id(row, "integration_id")?;
            let v = rows::get::<i64>(row, "violations")?.max(0) as u64;
            match out.last_mut() {
                Some((last, series)) if *last == id => series.push(v),
                _ => out.push((id, vec![v])),
            }
        }
        Ok(out)
    }

    async fn audit_log(&self, org_id: &OrgId, before: Option<i64>, limit: u32) -> R<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT id, actor, action, target, at FROM audit_log WHERE org_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(org_id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(rows::audit_entry)
        .collect()
    }

    async fn prune(&self, retention: Retention) -> R<Pruned> {
        self.prune_all(retention).await
    }

    async fn stats(&self) -> R<StoreStats> {
        self.read_stats().await
    }
}
