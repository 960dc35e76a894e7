//! Reading a persistent session's queue back a page at a time: queued
//! messages stay in the file while their client is away, and come back
//! into memory only as the client's in-flight window needs them.

use std::path::Path;

use rusqlite::Connection;

use super::clock::ClockZero;
use super::snapshot::{message, qos_column, u64_column};
use super::sql_error;
use crate::store::{StoredMessage, StoredState};
use crate::Error;

/// The queued messages of a session after a position, in order; the
/// primary key `(client_id, seq)` makes this one range scan.
const QUEUED_PAGE: &str = "SELECT s.seq, s.message_id, s.qos, s.retain, m.topic, m.payload,
    m.properties, m.expires_at
  FROM session_messages AS s JOIN messages AS m ON m.id = s.message_id
  WHERE s.client_id = ?1 AND s.seq >= ?2 AND s.state = 0
  ORDER BY s.seq LIMIT ?3";

/// [`crate::store::SessionStore::load_queued`] of the store at `path`, for
/// a broker whose clock read 0 at `zero`.
pub(super) fn load_queued(
    conn: &Connection,
    path: &Path,
    zero: ClockZero,
    client_id: &str,
    after_seq: Option<u64>,
    max_messages: usize,
    max_bytes: usize,
) -> Result<Vec<StoredMessage>, Error> {
    read_page(conn, zero, client_id, after_seq, max_messages, max_bytes)
        .map_err(|e| sql_error(path, "cannot read queued messages", &e))
}

fn read_page(
    conn: &Connection,
    zero: ClockZero,
    client_id: &str,
    after_seq: Option<u64>,
    max_messages: usize,
    max_bytes: usize,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut page = Vec::new();
    if max_messages == 0 {
        return Ok(page);
    }
    let mut stmt = conn.prepare_cached(QUEUED_PAGE)?;
    let from = match after_seq {
        None => 0,
        Some(seq) => match i64::try_from(seq).ok().and_then(|s| s.checked_add(1)) {
            Some(from) => from,
            None => return Ok(page),
        },
    };
    let limit = i64::try_from(max_messages).unwrap_or(i64::MAX);
    let mut rows = stmt.query(rusqlite::params![client_id, from, limit])?;
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let topic: String = row.get(4)?;
        let payload: Vec<u8> = row.get(5)?;
        let properties: Option<Vec<u8>> = row.get(6)?;
        let stored = StoredMessage {
            seq: u64_column(row, 0)?,
            message_id: u64_column(row, 1)?,
            message: message(
                &topic,
                properties.as_deref(),
                &payload,
                qos_column(row, 2)?,
                row.get(3)?,
                zero.to_clock(row.get(7)?),
            )?,
            state: StoredState::Queued,
        };
        bytes = bytes.saturating_add(stored.message.size());
        page.push(stored);
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(page)
}
