//! Unit tests of the op log's byte form.

use super::*;

fn msg(topic: &str, payload: &[u8], expires: Option<u64>) -> Message {
    Message::new(topic, payload, QoS::ExactlyOnce, true)
        .unwrap()
        .with_expiry(expires)
}

#[test]
fn every_logged_op_round_trips() {
    let zero = ClockZero::at(1_000_000);
    let ops = vec![
        StoreOp::MessageStore {
            id: 300,
            message: msg("a/b", b"payload", Some(5_000)),
        },
        StoreOp::SessionMessageAdd {
            client_id: "c".into(),
            seq: 1 << 40,
            message_id: 300,
            qos: QoS::AtLeastOnce,
            retain: true,
        },
        StoreOp::SessionMessageSent {
            client_id: "c".into(),
            seq: 1 << 40,
            packet_id: 65535,
        },
        StoreOp::SessionMessageReleased {
            client_id: "d".into(),
            seq: 2,
        },
        StoreOp::SessionMessageDelete {
            client_id: "c".into(),
            seq: 0,
        },
        StoreOp::InboundQos2Add {
            client_id: "c".into(),
            packet_id: 7,
        },
        StoreOp::InboundQos2Remove {
            client_id: "c".into(),
            packet_id: 7,
        },
        StoreOp::RetainSet {
            message: msg("r", b"", None),
        },
        StoreOp::RetainDelete { topic: "r".into() },
    ];
    let mut row = Vec::new();
    start_row(&mut row);
    encode(&ops, zero, &mut row);
    let mut views = Vec::new();
    decode(&row, &mut views).unwrap();
    let mut back = Vec::new();
    for op in views {
        op.push_ops(zero, &mut back).unwrap();
    }
    assert_eq!(back, ops);
}

#[test]
fn truncated_or_foreign_rows_are_errors_not_panics() {
    let zero = ClockZero::at(0);
    let mut row = Vec::new();
    start_row(&mut row);
    encode(
        &[StoreOp::MessageStore {
            id: 1,
            message: msg("t", b"xyz", None),
        }],
        zero,
        &mut row,
    );
    // Cut anywhere after the format byte, the op is incomplete.
    for end in 2..row.len() {
        assert!(decode(&row[..end], &mut Vec::new()).is_err(), "{end}");
    }
    assert!(decode(&[9], &mut Vec::new()).is_err());
    assert!(decode(&[FORMAT_1, TAG_ADD | SAME_CLIENT], &mut Vec::new()).is_err());
    assert!(decode(&[FORMAT_1, 0x7f], &mut Vec::new()).is_err());
    // A message whose property block is not a PUBLISH's fails when built.
    let bad = [0u8, 1, b't', 2, 0xff, 0, 0];
    assert!(read_message(&bad, zero).is_err());
    assert!(read_message(&[0u8, 1, b't', 0, 0, 9], zero).is_err());
    assert_eq!(varint_len(0), 1);
    assert_eq!(varint_len(127), 1);
    assert_eq!(varint_len(128), 2);
    assert_eq!(varint_len(u64::MAX), 10);
}
