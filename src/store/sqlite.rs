//! The SQLite store: one file, WAL journal, one transaction per reactor pass.
//!
//! # Durability
//!
//! [`SessionStore::apply`] commits once per call with `synchronous = FULL`,
//! so when it returns `Ok` the WAL has been fsynced and the batch survives a
//! crash or a power cut. The broker calls it once per reactor pass with
//! everything the pass produced (group commit; [`SessionStore::apply_all`]
//! for several passes at once), so the fsync is paid once per pass, not
//! once per message. A batch of queue operations is committed as one row
//! of an op log, folded into the tables by [`SessionStore::maintain`]
//! between commits (see `op_log.rs`).
//!
//! # Exclusion
//!
//! A store holds two locks for its whole life: a POSIX record lock on
//! `<path>.lock` (refuses a second mqlite, in another process or this one,
//! at once; see `lock.rs`) and SQLite's own exclusive lock
//! (`locking_mode = EXCLUSIVE`, refuses any other SQLite program; it also
//! spares SQLite the shared-memory index and the lock / unlock calls of
//! every transaction). The busy timeout is 0: a second opener fails at once
//! instead of waiting.
//!
//! # Message expiry
//!
//! The core's expiry deadlines are in the broker's clock, whose zero is
//! different in every process (see [`crate::store`]). The file keeps them
//! as Unix milliseconds: the store adds the zero of the broker's clock and
//! subtracts the zero of the process that loads them, saturating at 0. So a message's remaining time
//! keeps running while the broker is down, by the system clock: one whose
//! deadline passed meanwhile comes back expired and is dropped.
//!
//! # Refusals
//!
//! Opening never wipes anything. It refuses, with an [`Error::Store`] naming
//! the file: a file that is not a SQLite database, one that fails
//! `PRAGMA quick_check`, a schema newer than this code (`user_version`), a
//! SQLite file of another program, and a file in use. To start over, use
//! [`SqliteStore::open_fresh`], which moves the old file aside.

mod apply;
mod clock;
mod files;
mod lock;
mod log_codec;
mod log_fold;
mod op_log;
mod pages;
mod schema;
mod snapshot;
mod statements;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{SessionStore, Snapshot, StoreOp, StoredMessage};
use crate::Error;

use apply::LogState;
use clock::ClockZero;
use files::{exists, move_aside, sync_parent_dir};
use lock::LockFile;
use schema::{APPLICATION_ID, CURRENT_VERSION, MIGRATIONS};
use statements::APPLY_STATEMENTS;

/// A [`SessionStore`] in one SQLite file (plus its `-wal` and a `.lock`
/// file next to it).
///
/// Open it with [`SqliteStore::open`]; it holds the file exclusively until
/// dropped.
#[derive(Debug)]
pub struct SqliteStore {
    // Declared first so it closes (and checkpoints) before the lock goes.
    conn: Connection,
    path: PathBuf,
    moved_aside: Option<PathBuf>,
    /// When the broker's clock read 0 (see "Message expiry" above).
    clock_zero: ClockZero,
    /// The op log's size and the next message id (see `op_log.rs`).
    log: LogState,
    _lock: LockFile,
}

