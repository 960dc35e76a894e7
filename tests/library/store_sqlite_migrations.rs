//! The SQLite store's schema migrations: an empty (version 0) file is
//! brought to the current version in WAL mode, and files made by the
//! version 1 and version 2 schemas as shipped (kept here as `SCHEMA_V1` and
//! `SCHEMA_V2`) open, load with nothing lost, and are written to by the
//! current code.

use crate::support;

use mqlite::codec::{PropertiesBuilder, RetainHandling, SubscriptionOptions};
use mqlite::core::Message;
use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, all_messages, create, msg, session, store_body};
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
    assert_eq!(version, 4);
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
                expiry_interval: u32::MAX,
                subscriptions: vec![StoredSubscription::qos_only("a/#", QoS::AtLeastOnce)],
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

/// The version 2 schema as shipped: version 1 (as `SCHEMA_V1`, in the
/// layout of `src/store/sqlite/schema.rs`) plus `sessions.username`. Files
/// made by it must keep opening: do not edit this to follow a schema
/// change, add a migration instead.
const SCHEMA_V2: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_message_id', 1);

CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);

CREATE TABLE session_messages (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    state INTEGER NOT NULL,
    packet_id INTEGER,
    PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
CREATE INDEX session_messages_by_body ON session_messages (message_id)
    WHERE state < 2;

CREATE TABLE inbound_qos2 (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE retained (
    topic TEXT PRIMARY KEY NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL
);

ALTER TABLE sessions ADD COLUMN username TEXT;

PRAGMA user_version = 2;
PRAGMA application_id = 1836149876;
";

/// A version 2 file with two sessions (one with a user name), their
/// subscriptions, sent, released and queued messages (two sharing a body),
/// an inbound QoS 2 id, and two retained messages.
fn version_2_file(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA_V2).unwrap();
    conn.execute_batch(
        "UPDATE meta SET value = 12 WHERE key = 'next_message_id';
         INSERT INTO sessions VALUES ('c', 'carol');
         INSERT INTO sessions VALUES ('d', NULL);
         INSERT INTO subscriptions VALUES ('c', 'a/#', 1);
         INSERT INTO subscriptions VALUES ('c', '$share/g/s/+', 2);
         INSERT INTO subscriptions VALUES ('d', 'q', 0);
         INSERT INTO messages VALUES (5, 'a/b', x'0102', 2, 1);
         INSERT INTO messages VALUES (6, 'a/queued', x'03', 1, 0);
         INSERT INTO messages VALUES (7, 'q', x'0405', 2, 1);
         INSERT INTO session_messages VALUES ('c', 0, 5, 1, 0, 1, 77);
         INSERT INTO session_messages VALUES ('c', 1, 4, 2, 0, 2, 78);
         INSERT INTO session_messages VALUES ('c', 2, 6, 1, 0, 0, NULL);
         INSERT INTO session_messages VALUES ('c', 3, 7, 2, 1, 0, NULL);
         INSERT INTO session_messages VALUES ('d', 0, 7, 1, 0, 0, NULL);
         INSERT INTO inbound_qos2 VALUES ('c', 9);
         INSERT INTO retained VALUES ('r', x'ff', 0);
         INSERT INTO retained VALUES ('r/2', x'fe', 1);",
    )
    .unwrap();
}

#[test]
fn opens_a_version_2_file_with_nothing_lost() {
    let dir = TempDir::new("v2");
    let path = dir.path("store.db");
    version_2_file(&path);
    let mut store = SqliteStore::open(&path).unwrap();
    let snapshot = store.load().unwrap();
    // What MQTT 5 added reads as what a 3.1.1 client had: QoS-only
    // subscriptions, sessions that never expire, messages without
    // properties or expiry.
    assert_eq!(
        snapshot,
        Snapshot {
            sessions: vec![
                StoredSession {
                    client_id: "c".into(),
                    username: Some("carol".into()),
                    expiry_interval: u32::MAX,
                    subscriptions: vec![
                        StoredSubscription::qos_only("$share/g/s/+", QoS::ExactlyOnce),
                        StoredSubscription::qos_only("a/#", QoS::AtLeastOnce),
                    ],
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
                    queued_in_store: QueuedInStore {
                        messages: 2,
                        bytes: "a/queued".len() + 1 + 1 + 2,
                    },
                    last_seq: 3,
                    inbound_qos2: vec![9],
                },
                StoredSession {
                    client_id: "d".into(),
                    username: None,
                    expiry_interval: u32::MAX,
                    subscriptions: vec![StoredSubscription::qos_only("q", QoS::AtMostOnce)],
                    messages: vec![],
                    queued_in_store: QueuedInStore {
                        messages: 1,
                        bytes: 3,
                    },
                    last_seq: 0,
                    inbound_qos2: vec![],
                },
            ],
            retained: vec![
                msg("r", &[0xff], QoS::AtMostOnce, true),
                msg("r/2", &[0xfe], QoS::AtLeastOnce, true),
            ],
            next_message_id: 12,
        }
    );
    let queued: Vec<(u64, Message)> = all_messages(&mut store, &snapshot, "c")
        .into_iter()
        .filter(|m| m.state == StoredState::Queued)
        .map(|m| (m.seq, m.message))
        .collect();
    assert_eq!(
        queued,
        vec![
            (2, msg("a/queued", &[3], QoS::AtLeastOnce, false)),
            (3, msg("q", &[4, 5], QoS::ExactlyOnce, true)),
        ]
    );
    for (_, message) in &queued {
        assert!(message.properties().is_empty());
        assert_eq!(message.expires_at_ms(), None);
    }
    assert_eq!(
        all_messages(&mut store, &snapshot, "d")[0].message,
        msg("q", &[4, 5], QoS::AtLeastOnce, false)
    );
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
}

#[test]
fn a_migrated_version_2_file_takes_what_mqtt_5_adds() {
    let dir = TempDir::new("v2-write");
    let path = dir.path("store.db");
    version_2_file(&path);
    let mut store = SqliteStore::open(&path).unwrap();
    store.load().unwrap();
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let mut properties = PropertiesBuilder::new();
    properties.user_property("k", "v");
    let with_properties = Message::with_properties(
        "a/new",
        properties.unchecked(),
        b"p",
        QoS::AtLeastOnce,
        false,
        None,
    )
    .unwrap();
    store
        .apply(&[
            StoreOp::SessionExpiry {
                client_id: "c".into(),
                interval: 300,
            },
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "a/#".into(),
                options,
                identifier: 12,
            },
            StoreOp::MessageStore {
                id: 12,
                message: with_properties.clone(),
            },
            add("c", 4, 12, QoS::AtLeastOnce),
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    let c = session(&snapshot, "c");
    assert_eq!(c.expiry_interval, 300);
    assert!(c.subscriptions.contains(&StoredSubscription {
        filter: "a/#".into(),
        options,
        identifier: 12,
    }));
    let last = all_messages(&mut store, &snapshot, "c").pop().unwrap();
    assert_eq!((last.seq, last.message), (4, with_properties));
    // The old rows are untouched.
    assert_eq!(session(&snapshot, "d").expiry_interval, u32::MAX);
}
