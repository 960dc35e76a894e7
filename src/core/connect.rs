//! What the core does with a CONNECT: authentication (at once or
//! pending), taking over an older connection of the same client id,
//! attaching or creating the session, CONNACK, and sending again what a
//! resumed session left in flight.

use std::sync::Arc;
use std::time::Instant;

use super::connect_options::{
    connack_properties, granted_keep_alive, granted_session_expiry, redirection, ClientOptions,
    Granted,
};
use super::connection::{CloseReason, ConnState, Credentials, PendingConnect, Will};
use super::delivery::{may_read, TOO_LARGE_FOR_CLIENT, WITHHELD_FROM_RESUMING_CLIENT};
use super::enhanced_auth::{auth_token, AuthExchange};
use super::session::{InflightState, Session};
use super::timers::Timer;
use super::topic_aliases::OutgoingAliases;
use super::{keepalive_window, ConnId, Core, Message, SessionKey};
use crate::codec::{self, ConnAck, Connect, Packet, PropertiesBuilder, Protocol, ReasonCode};
use crate::hooks::{AuthDecision, AuthToken, ConnectInfo, Event};
use crate::store::StoreOp;
use crate::topic::is_valid_topic_name;

fn split_auth_token(token: AuthToken) -> (usize, u32) {
    ((token.0 >> 32) as usize, token.0 as u32)
}

