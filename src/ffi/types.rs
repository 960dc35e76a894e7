//! Plain C values: enumerations (as integer types with `#define`d
//! constants, so a value from C is never an invalid Rust enum) and the
//! structs passed to callbacks or filled by the library.

use crate::peer::Peer;
use std::ffi::c_char;
use std::io::Write;

use crate::codec::{QoS, ReasonCode};
use crate::core::Message;
use crate::hooks::{AuthDecision, ClientInfo};
use crate::{CloseReason, Stats};

/// The answer of an authentication callback, and the decision given to
/// `mqlite_handle_complete_auth()`: one of the `MQLITE_AUTH_*` values.
pub type mqlite_auth_decision = u32;
/// Let the client in (CONNACK 0x00).
pub const MQLITE_AUTH_ACCEPT: mqlite_auth_decision = 0;
/// Refuse with CONNACK 0x04 (bad user name or password).
pub const MQLITE_AUTH_BAD_CREDENTIALS: mqlite_auth_decision = 1;
/// Refuse with CONNACK 0x05 (not authorized).
pub const MQLITE_AUTH_NOT_AUTHORIZED: mqlite_auth_decision = 2;
/// Decide later with `mqlite_handle_complete_auth()` and the token of the
/// `mqlite_connect_info` (callback answer only). Without a decision within
/// the auth timeout the client is refused (0x05).
pub const MQLITE_AUTH_PENDING: mqlite_auth_decision = 3;
/// MQTT 5 enhanced authentication: send the client an AUTH packet
/// (reason 0x18, Continue authentication) carrying the data set with
/// `mqlite_connect_info_set_reply_data()` (none if not set), and call the
/// callback again with the client's answer (the next step). Only for a
/// client that named an authentication method
/// (`mqlite_connect_info_authentication_method()`); any other is refused
/// (0x87 / 0x05).
pub const MQLITE_AUTH_CONTINUE: mqlite_auth_decision = 4;
/// Let the client in, sending the data set with
/// `mqlite_connect_info_set_reply_data()` as Authentication Data with the
/// success: in CONNACK, or in AUTH (reason 0x00) for a re-authentication.
/// Without data, or for a client that named no authentication method, this
/// is `MQLITE_AUTH_ACCEPT`.
pub const MQLITE_AUTH_ACCEPT_WITH_DATA: mqlite_auth_decision = 5;
/// Refuse with a chosen MQTT 5 reason code: the decision is
/// `MQLITE_AUTH_REFUSE_REASON | code`, `code` from 0x80 to 0xFF (for
/// instance `MQLITE_AUTH_REFUSE_REASON | 0x8A`, Banned, or `| 0x8C`, Bad
/// authentication method). An MQTT 3.1/3.1.1 client gets the nearest
/// CONNACK return code (0x86 gives 4; 0x87, 0x8A and 0x8C give 5; others
/// 3); a re-authenticating client is disconnected with the code (0x87 when
/// DISCONNECT cannot carry it). A code below 0x80 is not a refusal: the
/// callback's answer is then refused as unknown (0x87 / 0x05), and
/// `mqlite_handle_complete_auth_with_data()` refuses it with
/// `MQLITE_INVALID_ARGUMENT`.
pub const MQLITE_AUTH_REFUSE_REASON: mqlite_auth_decision = 0x100;

/// What a client asks to do, for the ACL callback: one of the
/// `MQLITE_ACL_*` values.
pub type mqlite_acl_access = u32;
/// Publish to the topic name given (refused: the PUBLISH is dropped but
/// still acknowledged).
pub const MQLITE_ACL_PUBLISH: mqlite_acl_access = 1;
/// Subscribe with the topic filter given (refused: SUBACK 0x80).
pub const MQLITE_ACL_SUBSCRIBE: mqlite_acl_access = 2;
/// Receive a message on the topic name given (refused: that delivery is
/// skipped). Checked at every delivery: keep the callback cheap.
pub const MQLITE_ACL_RECEIVE: mqlite_acl_access = 3;

/// The answer of a message callback: one of the `MQLITE_MESSAGE_*` values.
pub type mqlite_message_decision = u32;
/// Deliver the message as it is.
pub const MQLITE_MESSAGE_PASS: mqlite_message_decision = 0;
/// Drop it (a QoS 1/2 publisher is still acknowledged).
pub const MQLITE_MESSAGE_DROP: mqlite_message_decision = 1;
/// Deliver the message set with `mqlite_message_rewrite_set()` instead
/// (dropped if the callback set none).
pub const MQLITE_MESSAGE_REWRITE: mqlite_message_decision = 2;

