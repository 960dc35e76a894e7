//! The op log: where a batch of queue operations goes instead of the
//! tables, as one row, and how the rows are folded into the tables.
//!
//! Most of what a broker stores is short-lived: a message is stored and
//! queued when it is routed, and deleted when the subscriber (or a bridge's
//! upstream) acknowledges it a few milliseconds later. Written to the
//! tables, each such message costs four row changes, each a b-tree insert
//! or delete, in two transactions. Written to the log, a batch costs one
//! row, however many messages it holds: the commit (and so the
//! acknowledgement it allows) comes as early, and as durably, as before.
//!
//! *Compaction* folds the log into the tables: it reads every row, drops
//! each message whose whole life (added, maybe sent and released, then
//! deleted) is in the log, and the body of a message every queue entry of
//! which was dropped, keeps only the last retained-message change of each
//! topic, then applies what is left in order and empties the log, in one
//! transaction (see `log_fold.rs`). When the log passes
//! [`COMPACT_AT_BYTES`], the messages of its newer half still in flight
//! are carried into a new row rather than written to the tables: they are
//! mostly acknowledged before the next compaction. The whole log is folded
//! before any batch that changes a session or its subscriptions (so no log
//! ever spans a session's reset), before reading, and when the store
//! closes.

use std::path::Path;

use rusqlite::{params, Connection, TransactionBehavior};

use super::apply::{apply_ops, ApplyError, LogState};
use super::clock::ClockZero;
use super::log_codec::{decode, encode, start_row};
use super::log_fold::{fold, Fate};
use super::sql_error;
use super::statements::{DELETE_BODY_IF_UNUSED, OP_LOG_APPEND, OP_LOG_CLEAR, OP_LOG_READ};
use crate::Error;

/// How many bytes of rows the log may hold before `maintain` compacts it:
/// large enough that nearly every message is acknowledged before its row
/// is folded, small enough that a compaction is a short pause.
pub(super) const COMPACT_AT_BYTES: usize = 1 << 20;

/// Past this, a commit compacts the log itself (for a store whose user
/// never calls `maintain`).
pub(super) const FORCE_COMPACT_AT_BYTES: usize = 8 * COMPACT_AT_BYTES;

/// Journal bytes after which `maintain` checkpoints (SQLite's own automatic
/// checkpoint is off: it would run inside a commit, and hold back the
/// acknowledgements waiting for that commit).
pub(super) const CHECKPOINT_AT_BYTES: usize = 4 << 20;

/// Compacts the log if it has grown past [`COMPACT_AT_BYTES`] (carrying
/// the young in-flight messages), in a transaction of its own, then
/// checkpoints the journal if enough was written since the last time.
pub(super) fn maintain(
    conn: &mut Connection,
    path: &Path,
    zero: ClockZero,
    log: &mut LogState,
) -> Result<(), Error> {
    if log.bytes >= COMPACT_AT_BYTES {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
        let left = compact(&tx, zero, Compaction::KeepYoung)
            .map_err(|e| e.into_error(path, "cannot fold the op log"))?;
        tx.commit()
            .map_err(|e| sql_error(path, "cannot commit", &e))?;
        // Folding writes about twice what it read: tables and indexes.
        log.since_checkpoint += 2 * log.bytes;
        log.bytes = left;
    }
    if log.since_checkpoint >= CHECKPOINT_AT_BYTES {
        checkpoint(conn, path, log)?;
    }
    Ok(())
}

/// Copies the journal's committed pages into the database file (without
/// waiting for readers: the store has none).
pub(super) fn checkpoint(conn: &Connection, path: &Path, log: &mut LogState) -> Result<(), Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(|e| sql_error(path, "cannot checkpoint the journal", &e))?;
    log.since_checkpoint = 0;
    Ok(())
}

/// Appends one row to the log.
pub(super) fn append(conn: &Connection, row: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(OP_LOG_APPEND)?.execute(params![row])?;
    Ok(())
}

/// Folds the whole log into the tables in a transaction of its own (at
/// open, whatever it holds: a crash may have left rows).
pub(super) fn fold_log(
    conn: &mut Connection,
    path: &Path,
    zero: ClockZero,
    log: &mut LogState,
) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
    compact(&tx, zero, Compaction::Whole)
        .map_err(|e| e.into_error(path, "cannot fold the op log"))?;
    tx.commit()
        .map_err(|e| sql_error(path, "cannot commit", &e))?;
    log.bytes = 0;
    Ok(())
}

/// How much of the log a compaction folds into the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compaction {
    /// All of it: the tables alone must say everything after.
    Whole,
    /// All but the messages of the newer half (by bytes) that are still in
    /// flight, which are carried into the next log: most of them are
    /// acknowledged soon, and then never need a table row.
    KeepYoung,
}

/// Folds the rows of the log into the tables, inside the caller's
/// transaction, and replaces them with the one row of what was carried, if
/// anything. Returns the bytes left in the log. (The ids of the bodies it
/// drops stay used: the batch that logged them moved the next message id
/// past them.)
pub(super) fn compact(
    conn: &Connection,
    zero: ClockZero,
    compaction: Compaction,
) -> Result<usize, ApplyError> {
    let rows: Vec<Vec<u8>> = conn
        .prepare_cached(OP_LOG_READ)?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        return Ok(0);
    }
    let total: usize = rows.iter().map(Vec::len).sum();
    let mut logged = Vec::new();
    let mut young_from = None;
    let mut before = 0;
    for row in &rows {
        if compaction == Compaction::KeepYoung && young_from.is_none() && before >= total / 2 {
            young_from = Some(logged.len());
        }
        before += row.len();
        decode(row, &mut logged).map_err(corrupt)?;
    }
    let fold = fold(&logged, young_from.unwrap_or(logged.len()));
    let mut to_tables = Vec::new();
    let mut to_carry = Vec::new();
    for (op, fate) in logged.iter().zip(&fold.fates) {
        match fate {
            Fate::Drop => {}
            Fate::Table => op.push_ops(zero, &mut to_tables).map_err(corrupt)?,
            Fate::Carry => op.push_ops(zero, &mut to_carry).map_err(corrupt)?,
        }
    }
    apply_ops(conn, &to_tables, zero)?;
    for id in fold.bodies_to_check {
        conn.prepare_cached(DELETE_BODY_IF_UNUSED)?.execute([id])?;
    }
    conn.prepare_cached(OP_LOG_CLEAR)?.execute([])?;
    if to_carry.is_empty() {
        return Ok(0);
    }
    let mut row = Vec::new();
    start_row(&mut row);
    encode(&to_carry, zero, &mut row);
    append(conn, &row)?;
    Ok(row.len())
}

fn corrupt(reason: String) -> ApplyError {
    ApplyError::Corrupt(format!("op log: {reason}"))
}
