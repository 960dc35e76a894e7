//! For the SQLite store tests (`tests/store_sqlite*.rs`): builders for
//! [`StoreOp`]s and messages, and readers of a store's state ([`session`],
//! [`all_messages`], [`count_rows`], [`store_error_text`]).

use std::path::Path;

use mqlite::core::Message;
use mqlite::store::*;
use mqlite::{Error, QoS};

pub fn msg(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Message {
    Message::new(topic, payload, qos, retain).unwrap()
}

pub fn create(client: &str) -> StoreOp {
    StoreOp::SessionCreate {
        client_id: client.into(),
    }
}

pub fn store_body(id: u64, topic: &str, payload: &[u8]) -> StoreOp {
    StoreOp::MessageStore {
        id,
        message: msg(topic, payload, QoS::ExactlyOnce, false),
    }
}

pub fn add(client: &str, seq: u64, message_id: u64, qos: QoS) -> StoreOp {
    StoreOp::SessionMessageAdd {
        client_id: client.into(),
        seq,
        message_id,
        qos,
        retain: false,
    }
}

pub fn delete(client: &str, seq: u64) -> StoreOp {
    StoreOp::SessionMessageDelete {
        client_id: client.into(),
        seq,
    }
}

pub fn retain_set(topic: &str, payload: &[u8], qos: QoS) -> StoreOp {
    StoreOp::RetainSet {
        message: msg(topic, payload, qos, true),
    }
}

pub fn session<'a>(snapshot: &'a Snapshot, client: &str) -> &'a StoredSession {
    snapshot
        .sessions
        .iter()
        .find(|s| s.client_id == client)
        .unwrap_or_else(|| panic!("no session {client} in {snapshot:?}"))
}

/// Every outbound message of a stored session: those loaded with the
/// snapshot, then the queued ones read back from the store, in `seq` order.
pub fn all_messages(
    store: &mut SqliteStore,
    snapshot: &Snapshot,
    client: &str,
) -> Vec<StoredMessage> {
    let stored = session(snapshot, client);
    let mut messages = stored.messages.clone();
    let queued = store
        .load_queued(client, None, usize::MAX, usize::MAX)
        .unwrap();
    assert_eq!(queued.len(), stored.queued_in_store.messages, "{client}");
    let bytes: usize = queued.iter().map(|m| m.message.size()).sum();
    assert_eq!(bytes, stored.queued_in_store.bytes, "{client}");
    messages.extend(queued);
    messages.sort_by_key(|m| m.seq);
    messages
}

/// Rows of a table, read with a plain connection (the store must be closed).
pub fn count_rows(path: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

pub fn store_error_text(result: Result<SqliteStore, Error>) -> String {
    match result {
        Ok(_) => panic!("open succeeded"),
        Err(e @ Error::Store { .. }) => e.to_string(),
        Err(e) => panic!("not a store error: {e:?}"),
    }
}
