//! The SQLite store: one file, WAL journal, one transaction per reactor pass.
//!
//! # Durability
//!
//! [`SessionStore::apply`] commits once per call with `synchronous = FULL`,
//! so when it returns `Ok` the WAL has been fsynced and the batch survives a
//! crash or a power cut. The broker calls it once per reactor pass with
//! everything the pass produced (group commit), so the fsync is paid once
//! per pass, not once per message.
//!
//! # Exclusion
//!
//! A store holds two locks for its whole life: an `flock` on `<path>.lock`
//! (refuses a second mqlite, in another process or this one, at once) and
//! SQLite's own exclusive lock (`locking_mode = EXCLUSIVE`, refuses any other
//! SQLite program; it also spares SQLite the shared-memory index and the
//! lock / unlock calls of every transaction). The busy timeout is 0: a
//! second opener fails at once instead of waiting.
//!
//! # Refusals
//!
//! Opening never wipes anything. It refuses, with an [`Error::Store`] naming
//! the file: a file that is not a SQLite database, one that fails
//! `PRAGMA quick_check`, a schema newer than this code (`user_version`), a
//! SQLite file of another program, and a file in use. To start over, use
//! [`SqliteStore::open_fresh`], which moves the old file aside.

mod lock;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{SessionStore, Snapshot, StoreOp, StoredMessage, StoredSession, StoredState};
use crate::codec::{PacketId, QoS};
use crate::core::Message;
use crate::Error;

use lock::LockFile;
use schema::{APPLICATION_ID, CURRENT_VERSION, MIGRATIONS};

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
    _lock: LockFile,
}

// Session message states, as stored.
const QUEUED: i64 = 0;
const SENT: i64 = 1;
const RELEASED: i64 = 2;

// The statements of `apply`, prepared (and cached) at open.
const INSERT_SESSION: &str = "INSERT OR IGNORE INTO sessions (client_id) VALUES (?1)";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE client_id = ?1";
/// Deletes the bodies that only this session's queue holds.
const DELETE_SESSION_BODIES: &str = "DELETE FROM messages WHERE id IN (
    SELECT message_id FROM session_messages WHERE client_id = ?1 AND state < 2)
  AND NOT EXISTS (SELECT 1 FROM session_messages AS o
    WHERE o.message_id = messages.id AND o.state < 2 AND o.client_id <> ?1)";
const DELETE_SESSION_MESSAGES: &str = "DELETE FROM session_messages WHERE client_id = ?1";
const DELETE_SUBSCRIPTIONS: &str = "DELETE FROM subscriptions WHERE client_id = ?1";
const DELETE_INBOUND: &str = "DELETE FROM inbound_qos2 WHERE client_id = ?1";
const SUBSCRIBE: &str = "INSERT INTO subscriptions (client_id, filter, qos)
  SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)
  ON CONFLICT (client_id, filter) DO UPDATE SET qos = excluded.qos";
const UNSUBSCRIBE: &str = "DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2";
const MESSAGE_STORE: &str =
    "INSERT INTO messages (id, topic, payload, qos, retain) VALUES (?1, ?2, ?3, ?4, ?5)";
const BUMP_NEXT_ID: &str = "UPDATE meta SET value = max(value, ?1) WHERE key = 'next_message_id'";
const SESSION_MESSAGE_ADD: &str = "INSERT INTO session_messages
  (client_id, seq, message_id, qos, retain, state, packet_id)
  SELECT ?1, ?2, ?3, ?4, ?5, 0, NULL
  WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)";
/// `SessionMessageAdd` directly followed by its `SessionMessageSent`
/// (a message sent as soon as it is queued, the common case): one insert.
const SESSION_MESSAGE_ADD_SENT: &str = "INSERT INTO session_messages
  (client_id, seq, message_id, qos, retain, state, packet_id)
  SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6
  WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)";
const SESSION_MESSAGE_SENT: &str = "UPDATE session_messages SET state = 1, packet_id = ?3
  WHERE client_id = ?1 AND seq = ?2 AND state < 2";
