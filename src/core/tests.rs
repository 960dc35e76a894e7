//! Deterministic tests of the core: simulated clients and a fake clock.

use std::time::{Duration, Instant};

use super::*;
use crate::codec::{
    self, ConnAck, Connect, ConnectReturnCode, Packet, Protocol, Publish, SubAckCode, Subscribe,
    Unsubscribe, Will,
};

/// What a simulated client received, owned for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    ConnAck(bool, ConnectReturnCode),
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: u16,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    SubAck(u16, Vec<SubAckCode>),
    UnsubAck(u16),
    PingResp,
}

struct Sim {
    core: Core,
    now: Instant,
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn test_config() -> Config {
    Config {
        sys_interval: None,
        ..Config::default()
    }
}

impl Sim {
    fn new() -> Sim {
        Sim::with_config(test_config())
    }

    fn with_config(config: Config) -> Sim {
        let now = Instant::now();
        Sim {
            core: Core::new(config, now),
            now,
        }
    }

    fn accept(&mut self) -> ConnId {
        self.core.accept(self.now, peer()).expect("accepted")
    }

    fn send(&mut self, id: ConnId, packet: Packet<'_>) {
        let mut bytes = Vec::new();
        codec::encode(&packet, &mut bytes).expect("encodable");
        self.core.handle_read(self.now, id, &bytes);
    }

    fn send_raw(&mut self, id: ConnId, bytes: &[u8]) {
        self.core.handle_read(self.now, id, bytes);
    }

    /// Everything written to `id` so far (the socket "reads" it all).
    fn recv(&mut self, id: ConnId) -> Vec<Got> {
        let mut bytes = Vec::new();
        loop {
            let out = self.core.output(id).to_vec();
            if out.is_empty() {
                break;
            }
            self.core.consume_output(self.now, id, out.len());
            bytes.extend_from_slice(&out);
        }
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (packet, used) = codec::decode(&bytes[pos..], usize::MAX)
                .expect("valid output")
                .expect("complete output");
            pos += used;
            got.push(match packet {
                Packet::ConnAck(ack) => Got::ConnAck(ack.session_present, ack.code),
                Packet::Publish(p) => Got::Publish {
                    topic: p.topic.to_string(),
                    payload: p.payload.to_vec(),
                    qos: p.qos,
                    retain: p.retain,
                    dup: p.dup,
                    packet_id: p.packet_id.unwrap_or(0),
                },
                Packet::PubAck(id) => Got::PubAck(id),
                Packet::PubRec(id) => Got::PubRec(id),
                Packet::PubRel(id) => Got::PubRel(id),
                Packet::PubComp(id) => Got::PubComp(id),
                Packet::SubAck(ack) => Got::SubAck(ack.packet_id, ack.codes),
                Packet::UnsubAck(id) => Got::UnsubAck(id),
                Packet::PingResp => Got::PingResp,
                other => panic!("server sent {}", other.name()),
            });
        }
        got
    }

    fn publishes(&mut self, id: ConnId) -> Vec<(String, Vec<u8>, QoS, bool)> {
        self.recv(id)
            .into_iter()
            .filter_map(|g| match g {
                Got::Publish {
                    topic,
                    payload,
                    qos,
                    retain,
                    ..
                } => Some((topic, payload, qos, retain)),
                _ => None,
            })
            .collect()
    }

    fn is_open(&self, id: ConnId) -> bool {
        self.core.is_open(id)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.core.handle_timeout(self.now);
    }

    /// Releases closed connections, as the reactor does after its writes.
    fn reap(&mut self) {
        let mut ids = Vec::new();
        self.core.take_closing(&mut ids);
        for id in ids {
            self.core.release(id);
        }
    }

    fn connect_with(&mut self, connect: Connect<'_>) -> (ConnId, Vec<Got>) {
        let id = self.accept();
        self.send(id, Packet::Connect(connect));
        let got = self.recv(id);
        (id, got)
    }

    fn connect(&mut self, client_id: &str, clean: bool) -> ConnId {
        let (id, got) = self.connect_with(connect(client_id, clean));
        assert!(matches!(
            got[0],
            Got::ConnAck(_, ConnectReturnCode::Accepted)
        ));
        id
    }