/// What happened, in an `mqlite_event`: one of the `MQLITE_EVENT_*` values.
pub type mqlite_event_kind = u32;
/// A client was accepted (CONNACK 0 sent).
pub const MQLITE_EVENT_CONNECTED: mqlite_event_kind = 1;
/// A connected client's connection ended (`reason` says why).
pub const MQLITE_EVENT_DISCONNECTED: mqlite_event_kind = 2;
/// A client subscribed (`filter`, granted `qos`).
pub const MQLITE_EVENT_SUBSCRIBED: mqlite_event_kind = 3;
/// A client unsubscribed (`filter`).
pub const MQLITE_EVENT_UNSUBSCRIBED: mqlite_event_kind = 4;
/// A client's queue is full and messages for it are being dropped: told at
/// the first drop of an overflow, then at most once a second while it
/// lasts. `mqlite_event_queue_overflow()` gives how many were dropped. The
/// client may be offline (its peer then reads `0.0.0.0:0`). A program
/// built against an older header ignores it as an unknown kind.
pub const MQLITE_EVENT_QUEUE_OVERFLOW: mqlite_event_kind = 5;

/// Why a connection ended, in an `mqlite_event`: one of the `MQLITE_CLOSE_*`
/// values.
pub type mqlite_close_reason = u32;
/// Not a disconnection event.
pub const MQLITE_CLOSE_NONE: mqlite_close_reason = 0;
/// The client sent DISCONNECT.
pub const MQLITE_CLOSE_DISCONNECT: mqlite_close_reason = 1;
/// No packet within 1.5 times the keepalive.
pub const MQLITE_CLOSE_KEEPALIVE_TIMEOUT: mqlite_close_reason = 2;
/// No CONNECT within the connect timeout.
pub const MQLITE_CLOSE_CONNECT_TIMEOUT: mqlite_close_reason = 3;
/// The client broke the protocol.
pub const MQLITE_CLOSE_PROTOCOL_ERROR: mqlite_close_reason = 4;
/// Another connection took over its client id.
pub const MQLITE_CLOSE_TAKEOVER: mqlite_close_reason = 5;
/// The socket closed or failed.
pub const MQLITE_CLOSE_NETWORK: mqlite_close_reason = 6;
/// CONNECT was refused.
pub const MQLITE_CLOSE_REFUSED: mqlite_close_reason = 7;
/// The host kicked the client (`mqlite_handle_kick()`).
pub const MQLITE_CLOSE_KICKED: mqlite_close_reason = 8;
/// The broker is stopping.
pub const MQLITE_CLOSE_SHUTDOWN: mqlite_close_reason = 9;
/// An MQTT 5 client sent DISCONNECT asking for its will (reason 0x04).
pub const MQLITE_CLOSE_DISCONNECT_WITH_WILL: mqlite_close_reason = 10;
/// A reason this version of the header does not name.
pub const MQLITE_CLOSE_OTHER: mqlite_close_reason = 255;

/// How a client is connected, from `mqlite_client_info_transport()`: one
/// of the `MQLITE_TRANSPORT_*` values. Later libraries add values; treat
/// one this header does not name as "some other transport".
pub type mqlite_transport = u32;
/// TCP (plain; TLS and WebSocket run over it).
pub const MQLITE_TRANSPORT_TCP: mqlite_transport = 1;
/// A Unix domain socket; the peer text is `unix:` and the listener's path.
pub const MQLITE_TRANSPORT_UNIX: mqlite_transport = 2;
/// A device of the MQTT-SN gateway; the peer text is `mqtt-sn:` and its
/// UDP address.
pub const MQLITE_TRANSPORT_MQTT_SN: mqlite_transport = 3;
/// A device of the LwM2M gateway; the peer text is `lwm2m:` and its UDP
/// address.
pub const MQLITE_TRANSPORT_LWM2M: mqlite_transport = 4;
/// A transport this version of the header does not name.
pub const MQLITE_TRANSPORT_OTHER: mqlite_transport = 255;