const SESSION_MESSAGE_RELEASED: &str = "UPDATE session_messages SET state = 2
  WHERE client_id = ?1 AND seq = ?2 AND state < 2 RETURNING message_id";
const SESSION_MESSAGE_DELETE: &str =
    "DELETE FROM session_messages WHERE client_id = ?1 AND seq = ?2 RETURNING message_id, state";
/// Deletes a body if no queue holds it any more (one probe of
/// `session_messages_by_body`).
const DELETE_BODY_IF_UNUSED: &str = "DELETE FROM messages WHERE id = ?1
  AND NOT EXISTS (SELECT 1 FROM session_messages WHERE message_id = ?1 AND state < 2)";
const INBOUND_ADD: &str = "INSERT INTO inbound_qos2 (client_id, packet_id)
  SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)
  ON CONFLICT DO NOTHING";
const INBOUND_REMOVE: &str = "DELETE FROM inbound_qos2 WHERE client_id = ?1 AND packet_id = ?2";
const RETAIN_SET: &str = "INSERT INTO retained (topic, payload, qos) VALUES (?1, ?2, ?3)
  ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos";
const RETAIN_DELETE: &str = "DELETE FROM retained WHERE topic = ?1";

const APPLY_STATEMENTS: &[&str] = &[
    INSERT_SESSION,
    DELETE_SESSION,
    DELETE_SESSION_BODIES,
    DELETE_SESSION_MESSAGES,
    DELETE_SUBSCRIPTIONS,
    DELETE_INBOUND,
    SUBSCRIBE,
    UNSUBSCRIBE,
    MESSAGE_STORE,
    BUMP_NEXT_ID,
    SESSION_MESSAGE_ADD,
    SESSION_MESSAGE_SENT,
    SESSION_MESSAGE_RELEASED,
    SESSION_MESSAGE_DELETE,
    DELETE_BODY_IF_UNUSED,
    INBOUND_ADD,
    INBOUND_REMOVE,
    RETAIN_SET,
    RETAIN_DELETE,
];

/// Garbage collection at load: rows of sessions that do not exist, queue
/// entries whose body is missing, and bodies no queue holds. None of these
/// can be made by `apply` from a consistent op stream; this is the safety
/// net that keeps the file from growing with leftovers.
const LOAD_GC: &[(&str, &str)] = &[
    (
        "subscriptions of unknown sessions",
        "DELETE FROM subscriptions WHERE client_id NOT IN (SELECT client_id FROM sessions)",
    ),
    (
        "inbound QoS 2 ids of unknown sessions",
        "DELETE FROM inbound_qos2 WHERE client_id NOT IN (SELECT client_id FROM sessions)",
    ),
    (
        "queued messages of unknown sessions",
        "DELETE FROM session_messages WHERE client_id NOT IN (SELECT client_id FROM sessions)",
    ),
    (
        "queued messages whose body is missing",
        "DELETE FROM session_messages WHERE state < 2
           AND NOT EXISTS (SELECT 1 FROM messages WHERE id = session_messages.message_id)",
    ),
    (
        "orphaned message bodies",
        "DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM session_messages
           WHERE message_id = messages.id AND state < 2)",
    ),
];

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

/// `path` with `suffix` appended to its file name (`x.db` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the creation or renaming of entries of `path`'s directory durable.
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
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

fn exists(path: &Path) -> bool {
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
fn move_aside(path: &Path) -> Result<Option<PathBuf>, Error> {
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
        .expect("some backup name is free");
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
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            moved_aside,
            _lock: lock,
        };
        store.configure_and_check()?;
        store.migrate()?;
        store.prepare_statements()?;
        if created {
            sync_parent_dir(path)
                .map_err(|e| store_error(path, format!("cannot sync directory: {e}")))?;
        }
        Ok(store)
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

/// Reads a QoS column.
fn qos_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<QoS> {
    let value: i64 = row.get(index)?;
    u8::try_from(value)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| bad_value(index, format!("QoS {value}")))
}