    fn subscribe(&mut self, id: ConnId, filter: &str, qos: QoS) -> Vec<Got> {
        self.send(
            id,
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![(filter, qos)],
            }),
        );
        self.recv(id)
    }

    fn publish(
        &mut self,
        id: ConnId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        pid: u16,
    ) {
        self.send(
            id,
            Packet::Publish(Publish {
                dup: false,
                qos,
                retain,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(pid),
                payload,
            }),
        );
    }
}

fn connect(client_id: &str, clean: bool) -> Connect<'_> {
    Connect {
        protocol: Protocol::V311,
        clean_session: clean,
        keep_alive: 0,
        client_id,
        will: None,
        username: None,
        password: None,
    }
}

fn publish_got(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
) -> (String, Vec<u8>, QoS, bool) {
    (topic.to_string(), payload.to_vec(), qos, retain)
}

#[test]
fn connect_is_acknowledged() {
    let mut sim = Sim::new();
    let (id, got) = sim.connect_with(connect("a", true));
    assert_eq!(got, vec![Got::ConnAck(false, ConnectReturnCode::Accepted)]);
    assert!(sim.is_open(id));
    assert_eq!(sim.core.stats().clients_connected, 1);
}

#[test]
fn first_packet_must_be_connect() {
    let mut sim = Sim::new();
    let id = sim.accept();
    sim.send(id, Packet::PingReq);
    assert!(!sim.is_open(id));
    assert!(sim.recv(id).is_empty());
}

#[test]
fn second_connect_closes() {
    let mut sim = Sim::new();
    let id = sim.connect("a", true);
    sim.send(id, Packet::Connect(connect("a", true)));
    assert!(!sim.is_open(id));
}

#[test]
fn unsupported_level_gets_connack_1() {
    let mut sim = Sim::new();
    let id = sim.accept();
    // CONNECT, protocol MQTT level 5 (not spoken yet), clean session.
    sim.send_raw(
        id,
        &[
            0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 1, b'x',
        ],
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::ConnAck(
            false,
            ConnectReturnCode::UnacceptableProtocolVersion
        )]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn mqtt31_clients_connect() {
    let mut sim = Sim::new();
    let (_, got) = sim.connect_with(Connect {
        protocol: Protocol::V31,
        ..connect("old-firmware", true)
    });
    assert_eq!(got, vec![Got::ConnAck(false, ConnectReturnCode::Accepted)]);
}

#[test]
fn empty_client_id_rules() {
    let mut sim = Sim::new();
    let (a, got) = sim.connect_with(connect("", true));
    assert_eq!(got, vec![Got::ConnAck(false, ConnectReturnCode::Accepted)]);
    let (b, got) = sim.connect_with(connect("", true));
    assert_eq!(got, vec![Got::ConnAck(false, ConnectReturnCode::Accepted)]);
    assert!(
        sim.is_open(a) && sim.is_open(b),
        "generated ids are distinct"
    );
    let (c, got) = sim.connect_with(connect("", false));
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ConnectReturnCode::IdentifierRejected)]
    );
    assert!(!sim.is_open(c));
}

#[test]
fn connect_timeout_closes_silent_sockets() {
    let mut sim = Sim::new();
    let id = sim.accept();
    assert_eq!(
        sim.core.next_deadline(),
        Some(sim.now + Duration::from_secs(10))
    );
    sim.advance(Duration::from_millis(9_999));
    assert!(sim.is_open(id));
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(id));
}

#[test]
fn qos0_pub_sub_and_downgrade() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    let got = sim.subscribe(sub, "a/+", QoS::AtLeastOnce);
    assert_eq!(
        got,
        vec![Got::SubAck(1, vec![SubAckCode::Granted(QoS::AtLeastOnce)])]
    );
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "a/b", b"zero", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "a/b", b"two", QoS::ExactlyOnce, false, 7);
    assert_eq!(sim.recv(publisher), vec![Got::PubRec(7)]);
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2);
    assert!(
        matches!(&got[0], Got::Publish { qos: QoS::AtMostOnce, payload, .. } if payload == b"zero")
    );
    assert!(
        matches!(&got[1], Got::Publish { qos: QoS::AtLeastOnce, payload, .. } if payload == b"two")
    );
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_highest_qos() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "a/#", QoS::AtMostOnce);
    sim.subscribe(sub, "a/+", QoS::ExactlyOnce);
    sim.subscribe(sub, "a/b", QoS::AtLeastOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "a/b", b"x", QoS::ExactlyOnce, false, 1);
    let got = sim.publishes(sub);
    assert_eq!(got, vec![publish_got("a/b", b"x", QoS::ExactlyOnce, false)]);
}

