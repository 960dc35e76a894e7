//! The acknowledgements of QoS 1 and 2: what the broker sends for a
//! client's PUBLISH, and what it does with each PUBACK, PUBREC, PUBREL and
//! PUBCOMP a client sends.

use std::time::Instant;

use super::connection::CloseReason;
use super::session::{Inflight, InflightState};
use super::{ConnId, Core, SessionKey};
use crate::codec::{self, AckKind, PacketId, QoS, ReasonCode};

impl Core {
    /// PUBACK or PUBREC for a client's PUBLISH: the 3.1.1 form, or MQTT 5
    /// with its reason code. No Reason String, though the standard allows
    /// one when the client accepts problem information: some clients (the
    /// Eclipse Paho MQTT 5 test client among them) cannot read a PUBACK /
    /// PUBREC with properties. CONNACK and DISCONNECT carry the strings.
    #[inline]
    pub(super) fn acknowledge_publish(
        &mut self,
        id: ConnId,
        kind: AckKind,
        packet_id: PacketId,
        code: ReasonCode,
        v5: bool,
    ) {
        if v5 && code != ReasonCode::SUCCESS {
            self.write_to(id, |out| codec::encode_ack_v5(out, kind, packet_id, code));
        } else {
            self.write_ack(id, kind, packet_id);
        }
    }

    /// A four-byte acknowledgement from a connected client (see
    /// [`codec::RawPacket::short_ack`]), to its flow's handler.
    pub(super) fn handle_ack(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        kind: AckKind,
        packet_id: PacketId,
    ) {
        match kind {
            AckKind::PubAck => self.handle_puback(now, id, key, packet_id),
            AckKind::PubRec => self.handle_pubrec(now, id, key, packet_id),
            AckKind::PubRel => self.handle_pubrel(id, key, packet_id),
            AckKind::PubComp => self.handle_pubcomp(now, id, key, packet_id),
            // Not a frame the decoder makes; a server-to-client packet.
            AckKind::UnsubAck => {
                log::debug!("unexpected UNSUBACK from a connected client");
                self.close(now, id, CloseReason::ProtocolError);
            }
        }
    }

    /// PUBACK: ends the flow of an in-flight QoS 1 message. One for a
    /// QoS 2 message is a protocol violation (closed, as mosquitto does);
    /// one for an unknown packet id is ignored (it may answer a message
    /// resent before a reconnection).
    #[inline]
    pub(super) fn handle_puback(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet_id: PacketId,
    ) {
        self.end_flow(now, id, key, packet_id, "PUBACK", |inflight| {
            inflight.message.qos() == QoS::AtLeastOnce
        });
    }

    /// PUBREC: the client has a QoS 2 message; PUBREL follows (again, when
    /// the PUBREC is repeated or names an unknown packet id, as mosquitto
    /// does). One for a QoS 1 message is a protocol violation.
    pub(super) fn handle_pubrec(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet_id: PacketId,
    ) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        if let Some(index) = session.inflight_position(packet_id) {
            let inflight = &mut session.inflight[index];
            if inflight.message.qos() != QoS::ExactlyOnce {
                self.close_for_wrong_ack(now, id, "PUBREC", packet_id);
                return;
            }
            if inflight.state == InflightState::AwaitingAck {
                inflight.state = InflightState::AwaitingComp;
                let seq = inflight.seq;
                self.record_released(key, seq);
            }
        }
        self.write_ack(id, AckKind::PubRel, packet_id);
    }

    /// PUBREL: releases an inbound QoS 2 packet id. MQTT 5 tells a client
    /// releasing an id it never sent (or already released) that it was not
    /// found.
    pub(super) fn handle_pubrel(&mut self, id: ConnId, key: SessionKey, packet_id: PacketId) {
        let released = self
            .sessions
            .get_mut(key)
            .is_some_and(|session| session.release_qos2(packet_id));
        if released {
            self.record_inbound_qos2(key, packet_id, false);
        }
        let v5 = self.conns.get(id).is_some_and(|conn| conn.is_v5());
        let code = if released || !v5 {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        };
        if code == ReasonCode::SUCCESS {
            self.write_ack(id, AckKind::PubComp, packet_id);
        } else {
            self.write_to(id, |out| {
                codec::encode_ack_v5(out, AckKind::PubComp, packet_id, code)
            });
        }
    }

    /// A PUBREC with an error code: the client will not take the QoS 2
    /// message, and the flow ends there (no PUBREL).
    pub(super) fn handle_refused_pubrec(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet_id: PacketId,
    ) {
        self.end_flow(now, id, key, packet_id, "PUBREC", |inflight| {
            inflight.message.qos() == QoS::ExactlyOnce
                && inflight.state == InflightState::AwaitingAck
        });
    }

    /// PUBCOMP: ends the flow of a QoS 2 message whose PUBREL was sent.
    /// One for a QoS 1 message, or before the PUBREC, is a protocol
    /// violation; one for an unknown packet id is ignored.
    pub(super) fn handle_pubcomp(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet_id: PacketId,
    ) {
        self.end_flow(now, id, key, packet_id, "PUBCOMP", |inflight| {
            inflight.state == InflightState::AwaitingComp
        });
    }

    /// Ends the flow of the in-flight message `packet_id` of session `key`
    /// with the acknowledgement `ack`, if `allowed` says that acknowledgement
    /// may end it; otherwise closes the connection (the message stays in
    /// flight). An unknown packet id is ignored.
    #[inline]
    fn end_flow(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet_id: PacketId,
        ack: &str,
        allowed: impl Fn(&Inflight) -> bool,
    ) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(index) = session.inflight_position(packet_id) else {
            return;
        };
        if !allowed(&session.inflight[index]) {
            self.close_for_wrong_ack(now, id, ack, packet_id);
            return;
        }
        if let Some(done) = session.remove_inflight(index) {
            self.record_acknowledged(key, done.seq);
        }
        self.refill(key);
    }

    /// Closes a connection that acknowledged a delivery with a packet its
    /// flow does not allow. The message stays in flight for its session.
    fn close_for_wrong_ack(&mut self, now: Instant, id: ConnId, ack: &str, packet_id: PacketId) {
        if let Some(conn) = self.conns.get(id) {
            log::debug!(
                "{} sent {ack} for packet id {packet_id}, which its flow does not allow",
                conn.peer
            );
        }
        self.close(now, id, CloseReason::ProtocolError);
    }
}