/// A message, as seen by a message callback or a local subscriber.
///
/// Memory and lifetimes: borrowed. The pointers are valid only during the
/// callback; copy what you keep. `topic` is UTF-8 and NOT NUL-terminated
/// (use `topic_len`); `payload` is `payload_len` bytes (not dereferenceable
/// when `payload_len` is 0).
///
/// Frozen: this layout never changes, so that programs built against any
/// header read it alike. What a message gains later comes through
/// `mqlite_message_*()` accessor functions given this pointer (see
/// docs/C_API.md, "A C ABI that only grows").
#[repr(C)]
pub struct mqlite_message {
    /// The topic name (UTF-8, not NUL-terminated).
    pub topic: *const c_char,
    /// Bytes in `topic`.
    pub topic_len: usize,
    /// The payload.
    pub payload: *const u8,
    /// Bytes in `payload`.
    pub payload_len: usize,
    /// 0, 1 or 2.
    pub qos: u8,
    /// The retain flag (set for retained messages replayed to a new local
    /// subscription).
    pub retain: bool,
}

impl mqlite_message {
    /// A view of `message`, borrowing it.
    pub(crate) fn view(message: &Message) -> mqlite_message {
        let topic = message.topic();
        let payload = message.payload();
        mqlite_message {
            topic: topic.as_ptr().cast::<c_char>(),
            topic_len: topic.len(),
            payload: payload.as_ptr(),
            payload_len: payload.len(),
            qos: message.qos() as u8,
            retain: message.retain(),
        }
    }
}

/// Who a connected client is, for ACL, message and event callbacks.
///
/// Memory and lifetimes: borrowed, valid only during the callback. Strings
/// are UTF-8 and NOT NUL-terminated: use the `_len` fields. `username` is
/// NULL when the client gave none (an empty one is non-NULL with length 0).
///
/// Frozen: this layout never changes, so that programs built against any
/// header read it alike. What a client gains later comes through
/// `mqlite_client_info_*()` accessor functions given this pointer (see
/// docs/C_API.md, "A C ABI that only grows").
#[repr(C)]
pub struct mqlite_client_info {
    /// The client identifier.
    pub client_id: *const c_char,
    /// Bytes in `client_id`.
    pub client_id_len: usize,
    /// The user name, or NULL.
    pub username: *const c_char,
    /// Bytes in `username` (0 when NULL).
    pub username_len: usize,
    /// The client's address as text, `IP:PORT` (`[IPv6]:PORT`); for a
    /// client on a Unix socket listener `unix:` and the listener's path.
    pub peer: *const c_char,
    /// Bytes in `peer`.
    pub peer_len: usize,
}

/// What a client presented in CONNECT, for the authentication callback.
///
/// Memory and lifetimes: borrowed, valid only during the callback; strings
/// are NOT NUL-terminated (use the `_len` fields). `username` and
/// `password` are NULL when absent. `token` is a plain number: keep it to
/// answer later with `mqlite_handle_complete_auth()`.
///
/// Frozen: this layout never changes, so that programs built against any
/// header read it alike. What a CONNECT gains later comes through
/// `mqlite_connect_info_*()` accessor functions given this pointer (see
/// docs/C_API.md, "A C ABI that only grows").
/// `mqlite_connect_info_client()` gives its client view, for the
/// `mqlite_client_info_*()` accessors.
#[repr(C)]
pub struct mqlite_connect_info {
    /// The client identifier (a generated one if the client sent none).
    pub client_id: *const c_char,
    /// Bytes in `client_id`.
    pub client_id_len: usize,
    /// The user name (UTF-8), or NULL.
    pub username: *const c_char,
    /// Bytes in `username` (0 when NULL).
    pub username_len: usize,
    /// The password bytes (any bytes, not a string), or NULL (always NULL
    /// for the AUTH steps of MQTT 5 enhanced authentication and for
    /// re-authentications).
    pub password: *const u8,
    /// Bytes in `password` (0 when NULL).
    pub password_len: usize,
    /// The client's address as text, `IP:PORT`; for a client on a Unix
    /// socket listener `unix:` and the listener's path.
    pub peer: *const c_char,
    /// Bytes in `peer`.
    pub peer_len: usize,
    /// Names this connection for `mqlite_handle_complete_auth()` (or
    /// `mqlite_handle_complete_auth_with_data()`) after an
    /// `MQLITE_AUTH_PENDING` answer.
    pub token: u64,
    /// The protocol level: 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0).
    pub protocol_level: u8,
    /// The Clean Session flag.
    pub clean_session: bool,
}