#[test]
fn invalid_filter_gets_0x80_and_wildcard_publish_closes() {
    let mut sim = Sim::new();
    let id = sim.connect("c", true);
    sim.send(
        id,
        Packet::Subscribe(Subscribe {
            packet_id: 3,
            filters: vec![
                ("a/#/b", QoS::AtMostOnce),
                ("ok", QoS::ExactlyOnce),
                ("", QoS::AtMostOnce),
            ],
        }),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::SubAck(
            3,
            vec![
                SubAckCode::Failure,
                SubAckCode::Granted(QoS::ExactlyOnce),
                SubAckCode::Failure
            ]
        )]
    );
    sim.publish(id, "a/+", b"", QoS::AtMostOnce, false, 0);
    assert!(!sim.is_open(id));
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let mut sim = Sim::new();
    let all = sim.connect("all", true);
    sim.subscribe(all, "#", QoS::AtMostOnce);
    let sys = sim.connect("sys", true);
    sim.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    sim.core
        .publish(sim.now, "$SYS/x", b"1", QoS::AtMostOnce, false)
        .unwrap();
    assert!(sim.publishes(all).is_empty());
    assert_eq!(sim.publishes(sys).len(), 1);
}

#[test]
fn unsubscribe_stops_delivery() {
    let mut sim = Sim::new();
    let id = sim.connect("c", true);
    sim.subscribe(id, "t", QoS::AtMostOnce);
    sim.send(
        id,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 9,
            filters: vec!["t", "never-subscribed"],
        }),
    );
    assert_eq!(sim.recv(id), vec![Got::UnsubAck(9)]);
    sim.core
        .publish(sim.now, "t", b"x", QoS::AtMostOnce, false)
        .unwrap();
    assert!(sim.recv(id).is_empty());
    assert_eq!(sim.core.stats().subscriptions, 0);
}

#[test]
fn qos1_window_queues_in_order() {
    let mut sim = Sim::with_config(Config {
        max_inflight: 2,
        ..test_config()
    });
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    for n in 0..5u8 {
        sim.core
            .publish(sim.now, "t", &[n], QoS::AtLeastOnce, false)
            .unwrap();
    }
    let got = sim.recv(sub);
    let ids: Vec<u16> = got
        .iter()
        .map(|g| match g {
            Got::Publish { packet_id, .. } => *packet_id,
            _ => panic!("{g:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    sim.send(sub, Packet::PubAck(ids[0]));
    sim.send(sub, Packet::PubAck(ids[1]));
    let got = sim.publishes(sub);
    assert_eq!(got.iter().map(|g| g.1[0]).collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn qos2_inbound_is_delivered_once() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 42);
    sim.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 42);
    assert_eq!(sim.recv(publisher), vec![Got::PubRec(42), Got::PubRec(42)]);
    sim.send(publisher, Packet::PubRel(42));
    assert_eq!(sim.recv(publisher), vec![Got::PubComp(42)]);
    assert_eq!(sim.publishes(sub).len(), 1);
    // After PUBREL the id is free again: a new message with it is delivered.
    sim.publish(publisher, "t", b"again", QoS::ExactlyOnce, false, 42);
    assert_eq!(sim.publishes(sub).len(), 1);
}

#[test]
fn qos2_outbound_flow() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::ExactlyOnce);
    sim.core
        .publish(sim.now, "t", b"x", QoS::ExactlyOnce, false)
        .unwrap();
    let got = sim.recv(sub);
    let Got::Publish { packet_id, qos, .. } = got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(qos, QoS::ExactlyOnce);
    sim.send(sub, Packet::PubRec(packet_id));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(packet_id)]);
    sim.send(sub, Packet::PubComp(packet_id));
    assert!(sim.recv(sub).is_empty());
    let session = sim
        .core
        .sessions
        .iter()
        .find(|(_, s)| &*s.client_id == "sub")
        .unwrap()
        .1;
    assert!(session.inflight.is_empty());
}

