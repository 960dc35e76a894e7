//! MQTT 3.1.1 conformance, over raw sockets: malformed input (mosquitto's
//! `test/broker` group 09).
//!
//! §1.5.3 UTF-8 strings, §2.2 fixed header (reserved types and flags,
//! remaining length), §2.3.1 packet identifier 0, §3.3.2 / §4.7 topic names
//! with wildcards or empty, §3.8.3 / §3.10.3 empty or invalid SUBSCRIBE and
//! UNSUBSCRIBE payloads, server-only packets from a client, and
//! `max_packet_size`: each closes the connection without an answer, and the
//! broker keeps serving. Each test names the normative statement(s) it
//! checks. Every test runs its own broker.

use crate::support;

use support::conformance::*;
use support::*;

/// Connects a fresh client, sends `bytes`, and asserts the broker
/// closes the connection without answering, then still serves.
fn assert_closes(bytes: &[u8]) {
    let broker = TestBroker::start();
    let mut c = broker.connect("bad", true, 60);
    c.send_raw(bytes);
    let packets = c.drain_until_closed();
    assert!(packets.is_empty(), "answered {packets:?} to {bytes:02x?}");
    broker.wait_disconnected("bad");
    broker.assert_serves();
}

fn publish_bytes(qos_flags: u8, topic: &[u8], packet_id: Option<u16>) -> Vec<u8> {
    let mut body = field(topic);
    if let Some(id) = packet_id {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(b"payload");
    frame(0x30 | qos_flags, &body)
}

fn subscribe_bytes(filter: &[u8], qos: u8) -> Vec<u8> {
    frame(0x82, &cat(&[&[0, 1], &field(filter), &[qos]]))
}

#[test]
fn invalid_utf8_in_publish_topic() {
    // [MQTT-1.5.3-1] ill-formed UTF-8: close.
    assert_closes(&publish_bytes(0, b"a/\xff", None));
}

#[test]
fn overlong_utf8_in_publish_topic() {
    // [MQTT-1.5.3-1] an overlong encoding of '/' is ill-formed.
    assert_closes(&publish_bytes(0, b"a\xc0\xafb", None));
}

#[test]
fn surrogate_in_publish_topic() {
    // [MQTT-1.5.3-1] U+D800..U+DFFF MUST NOT be included.
    assert_closes(&publish_bytes(0x02, b"a\xed\xa0\x80", Some(1)));
}

#[test]
fn null_character_in_publish_topic() {
    // [MQTT-1.5.3-2] U+0000: close.
    assert_closes(&publish_bytes(0, b"a\x00b", None));
}

#[test]
fn invalid_utf8_in_subscribe_filter() {
    // [MQTT-1.5.3-1]
    assert_closes(&subscribe_bytes(b"f/\xfe", 0));
}

#[test]
fn null_character_in_subscribe_filter() {
    // [MQTT-1.5.3-2]
    assert_closes(&subscribe_bytes(b"f/\x00", 0));
}

#[test]
fn invalid_utf8_in_client_id() {
    // [MQTT-1.5.3-1] also in CONNECT: no accepting CONNACK.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQTT"), &[4, 0x02, 0, 60], &field(b"id\xff")]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn subscribe_reserved_flags_wrong() {
    // [MQTT-3.8.1-1] SUBSCRIBE flags MUST be 0010.
    assert_closes(&frame(0x80, &cat(&[&[0, 1], &field(b"a"), &[0]])));
}

#[test]
fn unsubscribe_reserved_flags_wrong() {
    // [MQTT-3.10.1-1] UNSUBSCRIBE flags MUST be 0010.
    assert_closes(&frame(0xa0, &cat(&[&[0, 1], &field(b"a")])));
}

#[test]
fn pubrel_reserved_flags_wrong() {
    // [MQTT-3.6.1-1] PUBREL flags MUST be 0010.
    assert_closes(&[0x60, 0x02, 0x00, 0x01]);
}

#[test]
fn pingreq_and_disconnect_flags_wrong() {
    // [MQTT-2.2.2-2] invalid flags: close.
    assert_closes(&[0xc1, 0x00]);
    assert_closes(&[0xe8, 0x00]);
    assert_closes(&[0x48, 0x02, 0x00, 0x01]);
}

#[test]
fn publish_qos_3() {
    // [MQTT-3.3.1-4] QoS bits 11: close.
    assert_closes(&publish_bytes(0x06, b"a", Some(1)));
}

#[test]
fn reserved_packet_types() {
    // Types 0 and 15 are reserved (§2.2.1).
    assert_closes(&[0x00, 0x00]);
    assert_closes(&[0xf0, 0x00]);
}

#[test]
fn packet_id_0_in_publish() {
    // [MQTT-2.3.1-1] QoS 1/2 PUBLISH needs a non-zero id.
    assert_closes(&publish_bytes(0x02, b"a", Some(0)));
    assert_closes(&publish_bytes(0x04, b"a", Some(0)));
}

#[test]
fn packet_id_0_in_subscribe() {
    // [MQTT-2.3.1-1]
    assert_closes(&frame(0x82, &cat(&[&[0, 0], &field(b"a"), &[0]])));
}

#[test]
fn packet_id_0_in_unsubscribe() {
    // [MQTT-2.3.1-1]
    assert_closes(&frame(0xa2, &cat(&[&[0, 0], &field(b"a")])));
}

#[test]
fn packet_id_0_in_acks() {
    // [MQTT-2.3.1-1]
    assert_closes(&[0x40, 0x02, 0x00, 0x00]);
    assert_closes(&[0x62, 0x02, 0x00, 0x00]);
}

#[test]
fn wildcard_in_publish_topic() {
    // [MQTT-3.3.2-2] a PUBLISH topic name MUST NOT contain wildcards.
    assert_closes(&publish_bytes(0, b"a/+", None));
    assert_closes(&publish_bytes(0x02, b"a/#", Some(1)));
    assert_closes(&publish_bytes(0, b"#", None));
}

#[test]
fn empty_publish_topic() {
    // [MQTT-4.7.3-1] a topic name is at least one character.
    assert_closes(&publish_bytes(0, b"", None));
}

#[test]
fn subscribe_without_filters() {
    // [MQTT-3.8.3-3] at least one filter.
    assert_closes(&frame(0x82, &[0, 1]));
}

#[test]
fn subscribe_qos_3_or_reserved_bits() {
    // [MQTT-3-8.3-4] QoS 3 or reserved bits set: malformed, close.
    assert_closes(&subscribe_bytes(b"a", 3));
    assert_closes(&subscribe_bytes(b"a", 0x41));
}

#[test]
fn unsubscribe_without_filters() {
    // [MQTT-3.10.3-2]
    assert_closes(&frame(0xa2, &[0, 1]));
}

#[test]
fn remaining_length_of_5_bytes() {
    // §2.2.3: at most 4 bytes.
    assert_closes(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
}

#[test]
fn string_longer_than_packet() {
    // A topic length past the end of the packet.
    assert_closes(&frame(0x30, &[0x00, 0x10, b'a']));
}

#[test]
fn trailing_bytes_after_pingreq() {
    // PINGREQ has no variable header or payload (§3.12).
    assert_closes(&[0xc0, 0x01, 0x00]);
}

#[test]
fn server_only_packets_from_a_client() {
    // CONNACK, SUBACK, UNSUBACK, PINGRESP are server-to-client only
    // (§2.2.1): a client sending one is a protocol violation.
    assert_closes(&[0x20, 0x02, 0x00, 0x00]);
    assert_closes(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    assert_closes(&[0xb0, 0x02, 0x00, 0x01]);
    assert_closes(&[0xd0, 0x00]);
}

#[test]
fn malformed_before_connect_closes_without_connack() {
    let broker = TestBroker::start();
    let mut c = broker.socket();
    c.send_raw(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]);
    c.expect_closed();
    let mut c = broker.socket();
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.expect_closed();
    broker.assert_serves();
}

#[test]
fn max_packet_size_exceeded_closes() {
    // Config max_packet_size: a larger packet closes its connection,
    // detected from the fixed header alone (no body sent).
    let broker = TestBroker::start_with(|c| c.max_packet_size = 1024);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("big", Q0)]);

    let mut fits = broker.connect("fits", true, 60);
    fits.publish_acked("big", &[7u8; 900], Q1, false);
    sub.expect_message("big", &[7u8; 900]);

    let mut large = broker.connect("large", true, 60);
    large.publish("big", &[7u8; 2000], Q1, false);
    large.expect_closed();

    let mut header_only = broker.connect("header", true, 60);
    header_only.send_raw(&[0x30, 0xa0, 0x8d, 0x06]); // remaining length 100 000
    header_only.expect_closed();

    sub.expect_nothing();
    broker.assert_serves();
}

#[test]
fn many_malformed_clients_then_normal_service() {
    // One broker, a sequence of bad clients, then a normal client and
    // the earlier good client still connected.
    let broker = TestBroker::start();
    let mut bystander = broker.connect("bystander", true, 60);
    bystander.subscribe(&[("#", Q0)]);
    let bad: Vec<Vec<u8>> = vec![
        publish_bytes(0, b"a/\xff", None),
        publish_bytes(0x06, b"a", Some(1)),
        vec![0x62, 0x02, 0x00, 0x00],
        subscribe_bytes(b"a", 3),
        vec![0xf0, 0x00],
        vec![0x10, 0x00],
    ];
    for (i, bytes) in bad.iter().enumerate() {
        let mut c = broker.connect(&format!("bad{i}"), true, 60);
        c.send_raw(bytes);
        c.expect_closed();
    }
    bystander.expect_nothing();
    bystander.ping();
    broker.assert_serves();
}