/// Something that happened to a client, for the event callback. Fields
/// that do not apply to `kind` are 0 / false / NULL.
///
/// Memory and lifetimes: borrowed, valid only during the callback; strings
/// are NOT NUL-terminated.
///
/// Frozen: this layout never changes, so that programs built against any
/// header read it alike. What an event gains later comes through
/// `mqlite_event_*()` accessor functions given this pointer (see
/// docs/C_API.md, "A C ABI that only grows").
/// New kinds of event may come with new `MQLITE_EVENT_*` values: ignore a
/// kind you do not know. `&event->client` works with the
/// `mqlite_client_info_*()` accessors.
#[repr(C)]
pub struct mqlite_event {
    /// One of `MQLITE_EVENT_*`.
    pub kind: mqlite_event_kind,
    /// Who.
    pub client: mqlite_client_info,
    /// CONNECTED: the protocol level, 3, 4 or 5.
    pub protocol_level: u8,
    /// CONNECTED: the Clean Session flag.
    pub clean_session: bool,
    /// CONNECTED: whether an existing session was resumed.
    pub session_present: bool,
    /// SUBSCRIBED: the granted QoS.
    pub qos: u8,
    /// DISCONNECTED: one of `MQLITE_CLOSE_*`.
    pub reason: mqlite_close_reason,
    /// SUBSCRIBED, UNSUBSCRIBED: the topic filter (not NUL-terminated).
    pub filter: *const c_char,
    /// Bytes in `filter`.
    pub filter_len: usize,
}

/// A snapshot of the broker's counters (see `mqlite_handle_stats()`).
///
/// Grows: later libraries append `uint64_t` counters at the end, and only
/// there. Read it with `mqlite_broker_stats_sized()` /
/// `mqlite_handle_stats_sized()` and `sizeof(mqlite_stats)`: the library
/// fills the counters it has, and zeroes those it does not; the first
/// `mqlite_stats_size()` bytes are the library's. The functions without a
/// size (`mqlite_broker_stats()`, `mqlite_handle_stats()`) write the twelve
/// counters of mqlite 0.1 and nothing beyond.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mqlite_stats {
    /// Network connections open now (including ones not yet past CONNECT).
    pub connections: u64,
    /// Network connections accepted since start.
    pub connections_total: u64,
    /// Connections refused because max_connections was reached.
    pub connections_refused: u64,
    /// Clients connected now (past CONNACK 0).
    pub clients_connected: u64,
    /// Sessions held now, connected or not.
    pub sessions: u64,
    /// Subscriptions held now (filter, session pairs).
    pub subscriptions: u64,
    /// Retained messages held now.
    pub retained_messages: u64,
    /// PUBLISH packets received from clients and the host.
    pub messages_received: u64,
    /// PUBLISH packets sent to clients (deliveries, including resends).
    pub messages_sent: u64,
    /// Messages dropped (slow readers, full queues).
    pub messages_dropped: u64,
    /// Bytes read from sockets.
    pub bytes_received: u64,
    /// Bytes written to sockets.
    pub bytes_sent: u64,
}

impl From<&Stats> for mqlite_stats {
    fn from(stats: &Stats) -> mqlite_stats {
        mqlite_stats {
            connections: stats.connections,
            connections_total: stats.connections_total,
            connections_refused: stats.connections_refused,
            clients_connected: stats.clients_connected,
            sessions: stats.sessions,
            // Every (filter, session) pair, as this field always counted
            // them; `Stats` keeps the shared ones apart, as `$SYS` does.
            subscriptions: stats.subscriptions + stats.shared_subscriptions,
            retained_messages: stats.retained_messages,
            messages_received: stats.messages_received,
            messages_sent: stats.messages_sent,
            messages_dropped: stats.messages_dropped,
            bytes_received: stats.bytes_received,
            bytes_sent: stats.bytes_sent,
        }
    }
}

/// A QoS from C: 0, 1 or 2.
pub(crate) fn qos_from_c(qos: u8) -> Option<QoS> {
    match qos {
        0 => Some(QoS::AtMostOnce),
        1 => Some(QoS::AtLeastOnce),
        2 => Some(QoS::ExactlyOnce),
        _ => None,
    }
}