impl Core {
    pub(super) fn handle_connect(&mut self, now: Instant, id: ConnId, connect: Connect<'_>) {
        let v5 = connect.protocol.is_v5();
        if let Some(conn) = self.live_conn(id) {
            conn.protocol = connect.protocol;
            conn.remote_bridge = connect.bridge;
            // Known before CONNACK: a refusal keeps to it too.
            conn.max_packet_size = connect.properties.maximum_packet_size().unwrap_or(u32::MAX);
        }
        if let Some((code, reference)) = redirection(&self.config) {
            let mut properties = PropertiesBuilder::new();
            if v5 {
                properties.string(codec::property::SERVER_REFERENCE, reference);
            }
            log::info!("CONNECT redirected to {reference}");
            let code = if v5 {
                code
            } else {
                ReasonCode::SERVER_UNAVAILABLE
            };
            self.send_connack(id, false, code, &properties);
            self.close(now, id, CloseReason::Refused);
            return;
        }
        let method = connect.properties.authentication_method();
        if method.is_none() && connect.properties.authentication_data().is_some() {
            // Authentication Data without an Authentication Method is a
            // Protocol Error (MQTT 5.0, 3.1.2.11.10).
            log::debug!("CONNECT has Authentication Data without an Authentication Method");
            self.refuse(now, id, ReasonCode::PROTOCOL_ERROR);
            return;
        }
        if let (Some(method), Some(conn)) = (method, self.live_conn(id)) {
            conn.auth = Some(Box::new(AuthExchange {
                method: method.into(),
                step: 0,
                reauthentication: false,
                active: true,
            }));
        }
        let mut client_id = connect.client_id.to_string();
        let assigned_id = client_id.is_empty();
        if assigned_id {
            // MQTT 5 lets any client leave the id to the server; 3.1.1 only
            // with clean session 1 [MQTT-3.1.3-7].
            let allowed = self.config.allow_zero_length_client_id
                && (v5 || (connect.clean_session && connect.protocol == Protocol::V311));
            if !allowed {
                self.refuse(now, id, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
                return;
            }
            client_id = self.generate_client_id();
        }
        if client_id.starts_with(super::bridge::BRIDGE_SESSION_PREFIX) {
            // The sessions of the broker's own bridges.
            log::info!("client {client_id} refused: the id is reserved for bridges");
            self.refuse(now, id, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
            return;
        }
        if granted_keep_alive(&self.config, connect.keep_alive, v5).is_err() {
            log::info!(
                "client {client_id} refused: keep alive {} over max_keepalive",
                connect.keep_alive
            );
            self.refuse(now, id, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
            return;
        }
        let will = match &connect.will {
            Some(will) => {
                match self.will_refusal(will.topic, will.qos, will.retain) {
                    Some(ReasonCode::TOPIC_NAME_INVALID) if !v5 => {
                        log::debug!("will topic {:?} is not a valid topic name", will.topic);
                        self.close(now, id, CloseReason::ProtocolError);
                        return;
                    }
                    Some(code) => {
                        self.refuse(now, id, code);
                        return;
                    }
                    None => {}
                }
                Message::from_publish(
                    will.topic,
                    will.properties,
                    will.payload,
                    will.qos,
                    will.retain,
                    None,
                )
                .map(|message| {
                    Box::new(Will {
                        message,
                        expiry_interval: will.properties.message_expiry_interval(),
                        delay: will.properties.will_delay_interval().unwrap_or(0),
                    })
                })
            }
            None => None,
        };
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        let (peer, generation, listener) = (conn.peer.clone(), conn.generation, conn.listener);
        let certificate = conn.certificate.clone();
        // A listener that names clients by their certificate ignores the
        // user name and password of CONNECT, as mosquitto does.
        let from_certificate = self.certificate_username(listener, certificate.as_deref());
        let (username, password) = match &from_certificate {
            Some(Some(name)) => (Some(name.as_str()), None),
            Some(None) => {
                log::info!("client {client_id} refused: its certificate gives no user name");
                self.refuse(now, id, ReasonCode::NOT_AUTHORIZED);
                return;
            }
            None => (connect.username, connect.password),
        };
        let pending = PendingConnect {
            client_id,
            assigned_id,
            username: username.map(Box::from),
            clean_session: connect.clean_session,
            keep_alive: connect.keep_alive,
            will,
            options: ClientOptions::of(&connect),
        };
        // A client the config's password file is to check keeps its user
        // name and password, to be checked again when the file is
        // reloaded (as mosquitto 2.0 does).
        let checked_by_file = self.hooks.auth_from_files
            && from_certificate.is_none()
            && method.is_none()
            && self.hooks.passwords.for_listener(listener).is_some();
        if let (true, Some(name)) = (checked_by_file, username) {
            if let Some(conn) = self.live_conn(id) {
                conn.credentials = Some(Box::new(Credentials {
                    username: Box::from(name),
                    password: Box::from(password.unwrap_or(b"")),
                }));
            }
        }
        let decision = self.hooks.authenticate(&ConnectInfo {
            client_id: &pending.client_id,
            username,
            password,
            protocol: connect.protocol,
            clean_session: connect.clean_session,
            peer: &peer,
            listener,
            certificate: certificate.as_deref(),
            token: auth_token(id, generation),
            authentication_method: method,
            authentication_data: connect.properties.authentication_data(),
            step: 0,
            reauthentication: false,
            properties: connect.properties,
        });
        self.decide_connect(now, id, pending, decision);
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
        self.tick(now);
        let (index, generation) = split_auth_token(token);
        let id = ConnId(index);
        let Some(conn) = self.conns.get_mut(id) else {
            return false;
        };
        if conn.generation != generation {
            return false;
        }
        let reauthenticating = matches!(conn.state, ConnState::Connected(_))
            && conn
                .auth
                .as_ref()
                .is_some_and(|a| a.active && a.reauthentication);
        if reauthenticating {
            self.decide_reauthentication(now, id, decision);
            return true;
        }
        if conn.state != ConnState::AuthPending {
            return false;
        }
        let Some(pending) = conn.pending.take() else {
            return false;
        };
        conn.state = ConnState::AwaitingConnect;
        // A second "pending" is a refusal: the host was to decide now.
        let decision = match decision {
            AuthDecision::Pending => AuthDecision::NotAuthorized,
            other => other,
        };
        self.decide_connect(now, id, *pending, decision);
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
        true
    }

    /// Sends a refusing CONNACK and closes. `code` is an MQTT 5 reason
    /// code; a 3.1.1 client gets the nearest return code.
    pub(super) fn refuse(&mut self, now: Instant, id: ConnId, code: ReasonCode) {
        if let Some(conn) = self.conns.get(id) {
            log::info!("CONNECT from {} refused: {code}", conn.peer);
        }
        // CONNACK may carry a Reason String whatever the client asked
        // [MQTT-3.1.2-29], unless it would make the packet larger than the
        // client's Maximum Packet Size [MQTT-3.2.2-19].
        let why = code.describe();
        let max = self.conns.get(id).map_or(u32::MAX, |c| c.max_packet_size);
        let mut properties = PropertiesBuilder::new();
        if why.len() + 16 <= max as usize {
            properties.string(codec::property::REASON_STRING, why);
        }
        self.send_connack(id, false, code, &properties);
        self.close(now, id, CloseReason::Refused);
    }

    /// Attaches an authenticated connection to its session and sends
    /// CONNACK 0 (with the Authentication Method, and `auth_data`, of an
    /// enhanced authentication).
    pub(super) fn finish_connect(
        &mut self,
        now: Instant,
        id: ConnId,
        pending: PendingConnect,
        auth_data: Option<Vec<u8>>,
    ) {
        let PendingConnect {
            client_id,
            assigned_id,
            username,
            clean_session,
            keep_alive,
            will,
            options,
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
        let expiry = granted_session_expiry(&self.config, options.session_expiry);
        let (key, session_present) = match existing {
            Some(key) if !clean_session => {
                // A will waiting for its delay is not sent once the client
                // is back [MQTT-3.1.3-9].
                if let Some(session) = self.sessions.get_mut(key) {
                    session.delayed_will = None;
                }
                let was_stored = self.sessions.get(key).is_some_and(|s| !s.clean);
                let old_expiry = self.sessions.get(key).map(|s| s.expiry_interval);
                let user_changed = self
                    .sessions
                    .get_mut(key)
                    .is_some_and(|session| session.resume(id, username.clone(), expiry));
                if was_stored && expiry == 0 {
                    // Ends with this connection now: no longer the store's.
                    if self.store.enabled() {
                        self.store.push(StoreOp::SessionDelete {
                            client_id: Arc::from(client_id.as_str()),
                        });
                    }
                } else if !was_stored && expiry > 0 {
                    self.record_session_op(key, |client_id| StoreOp::SessionCreate { client_id });
                    self.record_session_user(key, username.as_deref());
                    self.record_session_expiry(key);
                } else {
                    if user_changed {
                        self.record_session_user(key, username.as_deref());
                    }
                    if old_expiry != Some(expiry) {
                        self.record_session_expiry(key);
                    }
                }
                (key, true)
            }
            _ => {
                if let Some(key) = existing {
                    self.end_session(now, key);
                }
                let client_id: Arc<str> = Arc::from(client_id);
                let mut session = Session::new(client_id, expiry == 0, id);
                session.expiry_interval = expiry;
                session.username = username.clone();
                let key = self.sessions.insert(session);
                self.record_session_op(key, |client_id| StoreOp::SessionCreate { client_id });
                if username.is_some() {
                    self.record_session_user(key, username.as_deref());
                }
                self.record_session_expiry(key);
                (key, false)
            }
        };
        let window = self.config.max_inflight.min(options.receive_maximum);
        let listener = self.conns.get(id).map_or(0, |conn| conn.listener);
        if let Some(session) = self.sessions.get_mut(key) {
            session.window = window;
            session.listener = listener;
        }

        let v5 = self.conns.get(id).is_some_and(|conn| conn.is_v5());
        let granted_keep_alive =
            granted_keep_alive(&self.config, keep_alive, v5).unwrap_or(keep_alive);
        let keepalive = keepalive_window(granted_keep_alive);
        let aliases = options
            .topic_alias_maximum
            .min(self.config.outgoing_topic_aliases);
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        conn.state = ConnState::Connected(key);
        conn.connected_at = now;
        conn.keepalive = keepalive;
        conn.will = will;
        conn.max_packet_size = options.max_packet_size;
        conn.problem_information = options.problem_information;
        conn.aliases_out = (v5 && aliases > 0).then(|| Box::new(OutgoingAliases::new(aliases)));
        let method = conn.auth.as_mut().map(|exchange| {
            exchange.active = false;
            exchange.step = 0;
            exchange.method.clone()
        });
        let (generation, peer, protocol) = (conn.generation, conn.peer.clone(), conn.protocol);
        if !keepalive.is_zero() {
            self.timers
                .push(now + keepalive, Timer::Keepalive(id, generation));
        }
        self.stats.clients_connected += 1;
        let properties = if v5 {
            let session = self.sessions.get(key);
            let assigned = session.filter(|_| assigned_id).map(|s| &*s.client_id);
            let mut properties = connack_properties(
                &self.config,
                &Granted {
                    session_expiry: (expiry != options.session_expiry).then_some(expiry),
                    keep_alive: (granted_keep_alive != keep_alive).then_some(granted_keep_alive),
                    assigned_id: assigned,
                    response_information_for: session
                        .filter(|_| options.response_information)
                        .map(|s| &*s.client_id),
                },
            );
            if let Some(method) = method {
                properties.string(codec::property::AUTHENTICATION_METHOD, &method);
                if let Some(data) = auth_data.filter(|d| !d.is_empty()) {
                    properties.binary(codec::property::AUTHENTICATION_DATA, &data);
                }
            }
            properties
        } else {
            PropertiesBuilder::new()
        };
        self.send_connack(id, session_present, ReasonCode::SUCCESS, &properties);
        if self.hooks.has_event() {
            if let Some(identity) = self.identity(key, peer) {
                self.hooks.event(&Event::Connected {
                    client: identity.info(),
                    protocol,
                    clean_session,
                    session_present,
                    keep_alive: granted_keep_alive,
                });
            }
        }
        if session_present {
            self.resend_inflight(id, key);
        }
        self.refill(key);
    }

    /// Sends CONNACK: for an MQTT 5 client with `code` and `properties`,
    /// for 3.1 / 3.1.1 with the nearest return code.
    pub(super) fn send_connack(
        &mut self,
        id: ConnId,
        session_present: bool,
        code: ReasonCode,
        properties: &PropertiesBuilder,
    ) {
        let Some(protocol) = self.conns.get(id).map(|conn| conn.protocol) else {
            return;
        };
        // The flags byte is reserved in MQTT 3.1.
        let session_present = session_present && protocol != Protocol::V31;
        let ack = ConnAck {
            session_present,
            code,
            properties: properties.unchecked(),
        };
        self.write_to(id, |out| {
            // A CONNACK always encodes: its properties are short.
            let _ = codec::encode_as(&Packet::ConnAck(ack), protocol, out);
        });
    }

    /// Sends again, in their original order, the messages a resumed session
    /// left unacknowledged: PUBLISH with DUP, or PUBREL [MQTT-4.4.0-1].
    pub(super) fn resend_inflight(&mut self, id: ConnId, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let check_acl = self.hooks.has_acl();
        let wire = conn.wire(self.now_ms);
        // What goes out again stays within the client's Receive Maximum
        // [MQTT-3.3.4-9]: the rest is sent as acknowledgements make room
        // (`refill`).
        let window = usize::from(session.window);
        session.held_back.clear();
        let mut outstanding = 0;
        let mut sent = 0;
        let mut index = 0;
        while let Some(inflight) = session.inflight.get(index) {
            match inflight.state {
                InflightState::AwaitingAck => {
                    let seq = inflight.seq;
                    let withheld = if check_acl
                        && seq < session.acl_recheck_below
                        && !may_read(&mut self.hooks, session, conn, inflight.message.topic())
                    {
                        Some(WITHHELD_FROM_RESUMING_CLIENT)
                    } else if conn.too_large(&inflight.message, wire) {
                        // The client came back with a smaller Maximum
                        // Packet Size: what no longer fits is dropped, as
                        // if it had been sent [MQTT-3.1.2-25].
                        Some(TOO_LARGE_FOR_CLIENT)
                    } else {
                        None
                    };
                    if let Some(why) = withheld {
                        session.remove_inflight(index);
                        if self.store.enabled() && !session.clean {
                            self.store.push(StoreOp::SessionMessageDelete {
                                client_id: Arc::clone(&session.client_id),
                                seq,
                            });
                        }
                        session.messages_dropped += 1;
                        self.stats.drop_message(&session.client_id, why);
                        continue;
                    }
                    if outstanding >= window {
                        session.held_back.push(inflight.packet_id);
                    } else {
                        let message = conn.crossing(&inflight.message).into_owned();
                        conn.output
                            .push_publish(&message, true, inflight.packet_id, wire);
                        sent += 1;
                        outstanding += 1;
                    }
                }
                // The message reached the client before (PUBREC came
                // back); only its packet id is sent again.
                InflightState::AwaitingComp => {
                    codec::encode_ack(
                        conn.output.bytes_mut(),
                        codec::AckKind::PubRel,
                        inflight.packet_id,
                    );
                    outstanding += 1;
                }
            }
            index += 1;
        }
        self.stats.messages_sent += sent;
        self.mark_dirty(id);
    }
}

impl Core {
    /// Why a will on `topic` at `qos` / `retain` cannot be kept, as
    /// CONNECT's refusal code: the rules for a CONNECT's will, and for a
    /// gateway's will update (`gateway.rs`).
    pub(super) fn will_refusal(
        &self,
        topic: &str,
        qos: crate::codec::QoS,
        retain: bool,
    ) -> Option<ReasonCode> {
        if !is_valid_topic_name(topic) {
            Some(ReasonCode::TOPIC_NAME_INVALID)
        } else if qos > self.config.max_qos {
            Some(ReasonCode::QOS_NOT_SUPPORTED)
        } else if retain && !self.config.retain_available {
            Some(ReasonCode::RETAIN_NOT_SUPPORTED)
        } else {
            None
        }
    }
}
