//! What the core does with a CONNECT: authentication (at once or
//! pending), taking over an older connection of the same client id,
//! attaching or creating the session, CONNACK, and sending again what a
//! resumed session left in flight.

use std::sync::Arc;
use std::time::Instant;

use super::connection::{CloseReason, ConnState, PendingConnect};
use super::delivery::{may_read, WITHHELD_FROM_RESUMING_CLIENT};
use super::session::{InflightState, Session};
use super::timers::Timer;
use super::{keepalive_window, ConnId, Core, Message, SessionKey};
use crate::codec::{self, ConnAck, Connect, ConnectReturnCode, Packet, Protocol};
use crate::hooks::{AuthDecision, AuthToken, ConnectInfo, Event};
use crate::store::StoreOp;
use crate::topic::is_valid_topic_name;

/// A token naming a connection slot and its generation.
fn auth_token(id: ConnId, generation: u32) -> AuthToken {
    AuthToken(((id.0 as u64) << 32) | u64::from(generation))
}

fn split_auth_token(token: AuthToken) -> (usize, u32) {
    ((token.0 >> 32) as usize, token.0 as u32)
}

impl Core {
    pub(super) fn handle_connect(&mut self, now: Instant, id: ConnId, connect: Connect<'_>) {
        if let Some(conn) = self.live_conn(id) {
            conn.protocol = connect.protocol;
        }
        let mut client_id = connect.client_id.to_string();
        if client_id.is_empty() {
            let allowed = connect.clean_session
                && connect.protocol == Protocol::V311
                && self.config.allow_zero_length_client_id;
            if !allowed {
                self.refuse(now, id, ConnectReturnCode::IdentifierRejected);
                return;
            }
            client_id = self.generate_client_id();
        }
        let will = match &connect.will {
            Some(will) => {
                if !is_valid_topic_name(will.topic) {
                    log::debug!("will topic {:?} is not a valid topic name", will.topic);
                    self.close(now, id, CloseReason::ProtocolError);
                    return;
                }
                Message::new(will.topic, will.payload, will.qos, will.retain).map(Box::new)
            }
            None => None,
        };
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        let (peer, generation) = (conn.peer.clone(), conn.generation);
        let pending = PendingConnect {
            client_id,
            username: connect.username.map(Box::from),
            clean_session: connect.clean_session,
            keep_alive: connect.keep_alive,
            will,
        };
        let decision = self.hooks.authenticate(&ConnectInfo {
            client_id: &pending.client_id,
            username: connect.username,
            password: connect.password,
            protocol: connect.protocol,
            clean_session: connect.clean_session,
            peer: &peer,
            token: auth_token(id, generation),
        });
        match decision {
            AuthDecision::Accept => self.finish_connect(now, id, pending),
            AuthDecision::BadCredentials => {
                log::info!("client {} refused: bad credentials", pending.client_id);
                self.refuse(now, id, ConnectReturnCode::BadUsernameOrPassword);
            }
            AuthDecision::NotAuthorized => {
                log::info!("client {} refused: not authorized", pending.client_id);
                self.refuse(now, id, ConnectReturnCode::NotAuthorized);
            }
            AuthDecision::Pending => {
                if let Some(conn) = self.live_conn(id) {
                    conn.state = ConnState::AuthPending;
                    conn.pending = Some(Box::new(pending));
                }
                self.timers.push(
                    now + self.config.auth_timeout,
                    Timer::AuthTimeout(id, generation),
                );
            }
        }
    }

    /// Carries out the host's decision on a pending authentication. False if
    /// the token names no pending connection (it closed, timed out, or was
    /// already decided).
    pub fn handle_auth_decision(
        &mut self,
        now: Instant,
        token: AuthToken,
        decision: AuthDecision,
    ) -> bool {
        let (index, generation) = split_auth_token(token);
        let id = ConnId(index);
        let Some(conn) = self.conns.get_mut(id) else {
            return false;
        };
        if conn.generation != generation || conn.state != ConnState::AuthPending {
            return false;
        }
        let Some(pending) = conn.pending.take() else {
            return false;
        };
        conn.state = ConnState::AwaitingConnect;
        match decision {
            AuthDecision::Accept => {
                self.finish_connect(now, id, *pending);
                // Packets that arrived while waiting.
                if let Some(conn) = self.live_conn(id) {
                    let input = std::mem::take(&mut conn.input);
                    if !input.is_empty() {
                        let consumed = self.process_input(now, id, &input);
                        if let Some(conn) = self.live_conn(id) {
                            conn.input = input[consumed..].to_vec();
                        }
                    }
                }
            }
            AuthDecision::BadCredentials => {
                self.refuse(now, id, ConnectReturnCode::BadUsernameOrPassword)
            }
            AuthDecision::NotAuthorized | AuthDecision::Pending => {
                self.refuse(now, id, ConnectReturnCode::NotAuthorized)
            }
        }
        true
    }

