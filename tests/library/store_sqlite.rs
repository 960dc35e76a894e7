//! The SQLite store's op semantics: every op round-trips, queued messages
//! come back in `seq` order and in pages, `SessionCreate` resets a session,
//! ops on unknown sessions are harmless, a failing batch changes nothing,
//! retained set / replace / delete, reopening keeps everything, `Send`.
//! Helpers: `tests/support/store.rs`; the rest in `tests/store_sqlite_*.rs`.

use crate::support;

use mqlite::codec::{PropertiesBuilder, RetainHandling, SubscriptionOptions};
use mqlite::core::Message;
use mqlite::store::*;
use mqlite::{Error, QoS};
use support::store::{
    add, all_messages, count_rows, create, delete, msg, retain_set, session, store_body,
};
use support::TempDir;

#[test]
fn round_trip_of_every_op() {
    let dir = TempDir::new("round-trip");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap(),
        Snapshot {
            sessions: vec![],
            retained: vec![],
            next_message_id: 1
        }
    );
    store.apply(&[]).unwrap();
    let ops = vec![
        create("a"),
        create("b"),
        StoreOp::SessionUser {
            client_id: "a".into(),
            username: Some("mallory".into()),
        },
        StoreOp::SessionUser {
            client_id: "a".into(),
            username: Some("alice".into()),
        },
        StoreOp::SessionUser {
            client_id: "b".into(),
            username: None,
        },
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "x/#".into(),
            options: QoS::AtLeastOnce.into(),
            identifier: 0,
        },
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "y/+".into(),
            options: QoS::ExactlyOnce.into(),
            identifier: 0,
        },
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "z".into(),
            options: QoS::AtMostOnce.into(),
            identifier: 0,
        },
        // QoS change.
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "x/#".into(),
            options: QoS::ExactlyOnce.into(),
            identifier: 0,
        },
        StoreOp::Unsubscribe {
            client_id: "a".into(),
            filter: "z".into(),
        },
        store_body(1, "x/1", b"one"),
        store_body(2, "x/2", b"two"),
        store_body(3, "y/3", b""),
        add("a", 0, 1, QoS::AtLeastOnce),
        add("a", 1, 2, QoS::ExactlyOnce),
        StoreOp::SessionMessageAdd {
            client_id: "a".into(),
            seq: 2,
            message_id: 3,
            qos: QoS::ExactlyOnce,
            retain: true,
        },
        add("a", 3, 1, QoS::AtLeastOnce),
        add("b", 0, 1, QoS::AtLeastOnce),
        StoreOp::SessionMessageSent {
            client_id: "a".into(),
            seq: 0,
            packet_id: 10,
        },
        StoreOp::SessionMessageSent {
            client_id: "a".into(),
            seq: 1,
            packet_id: 11,
        },
        StoreOp::SessionMessageReleased {
            client_id: "a".into(),
            seq: 1,
        },
        delete("a", 3),
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 7,
        },
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 5,
        },
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 9,
        },
        StoreOp::InboundQos2Remove {
            client_id: "b".into(),
            packet_id: 9,
        },
        retain_set("r/1", b"retained one", QoS::AtLeastOnce),
        retain_set("r/2", b"retained two", QoS::AtMostOnce),
        StoreOp::RetainDelete {
            topic: "r/2".into(),
        },
    ];
    store.apply(&ops).unwrap();
    let expected = Snapshot {
        sessions: vec![
            StoredSession {
                client_id: "a".into(),
                username: Some("alice".into()),
                expiry_interval: u32::MAX,
                subscriptions: vec![
                    StoredSubscription::qos_only("x/#", QoS::ExactlyOnce),
                    StoredSubscription::qos_only("y/+", QoS::ExactlyOnce),
                ],
                messages: vec![
                    StoredMessage {
                        seq: 0,
                        message_id: 1,
                        message: msg("x/1", b"one", QoS::AtLeastOnce, false),
                        state: StoredState::Sent(10),
                    },
                    StoredMessage {
                        seq: 1,
                        message_id: 2,
                        message: msg("", b"", QoS::ExactlyOnce, false),
                        state: StoredState::Released(11),
                    },
                ],
                // The queued one stays in the file: "y/3" and no payload.
                queued_in_store: QueuedInStore {
                    messages: 1,
                    bytes: 3,
                },
                last_seq: 2,
                inbound_qos2: vec![],
            },
            StoredSession {
                client_id: "b".into(),
                username: None,
                expiry_interval: u32::MAX,
                subscriptions: vec![],
                messages: vec![],
                queued_in_store: QueuedInStore {
                    messages: 1,
                    bytes: 6,
                },
                last_seq: 0,
                inbound_qos2: vec![5, 7],
            },
        ],
        retained: vec![msg("r/1", b"retained one", QoS::AtLeastOnce, true)],
        next_message_id: 4,
    };
    assert_eq!(store.load().unwrap(), expected);
    // Loading twice gives the same.
    assert_eq!(store.load().unwrap(), expected);
    assert_eq!(
        store.load_queued("a", None, 10, usize::MAX).unwrap(),
        vec![StoredMessage {
            seq: 2,
            message_id: 3,
            message: msg("y/3", b"", QoS::ExactlyOnce, true),
            state: StoredState::Queued,
        }]
    );
    assert_eq!(
        store.load_queued("b", None, 10, usize::MAX).unwrap(),
        vec![StoredMessage {
            seq: 0,
            message_id: 1,
            message: msg("x/1", b"one", QoS::AtLeastOnce, false),
            state: StoredState::Queued,
        }]
    );
    assert!(store
        .load_queued("b", None, 0, usize::MAX)
        .unwrap()
        .is_empty());
    assert!(store
        .load_queued("nobody", None, 10, 10)
        .unwrap()
        .is_empty());
    drop(store);
    // Body 2 went with the release; 1 and 3 are still held.
    assert_eq!(count_rows(&path, "messages"), 2);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap(), expected);
    store
        .apply(&[
            StoreOp::SessionDelete {
                client_id: "a".into(),
            },
            StoreOp::InboundQos2Remove {
                client_id: "b".into(),
                packet_id: 5,
            },
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(session(&snapshot, "b").inbound_qos2, vec![7]);
    assert_eq!(all_messages(&mut store, &snapshot, "b").len(), 1);
    drop(store);
    assert_eq!(count_rows(&path, "messages"), 1);
    assert_eq!(count_rows(&path, "subscriptions"), 0);
}

#[test]
fn messages_come_in_seq_order() {
    let dir = TempDir::new("order");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let seqs = [100u64, 2, 30, 1, 9, 1_000_000_000_000, 11];
    let mut ops = vec![create("c")];
    for (i, &seq) in seqs.iter().enumerate() {
        let id = i as u64 + 1;
        ops.push(store_body(id, &format!("t/{seq}"), &seq.to_be_bytes()));
        ops.push(add("c", seq, id, QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    let snapshot = store.load().unwrap();
    let messages = all_messages(&mut store, &snapshot, "c");
    let got: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    let mut want = seqs.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    for m in &messages {
        assert_eq!(m.message.topic(), format!("t/{}", m.seq));
        assert_eq!(m.message.payload(), m.seq.to_be_bytes());
    }
    assert_eq!(session(&snapshot, "c").last_seq, 1_000_000_000_000);
    // Pages: after a position, bounded by count and by bytes.
    let page = store.load_queued("c", Some(9), 2, usize::MAX).unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11, 30]);
    let page = store.load_queued("c", Some(0), 100, 1).unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
    assert!(store
        .load_queued("c", Some(u64::MAX), 100, 1)
        .unwrap()
        .is_empty());
    let page = store
        .load_queued("c", Some(1_000_000_000_000), 100, 1)
        .unwrap();
    assert!(page.is_empty());
}

#[test]
fn session_create_resets_the_session() {
    let dir = TempDir::new("reset");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            create("other"),
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "a".into(),
                options: QoS::AtLeastOnce.into(),
                identifier: 0,
            },
            store_body(1, "a", b"1"),
            store_body(2, "a", b"2"),
            add("c", 0, 1, QoS::AtLeastOnce),
            add("c", 1, 2, QoS::AtLeastOnce),
            add("other", 0, 2, QoS::AtLeastOnce),
            StoreOp::InboundQos2Add {
                client_id: "c".into(),
                packet_id: 3,
            },
        ])
        .unwrap();
    // A reset in the same batch as new state: only the new state is left.
    store
        .apply(&[
            create("c"),
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "b".into(),
                options: QoS::AtMostOnce.into(),
                identifier: 0,
            },
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(
        session(&snapshot, "c"),
        &StoredSession {
            client_id: "c".into(),
            username: None,
            expiry_interval: u32::MAX,
            subscriptions: vec![StoredSubscription::qos_only("b", QoS::AtMostOnce)],
            messages: vec![],
            queued_in_store: QueuedInStore::default(),
            last_seq: 0,
            inbound_qos2: vec![],
        }
    );
    assert_eq!(all_messages(&mut store, &snapshot, "other").len(), 1);
    // Seq numbers may start again after a reset.
    store
        .apply(&[store_body(3, "a", b"3"), add("c", 0, 3, QoS::AtLeastOnce)])
        .unwrap();
    drop(store);
    // Body 1 was only c's; 2 is still held by "other", 3 by the new c.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, vec![2, 3]);
}

