//! What the host program can plug into the broker: authentication, access
//! control, a message hook, and event callbacks.
//!
//! Every hook runs **on the broker thread**, inside a reactor pass, in this
//! order for a PUBLISH: authentication (at CONNECT) → ACL (publish) →
//! message hook → retained store and fan-out (ACL again per receiver) →
//! acknowledgement. Hooks must not block: while one runs, no other client is
//! served. A hook that needs slow work (asking a server) answers
//! [`AuthDecision::Pending`] and completes later through
//! [`crate::BrokerHandle::complete_auth`]. A hook may publish through a
//! [`crate::BrokerHandle`]; that message is handled at the start of the next
//! pass, never re-entrantly.
//!
//! A hook that panics does not take the broker down: the panic is caught,
//! logged, and treated as a refusal (auth: not authorized; ACL: denied;
//! message hook: dropped).

use std::sync::Arc;

use crate::close_reason::CloseReason;
use crate::codec::{Properties, Protocol, QoS, ReasonCode};
use crate::message::Message;
use crate::peer::Peer;

/// The answer of the authentication hook.
///
/// For MQTT 5 enhanced authentication ([`ConnectInfo::authentication_method`]
/// set) the hook is called again for every AUTH packet of the exchange,
/// and for a re-authentication; it may answer [`AuthDecision::Continue`]
/// to send the client a challenge, and [`AuthDecision::AcceptWith`] to
/// send final data with the success. A hook that does not know the method
/// answers `Refuse(ReasonCode::BAD_AUTHENTICATION_METHOD)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Let the client in (CONNACK 0x00).
    Accept,
    /// Refuse with CONNACK 0x04 (bad user name or password; 0x86 in
    /// MQTT 5).
    BadCredentials,
    /// Refuse with CONNACK 0x05 (not authorized; 0x87 in MQTT 5).
    NotAuthorized,
    /// Decide later with [`crate::BrokerHandle::complete_auth`] and the
    /// [`ConnectInfo::token`]. The client waits without blocking anyone;
    /// with no decision within `Config::auth_timeout` it is refused (0x05).
    Pending,
    /// MQTT 5 enhanced authentication: send the client AUTH (Continue
    /// authentication) with this data and call the hook again with its
    /// answer.
    Continue(Vec<u8>),
    /// MQTT 5 enhanced authentication: let the client in, sending this
    /// Authentication Data with the success (in CONNACK, or in AUTH for a
    /// re-authentication).
    AcceptWith(Vec<u8>),
    /// Refuse with this MQTT 5 reason code (a 3.1.1 client gets the
    /// nearest CONNACK return code; a re-authenticating client is
    /// disconnected with it).
    Refuse(ReasonCode),
}

/// Names a connection whose authentication is pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthToken(pub(crate) u64);

impl AuthToken {
    /// The token as a number (for hosts that pass it through C or Python).
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// A token from [`AuthToken::to_u64`].
    pub fn from_u64(value: u64) -> AuthToken {
        AuthToken(value)
    }
}

/// What a client presented in CONNECT, for the authentication hook.
/// Borrowed: valid only during the call.
#[derive(Clone, Copy, Debug)]
pub struct ConnectInfo<'a> {
    /// Client identifier (a generated one if the client sent none).
    pub client_id: &'a str,
    /// User name, if given.
    pub username: Option<&'a str>,
    /// Password bytes, if given.
    pub password: Option<&'a [u8]>,
    /// MQTT 3.1, 3.1.1 or 5.0.
    pub protocol: Protocol,
    /// The Clean Session flag (Clean Start in MQTT 5).
    pub clean_session: bool,
    /// Who is at the other end (for TCP, [`Peer::Tcp`] with its address).
    pub peer: &'a Peer,
    /// The listener the client came in on: its place in
    /// `Config::listeners`, then `Config::custom_listeners`.
    pub listener: u16,
    /// The certificate the client presented on a TLS listener (verified
    /// against the listener's CAs), if any. On a listener with
    /// `use_identity_as_username`, `username` is its Common Name.
    pub certificate: Option<&'a ClientCertificate>,
    /// Completes a [`AuthDecision::Pending`] answer later.
    pub token: AuthToken,
    /// MQTT 5 enhanced authentication: the method the client named (the
    /// same for every step of an exchange).
    pub authentication_method: Option<&'a str>,
    /// MQTT 5 enhanced authentication: the data of this step (from CONNECT,
    /// then from each AUTH).
    pub authentication_data: Option<&'a [u8]>,
    /// Which step of an enhanced authentication this is: 0 for CONNECT,
    /// then 1, 2... for each AUTH the client answers with.
    pub step: u32,
    /// Whether this is a re-authentication of a connected client (MQTT 5
    /// AUTH with reason 0x19).
    pub reauthentication: bool,
    /// The MQTT 5 properties of CONNECT (User Properties among them), or
    /// of the AUTH packet of this step.
    pub properties: Properties<'a>,
}

