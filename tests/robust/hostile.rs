//! Malformed and oversized input over real sockets, against the `mqlite`
//! binary run with `-v`: truncated packets, garbage bytes, the deepest
//! topics and the longest client ids (within and past `max_packet_size`).
//! Slow and silent clients are in `robust_hostile_slow.rs`, floods and
//! storms in `robust_hostile_floods.rs`.
//!
//! Each test checks three things: the abusive client is cut off by a stated
//! limit (or served, when it stays within the limits), the broker's stderr
//! says why, and the broker still serves a normal client afterwards (and
//! holds no descriptor of the abusers).

use crate::support;

use std::time::Duration;

use mqlite::codec::{Packet, Properties, QoS};
use support::robust::{assert_fds_back, broker, Spawn};
use support::{encode, frame, ConnectOptions, Pkt, RawClient};

const Q1: QoS = QoS::AtLeastOnce;

mod truncated {
    use super::*;

    #[test]
    fn truncated_packets_close_only_their_connection() {
        let mut broker = broker("");
        let baseline = broker.fd_count();

        // A PUBLISH whose topic length runs past its remaining length.
        let mut c = RawClient::open(broker.addr);
        c.connect("short-field", true, 60);
        c.send_raw(&frame(0x30, &[0x00, 0x10, b'a']));
        c.expect_closed();

        // A remaining length that never ends (5 continuation bytes).
        let mut d = RawClient::open(broker.addr);
        d.connect("endless-length", true, 60);
        d.send_raw(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
        d.expect_closed();

        broker.assert_log(&["malformed input", "packet truncated"]);
        broker.assert_log(&["malformed input", "malformed remaining length"]);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn truncated_packet_then_eof_is_dropped_with_the_connection() {
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut watcher = RawClient::open(broker.addr);
        watcher.connect("trunc-watcher", true, 60);
        watcher.subscribe(&[("will/#", Q1)]);

        // A CONNECT cut in the middle, then end-of-file.
        let connect = ConnectOptions::new("cut-connect").encode();
        let mut a = RawClient::open(broker.addr);
        a.send_raw(&connect[..connect.len() / 2]);
        a.close_abruptly();

        // A connected client sends half a PUBLISH and vanishes: its will
        // goes out (a network failure), the half packet is discarded.
        let mut b = RawClient::open(broker.addr);
        b.connect_with(&ConnectOptions::new("cut-publish").will("will/cut", b"gone", Q1, false));
        let publish = encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q1,
            retain: false,
            topic: "trunc/t",
            packet_id: Some(1),
            payload: &[7u8; 1000],
            properties: Properties::EMPTY,
        }));
        b.send_raw(&publish[..100]);
        b.close_abruptly();
        watcher.expect_message("will/cut", b"gone");