#[test]
fn ops_on_unknown_sessions_are_harmless() {
    let dir = TempDir::new("unknown");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let ghost = || std::sync::Arc::<str>::from("ghost");
    store
        .apply(&[
            StoreOp::Subscribe {
                client_id: ghost(),
                filter: "a".into(),
                options: QoS::AtLeastOnce.into(),
                identifier: 0,
            },
            StoreOp::Unsubscribe {
                client_id: ghost(),
                filter: "a".into(),
            },
            add("ghost", 0, 1, QoS::AtLeastOnce),
            StoreOp::SessionMessageSent {
                client_id: ghost(),
                seq: 0,
                packet_id: 1,
            },
            StoreOp::SessionMessageReleased {
                client_id: ghost(),
                seq: 0,
            },
            delete("ghost", 0),
            StoreOp::InboundQos2Add {
                client_id: ghost(),
                packet_id: 1,
            },
            StoreOp::InboundQos2Remove {
                client_id: ghost(),
                packet_id: 1,
            },
            StoreOp::SessionDelete { client_id: ghost() },
            StoreOp::RetainDelete {
                topic: "nothing".into(),
            },
        ])
        .unwrap();
    assert!(store.load().unwrap().sessions.is_empty());
    drop(store);
    for table in [
        "sessions",
        "subscriptions",
        "session_messages",
        "inbound_qos2",
    ] {
        assert_eq!(count_rows(&path, table), 0, "{table}");
    }
}

