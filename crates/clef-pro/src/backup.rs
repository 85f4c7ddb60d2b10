//! Backup and restore of the embedded database, and the lock that keeps a restore from
//! pulling the file out from under a running server.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where the embedded database lives: `--database-url sqlite://…` or `<data-dir>/clef-pro.db`.
/// `None` on PostgreSQL.
pub fn sqlite_path(database_url: Option<&str>, data_dir: &Path) -> Option<PathBuf> {
    match database_url {
        None => Some(data_dir.join("clef-pro.db")),
        Some(url) => {
            let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
            Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
        }
    }
}

/// Held by every server on a database file for its whole life; a restore needs it alone.
pub struct ServerLock {
    _file: File,
}

fn lock_file(db: &Path) -> Result<File> {
    if let Some(dir) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(&name))
        .with_context(|| format!("cannot open {}", Path::new(&name).display()))
}

/// Taken by `serve`: shared, so several servers may share a file, but never with a restore.
pub fn lock_for_serving(db: &Path) -> Result<ServerLock> {
    let file = lock_file(db)?;
    file.try_lock_shared().map_err(|_| {
        anyhow::anyhow!("{} is being restored; start the server once the restore is done", db.display())
    })?;
    Ok(ServerLock { _file: file })
}

/// `clef-pro backup`: a consistent copy, written under a temporary name and moved into place,
/// so a backup that fails half way leaves no file that looks complete.
pub async fn backup(db: &Path, out: &Path) -> Result<()> {
    if !db.exists() {
        bail!("there is no database at {}", db.display());
    }
    if out.exists() {
        bail!("{} exists already; choose a new file", out.display());
    }
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let partial = tempfile::Builder::new()
        .prefix(".clef-pro-backup-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?
        .into_temp_path();
    // VACUUM INTO writes only into an absent (or empty) file.
    std::fs::remove_file(&partial)?;
    clef_store_sqlite::backup(db, &partial).await.context("the backup failed")?;
    File::open(&partial)?.sync_all()?;
    partial
        .persist_noclobber(out)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let size = std::fs::metadata(out)?.len();
    println!("backup written: {} ({size} bytes)", out.display());
    Ok(())
}

/// `clef-pro restore`: refused while any server holds the database; the backup is checked,
/// copied beside the database, and moved into place in one rename.
pub async fn restore(db: &Path, from: &Path, force: bool) -> Result<()> {
    let version = clef_store_sqlite::check_backup(from)
        .await
        .with_context(|| format!("{} cannot be restored", from.display()))?;
    let lock = lock_file(db)?;
    let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if lock.try_lock().is_err() {
        bail!("a Clef Pro server is running on {}: stop it before restoring", db.display());
    }
    let holds_data = db.exists() && std::fs::metadata(db)?.len() > 0;
    if holds_data && !force {
        bail!("{} holds a database already: pass --force to replace it (it is kept beside)", db.display());
    }
    let staged = tempfile::Builder::new().prefix(".clef-pro-restore-").tempfile_in(dir)?.into_temp_path();
    std::fs::copy(from, &staged).with_context(|| format!("cannot copy {}", from.display()))?;
    File::open(&staged)?.sync_all()?;
    if holds_data {
        let kept = with_suffix(db, &format!("replaced-{}", clef_store::now_ms()));
        std::fs::rename(db, &kept)?;
        println!("the database it replaces is kept as {}", kept.display());
    }
    // The old file's write-ahead log must not meet the new file.
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(db, suffix);
        if side.exists() {
            std::fs::remove_file(&side).with_context(|| format!("cannot remove {}", side.display()))?;
        }
    }
    staged.persist(db).map_err(|e| e.error).with_context(|| format!("cannot write {}", db.display()))?;
    drop(lock);
    println!("restored {} (schema {version}) into {}", from.display(), db.display());
    Ok(())
}

/// `path` with `suffix` appended to its file name (`.db-wal`, `.db.replaced-…`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    if !suffix.starts_with('-') {
        name.push(".");
    }
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_database_file_is_found_from_the_url_or_the_data_folder() {
        let dir = Path::new("/srv/clef");
        assert_eq!(sqlite_path(None, dir), Some(dir.join("clef-pro.db")));
        assert_eq!(sqlite_path(Some("sqlite:///var/x.db?mode=rwc"), dir), Some(PathBuf::from("/var/x.db")));
        assert_eq!(sqlite_path(Some("postgres://db/clef"), dir), None);
    }

    #[test]
    fn a_restore_waits_for_every_server_to_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("clef-pro.db");
        let serving = lock_for_serving(&db).unwrap();
        assert!(lock_for_serving(&db).is_ok(), "servers share the file");
        assert!(lock_file(&db).unwrap().try_lock().is_err());
        drop(serving);
        assert!(lock_file(&db).unwrap().try_lock().is_ok());
    }
}