#[test]
fn retained_messages() {
    let mut sim = Sim::new();
    let early = sim.connect("early", true);
    sim.subscribe(early, "r/#", QoS::ExactlyOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "r/1", b"one", QoS::AtMostOnce, true, 0);
    sim.publish(publisher, "r/2", b"two", QoS::AtLeastOnce, true, 5);
    sim.publish(publisher, "r/2", b"two-b", QoS::AtLeastOnce, true, 6);
    // Existing subscribers get retain = 0.
    assert!(sim.publishes(early).iter().all(|p| !p.3));
    let late = sim.connect("late", true);
    let got = sim.subscribe(late, "r/+", QoS::ExactlyOnce);
    assert!(matches!(got[0], Got::SubAck(..)));
    let mut retained: Vec<_> = got[1..]
        .iter()
        .map(|g| match g {
            Got::Publish {
                topic,
                payload,
                qos,
                retain,
                ..
            } => (topic.clone(), payload.clone(), *qos, *retain),
            _ => panic!("{g:?}"),
        })
        .collect();
    retained.sort();
    assert_eq!(
        retained,
        vec![
            publish_got("r/1", b"one", QoS::AtMostOnce, true),
            publish_got("r/2", b"two-b", QoS::AtLeastOnce, true),
        ]
    );
    // An empty retained payload removes the topic.
    sim.publish(publisher, "r/1", b"", QoS::AtMostOnce, true, 0);
    let again = sim.connect("again", true);
    let got = sim.subscribe(again, "r/1", QoS::AtMostOnce);
    assert_eq!(got.len(), 1);
    assert_eq!(sim.core.stats().retained_messages, 1);
}

fn will_connect(client_id: &str, keep_alive: u16) -> Connect<'_> {
    Connect {
        keep_alive,
        will: Some(Will {
            topic: "wills",
            payload: b"gone",
            qos: QoS::AtLeastOnce,
            retain: false,
        }),
        ..connect(client_id, true)
    }
}

#[test]
fn will_on_network_close_not_after_disconnect() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtLeastOnce);

    let (dying, _) = sim.connect_with(will_connect("dying", 0));
    sim.core.handle_closed(sim.now, dying);
    assert_eq!(
        sim.publishes(watcher),
        vec![publish_got("wills", b"gone", QoS::AtLeastOnce, false)]
    );

    let (polite, _) = sim.connect_with(will_connect("polite", 0));
    sim.send(polite, Packet::Disconnect);
    assert!(!sim.is_open(polite));
    assert!(sim.publishes(watcher).is_empty());
}

#[test]
fn keepalive_expires_at_one_and_a_half_times_and_publishes_will() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtMostOnce);
    let (id, _) = sim.connect_with(will_connect("sleepy", 10));
    sim.advance(Duration::from_secs(10));
    sim.send(id, Packet::PingReq);
    assert_eq!(sim.recv(id), vec![Got::PingResp]);
    // The deadline moved to 10 s + 15 s.
    sim.advance(Duration::from_millis(14_999));
    assert!(sim.is_open(id));
    let deadline = sim.core.next_deadline().unwrap();
    assert_eq!(deadline, sim.now + Duration::from_millis(1));
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(id));
    assert_eq!(sim.publishes(watcher).len(), 1);
}

#[test]
fn takeover_closes_old_connection_with_will() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtMostOnce);
    let (old, _) = sim.connect_with(will_connect("dev", 0));
    let new = sim.connect("dev", true);
    assert!(!sim.is_open(old));
    assert!(sim.is_open(new));
    assert_eq!(sim.publishes(watcher).len(), 1);
    sim.reap();
    assert_eq!(sim.core.stats().connections, 2);
}