        broker.assert_log(&["closed before CONNECT completed", "Network"]);
        broker.assert_log(&["client cut-publish disconnected", "Network"]);
        // Nothing of the cut PUBLISH was delivered.
        watcher.expect_nothing();
        watcher.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod garbage {
    use super::*;

    #[test]
    fn garbage_bytes_are_refused() {
        // Random bytes, an HTTP request and a TLS ClientHello on the MQTT
        // port: each connection is closed, by a decode error or by
        // connect_timeout for bytes that look like the start of a packet.
        let mut broker = broker("connect_timeout = 1");
        let baseline = broker.fd_count();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut inputs: Vec<Vec<u8>> = (0..50)
            .map(|_| (0..200).map(|_| next() as u8).collect())
            .collect();
        inputs.push(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec());
        // A TLS 1.2 ClientHello record header and the start of its body.
        inputs.push(vec![
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ]);
        let count = inputs.len();
        let mut clients: Vec<RawClient> = inputs
            .iter()
            .map(|bytes| {
                let mut c = RawClient::open(broker.addr);
                c.send_raw(bytes);
                c
            })
            .collect();
        for c in &mut clients {
            // A CONNACK 0x01 may come first (bytes that read as a CONNECT
            // of another protocol level); never a CONNACK 0.
            for pkt in c.drain_until_closed() {
                assert!(
                    !matches!(pkt, Pkt::ConnAck { code: 0, .. }),
                    "garbage accepted: {pkt:?}"
                );
            }
        }
        let ok = support::poll_until(Duration::from_secs(5), || {
            broker
                .stderr()
                .lines()
                .filter(|l| {
                    l.contains("malformed input from")
                        || l.contains("first packet was")
                        || l.contains("closed before CONNECT completed")
                })
                .count()
                >= count
        });
        assert!(
            ok,
            "not every garbage connection's close has a reason in the log:\n{}",
            support::robust::tail(&broker.stderr(), 30)
        );
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod deep_topics {
    use super::*;

    #[test]
    fn deepest_topics_and_filters_are_served_and_persisted() {
        // The longest topic the protocol allows (65 535 bytes) with the most
        // levels (32 768, or 65 536 empty ones): subscribe, publish,
        // retain, persist across a restart, clear.
        let dir = support::TempDir::new("deep");
        let broker = Spawn::new("").verbose().persist().dir(&dir.0).start();
        let topic = format!("{}d", "d/".repeat(32_767));
        let plus = format!("{}+", "+/".repeat(32_767));
        let hash = format!("{}#", "d/".repeat(32_767));
        let empty_levels = "/".repeat(65_535);
        for s in [&topic, &plus, &hash, &empty_levels] {
            assert_eq!(s.len(), 65_535);
        }

        let mut sub = RawClient::open(broker.addr);
        sub.connect("deep-sub", true, 60);
        assert_eq!(
            sub.subscribe(&[(&topic, Q1), (&plus, Q1), (&hash, Q1), (&empty_levels, Q1)]),
            vec![1, 1, 1, 1]
        );
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("deep-pub", true, 60);
        publisher.publish_acked(&topic, b"deep", Q1, true);
        // Three matching filters, one delivery.
        let msg = sub.expect_message(&topic, b"deep");
        assert!(!msg.retain);
        sub.expect_nothing();
        publisher.publish_acked(&empty_levels, b"empty levels", Q1, false);
        sub.expect_message(&empty_levels, b"empty levels");
        sub.disconnect();
        publisher.disconnect();

        // The retained deep message survives a restart.
        let port = broker.addr.port();
        broker.stop();
        let mut broker = Spawn::new("")
            .verbose()
            .persist()
            .port(port)
            .dir(&dir.0)
            .start();
        let mut late = RawClient::open(broker.addr);
        late.connect("deep-late", true, 60);
        assert_eq!(late.subscribe(&[("#", Q1)]), vec![1]);
        let msg = late.expect_message(&topic, b"deep");
        assert!(msg.retain, "retained copy has the retain flag");
        late.expect_nothing();
        // Cleared with an empty retained message.
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("deep-clear", true, 60);
        publisher.publish_acked(&topic, b"", Q1, true);
        late.expect_message(&topic, b"");
        late.disconnect();
        let mut check = RawClient::open(broker.addr);
        check.connect("deep-check", true, 60);
        assert_eq!(check.subscribe(&[("d/#", Q1)]), vec![1]);
        check.expect_nothing();
        check.disconnect();
        publisher.disconnect();
        broker.assert_serves();
    }
}

mod client_ids {
    use super::*;

    #[test]
    fn longest_client_ids_are_served() {
        // 65 535-byte client ids are valid within max_packet_size: two of
        // them differing in the last byte are two sessions, and a
        // persistent one resumes.
        let mut broker = broker("");
        let id_a = format!("{}a", "x".repeat(65_534));
        let id_b = format!("{}b", "x".repeat(65_534));
        let mut a = RawClient::open(broker.addr);
        assert!(!a.connect(&id_a, false, 60));
        a.subscribe(&[("huge/t", Q1)]);
        let mut b = RawClient::open(broker.addr);
        b.connect(&id_b, true, 60);
        b.ping();
        a.ping();
        a.disconnect();
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("huge-pub", true, 60);
        publisher.publish_acked("huge/t", b"for a", Q1, false);
        let mut a = RawClient::open(broker.addr);
        assert!(a.connect(&id_a, false, 60), "session present");
        a.expect_message("huge/t", b"for a");
        // A takeover with a huge id.
        let mut a2 = RawClient::open(broker.addr);
        assert!(a2.connect(&id_a, false, 60));
        a.expect_closed();
        a2.disconnect();
        b.disconnect();
        publisher.disconnect();
        broker.assert_serves();
    }

    #[test]
    fn client_id_past_max_packet_size_is_cut() {
        // The only cap on a client id is max_packet_size.
        let mut broker = broker("max_packet_size = 4096");
        let baseline = broker.fd_count();
        let mut c = RawClient::open(broker.addr);
        c.send_connect(&ConnectOptions::new(&"y".repeat(8_000)));
        c.expect_closed();
        broker.assert_log(&["malformed input from", "exceeds the maximum of 4096 bytes"]);
        broker.assert_log(&["closed before CONNECT completed: ProtocolError"]);
        // Just under the limit is fine.
        let mut ok = RawClient::open(broker.addr);
        ok.connect(&"z".repeat(4_000), true, 60);
        ok.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod closing {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use mqlite::codec::{decode_as, encode_as, Connect, Protocol, Publish, ReasonCode};

    use super::*;

    /// The broker closes on a client that is still sending (it exceeded the
    /// broker's Receive Maximum, and megabytes follow): the DISCONNECT with
    /// its reason still reaches the client, ahead of a clean end of stream.
    /// Closing a socket with unread input would send RST, and a client
    /// receiving RST can lose what it had not read yet.
    #[test]
    fn server_disconnect_reaches_a_client_still_sending() {
        let broker = broker("max_inflight = 2\n");
        let mut bytes = Vec::new();
        let connect = Connect {
            bridge: false,
            protocol: Protocol::V5,
            clean_session: true,
            keep_alive: 60,
            client_id: "still-sending",
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        };
        encode_as(
            &Packet::Connect(Box::new(connect)),
            Protocol::V5,
            &mut bytes,
        )
        .expect("a CONNECT");
        for id in 1..=3 {
            let publish = Publish {
                dup: false,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: "flood",
                packet_id: Some(id),
                payload: b"x",
                properties: Properties::default(),
            };
            encode_as(&Packet::Publish(publish), Protocol::V5, &mut bytes).expect("a PUBLISH");
        }
        // PINGREQs the broker never gets to: more than one read takes.
        bytes.extend([0xC0, 0x00].repeat(2 * 1024 * 1024));

        let mut stream = TcpStream::connect(broker.addr).expect("connected");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        let mut writer = stream.try_clone().expect("a second handle");
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(&bytes);
            let _ = writer.shutdown(std::net::Shutdown::Write);
        });
        let mut received = Vec::new();
        let end = stream.read_to_end(&mut received);
        let _ = sender.join();
        assert!(end.is_ok(), "the stream ended with {end:?}, not cleanly");

        let mut rest = &received[..];
        let mut last = None;
        while !rest.is_empty() {
            let (packet, used) = decode_as(rest, usize::MAX, Some(Protocol::V5))
                .expect("a packet")
                .expect("a whole packet");
            last = Some(format!("{packet:?}"));
            if let Packet::Disconnect(reasoned) = packet {
                assert_eq!(reasoned.reason, ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
                return;
            }
            rest = &rest[used..];
        }
        panic!("no DISCONNECT; the last packet was {last:?}");
    }
}