/// Reads a packet id column.
fn packet_id_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<PacketId> {
    let value: Option<i64> = row.get(index)?;
    let value = value.unwrap_or(0);
    PacketId::try_from(value).map_err(|_| bad_value(index, format!("packet id {value}")))
}

/// Reads a sequence number or message id column.
fn u64_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(index)?;
    u64::try_from(value).map_err(|_| bad_value(index, format!("{value}")))
}

fn bad_value(index: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Integer,
        format!("invalid value: {what}").into(),
    )
}

/// Builds a message read from the file.
fn message(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> rusqlite::Result<Message> {
    Message::new(topic, payload, qos, retain).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("topic of {} bytes is too long", topic.len()).into(),
        )
    })
}

/// Applies `op` together with `next` when the pair has a one-statement
/// form; returns whether it did (then both are done).
fn apply_fused(conn: &Connection, op: &StoreOp, next: Option<&StoreOp>) -> rusqlite::Result<bool> {
    if let (
        StoreOp::SessionMessageAdd {
            client_id,
            seq,
            message_id,
            qos,
            retain,
        },
        Some(StoreOp::SessionMessageSent {
            client_id: sent_client,
            seq: sent_seq,
            packet_id,
        }),
    ) = (op, next)
    {
        if client_id == sent_client && seq == sent_seq {
            conn.prepare_cached(SESSION_MESSAGE_ADD_SENT)?
                .execute(params![
                    client_id, seq, message_id, *qos as u8, retain, packet_id
                ])?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Applies one op inside the transaction of `apply`. `max_id` collects the
/// highest stored message id of the batch.
fn apply_op(conn: &Connection, op: &StoreOp, max_id: &mut Option<u64>) -> rusqlite::Result<()> {
    match op {
        StoreOp::SessionCreate { client_id } => {
            drop_session_state(conn, client_id)?;
            conn.prepare_cached(INSERT_SESSION)?.execute([client_id])?;
        }
        StoreOp::SessionDelete { client_id } => {
            drop_session_state(conn, client_id)?;
            conn.prepare_cached(DELETE_SESSION)?.execute([client_id])?;
        }
        StoreOp::Subscribe {
            client_id,
            filter,
            qos,
        } => {
            conn.prepare_cached(SUBSCRIBE)?
                .execute(params![client_id, filter, *qos as u8])?;
        }
        StoreOp::Unsubscribe { client_id, filter } => {
            conn.prepare_cached(UNSUBSCRIBE)?
                .execute(params![client_id, filter])?;
        }
        StoreOp::MessageStore { id, message } => {
            conn.prepare_cached(MESSAGE_STORE)?.execute(params![
                id,
                message.topic(),
                message.payload(),
                message.qos() as u8,
                message.retain(),
            ])?;
            *max_id = Some(max_id.map_or(*id, |m| m.max(*id)));
        }
        StoreOp::SessionMessageAdd {
            client_id,
            seq,
            message_id,
            qos,
            retain,
        } => {
            conn.prepare_cached(SESSION_MESSAGE_ADD)?
                .execute(params![client_id, seq, message_id, *qos as u8, retain])?;
        }
        StoreOp::SessionMessageSent {
            client_id,
            seq,
            packet_id,
        } => {
            conn.prepare_cached(SESSION_MESSAGE_SENT)?
                .execute(params![client_id, seq, packet_id])?;
        }
        StoreOp::SessionMessageReleased { client_id, seq } => {
            let body: Option<i64> = conn
                .prepare_cached(SESSION_MESSAGE_RELEASED)?
                .query_row(params![client_id, seq], |row| row.get(0))
                .optional()?;
            if let Some(body) = body {
                conn.prepare_cached(DELETE_BODY_IF_UNUSED)?
                    .execute([body])?;
            }
        }
        StoreOp::SessionMessageDelete { client_id, seq } => {
            let deleted: Option<(i64, i64)> = conn
                .prepare_cached(SESSION_MESSAGE_DELETE)?
                .query_row(params![client_id, seq], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            if let Some((body, state)) = deleted {
                if state != RELEASED {
                    conn.prepare_cached(DELETE_BODY_IF_UNUSED)?
                        .execute([body])?;
                }
            }
        }
        StoreOp::InboundQos2Add {
            client_id,
            packet_id,
        } => {
            conn.prepare_cached(INBOUND_ADD)?
                .execute(params![client_id, packet_id])?;
        }
        StoreOp::InboundQos2Remove {
            client_id,
            packet_id,
        } => {
            conn.prepare_cached(INBOUND_REMOVE)?
                .execute(params![client_id, packet_id])?;
        }
        StoreOp::RetainSet { message } => {
            conn.prepare_cached(RETAIN_SET)?.execute(params![
                message.topic(),
                message.payload(),
                message.qos() as u8
            ])?;
        }
        StoreOp::RetainDelete { topic } => {
            conn.prepare_cached(RETAIN_DELETE)?.execute([topic])?;
        }
    }
    Ok(())
}

/// Deletes everything a session holds (not the session row): bodies only it
/// refers to, its queue, subscriptions and inbound QoS 2 ids.
fn drop_session_state(conn: &Connection, client_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(DELETE_SESSION_BODIES)?
        .execute([client_id])?;
    conn.prepare_cached(DELETE_SESSION_MESSAGES)?
        .execute([client_id])?;
    conn.prepare_cached(DELETE_SUBSCRIPTIONS)?
        .execute([client_id])?;
    conn.prepare_cached(DELETE_INBOUND)?.execute([client_id])?;
    Ok(())
}

/// A short name of an op for error messages.
fn op_name(op: &StoreOp) -> &'static str {
    match op {
        StoreOp::SessionCreate { .. } => "SessionCreate",
        StoreOp::SessionDelete { .. } => "SessionDelete",
        StoreOp::Subscribe { .. } => "Subscribe",
        StoreOp::Unsubscribe { .. } => "Unsubscribe",
        StoreOp::MessageStore { .. } => "MessageStore",
        StoreOp::SessionMessageAdd { .. } => "SessionMessageAdd",
        StoreOp::SessionMessageSent { .. } => "SessionMessageSent",
        StoreOp::SessionMessageReleased { .. } => "SessionMessageReleased",
        StoreOp::SessionMessageDelete { .. } => "SessionMessageDelete",
        StoreOp::InboundQos2Add { .. } => "InboundQos2Add",
        StoreOp::InboundQos2Remove { .. } => "InboundQos2Remove",
        StoreOp::RetainSet { .. } => "RetainSet",
        StoreOp::RetainDelete { .. } => "RetainDelete",
    }
}

/// Reads the snapshot inside the transaction of `load`.
fn read_snapshot(conn: &Connection) -> rusqlite::Result<Snapshot> {
    let mut sessions: Vec<StoredSession> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT client_id FROM sessions ORDER BY client_id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            index.insert(client_id.clone(), sessions.len());
            sessions.push(StoredSession {
                client_id,
                subscriptions: Vec::new(),
                messages: Vec::new(),
                inbound_qos2: Vec::new(),
            });
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT client_id, filter, qos FROM subscriptions ORDER BY client_id, filter",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            if let Some(&i) = index.get(&client_id) {
                sessions[i]
                    .subscriptions
                    .push((row.get(1)?, qos_column(row, 2)?));
            }
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT s.client_id, s.seq, s.message_id, s.qos, s.retain, s.state, s.packet_id,
                    m.topic, m.payload
             FROM session_messages AS s
             LEFT JOIN messages AS m ON m.id = s.message_id AND s.state < 2
             ORDER BY s.client_id, s.seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            let Some(&i) = index.get(&client_id) else {
                continue;
            };
            let qos = qos_column(row, 3)?;
            let retain: bool = row.get(4)?;
            let state_value: i64 = row.get(5)?;
            let state = match state_value {
                QUEUED => StoredState::Queued,
                SENT => StoredState::Sent(packet_id_column(row, 6)?),
                RELEASED => StoredState::Released(packet_id_column(row, 6)?),
                other => return Err(bad_value(5, format!("state {other}"))),
            };
            let topic: Option<String> = row.get(7)?;
            let payload: Option<Vec<u8>> = row.get(8)?;
            let message = match (state, topic, payload) {
                (StoredState::Released(_), _, _) => message("", b"", qos, false)?,
                (_, Some(topic), Some(payload)) => message(&topic, &payload, qos, retain)?,
                // Removed by the GC of `load` before this runs.
                _ => continue,
            };
            sessions[i].messages.push(StoredMessage {
                seq: u64_column(row, 1)?,
                message_id: u64_column(row, 2)?,
                message,
                state,
            });
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT client_id, packet_id FROM inbound_qos2 ORDER BY client_id, packet_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            if let Some(&i) = index.get(&client_id) {
                sessions[i].inbound_qos2.push(packet_id_column(row, 1)?);
            }
        }
    }
    let mut retained = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT topic, payload, qos FROM retained ORDER BY topic")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let topic: String = row.get(0)?;
            let payload: Vec<u8> = row.get(1)?;
            retained.push(message(&topic, &payload, qos_column(row, 2)?, true)?);
        }
    }
    let max_body: Option<i64> = conn.query_row("SELECT max(id) FROM messages", [], |r| r.get(0))?;
    let high_water: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_message_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let next_message_id = max_body
        .map_or(1, |m| m.saturating_add(1))
        .max(high_water.unwrap_or(1))
        .max(1);
    Ok(Snapshot {
        sessions,
        retained,
        next_message_id: u64::try_from(next_message_id).unwrap_or(1),
    })
}