    /// Sends a refusing CONNACK and closes.
    pub(super) fn refuse(&mut self, now: Instant, id: ConnId, code: ConnectReturnCode) {
        if let Some(conn) = self.conns.get(id) {
            log::info!("CONNECT from {} refused: {code:?}", conn.peer);
        }
        self.send_connack(id, false, code);
        self.close(now, id, CloseReason::Refused);
    }

    /// Attaches an authenticated connection to its session and sends
    /// CONNACK 0.
    fn finish_connect(&mut self, now: Instant, id: ConnId, pending: PendingConnect) {
        let PendingConnect {
            client_id,
            username,
            clean_session,
            keep_alive,
            will,
        } = pending;
        // Take over: the old connection of this client id ends first, with
        // its will, as if the network had dropped it.
        let existing = self.sessions.key_of(&client_id);
        if let Some(key) = existing {
            if let Some(old) = self.sessions.get(key).and_then(|s| s.conn) {
                log::debug!("client {client_id} taken over by a new connection");
                self.close(now, old, CloseReason::Takeover);
            }
        }
        // The old connection's close may have discarded a clean session.
        let existing = self.sessions.key_of(&client_id);
        let username: Option<Arc<str>> = username.map(Arc::from);
        let (key, session_present) = match existing {
            Some(key) if !clean_session => {
                let user_changed = self
                    .sessions
                    .get_mut(key)
                    .is_some_and(|session| session.resume(id, username.clone()));
                if user_changed {
                    self.record_session_user(key, username.as_deref());
                }
                (key, true)
            }
            _ => {
                if let Some(key) = existing {
                    self.remove_session(key);
                }
                let client_id: Arc<str> = Arc::from(client_id);
                let mut session = Session::new(client_id, clean_session, id);
                session.username = username.clone();
                let key = self.sessions.insert(session);
                self.record_session_op(key, |client_id| StoreOp::SessionCreate { client_id });
                if username.is_some() {
                    self.record_session_user(key, username.as_deref());
                }
                (key, false)
            }
        };

        let keepalive = keepalive_window(keep_alive);
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        conn.state = ConnState::Connected(key);
        conn.keepalive = keepalive;
        conn.will = will;
        let (generation, peer, protocol) = (conn.generation, conn.peer.clone(), conn.protocol);
        if !keepalive.is_zero() {
            self.timers
                .push(now + keepalive, Timer::Keepalive(id, generation));
        }
        self.stats.clients_connected += 1;
        self.send_connack(id, session_present, ConnectReturnCode::Accepted);
        if self.hooks.has_event() {
            if let Some(identity) = self.identity(key, peer) {
                self.hooks.event(&Event::Connected {
                    client: identity.info(),
                    protocol,
                    clean_session,
                    session_present,
                    keep_alive,
                });
            }
        }
        if session_present {
            self.resend_inflight(id, key);
        }
        self.refill(key);
    }

    pub(super) fn send_connack(
        &mut self,
        id: ConnId,
        session_present: bool,
        code: ConnectReturnCode,
    ) {
        // The flags byte is reserved in MQTT 3.1.
        let v31 = matches!(self.conns.get(id), Some(conn) if conn.protocol == Protocol::V31);
        let session_present = session_present && !v31;
        let ack = ConnAck {
            session_present,
            code,
        };
        self.write_to(id, |out| {
            // A CONNACK always encodes; nothing in it can be too long.
            let _ = codec::encode(&Packet::ConnAck(ack), out);
        });
    }

    /// Sends again, in their original order, the messages a resumed session
    /// left unacknowledged: PUBLISH with DUP, or PUBREL [MQTT-4.4.0-1].
    fn resend_inflight(&mut self, id: ConnId, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let check_acl = self.hooks.has_acl();
        let mut sent = 0;
        let mut index = 0;
        while let Some(inflight) = session.inflight.get(index) {
            match inflight.state {
                InflightState::AwaitingAck => {
                    let seq = inflight.seq;
                    if check_acl
                        && seq < session.acl_recheck_below
                        && !may_read(&mut self.hooks, session, conn, inflight.message.topic())
                    {
                        session.remove_inflight(index);
                        if self.store.enabled() && !session.clean {
                            self.store.push(StoreOp::SessionMessageDelete {
                                client_id: session.client_id.to_string(),
                                seq,
                            });
                        }
                        self.stats
                            .drop_message(&session.client_id, WITHHELD_FROM_RESUMING_CLIENT);
                        continue;
                    }
                    conn.output
                        .push_publish(&inflight.message, true, inflight.packet_id);
                    sent += 1;
                }
                // The message reached the client before (PUBREC came
                // back); only its packet id is sent again.
                InflightState::AwaitingComp => codec::encode_ack(
                    conn.output.bytes_mut(),
                    codec::AckKind::PubRel,
                    inflight.packet_id,
                ),
            }
            index += 1;
        }
        self.stats.messages_sent += sent;
        self.mark_dirty(id);
    }
}
