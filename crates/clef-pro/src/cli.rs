use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Clef Pro: stores the Clef CLI's reports, shows the secrets matrix and its history, and
/// opens and resolves alerts as policy violations appear and disappear in the code.
///
/// Every flag can also be set by the environment variable shown beside it, or in a TOML
/// configuration file (`--config`) under its long name: `smtp-url = "smtp://…"`.
pub const DEFAULT_DATA_DIR: &str = "clef-pro-data";

/// Precedence: a flag beats the environment, which beats the file, which beats the default.
#[derive(Parser, Debug)]
#[command(name = "clef-pro", version, about, long_about)]
pub struct Cli {
    /// TOML file of settings, keyed by flag name (`listen`, `smtp-url`, `retention-days`, …).
    #[arg(long, env = "CLEF_PRO_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Folder for the embedded database and other local state; created if missing.
    #[arg(long, env = "CLEF_PRO_DATA_DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,

    /// Database to use instead of the embedded SQLite file: `sqlite://path/to/file.db`, or
    /// `postgres://user:password@host:5432/database` (several replicas may share one).
    #[arg(long, env = "CLEF_PRO_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// File holding the key that encrypts channel secrets (webhook URLs, routing keys, signing
    /// secrets) at rest. Default: <data-dir>/secret.key, generated on first start. Replicas on
    /// one PostgreSQL database must share it; keep it apart from database backups.
    #[arg(long, env = "CLEF_PRO_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// The key itself (44 characters of base64), instead of a file; only from the environment.
    #[arg(long, env = "CLEF_PRO_SECRET_KEY", hide = true, hide_env_values = true, global = true)]
    pub secret_key: Option<String>,

    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "CLEF_PRO_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "CLEF_PRO_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve(ServeArgs),
    /// Run the server on a fresh demo database holding an organisation of four integrations
    /// with up to 90 days of history and alerts in every state; prints how to log in. Its
    /// folder is --data-dir when given (empty, or an earlier demo's), else one in the system's
    /// temp folder.
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users (and their organisations).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal access tokens for the management API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the effective configuration (default < file < environment < flag) with where
    /// each value came from; secrets masked.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the embedded SQLite database, while the server runs.
    /// (On PostgreSQL, use pg_dump; see the README.)
    Backup {
        /// File to write; must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the embedded database with a backup. Refused while a server runs on it.
    Restore {
        /// A file written by `clef-pro backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that holds data (it is kept beside, as `<name>.replaced-<time>`).
        #[arg(long)]
        force: bool,
    },
    /// Exit 0 when the server at --url answers /readyz (for container health checks).
    Healthcheck {
        #[arg(long, env = "CLEF_PRO_HEALTHCHECK_URL", default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print every setting `serve` would use and where it came from.
    Show(ServeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "CLEF_PRO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest request body in bytes; must admit a full batch (500 reports ≈ 12 MB).
    #[arg(long, env = "CLEF_PRO_BODY_LIMIT", default_value_t = 32 * 1024 * 1024)]
    pub body_limit: usize,

    /// Where the dashboard is reachable, for links in notifications
    /// (default: http://<listen address> unless it listens on all interfaces).
    #[arg(long, env = "CLEF_PRO_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Longest a request may take, upload included, in seconds.
    #[arg(long, env = "CLEF_PRO_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,

    /// Seconds a client may take to send its request headers (and its first byte).
    #[arg(long, env = "CLEF_PRO_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Test messages per channel per minute (0: unlimited); they reach real people.
    #[arg(long, env = "CLEF_PRO_TEST_SENDS_PER_MINUTE", default_value_t = 5)]
    pub test_sends_per_minute: u32,

    /// Open connections at most; further clients wait in the listen queue.
    #[arg(long, env = "CLEF_PRO_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// CI requests per second per API key (0: unlimited); answered 429 with Retry-After beyond.
    #[arg(long, env = "CLEF_PRO_API_KEY_RATE", default_value_t = 20.0)]
    pub api_key_rate: f64,

    /// Requests an API key may send at once above its rate.
    #[arg(long, env = "CLEF_PRO_API_KEY_BURST", default_value_t = 200)]
    pub api_key_burst: u32,

    /// Dashboard login attempts per minute per e-mail address (0: unlimited).
    #[arg(long, env = "CLEF_PRO_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,

    /// Let channels reach loopback, private and link-local addresses (on-premise receivers).
    /// Off, outbound notifications go only to public addresses, checked after DNS resolution.
    #[arg(long, env = "CLEF_PRO_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,

    /// Seconds one HTTP notification (Slack, Teams, PagerDuty, webhook) may take.
    #[arg(long, env = "CLEF_PRO_HTTP_TIMEOUT_SECS", default_value_t = 10)]
    pub http_timeout_secs: u64,

    /// PagerDuty's Events API v2 endpoint (for PagerDuty's EU service region, or a proxy).
    #[arg(long, env = "CLEF_PRO_PAGERDUTY_EVENTS_URL", default_value = clef_notify::pagerduty::EVENTS_URL)]
    pub pagerduty_events_url: String,

    /// Seconds a dashboard login lasts.
    #[arg(long, env = "CLEF_PRO_SESSION_TTL_SECS", default_value_t = 12 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_ttl_secs: u64,

    /// Require `Authorization: Bearer <token>` on /metrics (unset: /metrics is open).
    #[arg(long, env = "CLEF_PRO_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    #[command(flatten)]
    pub retention: RetentionArgs,

    #[command(flatten)]
    pub mail: MailArgs,
}

/// How long history is kept; every limit is off unless set.
#[derive(Args, Debug, Clone)]
pub struct RetentionArgs {
    /// Delete history reports whose commit is older than this many days. Never an
    /// integration's head, nor a report an alert names (introducing, resolving, last seen).
    #[arg(long, env = "CLEF_PRO_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,

    /// Delete sent and failed notifications (with their attempts) older than this many days.
    #[arg(long, env = "CLEF_PRO_DELIVERY_LOG_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub delivery_log_retention_days: Option<u32>,

    /// Delete audit log entries older than this many days.
    #[arg(long, env = "CLEF_PRO_AUDIT_LOG_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_log_retention_days: Option<u32>,

    /// Seconds between two retention passes (the first runs at start).
    #[arg(long, env = "CLEF_PRO_RETENTION_INTERVAL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_interval_secs: u64,
}

impl RetentionArgs {
    /// The cut-offs these settings give at `now` (all `None`: retention is off).
    pub fn at(&self, now: clef_core::Millis) -> clef_store::Retention {
        const DAY_MS: i64 = 86_400_000;
        let before = |days: Option<u32>| days.map(|d| now - i64::from(d) * DAY_MS);
        clef_store::Retention {
            reports_before: before(self.retention_days),
            deliveries_before: before(self.delivery_log_retention_days),
            audit_before: before(self.audit_log_retention_days),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// SMTP server: smtp://host:25 (plain), smtp://host:587?tls=required (STARTTLS),
    /// smtps://host:465 (TLS); credentials as smtps://user:password@host. Unset: messages are
    /// written as .eml files into <data-dir>/mail.
    #[arg(long, env = "CLEF_PRO_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of notification e-mails.
    #[arg(long, env = "CLEF_PRO_SMTP_FROM", default_value = "Clef Pro <clef-pro@localhost>")]
    pub smtp_from: String,

    /// Seconds a worker holds a claimed message before another replica may take it over.
    #[arg(long, env = "CLEF_PRO_DELIVERY_LEASE_SECS", default_value_t = 300)]
    pub delivery_lease_secs: i64,

    /// Seconds one SMTP conversation may take.
    #[arg(long, env = "CLEF_PRO_SMTP_TIMEOUT_SECS", default_value_t = 30)]
    pub smtp_timeout_secs: u64,

    /// Wait after a delivery's first failure, in milliseconds; doubles with each further one
    /// (with jitter), up to 30 minutes.
    #[arg(long, env = "CLEF_PRO_DELIVERY_RETRY_BASE_MS", default_value_t = 30_000)]
    pub delivery_retry_base_ms: i64,

    /// A message still failing this many seconds after it was queued is given up on and shown
    /// as failed in the delivery log.
    #[arg(long, env = "CLEF_PRO_DELIVERY_MAX_AGE_SECS", default_value_t = 86_400)]
    pub delivery_max_age_secs: i64,

    /// How often to look for due messages, in milliseconds (new ones are sent at once).
    #[arg(long, env = "CLEF_PRO_DELIVERY_POLL_MS", default_value_t = 1_000)]
    pub delivery_poll_ms: u64,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, and its organisation if new. The password is read from standard input
    /// when piped, otherwise generated and printed once. A person who exists already joins the
    /// organisation with the role, keeping their password.
    Create {
        #[arg(long)]
        email: String,
        /// Organisation name.
        #[arg(long)]
        org: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a personal access token for a user and print it (shown once). It acts in one
    /// organisation of theirs: `--org`, or the one they joined first.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: Option<String>,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens in each of their organisations (id, prefix, name, last use; never
    /// the secrets).
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke one of a user's tokens; it stops working at once.
    Revoke {
        #[arg(long)]
        email: String,
        /// The token's id, from `token list`.
        #[arg(long)]
        id: String,
    },
}
