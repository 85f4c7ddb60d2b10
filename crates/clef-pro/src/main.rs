//! The `clef-pro` binary: parses flags, sets up logging, opens the store, and wires the HTTP
//! server. No product logic lives here.
#![forbid(unsafe_code)]

mod backup;
mod cli;
mod config;
mod demo;

use anyhow::{Context, Result, bail};
use clef_notify::pagerduty::PagerDutyNotifier;
use clef_notify::slack::SlackNotifier;
use clef_notify::teams::TeamsNotifier;
use clef_notify::webhook::WebhookNotifier;
use clef_notify::{EmailConfig, EmailNotifier, Http, HttpConfig, Links, Notifier, RetryPolicy, Worker};
use clef_store::{NewUser, Retention, Role, Store};
use clef_store_sql::{SecretKey, SqlStore};
use clef_web::credentials::{generate_password, hash_password};
use clef_web::{AppState, Settings, now_ms};
use cli::{Cli, Command, RetentionArgs, ServeArgs, TokenCommand, UserCommand};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<()> {
    let parsed = config::parse(std::env::args_os().collect())?;
    init_logging(&parsed.cli)?;
    for warning in &parsed.warnings {
        tracing::warn!("{warning}");
    }
    if let Command::Config(_) = parsed.cli.command {
        print!("{}", parsed.show());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(parsed.cli))
}

fn init_logging(cli: &Cli) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{},sqlx=warn", cli.log))
        .context("invalid --log filter")?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Healthcheck { url } => return healthcheck(url).await,
        Command::Demo(args) => return run_demo(args.clone(), demo_dir(&cli)).await,
        Command::Backup { out } => {
            backup::backup(&embedded_database(&cli, "back up")?, out).await?;
            println!(
                "keep the secret key ({}) with it, stored apart: the backup's channel secrets open only with it",
                secret_key_file(&cli).map_or("CLEF_PRO_SECRET_KEY".into(), |p| p.display().to_string())
            );
            return Ok(());
        }
        Command::Restore { from, force } => {
            return backup::restore(&embedded_database(&cli, "restore")?, from, *force).await;
        }
        _ => {}
    }
    // Held for the server's life: a restore must not replace the file under it.
    let _serving = match (&cli.command, backup::sqlite_path(cli.database_url.as_deref(), &cli.data_dir)) {
        (Command::Serve(_), Some(db)) => Some(backup::lock_for_serving(&db)?),
        _ => None,
    };
    let store = open_store(&cli).await?;
    // Only the server handles channel secrets; the admin commands need no key.
    let key = matches!(cli.command, Command::Serve(_)).then(|| secret_key(&cli)).transpose()?;
    match (cli.command, key) {
        (Command::Serve(args), Some(key)) => {
            let store = store.with_secret_key(key).await.context("cannot use the secret key")?;
            let listener = bind(&args).await?;
            serve(Arc::new(store), listener, args, &cli.data_dir).await
        }
        (command, _) => run_admin(Arc::new(store), command).await,
    }
}

/// Invitations go through the notifications' mail transport.
struct Invitations(Arc<EmailNotifier>);

#[async_trait::async_trait]
impl clef_web::Mailer for Invitations {
    async fn send_plain(&self, to: &str, subject: &str, text: &str) -> Result<String, String> {
        self.0.send_plain(to, subject, text).await.map_err(|e| e.to_string())
    }
}

async fn run_admin(store: Arc<dyn Store>, command: Command) -> Result<()> {
    match command {
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Create { email, org, role }) => create_user(store, email, org, role).await,
        Command::Token(TokenCommand::Create { email, org, name }) => {
            create_token(store, email, org, name).await
        }
        Command::Token(TokenCommand::List { email }) => list_tokens(store, email).await,
        Command::Token(TokenCommand::Revoke { email, id }) => {
            let person = person(store.as_ref(), &email).await?;
            let id = clef_core::TokenId::from(id.as_str());
            // The token is in one of the person's organisations.
            let mut revoked = false;
            for m in store.memberships(&person.id).await? {
                let actor = clef_store::Actor { org_id: m.org_id, ..person.actor(now_ms()) };
                match store.revoke_token(&actor, &id).await {
                    Ok(()) => revoked = true,
                    Err(clef_store::StoreError::NotFound) => continue,
                    Err(other) => return Err(other.into()),
                }
                break;
            }
            if !revoked {
                bail!("no live token with this id for this user");
            }
            println!("revoked {id}");
            Ok(())
        }
        Command::Healthcheck { .. }
        | Command::Demo(_)
        | Command::Serve(_)
        | Command::Config(_)
        | Command::Backup { .. }
        | Command::Restore { .. } => unreachable!("handled above"),
    }
}

