//! Applying a batch of [`StoreOp`]s: one transaction, either one row of
//! the op log (see `op_log.rs`) or one statement per op (or per fused
//! pair), the bodies' reference counting done by hand.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::clock::ClockZero;
use super::log_codec::{encode, is_logged, start_row};
use super::op_log::{
    append, checkpoint, compact, Compaction, CHECKPOINT_AT_BYTES, FORCE_COMPACT_AT_BYTES,
};
use super::statements::*;
use super::{sql_error, store_error};
use crate::message::Message;
use crate::store::{sent_right_after, StoreOp};
use crate::Error;

/// SQLite's page size, as the store leaves it.
pub(super) const PAGE: usize = 4096;

/// What the store keeps between batches about its op log and message ids.
#[derive(Debug)]
pub(super) struct LogState {
    /// Bytes of rows in the log (0: it is empty).
    pub(super) bytes: usize,
    /// The lowest message id a `MessageStore` may still use.
    pub(super) next_message_id: u64,
    /// Bytes written to the journal since the last checkpoint, as guessed
    /// from what the commits wrote.
    pub(super) since_checkpoint: usize,
    /// The row being written, kept for its allocation.
    row: Vec<u8>,
}

impl LogState {
    /// The state of a store whose log is empty and whose ids continue at
    /// `next_message_id`.
    pub(super) fn new(next_message_id: u64) -> LogState {
        LogState {
            bytes: 0,
            since_checkpoint: 0,
            next_message_id,
            row: Vec::new(),
        }
    }
}

