//! The advisory lock that keeps a store file to one [`super::SqliteStore`].
//!
//! `flock(2)` on `<path>.lock`, non-blocking. An `flock` belongs to the open
//! file description, so it refuses a second opener in another process *and*
//! in this one (a second `open(2)` of the lock file gets its own
//! description). The kernel drops it when the holder dies, even by SIGKILL,
//! so there is no stale lock to clean up. The lock file itself is left in
//! place: deleting it would let two openers lock two different inodes.
//!
//! This is the first of two locks: the connection also holds SQLite's own
//! exclusive lock for its whole life (`locking_mode = EXCLUSIVE`), which
//! keeps out other SQLite programs that know nothing of the lock file.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Error;

/// A held lock; released when dropped (the file is closed).
#[derive(Debug)]
pub(super) struct LockFile {
    _file: File,
}

/// `<db>.lock`.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl LockFile {
    /// Takes the lock of the store at `db`, or fails at once if anyone holds
    /// it.
    #[cfg(unix)]
    pub(super) fn acquire(db: &Path) -> Result<LockFile, Error> {
        use std::io::{Read, Seek, SeekFrom, Write};
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;

        let path = lock_path(db);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(|e| {
                super::store_error(db, format!("cannot open lock file {}: {e}", path.display()))
            })?;
        // SAFETY: `file` is an open descriptor for the duration of the call;
        // flock only reads the descriptor and the flags.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                // Best effort: the holder writes its pid after locking.
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                return Err(super::store_error(
                    db,
                    format!(
                        "in use: locked by another mqlite store{holder}, in another process or \
                         this one (lock file {})",
                        path.display()
                    ),
                ));
            }
            return Err(super::store_error(
                db,
                format!("cannot lock {}: {err}", path.display()),
            ));
        }
        // For the error message of the next opener; failing is harmless.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(LockFile { _file: file })
    }

    /// Without `flock`, SQLite's own exclusive lock is the only guard.
    #[cfg(not(unix))]
    pub(super) fn acquire(db: &Path) -> Result<LockFile, Error> {
        let path = lock_path(db);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                super::store_error(db, format!("cannot open lock file {}: {e}", path.display()))
            })?;
        Ok(LockFile { _file: file })
    }
}