/// The key sealing channel secrets: from the environment, from --secret-key-file, or from
/// <data-dir>/secret.key (generated there on first start).
fn secret_key(cli: &Cli) -> Result<SecretKey> {
    let Some(path) = secret_key_file(cli) else {
        let text = cli.secret_key.as_deref().unwrap_or_default();
        return SecretKey::parse(text).context("CLEF_PRO_SECRET_KEY");
    };
    if cli.secret_key_file.is_none() && !path.exists() {
        write_new_key(&path)?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    SecretKey::parse(&text).with_context(|| format!("{} does not hold a secret key", path.display()))
}

/// The file the key is read from; `None` when the environment holds the key itself.
fn secret_key_file(cli: &Cli) -> Option<std::path::PathBuf> {
    match (&cli.secret_key, &cli.secret_key_file) {
        (Some(_), _) => None,
        (None, Some(path)) => Some(path.clone()),
        (None, None) => Some(cli.data_dir.join("secret.key")),
    }
}

/// Writes a new key readable by the owner only (a temporary file is created 0600). Several
/// processes may start at once on one folder: the key is linked into place only if none is
/// there yet, so all of them use one.
fn write_new_key(path: &Path) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().context("the key file has no folder")?;
    std::fs::create_dir_all(dir)?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(SecretKey::generate().to_text().as_bytes())?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(path = %path.display(), "generated the secret key for channel secrets; back it up apart from the database");
            Ok(())
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error).with_context(|| format!("cannot write {}", path.display())),
    }
}

/// The embedded database's file, for the commands that work on it alone.
fn embedded_database(cli: &Cli, what: &str) -> Result<std::path::PathBuf> {
    backup::sqlite_path(cli.database_url.as_deref(), &cli.data_dir).with_context(|| {
        format!(
            "clef-pro can {what} only the embedded SQLite database; on PostgreSQL use pg_dump and pg_restore"
        )
    })
}

/// The database URL: the one given, or the embedded file in the data folder (created).
fn database_url(cli: &Cli) -> Result<String> {
    Ok(match &cli.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&cli.data_dir)
                .with_context(|| format!("cannot create data folder {}", cli.data_dir.display()))?;
            format!("sqlite://{}", cli.data_dir.join("clef-pro.db").display())
        }
    })
}

async fn open_store(cli: &Cli) -> Result<SqlStore> {
    let url = database_url(cli)?;
    // Never echo the URL: it may carry a password.
    if url.starts_with("sqlite:") {
        clef_store_sqlite::open(&url).await.context("cannot open the SQLite database")
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        clef_store_postgres::open(&url).await.context("cannot open the PostgreSQL database")
    } else {
        bail!("unsupported database URL scheme: expected sqlite:// or postgres://")
    }
}

async fn bind(args: &ServeArgs) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))
}

