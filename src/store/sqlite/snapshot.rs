//! Loading: the garbage collection that runs first, then reading every
//! table into a [`Snapshot`], checking each stored value on the way.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::clock::ClockZero;
use super::sql_error;
use super::statements::{QUEUED, RELEASED, SENT};
use crate::codec::{
    PacketId, Properties, PropertyContext, QoS, RetainHandling, SubscriptionOptions,
};
use crate::message::Message;
use crate::store::{
    QueuedInStore, Snapshot, StoredMessage, StoredSession, StoredState, StoredSubscription,
};
use crate::Error;

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

/// [`crate::store::SessionStore::load`] of the store at `path`, for a broker
/// whose clock read 0 at `zero`.
pub(super) fn load(conn: &mut Connection, path: &Path, zero: ClockZero) -> Result<Snapshot, Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "cannot begin a transaction", &e))?;
    for (what, sql) in LOAD_GC {
        let n = tx
            .execute(sql, [])
            .map_err(|e| sql_error(path, &format!("cannot delete {what}"), &e))?;
        if n > 0 {
            log::info!("persistence file {}: deleted {n} {what}", path.display());
        }
    }
    let snapshot =
        read_snapshot(&tx, zero).map_err(|e| sql_error(path, "cannot read the store", &e))?;
    tx.commit()
        .map_err(|e| sql_error(path, "cannot commit", &e))?;
    Ok(snapshot)
}

/// Reads the snapshot inside the transaction of `load`.
fn read_snapshot(conn: &Connection, zero: ClockZero) -> rusqlite::Result<Snapshot> {
    let mut sessions: Vec<StoredSession> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT client_id, username, expiry_interval FROM sessions ORDER BY client_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            let expiry: Option<i64> = row.get(2)?;
            let expiry_interval = match expiry {
                None => u32::MAX,
                Some(value) => u32::try_from(value)
                    .map_err(|_| bad_value(2, format!("session expiry interval {value}")))?,
            };
            index.insert(client_id.clone(), sessions.len());
            sessions.push(StoredSession {
                client_id,
                username: row.get(1)?,
                expiry_interval,
                subscriptions: Vec::new(),
                messages: Vec::new(),
                queued_in_store: QueuedInStore::default(),
                last_seq: 0,
                inbound_qos2: Vec::new(),
            });
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT client_id, filter, qos, no_local, retain_as_published, retain_handling,
                    identifier
             FROM subscriptions ORDER BY client_id, filter",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            if let Some(&i) = index.get(&client_id) {
                sessions[i].subscriptions.push(subscription(row)?);
            }
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT s.client_id, s.seq, s.message_id, s.qos, s.retain, s.state, s.packet_id,
                    m.topic, m.payload, m.properties, m.expires_at
             FROM session_messages AS s
             LEFT JOIN messages AS m ON m.id = s.message_id AND s.state < 2
             WHERE s.state <> 0
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
                (StoredState::Released(_), _, _) => Message::empty(qos),
                (_, Some(topic), Some(payload)) => {
                    let properties: Option<Vec<u8>> = row.get(9)?;
                    let expires_at = zero.to_clock(row.get(10)?);
                    message(
                        &topic,
                        properties.as_deref(),
                        &payload,
                        qos,
                        retain,
                        expires_at,
                    )?
                }
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
    // Queued messages stay in the file (read a page at a time when their
    // client is back): only their count and size are loaded, so memory does
    // not grow with what offline sessions have piled up.
    {
        let mut stmt = conn.prepare(
            "SELECT s.client_id, count(*),
                    sum(length(CAST(m.topic AS BLOB)) + length(m.payload)
                        + coalesce(length(m.properties), 0))
             FROM session_messages AS s JOIN messages AS m ON m.id = s.message_id
             WHERE s.state = 0
             GROUP BY s.client_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            if let Some(&i) = index.get(&client_id) {
                sessions[i].queued_in_store = QueuedInStore {
                    messages: usize_column(row, 1)?,
                    bytes: usize_column(row, 2)?,
                };
            }
        }
    }
    {
        let mut stmt =
            conn.prepare("SELECT client_id, max(seq) FROM session_messages GROUP BY client_id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            if let Some(&i) = index.get(&client_id) {
                sessions[i].last_seq = u64_column(row, 1)?;
            }
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
        let mut stmt = conn.prepare(
            "SELECT topic, payload, qos, properties, expires_at FROM retained ORDER BY topic",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let topic: String = row.get(0)?;
            let payload: Vec<u8> = row.get(1)?;
            let properties: Option<Vec<u8>> = row.get(3)?;
            retained.push(message(
                &topic,
                properties.as_deref(),
                &payload,
                qos_column(row, 2)?,
                true,
                zero.to_clock(row.get(4)?),
            )?);
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

/// Reads a subscription row: client id, filter, qos, no_local,
/// retain_as_published, retain_handling, identifier.
fn subscription(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSubscription> {
    let retain_handling = match row.get::<_, i64>(5)? {
        0 => RetainHandling::SendOnSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        other => return Err(bad_value(5, format!("retain handling {other}"))),
    };
    let identifier: i64 = row.get(6)?;
    let identifier = u32::try_from(identifier)
        .ok()
        .filter(|&id| id <= crate::codec::MAX_SUBSCRIPTION_IDENTIFIER)
        .ok_or_else(|| bad_value(6, format!("subscription identifier {identifier}")))?;
    Ok(StoredSubscription {
        filter: row.get(1)?,
        options: SubscriptionOptions {
            qos: qos_column(row, 2)?,
            no_local: row.get(3)?,
            retain_as_published: row.get(4)?,
            retain_handling,
        },
        identifier,
    })
}

/// Reads a count or byte-sum column.
fn usize_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<usize> {
    let value: i64 = row.get(index)?;
    usize::try_from(value).map_err(|_| bad_value(index, format!("{value}")))
}

/// Reads a QoS column.
pub(super) fn qos_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<QoS> {
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
pub(super) fn u64_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
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

/// Builds a message read from the file: its property block (NULL: none)
/// must be one a PUBLISH may carry, since it goes out as it is.
pub(super) fn message(
    topic: &str,
    properties: Option<&[u8]>,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    expires_at_ms: Option<u64>,
) -> rusqlite::Result<Message> {
    let properties = match properties {
        None => Properties::EMPTY,
        Some(bytes) => Properties::parse(bytes, PropertyContext::Publish).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                format!("invalid property block of a message on {topic:?}: {e}").into(),
            )
        })?,
    };
    Message::with_properties(topic, properties, payload, qos, retain, expires_at_ms).ok_or_else(
        || {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("topic of {} bytes is too long", topic.len()).into(),
            )
        },
    )
}
