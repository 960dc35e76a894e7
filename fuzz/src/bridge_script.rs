//! The `bridge` target: a bridge's link in the sans-IO core facing an
//! arbitrary upstream. The input is a script: the bridge's settings, then
//! steps (bytes from "upstream", well-formed answers, local publishes that
//! the bridge must carry, the clock, the link dropping and coming back).
//!
//! Checked after every step: no panic and no over-allocation (the target's
//! allocator); everything the core writes on the link decodes as a
//! client's MQTT packets, CONNECT first (with the bridge flag when asked)
//! and never a server's (CONNACK, SUBACK, PINGRESP...); every PUBLISH goes
//! out under the remote prefix; and the QoS 1/2 PUBLISHes in flight never
//! exceed the Receive Maximum the upstream's MQTT 5 CONNACK gave.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mqlite::codec::{
    self, Ack, ConnAck, Packet, Properties, PropertiesBuilder, Protocol, Publish, QoS, ReasonCode,
};
use mqlite::core::{ConnId, Core, StoreBatch};
use mqlite::{Bridge, BridgeDirection, BridgeProtocol, BridgeTopic, Config};

const MAX_PACKET_SIZE: usize = 4096;

/// Reads the script; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte()).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }
}

/// The link as the script drives it.
struct Link {
    core: Core,
    now: Instant,
    conn: Option<ConnId>,
    protocol: Protocol,
    /// The link's output not yet parsed.
    unparsed: Vec<u8>,
    /// Whether its CONNECT has been seen.
    connected_seen: bool,
    /// QoS 1/2 packet ids of PUBLISHes sent and not yet acknowledged by
    /// the script.
    in_flight: BTreeSet<u16>,
    /// The Receive Maximum the script's CONNACK gave (MQTT 5).
    receive_maximum: Option<u16>,
    /// Whether the script's CONNACK has been taken on this link.
    connack_taken: bool,
    /// The upstream refused the bridge flag ("unsupported protocol
    /// version"): later CONNECTs go without it.
    flag_refused: bool,
    /// Raw bytes were fed (a CONNACK among them is not modelled): the
    /// flag is then only checked never to come back once dropped.
    raw_fed: bool,
    /// Raw bytes were fed on this link: they may hold a partial packet
    /// that swallows what the script sends next, so its CONNACK is not
    /// modelled either.
    raw_on_link: bool,
    batch: StoreBatch,
}

pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let protocol = match flags % 3 {
        0 => BridgeProtocol::V31,
        1 => BridgeProtocol::V311,
        _ => BridgeProtocol::V5,
    };
    let config = Config {
        max_packet_size: MAX_PACKET_SIZE,
        max_inflight: u16::from(input.byte() % 20) + 1,
        max_queued_messages: 64,
        sys_interval: None,
        ..Config::default()
    };
    let now = Instant::now();
    let mut core = Core::new(config, now);
    if flags & 0x40 != 0 {
        core.enable_persistence();
    }
    let qos = |b: u8| QoS::from_u8(b % 3).unwrap_or(QoS::AtMostOnce);
    let mut out = BridgeTopic::new("o/#", BridgeDirection::Out, qos(flags >> 2));
    out.remote_prefix = "up/".into();
    let mut both = BridgeTopic::new("b/#", BridgeDirection::Both, qos(flags >> 4));
    both.remote_prefix = "up/".into();
    let inbound = BridgeTopic::new("i/#", BridgeDirection::In, QoS::ExactlyOnce);
    let mut bridge = Bridge::new("fuzz", "127.0.0.1:1883", vec![out, both, inbound]);
    bridge.protocol = protocol;
    bridge.try_private = flags & 0x80 != 0;
    bridge.remote_client_id = Some("fuzz-bridge".into());
    let private = bridge.try_private;
    let Ok(bridge_id) = core.add_bridge(now, bridge) else {
        panic!("a valid bridge is refused");
    };
    let mut link = Link {
        core,
        now,
        conn: None,
        protocol: match protocol {
            BridgeProtocol::V31 => Protocol::V31,
            BridgeProtocol::V311 => Protocol::V311,
            BridgeProtocol::V5 => Protocol::V5,
        },
        unparsed: Vec::new(),
        connected_seen: false,
        in_flight: BTreeSet::new(),
        receive_maximum: None,
        connack_taken: false,
        flag_refused: false,
        raw_fed: false,
        raw_on_link: false,
        batch: StoreBatch::default(),
    };
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 1883));
    link.conn = link.core.handle_bridge_connected(now, bridge_id, peer);
    link.drain(private);
    for _ in 0..200 {
        if input.0.is_empty() {
            break;
        }
        let op = input.byte();
        match op % 9 {
            0 => {
                let bytes = input.bytes();
                link.raw_fed = true;
                link.raw_on_link = true;
                link.feed(bytes);
            }
            1 => {
                let code = [0u8, 0, 0, 1, 5, 0x84, 0x87][usize::from(input.byte()) % 7];
                let mut properties = PropertiesBuilder::new();
                let maximum = u16::from(input.byte() % 8);
                if link.protocol == Protocol::V5 && maximum > 0 {
                    properties.two_byte(codec::property::RECEIVE_MAXIMUM, maximum);
                }
                let ack = ConnAck {
                    session_present: code == 0 && input.byte() & 1 == 1,
                    code: if link.protocol == Protocol::V5 {
                        ReasonCode(code)
                    } else {
                        ReasonCode::from_v3_connack(code.min(5))
                    },
                    properties: properties.unchecked(),
                };
                let modelled = !link.raw_on_link;
                if modelled && link.conn.is_some() && link.connected_seen && !link.connack_taken {
                    link.connack_taken = true;
                    if ack.code == ReasonCode::SUCCESS && link.protocol == Protocol::V5 {
                        link.receive_maximum = Some(if maximum > 0 { maximum } else { u16::MAX });
                    }
                    if ack.code == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION && private {
                        link.flag_refused = true;
                    }
                }
                link.send(&Packet::ConnAck(ack));
            }
            2 => {
                let topic = ["o/a", "o/b/c", "b/x", "i/y", "other"][usize::from(input.byte()) % 5];
                let payload = input.bytes().to_vec();
                let retain = input.byte() & 1 == 1;
                let _ = link.core.handle_host_publish(
                    link.now,
                    topic,
                    &payload,
                    qos(input.byte()),
                    retain,
                );
            }
            3 => {
                link.now += Duration::from_millis(u64::from(input.byte()) * 250);
                link.core.handle_timeout(link.now);
            }
            4 | 5 => {
                // Acknowledge one in flight (or a made-up id).
                let pick = usize::from(input.byte());
                let id = match link
                    .in_flight
                    .iter()
                    .nth(pick % link.in_flight.len().max(1))
                {
                    Some(&id) if pick < 200 => id,
                    _ => u16::from(input.byte()).max(1),
                };
                let packet = match input.byte() % 3 {
                    0 => Packet::PubAck(Ack::new(id)),
                    1 => Packet::PubRec(Ack::new(id)),
                    _ => Packet::PubComp(Ack::new(id)),
                };
                // PUBACK and PUBCOMP end a flow; a PUBREC leaves it in
                // the window until its PUBCOMP.
                if !matches!(packet, Packet::PubRec(_)) {
                    link.in_flight.remove(&id);
                }
                link.send(&packet);
            }
            6 => {
                let topic = ["up/b/x", "i/z", "up/o/a", "nothing"][usize::from(input.byte()) % 4];
                let q = qos(input.byte());
                let packet_id = (q != QoS::AtMostOnce).then(|| u16::from(input.byte()).max(1));
                let payload = input.bytes();
                link.send(&Packet::Publish(Publish {
                    dup: false,
                    qos: q,
                    retain: false,
                    topic,
                    packet_id,
                    payload,
                    properties: Properties::EMPTY,
                }));
                if let Some(id) = packet_id.filter(|_| q == QoS::ExactlyOnce) {
                    link.send(&Packet::PubRel(Ack::new(id)));
                }
            }
            7 => {
                // The link drops; the driver connects it again.
                if let Some(conn) = link.conn {
                    link.core.handle_closed(link.now, conn);
                }
                link.reconnect(bridge_id, peer, private);
            }
            _ => link.send(&Packet::PingResp),
        }
        link.drain(private);
    }
}