impl SessionStore for SqliteStore {
    /// Reads everything, after deleting leftovers no session refers to
    /// (orphaned bodies, rows of unknown sessions). A `Released` message
    /// comes with an empty body: topic `""`, payload `b""`, retain `false`,
    /// its delivered QoS and its original `message_id`. Retained messages
    /// come with the retain flag set.
    fn load(&mut self) -> Result<Snapshot, Error> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&path, "cannot begin a transaction", &e))?;
        for (what, sql) in LOAD_GC {
            let n = tx
                .execute(sql, [])
                .map_err(|e| sql_error(&path, &format!("cannot delete {what}"), &e))?;
            if n > 0 {
                log::info!("persistence file {}: deleted {n} {what}", path.display());
            }
        }
        let snapshot =
            read_snapshot(&tx).map_err(|e| sql_error(&path, "cannot read the store", &e))?;
        tx.commit()
            .map_err(|e| sql_error(&path, "cannot commit", &e))?;
        Ok(snapshot)
    }

    /// Applies the whole slice in one transaction (nothing at all for an
    /// empty slice). Ops on a session that does not exist change nothing.
    /// A `MessageStore` with an id already stored, or a `SessionMessageAdd`
    /// with a `seq` already used by that session, is an error (the batch
    /// is rolled back).
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error> {
        if ops.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
        let mut max_id = None;
        let mut index = 0;
        while let Some(op) = ops.get(index) {
            // An early return drops `tx`, which rolls back.
            let used = apply_fused(&tx, op, ops.get(index + 1))
                .map_err(|e| sql_error(path, &format!("cannot apply {}", op_name(op)), &e))?;
            if !used {
                apply_op(&tx, op, &mut max_id)
                    .map_err(|e| sql_error(path, &format!("cannot apply {}", op_name(op)), &e))?;
                index += 1;
            } else {
                index += 2;
            }
        }
        if let Some(id) = max_id {
            tx.prepare_cached(BUMP_NEXT_ID)
                .and_then(|mut stmt| stmt.execute([id.saturating_add(1)]))
                .map_err(|e| sql_error(path, "cannot update the next message id", &e))?;
        }
        // A failed COMMIT drops `tx`, which rolls back what is left.
        tx.commit()
            .map_err(|e| sql_error(path, "cannot commit", &e))
    }
}
