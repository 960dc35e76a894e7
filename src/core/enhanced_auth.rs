//! Authentication decisions, and MQTT 5 enhanced authentication (§4.12):
//! the AUTH exchange at CONNECT and re-authentication of a connected
//! client.
//!
//! The host's authentication hook decides each step. At CONNECT it may let
//! the client in, refuse it, leave the decision pending, or (when the
//! client named an Authentication Method) send a challenge in AUTH and be
//! asked again with the client's answer. A connected client may start the
//! exchange again (AUTH 0x19); it keeps working meanwhile, and a refusal
//! disconnects it.

use std::time::Instant;

use super::connection::{CloseReason, ConnState, PendingConnect};
use super::timers::Timer;
use super::{ConnId, Core};
use crate::codec::{self, property, Packet, PropertiesBuilder, Protocol, ReasonCode, Reasoned};
use crate::hooks::{AuthDecision, ConnectInfo};

/// An enhanced authentication in progress or done on a connection.
#[derive(Debug)]
pub(crate) struct AuthExchange {
    /// The method named at CONNECT; every AUTH must name it again.
    pub(crate) method: Box<str>,
    /// Steps answered by the client so far in the current exchange.
    pub(crate) step: u32,
    /// Whether the current exchange is a re-authentication.
    pub(crate) reauthentication: bool,
    /// Whether an exchange is under way (at CONNECT, or a
    /// re-authentication not yet decided).
    pub(crate) active: bool,
}

/// The reason code of a refusing decision (any other reads as Not
/// authorized).
fn refusal_code(decision: AuthDecision) -> ReasonCode {
    match decision {
        AuthDecision::BadCredentials => ReasonCode::BAD_USER_NAME_OR_PASSWORD,
        AuthDecision::Refuse(code) if code.is_error() => code,
        _ => ReasonCode::NOT_AUTHORIZED,
    }
}

/// A token naming a connection slot and its generation.
pub(super) fn auth_token(id: ConnId, generation: u32) -> crate::hooks::AuthToken {
    crate::hooks::AuthToken(((id.0 as u64) << 32) | u64::from(generation))
}

impl Core {
    /// Carries out an authentication decision for a connection whose
    /// CONNECT (`pending`) is being authenticated.
    pub(super) fn decide_connect(
        &mut self,
        now: Instant,
        id: ConnId,
        pending: PendingConnect,
        decision: AuthDecision,
    ) {
        let refusal = match decision {
            AuthDecision::Accept => return self.finish_connect(now, id, pending, None),
            AuthDecision::AcceptWith(data) => {
                return self.finish_connect(now, id, pending, Some(data))
            }
            AuthDecision::Continue(data) => {
                if self.conns.get(id).and_then(|c| c.auth.as_ref()).is_none() {
                    // No enhanced authentication under way: nothing to
                    // continue.
                    log::warn!("auth hook answered Continue without an authentication method");
                    ReasonCode::NOT_AUTHORIZED
                } else {
                    self.send_auth(id, ReasonCode::CONTINUE_AUTHENTICATION, &data);
                    if let Some(conn) = self.live_conn(id) {
                        conn.state = ConnState::Authenticating;
                        conn.pending = Some(Box::new(pending));
                    }
                    self.start_auth_timer(now, id);
                    return;
                }
            }
            AuthDecision::Pending => {
                if let Some(conn) = self.live_conn(id) {
                    conn.state = ConnState::AuthPending;
                    conn.pending = Some(Box::new(pending));
                }
                self.start_auth_timer(now, id);
                return;
            }
            refused => refusal_code(refused),
        };
        log::info!("client {} refused: {refusal}", pending.client_id);
        self.refuse(now, id, refusal);
    }

    /// Carries out an authentication decision for a re-authenticating
    /// client: AUTH Success, AUTH Continue, or DISCONNECT.
    pub(super) fn decide_reauthentication(
        &mut self,
        now: Instant,
        id: ConnId,
        decision: AuthDecision,
    ) {
        let refusal = match decision {
            AuthDecision::Accept => {
                self.end_reauthentication(id);
                self.send_auth(id, ReasonCode::SUCCESS, &[]);
                return;
            }
            AuthDecision::AcceptWith(data) => {
                self.end_reauthentication(id);
                self.send_auth(id, ReasonCode::SUCCESS, &data);
                return;
            }
            AuthDecision::Continue(data) => {
                self.send_auth(id, ReasonCode::CONTINUE_AUTHENTICATION, &data);
                return;
            }
            AuthDecision::Pending => {
                self.start_auth_timer(now, id);
                return;
            }
            refused => refusal_code(refused),
        };
        // BAD_USER_NAME_OR_PASSWORD is not a DISCONNECT code.
        let code = if refusal.allowed_in(codec::ReasonContext::Disconnect) {
            refusal
        } else {
            ReasonCode::NOT_AUTHORIZED
        };
        self.close_with(now, id, CloseReason::Refused, Some(code));
    }

