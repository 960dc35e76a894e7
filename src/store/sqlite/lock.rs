//! The advisory lock that keeps a store file to one [`super::SqliteStore`].
//!
//! A POSIX record lock (`fcntl(F_SETLK)`) on `<path>.lock` refuses a second
//! opener in another process. Unlike `flock`, it is not inherited by a
//! child the host forks (a child that never execs would otherwise hold the
//! store locked until it exits, and block the host's own restart). POSIX
//! locks do not exclude the process that holds them, and closing *any*
//! descriptor of the file would drop them, so a small in-process registry of
//! held lock files (by device and inode) refuses a second opener in this
//! process before it even opens the file. The kernel drops the lock when the
//! holder dies, even by SIGKILL, so there is no stale lock to clean up. The
//! lock file itself is left in place: deleting it would let two openers lock
//! two different inodes.
//!
//! This is the first of two locks: the connection also holds SQLite's own
//! exclusive lock for its whole life (`locking_mode = EXCLUSIVE`), which
//! keeps out other SQLite programs that know nothing of the lock file.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// A held lock; released when dropped (the file is closed).
#[derive(Debug)]
pub(super) struct LockFile {
    /// Closed in `drop` while the registry is locked: closing a descriptor
    /// drops every POSIX lock of this process on the file, so it must not
    /// race with another store of this process taking it. (Only dropped,
    /// never read: holding it open is the point.)
    #[allow(dead_code)]
    file: Option<File>,
    /// The lock file's (device, inode), in the registry while held.
    key: Option<(u64, u64)>,
}

/// `<db>.lock`.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Lock files held by stores of this process.
fn held() -> &'static Mutex<HashSet<(u64, u64)>> {
    static HELD: OnceLock<Mutex<HashSet<(u64, u64)>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashSet::new()))
}

impl Drop for LockFile {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut held = held()
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            held.remove(&key);
        }
    }
}

impl LockFile {
    /// Takes the lock of the store at `db`, or fails at once if anyone holds
    /// it.
    #[cfg(unix)]
    pub(super) fn acquire(db: &Path) -> Result<LockFile, Error> {
        use std::io::{Seek, SeekFrom, Write};
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        use std::os::unix::io::AsRawFd;

        let path = lock_path(db);
        let in_use = |holder: String| {
            super::store_error(
                db,
                format!(
                    "in use: locked by another mqlite store{holder} (lock file {})",
                    path.display()
                ),
            )
        };
        // Held for the whole check-and-lock, so two stores of this process
        // cannot race.
        let mut registry = held()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Ok(meta) = std::fs::metadata(&path) {
            if registry.contains(&(meta.dev(), meta.ino())) {
                return Err(in_use(" in this process".to_string()));
            }
        }
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
        let meta = file.metadata().map_err(|e| {
            super::store_error(db, format!("cannot stat lock file {}: {e}", path.display()))
        })?;
        let key = (meta.dev(), meta.ino());
        if registry.contains(&key) {
            return Err(in_use(" in this process".to_string()));
        }
        // SAFETY: an all-zero `flock` is a valid value of this plain C struct.
        let mut request: libc::flock = unsafe { std::mem::zeroed() };
        request.l_type = libc::F_WRLCK as libc::c_short;
        request.l_whence = libc::SEEK_SET as libc::c_short;
        // l_start = 0, l_len = 0: the whole file.
        // SAFETY: `file` is open for the call; `request` is a valid flock.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &request) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if matches!(err.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) {
                // Ask the kernel who holds it, for the message.
                let mut probe = request;
                // SAFETY: as above; F_GETLK writes into `probe`.
                let asked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut probe) };
                let holder = if asked == 0 && probe.l_type != libc::F_UNLCK as libc::c_short {
                    format!(" (pid {})", probe.l_pid)
                } else {
                    String::new()
                };
                return Err(in_use(holder));
            }
            return Err(super::store_error(
                db,
                format!("cannot lock {}: {err}", path.display()),
            ));
        }
        registry.insert(key);
        // For people looking at the file; failing is harmless.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(LockFile {
            file: Some(file),
            key: Some(key),
        })
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
        Ok(LockFile {
            file: Some(file),
            key: None,
        })
    }
}
