//! The files of a store on disk besides the connection: the companions
//! SQLite keeps next to the database, moving them all aside for
//! [`super::SqliteStore::open_fresh`], and making directory changes durable.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::store_error;
use crate::Error;

/// `path` with `suffix` appended to its file name (`x.db` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the creation or renaming of entries of `path`'s directory durable.
pub(super) fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The files that make up a SQLite database next to the main one. The main
/// file (`""`) is last: see [`move_aside`].
const COMPANIONS: [&str; 4] = ["-wal", "-shm", "-journal", ""];

/// Also true for a dangling symlink: something is there all the same.
pub(super) fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Renames the database at `path` and its companions to
/// `<path>.bak-<unix-seconds>` (plus `.1`, `.2`... if taken), keeping the
/// `-wal` suffix convention so the backup opens as a database with its log.
/// Returns the new name, or `None` if there was nothing to move.
///
/// The companions move first: if the process dies half way, the database is
/// left without its log (older but consistent, and the log sits next to the
/// backup name) rather than a new database next to a stale log (which
/// SQLite would delete on open).
pub(super) fn move_aside(path: &Path) -> Result<Option<PathBuf>, Error> {
    if !COMPANIONS.iter().any(|s| exists(&with_suffix(path, s))) {
        return Ok(None);
    }
    if exists(path) && !path.is_file() {
        return Err(store_error(path, "not a regular file; refusing to move it"));
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let backup = (0u32..)
        .map(|n| match n {
            0 => with_suffix(path, &format!(".bak-{secs}")),
            n => with_suffix(path, &format!(".bak-{secs}.{n}")),
        })
        .find(|b| !COMPANIONS.iter().any(|s| exists(&with_suffix(b, s))))
        .ok_or_else(|| store_error(path, "no free backup name to move it to"))?;
    for suffix in COMPANIONS {
        let from = with_suffix(path, suffix);
        if exists(&from) {
            let to = with_suffix(&backup, suffix);
            std::fs::rename(&from, &to).map_err(|e| {
                store_error(
                    path,
                    format!("cannot move {} to {}: {e}", from.display(), to.display()),
                )
            })?;
        }
    }
    sync_parent_dir(path).map_err(|e| store_error(path, format!("cannot sync directory: {e}")))?;
    Ok(Some(backup))
}
