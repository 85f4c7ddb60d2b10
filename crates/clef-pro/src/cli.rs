use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Clef Pro: stores the Clef CLI's reports, shows the secrets matrix and its history, and
/// opens and resolves alerts as policy violations appear and disappear in the code.
///
/// Every flag can also be set by the environment variable shown beside it.
#[derive(Parser, Debug)]
#[command(name = "clef-pro", version, about, long_about)]
pub struct Cli {
    /// Folder for the embedded database and other local state; created if missing.
    #[arg(long, env = "CLEF_PRO_DATA_DIR", default_value = "clef-pro-data", global = true)]
    pub data_dir: PathBuf,

    /// Database to use instead of the embedded SQLite file: `sqlite://path/to/file.db`.
    #[arg(long, env = "CLEF_PRO_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

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
    /// Run the server on a fresh demo database (in the system's temp folder) holding an
    /// organisation with a month of history and alerts in every state; prints how to log in.
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users (and their organisations).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal access tokens for the management API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Exit 0 when the server at --url answers /readyz (for container health checks).
    Healthcheck {
        #[arg(long, env = "CLEF_PRO_HEALTHCHECK_URL", default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "CLEF_PRO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest request body in bytes; must admit a full batch (500 reports ≈ 12 MB).
    #[arg(long, env = "CLEF_PRO_BODY_LIMIT", default_value_t = 32 * 1024 * 1024)]
    pub body_limit: usize,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, and its organisation if new. The password is read from standard input
    /// when piped, otherwise generated and printed once.
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
    /// Create a personal access token for a user and print it (shown once).
    Create {
        #[arg(long)]
        email: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}
