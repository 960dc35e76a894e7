//! The model of what the broker writes to each client: every packet is
//! parsed and checked against what the client is owed.

use mqlite::codec::{self, Ack, Packet, Protocol, QoS, ReasonCode};
use mqlite::topic::{is_valid_topic_name, matches};

use super::client_model::{Owed, Stage};
use super::Script;

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
        let mut pos = 0;
        loop {
            match codec::decode(&tail[pos..], usize::MAX) {
                Ok(Some((packet, used))) => {
                    pos += used;
                    self.model_output(i, packet);
                }
                Ok(None) => break,
                Err(error) => panic!(
                    "broker wrote a malformed packet to {:?}: {error}: {:02x?}",
                    self.clients[i].id,
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

    /// Checks one packet the broker wrote to client `i`.
    pub(super) fn model_output(&mut self, i: usize, packet: Packet<'_>) {
        let granted = match &packet {
            Packet::Publish(publish) => self.granted(i, publish.topic),
            _ => None,
        };
        let client = &mut self.clients[i];
        let id = client.id;
        if self.trace {
            match &packet {
                Packet::Publish(p) => eprintln!(
                    "  <- {id:?}: PUBLISH {:?} q{} dup {} retain {} id {:?} ({} bytes)",
                    p.topic,
                    p.qos as u8,
                    p.dup,
                    p.retain,
                    p.packet_id,
                    p.payload.len()
                ),
                other => eprintln!("  <- {id:?}: {other:?}"),
            }
        }
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
                    !client.clean && client.protocol == Protocol::V311,
                    "{id:?}: session present for a clean session or MQTT 3.1"
                );
            }
            client.connack = Some(ack.code);
            client.in_resend = ack.code == ReasonCode::SUCCESS;
            return;
        }
        assert_eq!(
            client.connack,
            Some(ReasonCode::SUCCESS),
            "{id:?}: {packet:?} after a refusing CONNACK"
        );
        let owed = match packet {
            Packet::Publish(publish) => {
                assert!(
                    is_valid_topic_name(publish.topic),
                    "{id:?}: PUBLISH to {:?}",
                    publish.topic
                );
                match granted {
                    None => panic!(
                        "{id:?}: PUBLISH to {:?}, which no filter of {:?} ever matched",
                        publish.topic, client.client_id
                    ),
                    Some(granted) => assert!(
                        publish.qos <= granted,
                        "{id:?}: PUBLISH to {:?} at {:?}, granted {granted:?}",
                        publish.topic,
                        publish.qos
                    ),
                }
                if publish.dup {
                    assert!(client.in_resend, "{id:?}: DUP PUBLISH outside a resend");
                } else {
                    client.in_resend = false;
                }
                if let Some(packet_id) = publish.packet_id {
                    let previous = client.inflight.insert(packet_id, Stage::Ack(publish.qos));
                    if client.inflight_known {
                        assert_eq!(
                            previous, None,
                            "{id:?}: packet id {packet_id} reused while in flight"
                        );
                    }
                }
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
            Packet::PubAck(ack) => Owed::PubAck(ack.packet_id),
            Packet::PubRec(ack) => Owed::PubRec(ack.packet_id),
            Packet::PubRel(ack) => Owed::PubRel(ack.packet_id),
            Packet::PubComp(ack) => Owed::PubComp(ack.packet_id),
            Packet::SubAck(suback) => Owed::SubAck(suback.packet_id, suback.codes),
            Packet::UnsubAck(unsuback) => Owed::UnsubAck(unsuback.packet_id),
            Packet::PingResp => Owed::PingResp,
            other => panic!("{id:?}: broker wrote {other:?}"),
        };
        client.in_resend = false;
        assert_eq!(
            client.owed.pop_front().as_ref(),
            Some(&owed),
            "{id:?}: broker wrote {owed:?}"
        );
    }

    /// The highest QoS granted to client `i` by a filter matching `topic`,
    /// over all its subscriptions ever.
    pub(super) fn granted(&self, i: usize, topic: &str) -> Option<QoS> {
        let client = &self.clients[i];
        let history = match &client.client_id {
            Some(cid) => self.history.get(cid).map(Vec::as_slice).unwrap_or(&[]),
            None => client.own_history.as_slice(),
        };
        history
            .iter()
            .filter(|(filter, _)| matches(filter, topic))
            .map(|&(_, qos)| qos)
            .max()
    }
}