async fn serve(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    args: ServeArgs,
    data_dir: &Path,
) -> Result<()> {
    let addr = listener.local_addr()?;
    let public_url =
        args.public_url.clone().or_else(|| (!addr.ip().is_unspecified()).then(|| format!("http://{addr}")));
    let mail = &args.mail;
    let email = Arc::new(EmailNotifier::new(EmailConfig {
        smtp_url: mail.smtp_url.clone(),
        from: mail.smtp_from.clone(),
        mail_dir: data_dir.join("mail"),
        public_url: public_url.clone(),
        timeout: Duration::from_secs(mail.smtp_timeout_secs),
    })?);
    tracing::info!(%addr, body_limit = args.body_limit, mail = %email.describe(), "serving");
    let http = Http::new(&HttpConfig {
        allow_private: args.allow_private_targets,
        timeout: Duration::from_secs(args.http_timeout_secs.max(1)),
    })
    .context("cannot build the HTTP client")?;
    let links = Links::new(public_url.as_deref());
    let notifiers: Vec<Arc<dyn Notifier>> = vec![
        email.clone(),
        Arc::new(SlackNotifier::new(http.clone(), links.clone())),
        Arc::new(TeamsNotifier::new(http.clone(), links.clone())),
        Arc::new(PagerDutyNotifier::new(
            http.clone(),
            links.clone(),
            Some(args.pagerduty_events_url.clone()),
        )),
        Arc::new(WebhookNotifier::new(http, links)),
    ];
    // Request handlers wake the delivery worker as soon as they have queued a message.
    let wake = Arc::new(tokio::sync::Notify::new());
    let policy = RetryPolicy {
        base_ms: mail.delivery_retry_base_ms.max(1),
        max_delay_ms: 30 * 60_000,
        max_age_ms: mail.delivery_max_age_secs.max(1).saturating_mul(1000),
    };
    let worker = Worker::new(
        store.clone(),
        notifiers,
        policy,
        Duration::from_millis(mail.delivery_poll_ms),
        wake.clone(),
    )
    .with_lease(Duration::from_secs(mail.delivery_lease_secs.max(1).unsigned_abs()));
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker.run(worker_stopped));

    let settings = Settings {
        body_limit: args.body_limit,
        public_url,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        api_key_rate: args.api_key_rate.max(0.0),
        api_key_burst: args.api_key_burst,
        login_attempts_per_minute: args.login_attempts_per_minute,
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
        max_connections: args.max_connections.max(1),
        test_sends_per_minute: args.test_sends_per_minute,
        allow_private_targets: args.allow_private_targets,
        metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        session_ttl: Duration::from_secs(args.session_ttl_secs),
    };
    let metrics = clef_web::metrics::install().context("cannot set up metrics")?;
    clef_notify::worker::describe_metrics();
    let upkeep = tokio::spawn(clef_web::metrics::upkeep(metrics.clone()));
    let retention = tokio::spawn(prune_periodically(store.clone(), args.retention.clone()));
    let state = AppState::new(store.clone(), settings, wake)
        .with_metrics(metrics)
        .with_mailer(Arc::new(Invitations(email)));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(clef_web::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    // The first line on stdout is the address: tests and scripts read it.
    println!("clef-pro listening on http://{addr}");
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(());
    match tokio::time::timeout(clef_web::SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined?.context("server failed")?,
        Err(_) => tracing::warn!("in-flight requests did not finish in time"),
    }
    upkeep.abort();
    retention.abort();
    // Then the worker: the send in progress completes and is recorded; the rest stays queued.
    let _ = stop_worker.send(true);
    if tokio::time::timeout(clef_web::SHUTDOWN_GRACE, worker).await.is_err() {
        tracing::warn!("the delivery in progress did not finish in time; its lease will expire");
    }
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "could not flush the database at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Applies the retention settings at start, then every interval; nothing when all are off.
async fn prune_periodically(store: Arc<dyn Store>, args: RetentionArgs) {
    if args.at(now_ms()) == Retention::default() {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(args.retention_interval_secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.prune(args.at(now_ms())).await {
            Ok(p) if p == clef_store::Pruned::default() => {
                tracing::debug!("retention pass: nothing to delete")
            }
            Ok(p) => tracing::info!(
                reports = p.reports,
                report_parts = p.report_parts,
                deliveries = p.deliveries,
                audit_entries = p.audit_entries,
                "retention pass"
            ),
            Err(e) => tracing::warn!(error = %e, "retention pass failed; trying again at the next interval"),
        }
    }
}

/// The demo's folder: `--data-dir` when given, else one in the system's temp folder.
fn demo_dir(cli: &Cli) -> PathBuf {
    if cli.data_dir == Path::new(cli::DEFAULT_DATA_DIR) {
        std::env::temp_dir().join("clef-pro-demo")
    } else {
        cli.data_dir.clone()
    }
}

/// Marks a folder as a demo's, the only kind a demo replaces.
const DEMO_MARKER: &str = ".clef-pro-demo";

async fn run_demo(args: ServeArgs, dir: PathBuf) -> Result<()> {
    // The port first: a demo that cannot serve deletes nothing.
    let listener = bind(&args).await?;
    let holds_data = std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if holds_data {
        if !dir.join(DEMO_MARKER).exists() {
            bail!(
                "{} holds data that is not a demo's: the demo starts from scratch, so give it an empty or new folder with --data-dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot clear the old demo in {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(DEMO_MARKER), "a clef-pro demo: `clef-pro demo` replaces this folder\n")?;
    let url = format!("sqlite://{}", dir.join("clef-pro.db").display());
    let store = clef_store_sqlite::open(&url).await?.with_secret_key(SecretKey::generate()).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let login = demo::seed(store.as_ref()).await?;
    let base = format!("http://{}", args.listen);
    println!(
        "Clef Pro demo: organisation \"Acme (demo)\" with four integrations and up to 90 days of history, in {}",
        dir.display()
    );
    println!(
        "  notifications: written as .eml files into {} (set --smtp-url to send them)",
        dir.join("mail").display()
    );
    println!("  dashboard:     {base}/login as {} / password {}", login.email, login.password);
    println!("  access token:  {}", login.token);
    println!("  CI API key:    {}", login.api_key);
    println!(
        "  try:           curl -H 'Authorization: Bearer {}' {base}/api/v1/integrations/{}/alerts",
        login.token, login.integration_id
    );
    println!(
        "                 curl -H 'Authorization: Bearer {}' {base}/api/v1/integrations/{}/matrix",
        login.token, login.integration_id
    );
    serve(store, listener, args, &dir).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

async fn create_user(store: Arc<dyn Store>, email: String, org: String, role: String) -> Result<()> {
    let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
    let email =
        clef_core::text::email(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?.to_ascii_lowercase();
    let org = clef_core::text::display_name(&org).map_err(|e| anyhow::anyhow!("--org {e}"))?;
    let (password, generated) = read_or_generate_password()?;
    let password_hash = hash_password(&password).map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))?;
    let user = store
        .create_user(NewUser { org_name: org, email, password_hash, role, now: now_ms() })
        .await
        .map_err(|e| match e {
            clef_store::StoreError::Conflict(_) => {
                anyhow::anyhow!("a user with this e-mail is a member of this organisation already")
            }
            other => anyhow::Error::new(other),
        })?;
    println!("created {} ({}) in organisation {}", user.email, user.role.as_str(), user.org_name);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

/// A password piped on standard input (first line), or a generated one.
fn read_or_generate_password() -> Result<(String, bool)> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut input = String::new();
        stdin.lock().take(1024).read_to_string(&mut input)?;
        let password = input.lines().next().unwrap_or_default().to_owned();
        if !password.is_empty() {
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            return Ok((password, false));
        }
    }
    Ok((generate_password(), true))
}

/// The person with this e-mail, as a member of the organisation they joined first.
async fn person(store: &dyn Store, email: &str) -> Result<clef_store::User> {
    store.user_by_email(&email.trim().to_ascii_lowercase()).await?.context("no user with this e-mail")
}

async fn create_token(store: Arc<dyn Store>, email: String, org: Option<String>, name: String) -> Result<()> {
    let mut user = person(store.as_ref(), &email).await?;
    if let Some(org) = org {
        let m = store
            .memberships(&user.id)
            .await?
            .into_iter()
            .find(|m| m.org_name == org)
            .with_context(|| format!("{} is not a member of {org}", user.email))?;
        user = store.member(&user.id, &m.org_id).await?.context("membership")?;
    }
    let (_, secret) = clef_web::people::mint_token(store.as_ref(), &user, name, None).await?;
    println!("{secret}");
    Ok(())
}

async fn list_tokens(store: Arc<dyn Store>, email: String) -> Result<()> {
    let user = person(store.as_ref(), &email).await?;
    for m in store.memberships(&user.id).await? {
        for t in store.tokens(&user.id, &m.org_id).await? {
            let state = if t.revoked_at.is_some() { "revoked" } else { "live" };
            let used = t.last_used_at.map(|_| "used").unwrap_or("never used");
            println!("{}  {}…  {}  {}  {state}, {used}", t.id, t.prefix, t.name, m.org_name);
        }
    }
    Ok(())
}

async fn healthcheck(url: &str) -> Result<()> {
    // A minimal HTTP/1.1 GET over plain TCP: enough for a local probe, no client crate needed.
    let rest = url.strip_prefix("http://").context("--url must start with http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.context("server unreachable")?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status_line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("ready");
        Ok(())
    } else {
        bail!("not ready: {status_line}")
    }
}