#[test]
fn a_failing_batch_changes_nothing() {
    let dir = TempDir::new("rollback");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            store_body(1, "t", b"first"),
            add("c", 0, 1, QoS::AtLeastOnce),
        ])
        .unwrap();
    let before = store.load().unwrap();
    // The same message id twice is refused: the whole batch goes.
    let err = store
        .apply(&[
            retain_set("r", b"x", QoS::AtLeastOnce),
            create("d"),
            store_body(1, "t", b"again"),
        ])
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("MessageStore"), "{text}");
    assert_eq!(store.load().unwrap(), before);
    // And the store still works.
    store
        .apply(&[retain_set("r", b"x", QoS::AtLeastOnce)])
        .unwrap();
    assert_eq!(store.load().unwrap().retained.len(), 1);
}

#[test]
fn retained_set_replace_delete() {
    let dir = TempDir::new("retained");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let big = vec![0xabu8; 300_000];
    store
        .apply(&[
            retain_set("a/b", b"1", QoS::AtMostOnce),
            retain_set("a/c", &big, QoS::ExactlyOnce),
            retain_set("a/d", b"", QoS::AtLeastOnce),
        ])
        .unwrap();
    store
        .apply(&[retain_set("a/b", b"2", QoS::AtLeastOnce)])
        .unwrap();
    assert_eq!(
        store.load().unwrap().retained,
        vec![
            msg("a/b", b"2", QoS::AtLeastOnce, true),
            msg("a/c", &big, QoS::ExactlyOnce, true),
            msg("a/d", b"", QoS::AtLeastOnce, true),
        ]
    );
    store
        .apply(&[
            StoreOp::RetainDelete {
                topic: "a/c".into(),
            },
            StoreOp::RetainDelete {
                topic: "a/b".into(),
            },
            retain_set("a/b", b"3", QoS::AtMostOnce),
        ])
        .unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap().retained,
        vec![
            msg("a/b", b"3", QoS::AtMostOnce, true),
            msg("a/d", b"", QoS::AtLeastOnce, true),
        ]
    );
}

#[test]
fn reopening_keeps_everything() {
    let dir = TempDir::new("reopen");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut ops = Vec::new();
    for c in 0..10u64 {
        let client: std::sync::Arc<str> = format!("client-{c}").into();
        ops.push(create(&client));
        ops.push(StoreOp::Subscribe {
            client_id: client.clone(),
            filter: format!("c/{c}/#"),
            options: QoS::ExactlyOnce.into(),
            identifier: 0,
        });
        for i in 0..10u64 {
            let id = c * 10 + i + 1;
            ops.push(store_body(id, &format!("c/{c}/{i}"), &id.to_le_bytes()));
            ops.push(add(&client, i, id, QoS::ExactlyOnce));
        }
        ops.push(StoreOp::SessionMessageSent {
            client_id: client.clone(),
            seq: 0,
            packet_id: 1,
        });
        ops.push(StoreOp::InboundQos2Add {
            client_id: client,
            packet_id: 42,
        });
        ops.push(retain_set(&format!("r/{c}"), b"r", QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    let before = store.load().unwrap();
    assert_eq!(before.sessions.len(), 10);
    assert_eq!(before.next_message_id, 101);
    drop(store);
    for _ in 0..2 {
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), before);
    }
}

#[test]
fn the_store_can_move_to_the_reactor_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<SqliteStore>();
    let dir = TempDir::new("send");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();
    let snapshot = std::thread::spawn(move || store.load().unwrap())
        .join()
        .unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
}

