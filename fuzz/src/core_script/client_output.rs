//! The model of what the broker writes to each client: every packet is
//! parsed and checked against what the client is owed.

use mqlite::codec::{self, Ack, Packet, Protocol, QoS, ReasonCode};
use mqlite::topic::{is_valid_topic_name, matches};

use super::client_model::{Granted, Owed, Stage};
use super::{Script, MAX_INFLIGHT};

impl Script<'_> {
    /// Parses what the broker wrote to client `i` since the last step.
    pub(super) fn parse_output(&mut self, i: usize) {
        let client = &mut self.clients[i];
        let out = self.core.output(client.id);
        let end = client.consumed + out.len();
        assert!(
            end >= client.seen,
            "{:?}: output shrank below what was seen",
            client.id
        );
        let new = &out[client.seen - client.consumed..];
        if new.is_empty() {
            return;
        }
        client.out_tail.extend_from_slice(new);
        client.seen = end;
        let tail = std::mem::take(&mut client.out_tail);
        // What the broker writes to an MQTT 5 client must read as MQTT 5.
        let protocol = client.v5().then_some(Protocol::V5);
        let mut pos = 0;
        loop {
            match codec::decode_as(&tail[pos..], usize::MAX, protocol) {
                Ok(Some((packet, used))) => {
                    pos += used;
                    self.model_output(i, packet, used);
                }
                Ok(None) => break,
                Err(error) => panic!(
                    "broker wrote a malformed packet to {:?} ({:?}): {error}: {:02x?}",
                    self.clients[i].id,
                    self.clients[i].protocol,
                    &tail[pos..(pos + 32).min(tail.len())]
                ),
            }
        }
        assert_eq!(
            pos,
            tail.len(),
            "broker output to {:?} ends in a partial packet",
            self.clients[i].id
        );
    }

    /// Checks one packet of `len` bytes the broker wrote to client `i`.
    pub(super) fn model_output(&mut self, i: usize, packet: Packet<'_>, len: usize) {
        let id = self.clients[i].id;
        if self.trace {
            match &packet {
                Packet::Publish(p) => eprintln!(
                    "  <- {id:?}: PUBLISH {:?} q{} dup {} retain {} id {:?} ({} bytes) {:?}",
                    p.topic,
                    p.qos as u8,
                    p.dup,
                    p.retain,
                    p.packet_id,
                    p.payload.len(),
                    p.properties
                ),
                other => eprintln!("  <- {id:?}: {other:?}"),
            }
        }
        assert!(
            !self.clients[i].disconnected,
            "{id:?}: {packet:?} after the broker's DISCONNECT"
        );
        if self.clients[i].v5() {
            self.check_size(i, &packet, len);
            self.check_problem_information(i, &packet);
        }
        let client = &mut self.clients[i];
        if client.connack.is_none() {
            let Packet::ConnAck(ack) = packet else {
                panic!("{id:?}: first packet is {packet:?}, not CONNACK");
            };
            assert_eq!(
                client.owed.pop_front(),
                Some(Owed::ConnAck(ack.code)),
                "{id:?}: unexpected {ack:?}"
            );
            if ack.session_present {
                assert!(
                    !client.clean && client.protocol != Protocol::V31,
                    "{id:?}: session present for a clean session or MQTT 3.1"
                );
            }
            client.connack = Some(ack.code);
            client.resumed = ack.session_present;
            client.in_resend = ack.code == ReasonCode::SUCCESS;
            if client.v5() && ack.code == ReasonCode::SUCCESS {
                self.check_connack5(i, &ack);
            }
            return;
        }
        assert_eq!(
            client.connack,
            Some(ReasonCode::SUCCESS),
            "{id:?}: {packet:?} after a refusing CONNACK"
        );
        let owed = match packet {
            Packet::Publish(publish) => {
                let topic = if client.v5() {
                    self.alias_out(i, &publish)
                } else {
                    publish.topic.to_string()
                };
                assert!(is_valid_topic_name(&topic), "{id:?}: PUBLISH to {topic:?}");
                let granted = self.granted(i, &topic);
                let client = &mut self.clients[i];
                match granted {
                    None => panic!(
                        "{id:?}: PUBLISH to {topic:?}, which no filter of {:?} ever matched",
                        client.client_id
                    ),
                    Some(granted) => assert!(
                        publish.qos <= granted,
                        "{id:?}: PUBLISH to {topic:?} at {:?}, granted {granted:?}",
                        publish.qos
                    ),
                }
                if publish.dup {
                    // Or later, for what a resumed session held back for a
                    // Receive Maximum below what it had in flight.
                    assert!(
                        client.in_resend || (client.resumed && client.receive_max < MAX_INFLIGHT),
                        "{id:?}: DUP PUBLISH outside a resend"
                    );
                } else {
                    client.in_resend = false;
                }
                if let Some(packet_id) = publish.packet_id {
                    let previous = client.inflight.insert(packet_id, Stage::Ack(publish.qos));
                    client.published.insert(packet_id);
                    if client.inflight_known {
                        assert_eq!(
                            previous, None,
                            "{id:?}: packet id {packet_id} reused while in flight"
                        );
                    }
                }
                if client.v5() {
                    self.check_delivery5(i, &topic, &publish);
                }
                return;
            }
            Packet::Disconnect(disconnect) if client.v5() => {
                assert!(
                    client.disconnect_allowed.contains(&disconnect.reason),
                    "{id:?}: DISCONNECT {:?}, the model allows {:?} (open: {})",
                    disconnect.reason,
                    client.disconnect_allowed,
                    client.open()
                );
                client.disconnected = true;
                client.disconnect_len = len;
                return;
            }
            Packet::PubRel(Ack { packet_id, .. }) if client.pubrel_ambiguous => {
                if let Some(at) = client
                    .owed
                    .iter()
                    .position(|o| *o == Owed::PubRel(packet_id))
                {
                    client.owed.remove(at);
                }
                client.inflight_known = false;
                return;
            }
            Packet::PubRel(Ack { packet_id, .. }) if client.in_resend => {
                let previous = client.inflight.insert(packet_id, Stage::Comp);
                if client.inflight_known {
                    assert_eq!(previous, None, "{id:?}: PUBREL {packet_id} resent twice");
                }
                return;
            }
            other => other,
        };
        client.in_resend = false;
        let expected = client.owed.pop_front();
        let ok = match (&owed, &expected) {
            (Packet::PubAck(ack), Some(Owed::PubAck(id, codes)))
            | (Packet::PubRec(ack), Some(Owed::PubRec(id, codes)))
            | (Packet::PubComp(ack), Some(Owed::PubComp(id, codes))) => {
                ack.packet_id == *id && codes.allows(ack.reason)
            }
            (Packet::PubRel(ack), Some(Owed::PubRel(id))) => {
                ack.packet_id == *id && ack.reason == ReasonCode::SUCCESS
            }
            (Packet::SubAck(suback), Some(Owed::SubAck(id, codes))) => {
                suback.packet_id == *id && suback.codes == *codes
            }
            (Packet::UnsubAck(unsuback), Some(Owed::UnsubAck(id, codes))) => {
                unsuback.packet_id == *id
                    && unsuback.codes.len() == codes.len()
                    && unsuback.codes.iter().zip(codes).all(|(c, a)| a.allows(*c))
            }
            (Packet::PingResp, Some(Owed::PingResp)) => true,
            _ => false,
        };
        assert!(ok, "{id:?}: broker wrote {owed:?}, owed {expected:?}");
    }

    /// Every subscription granted to client `i` whose filter matches
    /// `topic`, over all its subscriptions ever.
    pub(super) fn matching(&self, i: usize, topic: &str) -> impl Iterator<Item = &Granted> + '_ {
        let client = &self.clients[i];
        let history = match &client.client_id {
            Some(cid) => self.history.get(cid).map(Vec::as_slice).unwrap_or(&[]),
            None => client.own_history.as_slice(),
        };
        let topic = topic.to_string();
        history
            .iter()
            .filter(move |granted| matches(&granted.filter, &topic))
    }

    /// The highest QoS granted to client `i` by a filter matching `topic`,
    /// over all its subscriptions ever.
    pub(super) fn granted(&self, i: usize, topic: &str) -> Option<QoS> {
        self.matching(i, topic).map(|granted| granted.qos).max()
    }
}
