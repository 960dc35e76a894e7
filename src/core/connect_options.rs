//! What a client asks for in CONNECT and what the broker answers in
//! CONNACK: session expiry, flow control and size limits, keep alive, and
//! the capabilities an MQTT 5 client is told (§3.1.2.11, §3.2.2.3).

use crate::codec::{property, Connect, PropertiesBuilder, QoS, ReasonCode};
use crate::Config;

/// A Session Expiry Interval that never ends.
pub(crate) const SESSION_NEVER_EXPIRES: u32 = u32::MAX;

/// What a client asks for in CONNECT, with the defaults a 3.1.1 client
/// gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientOptions {
    /// Session Expiry Interval, seconds: 0 ends the session with the
    /// connection. A 3.1.1 client: 0 with clean session 1, never otherwise.
    pub(crate) session_expiry: u32,
    /// Receive Maximum: most unacknowledged QoS 1/2 PUBLISHes it takes.
    pub(crate) receive_maximum: u16,
    /// Maximum Packet Size it takes.
    pub(crate) max_packet_size: u32,
    /// Request Problem Information.
    pub(crate) problem_information: bool,
    /// Topic Alias Maximum: most aliases the client takes from the broker.
    pub(crate) topic_alias_maximum: u16,
    /// Request Response Information.
    pub(crate) response_information: bool,
}

impl ClientOptions {
    /// The options of `connect`.
    pub(crate) fn of(connect: &Connect<'_>) -> ClientOptions {
        let p = &connect.properties;
        let session_expiry = if connect.protocol.is_v5() {
            p.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_session {
            0
        } else {
            SESSION_NEVER_EXPIRES
        };
        ClientOptions {
            session_expiry,
            receive_maximum: p.receive_maximum().unwrap_or(u16::MAX),
            max_packet_size: p.maximum_packet_size().unwrap_or(u32::MAX),
            problem_information: p.request_problem_information() != Some(0),
            topic_alias_maximum: p.topic_alias_maximum().unwrap_or(0),
            response_information: p.request_response_information() == Some(1),
        }
    }
}

/// The Session Expiry Interval the broker grants: the client's, cut to
/// `config.session_expiry`. "Never" stays never only without a limit.
pub(crate) fn granted_session_expiry(config: &Config, asked: u32) -> u32 {
    match config.session_expiry {
        Some(limit) => asked.min(u32::try_from(limit.as_secs()).unwrap_or(u32::MAX - 1)),
        None => asked,
    }
}

/// The keep alive a client gets under `config.max_keepalive`: `Ok(asked)`
/// when within it, `Ok(limit)` for an MQTT 5 client asking more (or 0,
/// which would be no limit at all), `Err(())` for a 3.1.1 client asking
/// more (refused, as mosquitto does).
pub(crate) fn granted_keep_alive(config: &Config, asked: u16, v5: bool) -> Result<u16, ()> {
    match config.max_keepalive {
        Some(limit) if asked == 0 || asked > limit => {
            if v5 {
                Ok(limit)
            } else {
                Err(())
            }
        }
        _ => Ok(asked),
    }
}

/// What a successful CONNACK tells an MQTT 5 client.
pub(crate) struct Granted<'a> {
    /// The Session Expiry Interval granted, when it differs from the one
    /// asked.
    pub(crate) session_expiry: Option<u32>,
    /// The keep alive granted, when it differs from the one asked.
    pub(crate) keep_alive: Option<u16>,
    /// The client identifier the broker made up, if it did.
    pub(crate) assigned_id: Option<&'a str>,
    /// The client's identifier, when it asked for Response Information.
    pub(crate) response_information_for: Option<&'a str>,
}

/// The properties of a successful MQTT 5 CONNACK: what differs from what
/// the client asked, and every capability that is not the standard's
/// default (§3.2.2.3).
pub(crate) fn connack_properties(config: &Config, granted: &Granted<'_>) -> PropertiesBuilder {
    let mut p = PropertiesBuilder::new();
    if let Some(expiry) = granted.session_expiry {
        p.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
    }
    if let Some(id) = granted.assigned_id {
        p.string(property::ASSIGNED_CLIENT_IDENTIFIER, id);
    }
    if let Some(keep_alive) = granted.keep_alive {
        p.two_byte(property::SERVER_KEEP_ALIVE, keep_alive);
    }
    if let (Some(client_id), Some(base)) = (
        granted.response_information_for,
        &config.response_information,
    ) {
        p.string(
            property::RESPONSE_INFORMATION,
            &base.replace("%c", client_id),
        );
    }
    if config.max_inflight < u16::MAX {
        p.two_byte(property::RECEIVE_MAXIMUM, config.max_inflight);
    }
    if config.max_qos < QoS::ExactlyOnce {
        p.byte(property::MAXIMUM_QOS, config.max_qos as u8);
    }
    if !config.retain_available {
        p.byte(property::RETAIN_AVAILABLE, 0);
    }
    if let Ok(max) = u32::try_from(config.max_packet_size) {
        p.four_byte(property::MAXIMUM_PACKET_SIZE, max);
    }
    if config.max_topic_alias > 0 {
        p.two_byte(property::TOPIC_ALIAS_MAXIMUM, config.max_topic_alias);
    }
    p
}

/// The CONNACK refusing every client of a broker that redirects them:
/// its reason code and Server Reference.
pub(crate) fn redirection(config: &Config) -> Option<(ReasonCode, &str)> {
    let reference = config.redirect.as_deref()?;
    let code = if config.redirect_permanent {
        ReasonCode::SERVER_MOVED
    } else {
        ReasonCode::USE_ANOTHER_SERVER
    };
    Some((code, reference))
}
