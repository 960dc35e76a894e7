//! The SQLite store's schema migrations: an empty (version 0) file is
//! brought to the current version in WAL mode, and a file made by the
//! version 1 schema as shipped (kept here as `SCHEMA_V1`) opens, loads and
//! is written to by the current code.

mod support;

use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, create, msg, store_body};
use support::TempDir;

#[test]
fn migrates_an_empty_version_0_file() {
    let dir = TempDir::new("v0");
    let path = dir.path("store.db");
    std::fs::write(&path, b"").unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    assert!(store.load().unwrap().sessions.is_empty());
    store.apply(&[create("c")]).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// The version 1 schema as shipped. Files made by it must keep opening:
/// do not edit this to follow a schema change, add a migration instead.
const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_message_id', 1);
CREATE TABLE sessions (client_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL,
    qos INTEGER NOT NULL, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
CREATE TABLE messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL,
    payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL);
CREATE TABLE session_messages (client_id TEXT NOT NULL, seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
    state INTEGER NOT NULL, packet_id INTEGER, PRIMARY KEY (client_id, seq)) WITHOUT ROWID;
CREATE INDEX session_messages_by_body ON session_messages (message_id) WHERE state < 2;
CREATE TABLE inbound_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
CREATE TABLE retained (topic TEXT PRIMARY KEY NOT NULL, payload BLOB NOT NULL,
    qos INTEGER NOT NULL);
PRAGMA user_version = 1;
PRAGMA application_id = 1836149876;
";

#[test]
fn opens_a_version_1_file() {
    let dir = TempDir::new("v1");
    let path = dir.path("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(
            "UPDATE meta SET value = 8 WHERE key = 'next_message_id';
             INSERT INTO sessions VALUES ('c');
             INSERT INTO subscriptions VALUES ('c', 'a/#', 1);
             INSERT INTO messages VALUES (5, 'a/b', x'0102', 2, 1);
             INSERT INTO session_messages VALUES ('c', 0, 5, 1, 0, 1, 77);
             INSERT INTO session_messages VALUES ('c', 1, 4, 2, 0, 2, 78);
             INSERT INTO inbound_qos2 VALUES ('c', 9);
             INSERT INTO retained VALUES ('r', x'ff', 0);",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap(),
        Snapshot {
            sessions: vec![StoredSession {
                client_id: "c".into(),
                username: None,
                subscriptions: vec![("a/#".into(), QoS::AtLeastOnce)],
                messages: vec![
                    StoredMessage {
                        seq: 0,
                        message_id: 5,
                        message: msg("a/b", &[1, 2], QoS::AtLeastOnce, false),
                        state: StoredState::Sent(77),
                    },
                    StoredMessage {
                        seq: 1,
                        message_id: 4,
                        message: msg("", b"", QoS::ExactlyOnce, false),
                        state: StoredState::Released(78),
                    },
                ],
                queued_in_store: QueuedInStore::default(),
                last_seq: 1,
                inbound_qos2: vec![9],
            }],
            retained: vec![msg("r", &[0xff], QoS::AtMostOnce, true)],
            next_message_id: 8,
        }
    );
    // And the current code writes to it.
    store
        .apply(&[
            store_body(8, "a/c", b"new"),
            add("c", 2, 8, QoS::AtLeastOnce),
        ])
        .unwrap();
    assert_eq!(store.load().unwrap().next_message_id, 9);
}