    /// Gives the connection's authentication `auth_timeout` to finish.
    fn start_auth_timer(&mut self, now: Instant, id: ConnId) {
        if let Some(generation) = self.live_conn(id).map(|conn| conn.generation) {
            self.timers.push(
                now + self.config.auth_timeout,
                Timer::AuthTimeout(id, generation),
            );
        }
    }

    fn end_reauthentication(&mut self, id: ConnId) {
        if let Some(exchange) = self.conns.get_mut(id).and_then(|c| c.auth.as_mut()) {
            exchange.active = false;
            exchange.step = 0;
        }
    }

    /// Sends AUTH with `code`, the connection's method, and `data` when
    /// not empty.
    fn send_auth(&mut self, id: ConnId, code: ReasonCode, data: &[u8]) {
        let Some(method) = self
            .conns
            .get(id)
            .and_then(|c| c.auth.as_ref())
            .map(|a| a.method.clone())
        else {
            return;
        };
        let mut properties = PropertiesBuilder::new();
        properties.string(property::AUTHENTICATION_METHOD, &method);
        if !data.is_empty() {
            properties.binary(property::AUTHENTICATION_DATA, data);
        }
        let auth = Packet::Auth(Reasoned {
            reason: code,
            properties: properties.unchecked(),
        });
        self.write_to(id, |out| {
            // Method and data are each at most 65 535 bytes: it encodes.
            let _ = codec::encode_as(&auth, Protocol::V5, out);
        });
    }

    /// AUTH from the client: the next step of the exchange at CONNECT, or
    /// the start or next step of a re-authentication. Anything else is a
    /// Protocol Error: AUTH without a method at CONNECT, another method
    /// [MQTT-4.12.0-5], a reason the step does not allow.
    pub(super) fn handle_auth_packet(&mut self, now: Instant, id: ConnId, auth: Reasoned<'_>) {
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        let method = auth.properties.authentication_method();
        let Some(exchange) = conn.auth.as_mut() else {
            self.close(now, id, CloseReason::ProtocolError);
            return;
        };
        if method != Some(&*exchange.method) {
            self.close(now, id, CloseReason::ProtocolError);
            return;
        }
        let connecting = conn.state == ConnState::Authenticating;
        let allowed = matches!(
            (connecting, exchange.active, auth.reason),
            (true, _, ReasonCode::CONTINUE_AUTHENTICATION)
                | (false, true, ReasonCode::CONTINUE_AUTHENTICATION)
                | (false, false, ReasonCode::RE_AUTHENTICATE)
        );
        if !allowed
            || !matches!(
                conn.state,
                ConnState::Authenticating | ConnState::Connected(_)
            )
        {
            self.close(now, id, CloseReason::ProtocolError);
            return;
        }
        if auth.reason == ReasonCode::RE_AUTHENTICATE {
            exchange.active = true;
            exchange.reauthentication = true;
            exchange.step = 0;
        } else {
            exchange.step += 1;
        }
        let step = exchange.step;
        let reauthentication = !connecting;
        let (peer, generation, protocol) = (conn.peer.clone(), conn.generation, conn.protocol);
        let (listener, certificate) = (conn.listener, conn.certificate.clone());
        let (client_id, username, clean_session) = match (&conn.pending, conn.session()) {
            (Some(pending), _) => (
                pending.client_id.clone(),
                pending.username.as_deref().map(str::to_string),
                pending.clean_session,
            ),
            (None, Some(key)) => match self.sessions.get(key) {
                Some(session) => (
                    session.client_id.to_string(),
                    session.username.as_deref().map(str::to_string),
                    session.clean,
                ),
                None => return,
            },
            (None, None) => return,
        };
        let method = method.map(str::to_string);
        let decision = self.hooks.authenticate(&ConnectInfo {
            client_id: &client_id,
            username: username.as_deref(),
            password: None,
            protocol,
            clean_session,
            peer: &peer,
            listener,
            certificate: certificate.as_deref(),
            token: auth_token(id, generation),
            authentication_method: method.as_deref(),
            authentication_data: auth.properties.authentication_data(),
            step,
            reauthentication,
            properties: auth.properties,
        });
        if reauthentication {
            self.decide_reauthentication(now, id, decision);
        } else if let Some(pending) = self.live_conn(id).and_then(|c| c.pending.take()) {
            if let Some(conn) = self.live_conn(id) {
                conn.state = ConnState::AwaitingConnect;
            }
            self.decide_connect(now, id, *pending, decision);
        }
    }
}
