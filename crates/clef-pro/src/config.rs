//! The configuration file and the layering of settings.
//!
//! clap already layers a flag over its environment variable over its default. The file's
//! settings are installed as the defaults before parsing, so clap's own precedence gives
//! default < file < environment < flag with one definition of every setting (the `Cli`
//! structs) and no merging of our own.

use crate::cli::Cli;
use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The subcommand whose flags a file may set besides the global ones; they are set wherever
/// the same flag appears (`serve`, `demo`, `config show`).
const SERVER_COMMAND: &str = "serve";

/// The parsed command line, and what it needs to explain itself.
pub struct Parsed {
    pub cli: Cli,
    /// Settings the file gave (their ids), for `config show`.
    from_file: BTreeSet<String>,
    file: Option<PathBuf>,
    matches: ArgMatches,
    /// What the file held that is not a setting: reported once logging is up.
    pub warnings: Vec<String>,
}

/// Parses `args` (the program name first) over the configuration file they or the environment
/// name. Exits like clap on a bad flag; fails on an unreadable or malformed file.
pub fn parse(args: Vec<OsString>) -> Result<Parsed> {
    let file = config_path(&args);
    let mut command = Cli::command();
    let mut from_file = BTreeSet::new();
    let mut warnings = Vec::new();
    if let Some(path) = &file {
        let table = read(path)?;
        let known: Vec<(String, String)> = settable(&command)
            .iter()
            .filter_map(|a| Some((a.get_long()?.to_owned(), a.get_id().to_string())))
            .collect();
        for (key, value) in table {
            let name = key.replace('_', "-");
            let Some(id) = known.iter().find(|(long, _)| *long == name).map(|(_, id)| id.clone()) else {
                let hint = known
                    .iter()
                    .map(|(long, _)| (strsim::jaro_winkler(long, &name), long))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, long)| format!(" (did you mean `{long}`?)"))
                    .unwrap_or_default();
                warnings.push(format!("{}: unknown key `{key}` ignored{hint}", path.display()));
                continue;
            };
            let value = scalar(&value).with_context(|| {
                format!("{}: `{key}` must be a string, a number or true/false", path.display())
            })?;
            command = set_default(command, &id, &value);
            from_file.insert(id);
        }
    }
    let matches = command.try_get_matches_from(args).unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    Ok(Parsed { cli, from_file, file, matches, warnings })
}

/// `--config FILE`, `--config=FILE` or `CLEF_PRO_CONFIG`: needed before clap parses.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("CLEF_PRO_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn read(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse::<toml::Table>().with_context(|| format!("{} is not valid TOML", path.display()))
}

/// The settings a file may hold (and `config show` prints): the global flags and the server's.
fn settable(command: &clap::Command) -> Vec<clap::Arg> {
    let server = command.find_subcommand(SERVER_COMMAND).into_iter().flat_map(|c| c.get_arguments());
    command
        .get_arguments()
        .chain(server)
        .filter(|a| a.get_long().is_some_and(|long| !matches!(long, "config" | "help" | "version")))
        .cloned()
        .collect()
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Makes `value` the default of flag `id` wherever it appears, subcommands included.
fn set_default(command: clap::Command, id: &str, value: &str) -> clap::Command {
    let value = value.to_owned();
    let has = |c: &clap::Command| c.get_arguments().any(|a| a.get_id() == id);
    let mut command =
        if has(&command) { command.mut_arg(id, |a| a.default_value(value.clone())) } else { command };
    let names: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| set_default(sub, id, &value));
    }
    command
}

impl Parsed {
    /// Every setting the server would run with, as TOML a file could hold, each followed by
    /// where it came from. Secrets are masked.
    pub fn show(&self) -> String {
        let mut out = String::from("# effective configuration: default < file < environment < flag\n");
        let leaf = leaf(&self.matches);
        // `config show` takes the server's flags, so the settable ones are what it parsed.
        for arg in settable(&Cli::command()) {
            let (long, id) = (arg.get_long().unwrap_or_default(), arg.get_id().as_str());
            let matches =
                if self.matches.try_contains_id(id).unwrap_or(false) { &self.matches } else { leaf };
            let value = matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .and_then(|mut v| v.next())
                .map(|v| v.to_string_lossy().into_owned());
            let source = match matches.value_source(id) {
                Some(ValueSource::CommandLine) => "flag".to_owned(),
                Some(ValueSource::EnvVariable) => {
                    format!("environment {}", arg.get_env().map(|e| e.to_string_lossy()).unwrap_or_default())
                }
                _ if self.from_file.contains(id) => match &self.file {
                    Some(file) => format!("file {}", file.display()),
                    None => "file".to_owned(),
                },
                _ => "default".to_owned(),
            };
            match value {
                Some(v) => {
                    let v = if arg.is_hide_env_values_set() { mask(&v) } else { v };
                    out.push_str(&format!("{long} = {}  # {source}\n", toml_value(&v)));
                }
                None => out.push_str(&format!("# {long} is not set\n")),
            }
        }
        out
    }
}

/// The innermost subcommand's matches (`config show`'s).
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

/// A URL keeps everything but its password; anything else is masked whole.
fn mask(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                let _ = url.set_password(Some("****"));
            }
            url.to_string()
        }
        _ => "****".to_owned(),
    }
}

/// Numbers and booleans bare, anything else as a TOML string.
fn toml_value(raw: &str) -> String {
    if raw.parse::<i64>().is_ok()
        || raw.parse::<f64>().is_ok_and(f64::is_finite)
        || matches!(raw, "true" | "false")
    {
        raw.to_owned()
    } else {
        toml::Value::String(raw.to_owned()).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_all_but_their_password() {
        assert_eq!(mask("postgres://clef:s3cret@db:5432/clef"), "postgres://clef:****@db:5432/clef");
        assert_eq!(mask("smtp://mail.example:25"), "smtp://mail.example:25");
        assert_eq!(mask("a-metrics-token"), "****");
    }

    #[test]
    fn values_print_as_toml() {
        assert_eq!(toml_value("8080"), "8080");
        assert_eq!(toml_value("true"), "true");
        assert_eq!(toml_value("Clef Pro <a@b>"), "\"Clef Pro <a@b>\"");
        assert_eq!(toml_value("inf"), "\"inf\"");
    }
}
