//! Packets as a test receives them from the broker, owned.

use mqlite::codec::{self, Packet, QoS};

/// A PUBLISH as received, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: Option<u16>,
}

impl Msg {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// A packet received from the broker, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pkt {
    ConnAck {
        session_present: bool,
        code: u8,
    },
    Publish(Msg),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    SubAck {
        packet_id: u16,
        codes: Vec<u8>,
    },
    UnsubAck(u16),
    PingResp,
    /// A packet only clients send (CONNECT, SUBSCRIBE, ...): its name.
    ClientOnly(&'static str),
}

impl Pkt {
    /// Takes the first whole packet off the front of `buf` (`None` until
    /// one is complete). Malformed bytes fail the test: the broker must
    /// never send them.
    pub(super) fn take(buf: &mut Vec<u8>) -> Option<Pkt> {
        match codec::decode(buf, usize::MAX) {
            Ok(Some((packet, used))) => {
                let pkt = Pkt::from_packet(&packet);
                buf.drain(..used);
                Some(pkt)
            }
            Ok(None) => None,
            Err(error) => panic!(
                "the broker sent malformed bytes ({error}): {:02x?}",
                &buf[..buf.len().min(64)]
            ),
        }
    }

    fn from_packet(packet: &Packet<'_>) -> Pkt {
        match packet {
            Packet::ConnAck(ack) => Pkt::ConnAck {
                session_present: ack.session_present,
                // The 3.1.1 return code on the wire (the codec reads it
                // as its MQTT 5 equivalent).
                code: ack.code.to_v3_connack(),
            },
            Packet::Publish(p) => Pkt::Publish(Msg {
                topic: p.topic.to_string(),
                payload: p.payload.to_vec(),
                qos: p.qos,
                retain: p.retain,
                dup: p.dup,
                packet_id: p.packet_id,
            }),
            Packet::PubAck(ack) => Pkt::PubAck(ack.packet_id),
            Packet::PubRec(ack) => Pkt::PubRec(ack.packet_id),
            Packet::PubRel(ack) => Pkt::PubRel(ack.packet_id),
            Packet::PubComp(ack) => Pkt::PubComp(ack.packet_id),
            Packet::SubAck(ack) => Pkt::SubAck {
                packet_id: ack.packet_id,
                codes: ack.codes.iter().map(|c| c.to_v3_suback()).collect(),
            },
            Packet::UnsubAck(ack) => Pkt::UnsubAck(ack.packet_id),
            Packet::PingResp => Pkt::PingResp,
            other => Pkt::ClientOnly(other.name()),
        }
    }
}