/// Builds an [`Error::Store`] for the file at `path`.
fn store_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Store {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Builds an [`Error::Store`] from a SQLite error, saying what was being done
/// and, for the errors an operator can act on, what it means.
fn sql_error(path: &Path, doing: &str, err: &rusqlite::Error) -> Error {
    let meaning = match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            "not a SQLite database (or its header is corrupt); refusing to touch it \
             (move it away or use a fresh store)"
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            "the database is corrupt; refusing to touch it (move it away or use a fresh store)"
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "in use: locked by another process"
        }
        Some(ErrorCode::DiskFull) => "the disk is full",
        Some(ErrorCode::ReadOnly) => "the file is read-only",
        Some(ErrorCode::CannotOpen) => "the file cannot be opened",
        Some(ErrorCode::PermissionDenied) => "permission denied",
        _ => "",
    };
    let reason = if meaning.is_empty() {
        format!("{doing}: {err}")
    } else {
        format!("{doing}: {meaning} ({err})")
    };
    store_error(path, reason)
}
/// Refuses, with a message that says so, a store whose directory does not
/// exist or whose file exists but cannot be written (which SQLite would
/// otherwise open read-only, and then fail to use with a vague "disk I/O
/// error").
fn check_place(path: &Path) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(store_error(
                path,
                format!("{} is not a directory", dir.display()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(store_error(
                path,
                format!("the directory {} does not exist", dir.display()),
            ))
        }
        Err(e) => {
            return Err(store_error(
                path,
                format!("cannot reach the directory {}: {e}", dir.display()),
            ))
        }
    }
    if path.is_file() {
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            let read_only = e.kind() == std::io::ErrorKind::PermissionDenied || is_read_only_fs(&e);
            let reason = if read_only {
                format!("the file is read-only (not writable by this user): {e}")
            } else {
                format!("cannot open it for writing: {e}")
            };
            return Err(store_error(path, reason));
        }
    }
    Ok(())
}