impl Link {
    /// Bytes from upstream on the link.
    fn feed(&mut self, bytes: &[u8]) {
        if let Some(conn) = self.conn {
            self.core.handle_read(self.now, conn, bytes);
        }
    }

    /// A packet from upstream, encoded in the link's protocol.
    fn send(&mut self, packet: &Packet<'_>) {
        let mut bytes = Vec::new();
        if codec::encode_as(packet, self.protocol, &mut bytes).is_ok() {
            self.feed(&bytes);
        }
    }

    /// After the link closed (the core released it): a new one.
    fn reconnect(
        &mut self,
        bridge: mqlite::core::BridgeId,
        peer: std::net::SocketAddr,
        private: bool,
    ) {
        self.drain(private);
        self.unparsed.clear();
        self.connected_seen = false;
        self.in_flight.clear();
        self.receive_maximum = None;
        self.connack_taken = false;
        self.raw_on_link = false;
        self.conn = self.core.handle_bridge_connected(self.now, bridge, peer);
    }

    /// What a reactor does after a pass: save, write the link's output
    /// (checking it), release what closed.
    fn drain(&mut self, private: bool) {
        while self.core.poll_store(&mut self.batch) {
            self.core.handle_store_applied(&self.batch);
            let pages = std::mem::take(&mut self.batch.pages);
            for request in &pages {
                self.core.handle_queue_page(request, Vec::new());
            }
        }
        let mut dirty = Vec::new();
        self.core.poll_dirty(&mut dirty);
        if let Some(conn) = self.conn {
            let output = self.core.output(conn).into_owned();
            self.core.handle_written(self.now, conn, output.len());
            self.unparsed.extend_from_slice(&output);
            self.check_output(private);
        }
        let mut closing = Vec::new();
        self.core.poll_closing(&mut closing);
        for id in closing {
            self.core.handle_released(id);
            if Some(id) == self.conn {
                self.conn = None;
            }
        }
    }

    /// Parses the link's output: client packets only, CONNECT first.
    fn check_output(&mut self, private: bool) {
        let unparsed = std::mem::take(&mut self.unparsed);
        let mut pos = 0;
        loop {
            let protocol = self.connected_seen.then_some(self.protocol);
            match codec::decode_as(&unparsed[pos..], MAX_PACKET_SIZE * 4, protocol) {
                Ok(Some((packet, used))) => {
                    pos += used;
                    self.check_packet(packet, private);
                }
                Ok(None) => break,
                Err(error) => panic!("the bridge wrote a malformed packet: {error}"),
            }
        }
        self.unparsed = unparsed[pos..].to_vec();
    }

    fn check_packet(&mut self, packet: Packet<'_>, private: bool) {
        match packet {
            Packet::Connect(connect) => {
                assert!(!self.connected_seen, "a second CONNECT on one link");
                assert_eq!(connect.protocol, self.protocol);
                let flag = private && self.protocol != Protocol::V5;
                if self.flag_refused || !self.raw_fed {
                    assert_eq!(connect.bridge, flag && !self.flag_refused);
                }
                if flag && !connect.bridge {
                    // Dropped once: never again.
                    self.flag_refused = true;
                }
                assert_eq!(connect.client_id, "fuzz-bridge");
                self.connected_seen = true;
            }
            other if !self.connected_seen => panic!("{} before CONNECT", other.name()),
            Packet::Publish(publish) => {
                assert!(
                    publish.topic.starts_with("up/") || publish.topic.starts_with("$SYS/"),
                    "{} left under its local topic",
                    publish.topic
                );
                if let Some(id) = publish.packet_id {
                    // The state notification is not counted by the core's
                    // window; the carried messages are.
                    if !publish.topic.starts_with("$SYS/") {
                        self.in_flight.insert(id);
                        if let Some(maximum) = self.receive_maximum {
                            assert!(
                                self.in_flight.len() <= usize::from(maximum),
                                "{} in flight over a Receive Maximum of {maximum}",
                                self.in_flight.len()
                            );
                        }
                    }
                }
            }
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::Disconnect(_) => {}
            other => panic!("the bridge wrote a server's {}", other.name()),
        }
    }
}