/// Why a batch (or a compaction) failed.
#[derive(Debug)]
pub(super) enum ApplyError {
    /// A statement failed while applying the op so named.
    Op(&'static str, rusqlite::Error),
    /// A statement failed outside any one op.
    Sql(rusqlite::Error),
    /// The op log holds a row that cannot be read.
    Corrupt(String),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(err: rusqlite::Error) -> ApplyError {
        ApplyError::Sql(err)
    }
}

impl ApplyError {
    pub(super) fn into_error(self, path: &Path, doing: &str) -> Error {
        match self {
            ApplyError::Op(op, err) => sql_error(path, &format!("cannot apply {op}"), &err),
            ApplyError::Sql(err) => sql_error(path, doing, &err),
            ApplyError::Corrupt(reason) => store_error(
                path,
                format!("{doing}: the database is corrupt ({reason}); refusing to go on"),
            ),
        }
    }
}

/// [`crate::store::SessionStore::apply_all`] of the store at `path`, whose
/// broker's clock read 0 at `zero`: the batches in order, in one
/// transaction.
pub(super) fn apply(
    conn: &mut Connection,
    path: &Path,
    zero: ClockZero,
    batches: &[&[StoreOp]],
    log: &mut LogState,
) -> Result<(), Error> {
    let ops = || batches.iter().flat_map(|batch| batch.iter());
    // One look at every op: whether the batch can be logged, and its
    // message ids (a logged body is not inserted until the log is folded,
    // so a reused id would fail only then; refused here, as the tables
    // would refuse it).
    let mut count: usize = 0;
    let mut logged = true;
    let mut next_id = log.next_message_id;
    for op in ops() {
        count += 1;
        logged &= is_logged(op);
        if let StoreOp::MessageStore { id, .. } = op {
            if *id < next_id {
                return Err(store_error(
                    path,
                    format!("cannot apply MessageStore: message id {id} was used before"),
                ));
            }
            next_id = id.saturating_add(1);
        }
    }
    if count == 0 {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
    // An early return drops `tx`, which rolls back.
    let log_bytes = if logged {
        start_row(&mut log.row);
        for batch in batches {
            encode(batch, zero, &mut log.row);
        }
        append(&tx, &log.row).map_err(|e| sql_error(path, "cannot append to the op log", &e))?;
        let bytes = log.bytes + log.row.len();
        // `maintain` folds the log between commits; this is for a store
        // whose user never calls it.
        if bytes >= FORCE_COMPACT_AT_BYTES {
            compact(&tx, zero, Compaction::KeepYoung)
                .map_err(|e| e.into_error(path, "cannot fold the op log"))?
        } else {
            bytes
        }
    } else {
        if log.bytes > 0 {
            compact(&tx, zero, Compaction::Whole)
                .map_err(|e| e.into_error(path, "cannot fold the op log"))?;
        }
        for batch in batches {
            apply_ops(&tx, batch, zero).map_err(|e| e.into_error(path, "cannot apply"))?;
        }
        0
    };
    if next_id > log.next_message_id {
        tx.prepare_cached(BUMP_NEXT_ID)
            .and_then(|mut stmt| stmt.execute([next_id]))
            .map_err(|e| sql_error(path, "cannot update the next message id", &e))?;
    }
    // A failed COMMIT drops `tx`, which rolls back what is left.
    tx.commit()
        .map_err(|e| sql_error(path, "cannot commit", &e))?;
    // What the commit added to the journal, in whole pages: the row's, the
    // pages around it and the `meta` page; a guess of three pages per op
    // for a batch applied to the tables.
    log.since_checkpoint += if logged {
        (log.row.len().div_ceil(PAGE) + 3) * PAGE
    } else {
        count.saturating_mul(3 * PAGE)
    };
    log.bytes = log_bytes;
    log.next_message_id = next_id;
    // `maintain` checkpoints between commits; this is for a store whose
    // user never calls it.
    if log.since_checkpoint >= 8 * CHECKPOINT_AT_BYTES {
        checkpoint(conn, path, log)?;
    }
    Ok(())
}

/// Applies `ops` to the tables in order, inside the caller's transaction.
pub(super) fn apply_ops(
    conn: &Connection,
    ops: &[StoreOp],
    zero: ClockZero,
) -> Result<(), ApplyError> {
    let mut index = 0;
    while let Some(op) = ops.get(index) {
        let used = apply_fused(conn, op, ops.get(index + 1))
            .map_err(|e| ApplyError::Op(op_name(op), e))?;
        if !used {
            apply_op(conn, op, zero).map_err(|e| ApplyError::Op(op_name(op), e))?;
            index += 1;
        } else {
            index += 2;
        }
    }
    Ok(())
}

/// Applies `op` together with `next` when the pair has a one-statement
/// form; returns whether it did (then both are done).
fn apply_fused(conn: &Connection, op: &StoreOp, next: Option<&StoreOp>) -> rusqlite::Result<bool> {
    let (
        Some(packet_id),
        StoreOp::SessionMessageAdd {
            client_id,
            seq,
            message_id,
            qos,
            retain,
        },
    ) = (sent_right_after(op, next), op)
    else {
        return Ok(false);
    };
    conn.prepare_cached(SESSION_MESSAGE_ADD_SENT)?
        .execute(params![
            client_id, seq, message_id, *qos as u8, retain, packet_id
        ])?;
    Ok(true)
}

/// The property block of `message` as stored (NULL when empty).
fn properties_column(message: &Message) -> Option<&[u8]> {
    Some(message.property_bytes()).filter(|bytes| !bytes.is_empty())
}

/// Applies one op inside the caller's transaction.
fn apply_op(conn: &Connection, op: &StoreOp, zero: ClockZero) -> rusqlite::Result<()> {
    match op {
        StoreOp::SessionCreate { client_id } => {
            drop_session_state(conn, client_id)?;
            conn.prepare_cached(INSERT_SESSION)?.execute([client_id])?;
        }
        StoreOp::SessionUser {
            client_id,
            username,
        } => {
            conn.prepare_cached(SESSION_USER)?
                .execute(params![client_id, username])?;
        }
        StoreOp::SessionExpiry {
            client_id,
            interval,
        } => {
            conn.prepare_cached(SESSION_EXPIRY)?
                .execute(params![client_id, interval])?;
        }
        StoreOp::SessionDelete { client_id } => {
            drop_session_state(conn, client_id)?;
            conn.prepare_cached(DELETE_SESSION)?.execute([client_id])?;
        }
        StoreOp::Subscribe {
            client_id,
            filter,
            options,
            identifier,
        } => {
            conn.prepare_cached(SUBSCRIBE)?.execute(params![
                client_id,
                filter,
                options.qos as u8,
                options.no_local,
                options.retain_as_published,
                options.retain_handling as u8,
                identifier,
            ])?;
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
                properties_column(message),
                zero.to_unix(message.expires_at_ms()),
            ])?;
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
                message.qos() as u8,
                properties_column(message),
                zero.to_unix(message.expires_at_ms()),
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
        StoreOp::SessionUser { .. } => "SessionUser",
        StoreOp::SessionExpiry { .. } => "SessionExpiry",
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
