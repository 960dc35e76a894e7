//! Deterministic fuzzing: the decoder never panics, never claims more bytes
//! than it was given, and whatever it accepts re-encodes to an equal packet.

mod codec {
    use crate::support::Rng;
    use mqlite::codec::*;

    const MAX: usize = 1 << 16;

    /// Decodes `buf` and checks the invariants; returns whether a packet came out.
    fn check(buf: &[u8]) -> bool {
        match decode(buf, MAX) {
            Ok(Some((packet, used))) => {
                assert!(used <= buf.len(), "consumed {used} of {} bytes", buf.len());
                assert!(used >= 2);
                // The same packet from exactly its bytes.
                assert_eq!(decode(&buf[..used], MAX), Ok(Some((packet.clone(), used))));
                // Re-encoding gives bytes that decode to the same packet.
                let mut out = Vec::new();
                encode(&packet, &mut out).unwrap();
                assert!(
                    out.len() <= used,
                    "re-encoding grew: {out:02x?} from {buf:02x?}"
                );
                assert_eq!(decode(&out, MAX), Ok(Some((packet, out.len()))));
                true
            }
            Ok(None) => false,
            Err(_) => false,
        }
    }

    fn seeds() -> Vec<Vec<u8>> {
        let packets = [
            Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol: Protocol::V311,
                clean_session: true,
                keep_alive: 30,
                client_id: "fuzz",
                will: Some(Will {
                    topic: "w/t",
                    payload: b"gone",
                    qos: QoS::AtLeastOnce,
                    retain: true,
                    properties: Properties::EMPTY,
                }),
                username: Some("user"),
                password: Some(b"pw"),
                properties: Properties::EMPTY,
            })),
            Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol: Protocol::V31,
                clean_session: false,
                keep_alive: 0,
                client_id: "c",
                will: None,
                username: None,
                password: None,
                properties: Properties::EMPTY,
            })),
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: ReasonCode::SUCCESS,
                properties: Properties::EMPTY,
            }),
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: "a/b/c",
                packet_id: Some(9),
                payload: b"payload",
                properties: Properties::EMPTY,
            }),
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: true,
                topic: "x",
                packet_id: None,
                payload: b"",
                properties: Properties::EMPTY,
            }),
            Packet::PubAck(Ack::new(1)),
            Packet::PubRel(Ack::new(2)),
            Packet::Subscribe(Subscribe {
                packet_id: 3,
                filters: vec![
                    ("a/#", QoS::AtLeastOnce.into()),
                    ("+/b", QoS::ExactlyOnce.into()),
                ],
                properties: Properties::EMPTY,
            }),
            Packet::SubAck(SubAck {
                packet_id: 3,
                codes: vec![
                    ReasonCode::granted(QoS::AtLeastOnce),
                    ReasonCode::UNSPECIFIED_ERROR,
                ],
                properties: Properties::EMPTY,
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 4,
                filters: vec!["a/#"],
                properties: Properties::EMPTY,
            }),
            Packet::UnsubAck(UnsubAck::new(4)),
            Packet::PingReq,
            Packet::Disconnect(Reasoned::default()),
        ];
        packets
            .iter()
            .map(|packet| {
                let mut out = Vec::new();
                encode(packet, &mut out).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn random_buffers_never_panic() {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut buf = Vec::with_capacity(64);
        let mut decoded = 0;
        for _ in 0..200_000 {
            buf.clear();
            let len = rng.below(48);
            buf.extend((0..len).map(|_| rng.byte()));
            // Often make the remaining length plausible so bodies get parsed.
            if len >= 2 && rng.below(2) == 0 {
                buf[1] = (len - 2) as u8;
                if rng.below(4) == 0 {
                    buf[0] &= 0xf0; // valid flags for most types
                }
            }
            decoded += usize::from(check(&buf));
        }
        assert!(decoded > 100, "only {decoded} random buffers decoded");
    }

    #[test]
    fn mutated_packets_never_panic() {
        let mut rng = Rng::new(0x0123_4567_89ab_cdef);
        let seeds = seeds();
        let mut decoded = 0;
        for round in 0..100_000 {
            let mut buf = seeds[round % seeds.len()].clone();
            for _ in 0..1 + rng.below(3) {
                if buf.is_empty() {
                    buf.push(rng.byte());
                    continue;
                }
                match rng.below(6) {
                    0 | 1 => {
                        let at = rng.below(buf.len());
                        buf[at] = rng.byte();
                    }
                    2 => {
                        let at = rng.below(buf.len());
                        buf[at] ^= 1 << rng.below(8);
                    }
                    3 => {
                        let at = rng.below(buf.len() + 1);
                        buf.insert(at, rng.byte());
                    }
                    4 if buf.len() > 1 => {
                        let at = rng.below(buf.len());
                        buf.remove(at);
                    }
                    _ => buf.truncate(rng.below(buf.len() + 1)),
                }
            }
            decoded += usize::from(check(&buf));
        }
        assert!(decoded > 1000, "only {decoded} mutations decoded");
    }

    #[test]
    fn seeds_decode_and_concatenate() {
        let seeds = seeds();
        let stream: Vec<u8> = seeds.concat();
        let mut at = 0;
        for seed in &seeds {
            assert!(check(seed));
            let (_, used) = decode(&stream[at..], MAX).unwrap().unwrap();
            assert_eq!(used, seed.len());
            at += used;
        }
    }
}