/// The memory store keeps what the SQLite store keeps: the same random
/// batches of operations, shaped as the core makes them (subscriptions with
/// MQTT 5 options and identifiers, session expiry intervals, bodies with
/// properties among them), give the same snapshots and the same queue pages
/// from both.
#[test]
fn memory_store_matches_the_sqlite_store() {
    let dir = TempDir::new("memory-vs-sqlite");
    let mut sqlite = SqliteStore::open(&dir.path("store.db")).unwrap();
    let mut memory = MemoryStore::new();
    let clients = ["a", "b", "c"];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut next_body, mut next_seq) = (1u64, 1u64);
    let mut sent: Vec<(std::sync::Arc<str>, u64)> = Vec::new();
    let mut seen = [false; 3];
    for batch_no in 0..300 {
        let mut batch = Vec::new();
        let mut body = None;
        for _ in 0..1 + next(6) {
            let client: std::sync::Arc<str> = clients[next(3) as usize].into();
            let op = match next(12) {
                0 => create(&client),
                1 if next(4) == 0 => StoreOp::SessionDelete { client_id: client },
                2 => StoreOp::Subscribe {
                    client_id: client,
                    filter: format!("f/{}", next(3)),
                    options: SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: next(2) == 0,
                        retain_as_published: next(2) == 0,
                        retain_handling: [
                            RetainHandling::SendOnSubscribe,
                            RetainHandling::SendIfNew,
                            RetainHandling::DoNotSend,
                        ][next(3) as usize],
                    },
                    identifier: next(3) as u32,
                },
                3 => StoreOp::Unsubscribe {
                    client_id: client,
                    filter: format!("f/{}", next(3)),
                },
                4..=6 => {
                    let id = *body.get_or_insert_with(|| {
                        let id = next_body;
                        next_body += 1;
                        let topic = format!("t/{id}");
                        batch.push(if next(2) == 0 {
                            store_body(id, &topic, &id.to_be_bytes())
                        } else {
                            let mut properties = PropertiesBuilder::new();
                            properties.user_property("id", &id.to_string());
                            StoreOp::MessageStore {
                                id,
                                message: Message::with_properties(
                                    &topic,
                                    properties.unchecked(),
                                    &id.to_be_bytes(),
                                    QoS::ExactlyOnce,
                                    false,
                                    None,
                                )
                                .unwrap(),
                            }
                        });
                        id
                    });
                    next_seq += 1;
                    if next(2) == 0 {
                        sent.push((client.clone(), next_seq));
                    }
                    add(&client, next_seq, id, QoS::ExactlyOnce)
                }
                7 | 8 if !sent.is_empty() => {
                    let (client_id, seq) = sent[next(sent.len() as u64) as usize].clone();
                    if next(2) == 0 {
                        StoreOp::SessionMessageSent {
                            client_id,
                            seq,
                            packet_id: (seq % 60_000) as u16 + 1,
                        }
                    } else {
                        StoreOp::SessionMessageReleased { client_id, seq }
                    }
                }
                9 if !sent.is_empty() => {
                    let (client_id, seq) = sent.swap_remove(next(sent.len() as u64) as usize);
                    delete(&client_id, seq)
                }
                10 => StoreOp::SessionUser {
                    client_id: client,
                    username: (next(2) == 0).then(|| "user".to_string()),
                },
                11 if next(2) == 0 => StoreOp::SessionExpiry {
                    client_id: client,
                    interval: [1, 3600, u32::MAX][next(3) as usize],
                },
                _ => retain_set(&format!("r/{}", next(4)), b"r", QoS::AtMostOnce),
            };
            batch.push(op);
        }
        sqlite.apply(&batch).unwrap();
        memory.apply(&batch).unwrap();
        let snapshot = memory.load().unwrap();
        assert_eq!(
            snapshot,
            sqlite.load().unwrap(),
            "after batch {batch_no}: {batch:?}"
        );
        for stored in snapshot.sessions.iter().flat_map(|s| &s.messages) {
            seen[match stored.state {
                StoredState::Queued => 0,
                StoredState::Sent(_) => 1,
                StoredState::Released(_) => 2,
            }] = true;
        }
        seen[0] |= snapshot
            .sessions
            .iter()
            .any(|s| s.queued_in_store.messages > 0);
        for client in clients {
            let after = next(2).checked_sub(1).map(|_| next(next_seq + 1));
            assert_eq!(
                memory.load_queued(client, after, 3, 20).unwrap(),
                sqlite.load_queued(client, after, 3, 20).unwrap(),
                "pages of {client} after batch {batch_no}"
            );
        }
    }
    // The run went through queued, sent and released messages.
    assert_eq!(seen, [true; 3]);
}