#[test]
fn persistent_session_queues_offline_and_resends_in_order() {
    let mut sim = Sim::new();
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q/#", QoS::ExactlyOnce);
    sim.core
        .publish(sim.now, "q/1", b"first", QoS::AtLeastOnce, false)
        .unwrap();
    sim.core
        .publish(sim.now, "q/2", b"second", QoS::ExactlyOnce, false)
        .unwrap();
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2);
    let Got::Publish {
        packet_id: second_id,
        ..
    } = got[1]
    else {
        panic!()
    };
    // Acknowledge the QoS 2 one as far as PUBREC, then drop the network.
    sim.send(sub, Packet::PubRec(second_id));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(second_id)]);
    sim.core.handle_closed(sim.now, sub);
    sim.reap();
    // Offline: QoS 1 is queued, QoS 0 is not.
    sim.core
        .publish(sim.now, "q/3", b"third", QoS::AtLeastOnce, false)
        .unwrap();
    sim.core
        .publish(sim.now, "q/4", b"lost", QoS::AtMostOnce, false)
        .unwrap();

    let (back, got) = sim.connect_with(connect("dev", false));
    assert_eq!(got[0], Got::ConnAck(true, ConnectReturnCode::Accepted));
    let rest = &got[1..];
    assert!(matches!(&rest[0], Got::Publish { dup: true, payload, .. } if payload == b"first"));
    assert_eq!(rest[1], Got::PubRel(second_id));
    assert!(matches!(&rest[2], Got::Publish { dup: false, payload, .. } if payload == b"third"));
    assert_eq!(rest.len(), 3);
    // Subscriptions survived.
    sim.core
        .publish(sim.now, "q/5", b"live", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(sim.publishes(back).len(), 1);
}

#[test]
fn clean_session_discards_state() {
    let mut sim = Sim::new();
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    let (_, got) = sim.connect_with(connect("dev", true));
    assert_eq!(got, vec![Got::ConnAck(false, ConnectReturnCode::Accepted)]);
    assert_eq!(sim.core.stats().subscriptions, 0);
}

#[test]
fn offline_queue_is_bounded() {
    let mut sim = Sim::with_config(Config {
        max_queued_messages: 3,
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    for n in 0..10u8 {
        sim.core
            .publish(sim.now, "t", &[n], QoS::AtLeastOnce, false)
            .unwrap();
    }
    assert_eq!(sim.core.stats().messages_dropped, 7);
    let (_, got) = sim.connect_with(connect("dev", false));
    assert_eq!(got.len(), 4);
}

#[test]
fn abandoned_sessions_expire() {
    let mut sim = Sim::with_config(Config {
        session_expiry: Some(Duration::from_secs(60)),
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    sim.advance(Duration::from_secs(59));
    assert_eq!(sim.core.stats().sessions, 1);
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.core.stats().sessions, 0);
    assert_eq!(sim.core.stats().subscriptions, 0);
}

#[test]
fn slow_subscriber_memory_is_bounded() {
    let mut sim = Sim::with_config(Config {
        max_pending_output: 4096,
        max_queued_messages: 10,
        ..test_config()
    });
    let slow = sim.connect("slow", true);
    sim.subscribe(slow, "t", QoS::AtLeastOnce);
    let fast = sim.connect("fast", true);
    sim.subscribe(fast, "t", QoS::AtMostOnce);
    let payload = [7u8; 1000];
    for _ in 0..100 {
        sim.core
            .publish(sim.now, "t", &payload, QoS::AtMostOnce, false)
            .unwrap();
        sim.core
            .publish(sim.now, "t", &payload, QoS::AtLeastOnce, false)
            .unwrap();
        // The fast one reads everything.
        sim.recv(fast);
    }
    assert!(sim.core.output(slow).len() < 4096 + 2000);
    assert!(sim.core.stats().messages_dropped > 100);
}

#[test]
fn split_packets_are_reassembled() {
    let mut sim = Sim::new();
    let id = sim.accept();
    let mut bytes = Vec::new();
    codec::encode(&Packet::Connect(connect("split", true)), &mut bytes).unwrap();
    codec::encode(&Packet::PingReq, &mut bytes).unwrap();
    for byte in &bytes {
        sim.send_raw(id, std::slice::from_ref(byte));
    }
    assert_eq!(
        sim.recv(id),
        vec![
            Got::ConnAck(false, ConnectReturnCode::Accepted),
            Got::PingResp
        ]
    );
}

#[test]
fn malformed_packet_closes_only_its_connection() {
    let mut sim = Sim::new();
    let good = sim.connect("good", true);
    let bad = sim.connect("bad", true);
    sim.send_raw(bad, &[0x82, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(!sim.is_open(bad));
    assert!(sim.is_open(good));
    let _ = ConnAck {
        session_present: false,
        code: ConnectReturnCode::Accepted,
    };
}