/// The certificate a client presented on a TLS listener, verified by the
/// handshake against the listener's CAs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject, RFC 4514, most specific first (`CN=dev1,O=Acme`), as
    /// mosquitto's `use_subject_as_username` gives it.
    pub subject: String,
    /// The subject's Common Name, when it has one (mosquitto's
    /// `use_identity_as_username` gives this).
    pub common_name: Option<String>,
}

/// Who a connected client is, for ACL and message hooks. Borrowed: valid
/// only during the call.
#[derive(Clone, Copy, Debug)]
pub struct ClientInfo<'a> {
    /// Client identifier.
    pub client_id: &'a str,
    /// User name it connected with, if any.
    pub username: Option<&'a str>,
    /// Who is at the other end (for TCP, [`Peer::Tcp`] with its address).
    pub peer: &'a Peer,
    /// The listener of the client's latest connection (as
    /// [`ConnectInfo::listener`]).
    pub listener: u16,
}

/// What a client wants to do, for the ACL hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclAccess {
    /// Publish to the topic name given.
    Publish,
    /// Subscribe with the topic filter given (refused: SUBACK 0x80).
    Subscribe,
    /// Receive a message on the topic name given (checked at each delivery,
    /// so a wildcard subscription never leaks a topic the client may not
    /// read).
    Receive,
}

/// The answer of the message hook.
#[derive(Clone, Debug)]
pub enum MessageDecision {
    /// Deliver the message as it is.
    Pass,
    /// Drop it (a QoS 1/2 publisher is still acknowledged).
    Drop,
    /// Deliver this message instead (topic, payload, QoS, retain may all
    /// change; an invalid topic drops the message).
    Rewrite(Message),
}

/// Something that happened to a client, for the event hook.
///
/// Later versions add kinds of event: a `match` needs a `_` arm.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A client was accepted (CONNACK 0 sent).
    Connected {
        /// Who.
        client: ClientInfo<'a>,
        /// MQTT 3.1 or 3.1.1.
        protocol: Protocol,
        /// The Clean Session flag.
        clean_session: bool,
        /// Whether an existing session was resumed.
        session_present: bool,
        /// The keepalive the client asked for, in seconds (0: none).
        keep_alive: u16,
    },
    /// A connected client's connection ended.
    Disconnected {
        /// Who.
        client: ClientInfo<'a>,
        /// Why.
        reason: CloseReason,
    },
    /// A client subscribed (SUBACK granted).
    Subscribed {
        /// Who.
        client: ClientInfo<'a>,
        /// The filter.
        filter: &'a str,
        /// The granted QoS.
        qos: QoS,
    },
    /// A client unsubscribed.
    Unsubscribed {
        /// Who.
        client: ClientInfo<'a>,
        /// The filter.
        filter: &'a str,
    },
    /// A client's queue (`max_queued_messages` / `max_queued_bytes`) is
    /// full and messages for it are being dropped; until now the only sign
    /// was `Stats::messages_dropped`. Told at the first drop of an
    /// overflow (the first refused after the queue last took a message),
    /// then at most once a second while the queue goes on refusing, so a
    /// client that has stopped reading does not flood the hook.
    QueueOverflow {
        /// Whose queue (the client may be offline: then `peer` is
        /// `0.0.0.0:0`).
        client: ClientInfo<'a>,
        /// Messages its queue refused since the previous `QueueOverflow`
        /// of this session (1 at the start of an overflow, unless drops
        /// of the previous one were not told yet).
        dropped: u64,
        /// Messages in its queue now.
        queued: usize,
    },
}