/// Whether `error` is "read-only file system".
fn is_read_only_fs(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(libc::EROFS)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating it if it does not exist and
    /// migrating an older schema.
    ///
    /// # Errors
    /// [`Error::Store`] naming the file when it is in use by another store
    /// (this process or another), is not a SQLite database, is corrupt, was
    /// written by a newer mqlite, belongs to another program, or cannot be
    /// created. The file is not modified in these cases.
    pub fn open(path: &Path) -> Result<SqliteStore, Error> {
        check_place(path)?;
        let lock = LockFile::acquire(path)?;
        SqliteStore::open_locked(path, lock, None)
    }

    /// Starts an empty store at `path`. An existing file there (with its
    /// `-wal` / `-shm`) is moved aside to `<path>.bak-<unix-seconds>`, never
    /// deleted; see [`SqliteStore::moved_aside`].
    ///
    /// # Errors
    /// [`Error::Store`] naming the file when it is in use by another store,
    /// or cannot be moved or created.
    pub fn open_fresh(path: &Path) -> Result<SqliteStore, Error> {
        check_place(path)?;
        let lock = LockFile::acquire(path)?;
        let backup = move_aside(path)?;
        if let Some(backup) = &backup {
            log::warn!(
                "persistence file {}: moved the old file aside to {}",
                path.display(),
                backup.display()
            );
        }
        SqliteStore::open_locked(path, lock, backup)
    }

    /// The file of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where [`SqliteStore::open_fresh`] moved the previous file, if there
    /// was one.
    pub fn moved_aside(&self) -> Option<&Path> {
        self.moved_aside.as_deref()
    }

    fn open_locked(
        path: &Path,
        lock: LockFile,
        moved_aside: Option<PathBuf>,
    ) -> Result<SqliteStore, Error> {
        let created = !exists(path);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql_error(path, "cannot open", &e))?;
        // SQLite falls back to read-only when it cannot write the file; the
        // store needs to write.
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(false)
        {
            return Err(store_error(
                path,
                "the file is read-only (SQLite cannot open it for writing)",
            ));
        }
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            moved_aside,
            clock_zero: ClockZero::now(),
            log: LogState::new(1),
            _lock: lock,
        };
        store.configure_and_check()?;
        store.migrate()?;
        store.prepare_statements()?;
        // What a crash left in the log goes to the tables before anything
        // reads them.
        op_log::fold_log(
            &mut store.conn,
            &store.path,
            store.clock_zero,
            &mut store.log,
        )?;
        store.log.next_message_id = store.read_next_message_id()?;
        if created {
            sync_parent_dir(path)
                .map_err(|e| store_error(path, format!("cannot sync directory: {e}")))?;
        }
        Ok(store)
    }

    /// The next message id as the file keeps it.
    fn read_next_message_id(&self) -> Result<u64, Error> {
        let next: i64 = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'next_message_id'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.err("cannot read the next message id", &e))?;
        Ok(u64::try_from(next).unwrap_or(1).max(1))
    }

    fn err(&self, doing: &str, e: &rusqlite::Error) -> Error {
        sql_error(&self.path, doing, e)
    }

    /// Connection settings, then the checks that must pass before anything
    /// is written.
    fn configure_and_check(&self) -> Result<(), Error> {
        let conn = &self.conn;
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| self.err("cannot set the busy timeout", &e))?;
        // Taken at the first read below and held until the connection
        // closes. In WAL mode this also keeps the WAL index in heap memory
        // (no `-shm` mapping).
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(|e| self.err("cannot set the locking mode", &e))?;

        // The first read: fails with "not a database" on a foreign file,
        // with "busy" if another SQLite program holds it.
        let problems = {
            let mut stmt = conn
                .prepare("PRAGMA quick_check(5)")
                .map_err(|e| self.err("cannot read it", &e))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(|e| self.err("cannot read it", &e))?;
            rows.collect::<Result<Vec<String>, _>>()
                .map_err(|e| self.err("cannot read it", &e))?
        };
        if problems != ["ok"] {
            return Err(store_error(
                &self.path,
                format!(
                    "the database is corrupt (quick_check: {}); refusing to touch it (move it \
                     away or use a fresh store)",
                    problems.join("; ")
                ),
            ));
        }

        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| self.err("cannot read the schema version", &e))?;
        if version > CURRENT_VERSION {
            return Err(store_error(
                &self.path,
                format!(
                    "schema version {version} is newer than version {CURRENT_VERSION}, the \
                     newest this mqlite knows: a newer mqlite wrote it; run that version, or \
                     start a fresh store"
                ),
            ));
        }
        if version < 0 {
            return Err(store_error(
                &self.path,
                format!("schema version {version} is not an mqlite one; refusing to touch it"),
            ));
        }
        let application_id: i32 = conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(|e| self.err("cannot read the application id", &e))?;
        if version > 0 && application_id != APPLICATION_ID {
            return Err(store_error(
                &self.path,
                format!(
                    "not an mqlite store (application_id {application_id:#x}, schema version \
                     {version}); refusing to touch it"
                ),
            ));
        }
        if version == 0 {
            let objects: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
                .map_err(|e| self.err("cannot read the schema", &e))?;
            if objects > 0 {
                return Err(store_error(
                    &self.path,
                    format!(
                        "a SQLite database with {objects} tables or indexes but no mqlite \
                         schema: not an mqlite store; refusing to touch it"
                    ),
                ));
            }
        }

        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| self.err("cannot set the WAL journal mode", &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(store_error(
                &self.path,
                format!("cannot use the WAL journal mode (got `{mode}`)"),
            ));
        }
        // FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at
        // each commit (it syncs only at checkpoints), so a power cut can
        // lose the last transactions, which stay consistent but may include
        // messages already acknowledged with PUBACK / PUBREC. The guarantee
        // is that every acknowledged message survives a power cut, so every
        // commit syncs the WAL. Group commit (one `apply` per reactor pass)
        // is what keeps this affordable.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| self.err("cannot set synchronous", &e))?;
        // On macOS a plain fsync does not flush the drive's cache; F_FULLFSYNC
        // does. No effect elsewhere.
        conn.pragma_update(None, "fullfsync", true)
            .map_err(|e| self.err("cannot set fullfsync", &e))?;
        conn.pragma_update(None, "checkpoint_fullfsync", true)
            .map_err(|e| self.err("cannot set checkpoint_fullfsync", &e))?;
        // The schema declares no foreign keys: `apply` maintains the
        // references itself (and ops for unknown sessions must be harmless,
        // which enforced keys would turn into errors).
        conn.pragma_update(None, "foreign_keys", false)
            .map_err(|e| self.err("cannot set foreign_keys", &e))?;
        // After a big transaction the WAL would otherwise keep its size.
        conn.pragma_update(None, "journal_size_limit", 64i64 << 20)
            .map_err(|e| self.err("cannot set journal_size_limit", &e))?;
        // Checkpoints are `maintain`'s, between commits (see `op_log.rs`),
        // and closing the store's.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| self.err("cannot set wal_autocheckpoint", &e))?;
        Ok(())
    }

    /// Brings the schema to [`CURRENT_VERSION`] in one transaction. Run even
    /// when current: the write transaction takes SQLite's exclusive lock now
    /// rather than at the first `apply`.
    fn migrate(&mut self) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&path, "cannot lock the database", &e))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| sql_error(&path, "cannot read the schema version", &e))?;
        let from = usize::try_from(version).unwrap_or(0);
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.execute_batch(sql).map_err(|e| {
                sql_error(
                    &path,
                    &format!("cannot migrate the schema to version {}", step + 1),
                    &e,
                )
            })?;
        }
        if from < MIGRATIONS.len() {
            tx.pragma_update(None, "user_version", CURRENT_VERSION)
                .map_err(|e| sql_error(&path, "cannot set the schema version", &e))?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(|e| sql_error(&path, "cannot set the application id", &e))?;
            if from > 0 {
                log::info!(
                    "persistence file {}: migrated the schema from version {from} to \
                     {CURRENT_VERSION}",
                    path.display()
                );
            }
        }
        tx.commit()
            .map_err(|e| sql_error(&path, "cannot commit the schema", &e))
    }

    /// Prepares every statement of `apply` once: checks the schema has what
    /// they need, and fills the statement cache.
    fn prepare_statements(&self) -> Result<(), Error> {
        self.conn
            .set_prepared_statement_cache_capacity(APPLY_STATEMENTS.len() + 8);
        for sql in APPLY_STATEMENTS {
            self.conn.prepare_cached(sql).map_err(|e| {
                self.err(
                    "the schema does not match this mqlite (a statement does not compile)",
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

impl SessionStore for SqliteStore {
    /// Reads everything, after deleting leftovers no session refers to
    /// (orphaned bodies, rows of unknown sessions). A `Released` message
    /// comes with an empty body: topic `""`, payload `b""`, retain `false`,
    /// its delivered QoS and its original `message_id`. Retained messages
    /// come with the retain flag set. Expiry deadlines come back in the
    /// broker's clock.
    fn load(&mut self) -> Result<Snapshot, Error> {
        op_log::fold_log(&mut self.conn, &self.path, self.clock_zero, &mut self.log)?;
        self.clock_zero = ClockZero::now();
        snapshot::load(&mut self.conn, &self.path, self.clock_zero)
    }

    /// Applies the whole slice in one transaction (nothing at all for an
    /// empty slice). Ops on a session that does not exist change nothing.
    /// A `MessageStore` whose id is not above every id stored before is an
    /// error (the batch is rolled back); a `SessionMessageAdd` with a `seq`
    /// already used by that session replaces that entry.
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error> {
        self.apply_all(&[ops])
    }

    /// All the batches in one transaction, as one batch.
    fn apply_all(&mut self, batches: &[&[StoreOp]]) -> Result<(), Error> {
        apply::apply(
            &mut self.conn,
            &self.path,
            self.clock_zero,
            batches,
            &mut self.log,
        )
    }

    /// Compacts the op log and checkpoints the journal when they have grown.
    fn maintain(&mut self) -> Result<(), Error> {
        op_log::maintain(&mut self.conn, &self.path, self.clock_zero, &mut self.log)
    }

    /// One indexed range read, outside any write transaction (after the op
    /// log, if it holds anything, was folded into the tables).
    fn load_queued(
        &mut self,
        client_id: &str,
        after_seq: Option<u64>,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, Error> {
        if self.log.bytes > 0 {
            op_log::fold_log(&mut self.conn, &self.path, self.clock_zero, &mut self.log)?;
        }
        pages::load_queued(
            &self.conn,
            &self.path,
            self.clock_zero,
            client_id,
            after_seq,
            max_messages,
            max_bytes,
        )
    }
}

/// A store closed cleanly leaves its op log folded, so that the tables
/// alone say everything (for `sqlite3` and other readers of the file).
impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.log.bytes == 0 {
            return;
        }
        if let Err(err) =
            op_log::fold_log(&mut self.conn, &self.path, self.clock_zero, &mut self.log)
        {
            log::warn!("{err} (the next open folds it)");
        }
    }
}

#[cfg(test)]
mod tests;