/// The Rust decision of a C one, with the reply data of a CONTINUE or
/// ACCEPT_WITH_DATA answer; `pending_allowed` for a callback's answer.
/// `Err` says why the value is not a decision.
pub(crate) fn auth_decision_from_c(
    decision: mqlite_auth_decision,
    data: Option<Vec<u8>>,
    pending_allowed: bool,
) -> Result<AuthDecision, String> {
    Ok(match decision {
        MQLITE_AUTH_ACCEPT => AuthDecision::Accept,
        MQLITE_AUTH_BAD_CREDENTIALS => AuthDecision::BadCredentials,
        MQLITE_AUTH_NOT_AUTHORIZED => AuthDecision::NotAuthorized,
        MQLITE_AUTH_PENDING if pending_allowed => AuthDecision::Pending,
        MQLITE_AUTH_CONTINUE => AuthDecision::Continue(data.unwrap_or_default()),
        MQLITE_AUTH_ACCEPT_WITH_DATA => AuthDecision::AcceptWith(data.unwrap_or_default()),
        refusal if refusal & !0xFF == MQLITE_AUTH_REFUSE_REASON => {
            let code = ReasonCode((refusal & 0xFF) as u8);
            if !code.is_error() {
                return Err(format!(
                    "MQLITE_AUTH_REFUSE_REASON | {:#04x}: a refusal needs a reason code from 0x80 up",
                    code.0
                ));
            }
            AuthDecision::Refuse(code)
        }
        MQLITE_AUTH_PENDING => {
            return Err("MQLITE_AUTH_PENDING is a callback's answer, not a decision".into())
        }
        other => return Err(format!("{other} is not an MQLITE_AUTH_* decision")),
    })
}

/// The C code of a close reason.
pub(crate) fn close_reason_to_c(reason: CloseReason) -> mqlite_close_reason {
    match reason {
        CloseReason::Disconnect => MQLITE_CLOSE_DISCONNECT,
        CloseReason::KeepaliveTimeout => MQLITE_CLOSE_KEEPALIVE_TIMEOUT,
        CloseReason::ConnectTimeout => MQLITE_CLOSE_CONNECT_TIMEOUT,
        CloseReason::ProtocolError => MQLITE_CLOSE_PROTOCOL_ERROR,
        CloseReason::Takeover => MQLITE_CLOSE_TAKEOVER,
        CloseReason::Network => MQLITE_CLOSE_NETWORK,
        CloseReason::Refused => MQLITE_CLOSE_REFUSED,
        CloseReason::Kicked => MQLITE_CLOSE_KICKED,
        CloseReason::Shutdown => MQLITE_CLOSE_SHUTDOWN,
        CloseReason::DisconnectWithWill => MQLITE_CLOSE_DISCONNECT_WITH_WILL,
        // A reason added later reads as "other" until it has a code.
        #[allow(unreachable_patterns)]
        _ => MQLITE_CLOSE_OTHER,
    }
}

/// A socket address written as text on the stack (no allocation: the ACL
/// callback runs once per delivery).
pub(crate) struct PeerText {
    buf: [u8; PEER_TEXT_MAX],
    len: usize,
}

/// Room for the longest peer text: an address (`[v6%scope]:port` is under
/// 64 bytes) or `unix:` and a socket path (at most 108 bytes on Linux).
const PEER_TEXT_MAX: usize = 128;

impl PeerText {
    pub(crate) fn new(peer: &Peer) -> PeerText {
        let mut text = PeerText {
            buf: [0; PEER_TEXT_MAX],
            len: 0,
        };
        let mut cursor = &mut text.buf[..];
        // A longer text would be cut, not overflow.
        let _ = write!(cursor, "{peer}");
        text.len = PEER_TEXT_MAX - cursor.len();
        text
    }

    pub(crate) fn ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast::<c_char>()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// A C view of a client, borrowing `client` and `peer` (which must be
/// `client.peer` as text).
pub(crate) fn client_view(client: &ClientInfo<'_>, peer: &PeerText) -> mqlite_client_info {
    let (username, username_len) = match client.username {
        Some(name) => (name.as_ptr().cast::<c_char>(), name.len()),
        None => (std::ptr::null(), 0),
    };
    mqlite_client_info {
        client_id: client.client_id.as_ptr().cast::<c_char>(),
        client_id_len: client.client_id.len(),
        username,
        username_len,
        peer: peer.ptr(),
        peer_len: peer.len(),
    }
}