/// Authentication hook: see [`crate::Broker::set_auth_hook`].
pub type AuthHook = Box<dyn FnMut(&ConnectInfo<'_>) -> AuthDecision + Send>;
/// ACL hook: see [`crate::Broker::set_acl_hook`].
pub type AclHook = Box<dyn FnMut(&ClientInfo<'_>, AclAccess, &str) -> bool + Send>;
/// Message hook: see [`crate::Broker::set_message_hook`].
pub type MessageHook = Box<dyn FnMut(Option<&ClientInfo<'_>>, &Message) -> MessageDecision + Send>;
/// Event hook: see [`crate::Broker::set_event_hook`].
pub type EventHook = Box<dyn FnMut(&Event<'_>) + Send>;
/// Heap probe: see [`crate::Broker::set_heap_probe`].
pub type HeapProbe = Box<dyn FnMut() -> Option<u64> + Send>;
/// Callback of a local subscription: see [`crate::Broker::subscribe_local`].
pub type LocalCallback = Box<dyn FnMut(&Message) + Send>;

/// The hooks a core holds. Each is optional; an absent hook costs nothing.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) auth: Option<AuthHook>,
    pub(crate) acl: Option<AclHook>,
    pub(crate) message: Option<MessageHook>,
    pub(crate) event: Option<EventHook>,
    /// What `$SYS/broker/heap/...` reports; absent, nothing.
    pub(crate) heap: Option<HeapProbe>,
    /// Whether `auth` / `acl` were made from the config's files (and are
    /// made again by a reload), not set by the host.
    pub(crate) auth_from_files: bool,
    pub(crate) acl_from_files: bool,
    /// The password files of the config, per listener (checked again on
    /// a reload for the clients they let in).
    pub(crate) passwords: crate::auth::files::PasswordFiles,
}

/// An owned identity, cheap to clone, from which [`ClientInfo`] is lent.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) client_id: Arc<str>,
    pub(crate) username: Option<Arc<str>>,
    pub(crate) peer: Peer,
    pub(crate) listener: u16,
}

impl Identity {
    pub(crate) fn info(&self) -> ClientInfo<'_> {
        ClientInfo {
            client_id: &self.client_id,
            username: self.username.as_deref(),
            peer: &self.peer,
            listener: self.listener,
        }
    }
}

/// Runs `call`, turning a panic into `refusal` (and a log line).
pub(crate) fn guarded<T>(hook: &str, refusal: T, call: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(value) => value,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!("{hook} hook panicked ({text}); treated as a refusal");
            refusal
        }
    }
}

impl Hooks {
    pub(crate) fn authenticate(&mut self, info: &ConnectInfo<'_>) -> AuthDecision {
        match &mut self.auth {
            Some(hook) => guarded("authentication", AuthDecision::NotAuthorized, || hook(info)),
            // Without a hook nobody knows an enhanced authentication method.
            None if info.authentication_method.is_some() => {
                AuthDecision::Refuse(ReasonCode::BAD_AUTHENTICATION_METHOD)
            }
            None => AuthDecision::Accept,
        }
    }

    pub(crate) fn authorize(&mut self, client: &Identity, access: AclAccess, topic: &str) -> bool {
        self.authorize_client(&client.info(), access, topic)
    }

    /// Asks the ACL hook. The broker's own bridges are not subject to an
    /// ACL file (as in mosquitto, whose bridges bypass it, so that a
    /// mosquitto.conf with an `acl_file` keeps its bridges working); a
    /// hook the host set sees them as `$bridge/<name>`.
    pub(crate) fn authorize_client(
        &mut self,
        client: &ClientInfo<'_>,
        access: AclAccess,
        topic: &str,
    ) -> bool {
        if self.acl_from_files
            && client
                .client_id
                .starts_with(crate::core::BRIDGE_SESSION_PREFIX)
        {
            return true;
        }
        match &mut self.acl {
            Some(hook) => guarded("ACL", false, || hook(client, access, topic)),
            None => true,
        }
    }

    pub(crate) fn has_acl(&self) -> bool {
        self.acl.is_some()
    }

    pub(crate) fn filter_message(
        &mut self,
        origin: Option<&Identity>,
        message: &Message,
    ) -> MessageDecision {
        match &mut self.message {
            Some(hook) => guarded("message", MessageDecision::Drop, || {
                let info = origin.map(Identity::info);
                hook(info.as_ref(), message)
            }),
            None => MessageDecision::Pass,
        }
    }

    pub(crate) fn has_message(&self) -> bool {
        self.message.is_some()
    }

    pub(crate) fn has_event(&self) -> bool {
        self.event.is_some()
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) {
        if let Some(hook) = &mut self.event {
            guarded("event", (), || hook(event));
        }
    }
}
