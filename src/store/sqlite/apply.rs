//! Applying a batch of [`StoreOp`]s: one transaction, one statement per op
//! (or per fused pair), the bodies' reference counting done by hand.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::clock::ClockZero;
use super::sql_error;
use super::statements::*;
use crate::message::Message;
use crate::store::StoreOp;
use crate::Error;

/// [`crate::store::SessionStore::apply`] of the store at `path`, whose
/// broker's clock read 0 at `zero`.
pub(super) fn apply(
    conn: &mut Connection,
    path: &Path,
    zero: ClockZero,
    ops: &[StoreOp],
) -> Result<(), Error> {
    if ops.is_empty() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
    let mut max_id = None;
    let mut index = 0;
    while let Some(op) = ops.get(index) {
        // An early return drops `tx`, which rolls back.
        let used = apply_fused(&tx, op, ops.get(index + 1))
            .map_err(|e| sql_error(path, &format!("cannot apply {}", op_name(op)), &e))?;
        if !used {
            apply_op(&tx, op, zero, &mut max_id)
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

/// The property block of `message` as stored (NULL when empty).
fn properties_column(message: &Message) -> Option<&[u8]> {
    Some(message.property_bytes()).filter(|bytes| !bytes.is_empty())
}

/// Applies one op inside the transaction of `apply`. `max_id` collects the
/// highest stored message id of the batch.
fn apply_op(
    conn: &Connection,
    op: &StoreOp,
    zero: ClockZero,
    max_id: &mut Option<u64>,
) -> rusqlite::Result<()> {
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
