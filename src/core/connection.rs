//! A network connection as the core sees it: protocol state and the bytes
//! waiting to be parsed or written. No socket: the reactor owns that.

use std::time::{Duration, Instant};

use super::bridge::BridgeConn;
use super::connect_options::ClientOptions;
use super::enhanced_auth::AuthExchange;
use super::output_queue::{publish_wire_len, OutputQueue, Wire};
use super::topic_aliases::{AliasUse, OutgoingAliases, TopicAliases};
use super::SessionKey;
pub use crate::close_reason::CloseReason;
use crate::codec::Protocol;
use crate::message::Message;
use crate::peer::Peer;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Accepted; the first packet must be CONNECT.
    AwaitingConnect,
    /// CONNECT received; the authentication hook answered "pending".
    /// Further input waits unparsed.
    AuthPending,
    /// MQTT 5 enhanced authentication at CONNECT: AUTH sent, the client's
    /// AUTH awaited (nothing else may come).
    Authenticating,
    /// A bridge's connection: CONNECT sent upstream, CONNACK awaited.
    BridgeConnecting,
    /// CONNACK 0 sent (received, on a bridge's connection); attached to a
    /// session.
    Connected(SessionKey),
    /// The core is done with it; the reactor flushes what is left and
    /// releases it. Input is ignored.
    Closing,
}

impl ConnState {
    /// Whether the connection is not yet established (its connect timeout
    /// applies).
    pub(crate) fn awaits_connection(self) -> bool {
        matches!(
            self,
            ConnState::AwaitingConnect | ConnState::BridgeConnecting
        )
    }
}

/// What the core keeps of a CONNECT while its authentication is pending.
pub(crate) struct PendingConnect {
    pub(crate) client_id: String,
    /// Whether the broker made up `client_id` (the client sent none).
    pub(crate) assigned_id: bool,
    pub(crate) username: Option<Box<str>>,
    pub(crate) clean_session: bool,
    pub(crate) keep_alive: u16,
    pub(crate) will: Option<Box<Will>>,
    pub(crate) options: ClientOptions,
}

/// A will as the core keeps it until the connection ends.
pub(crate) struct Will {
    /// The message, without an expiry: its Message Expiry Interval counts
    /// from when it is published.
    pub(crate) message: Message,
    /// MQTT 5 Message Expiry Interval, seconds.
    pub(crate) expiry_interval: Option<u32>,
    /// MQTT 5 Will Delay Interval, seconds (0: at once).
    pub(crate) delay: u32,
}

/// The user name and password a password file let a client in with, kept
/// for the connection's life to check the client again when the file is
/// reloaded. Memory only: never logged, stored or shown (no `Debug`).
pub(crate) struct Credentials {
    pub(crate) username: Box<str>,
    pub(crate) password: Box<[u8]>,
}

/// Output that waits for the store (see `store_log`): only the first `safe`
/// bytes may be written until `need` operations are applied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputHold {
    safe: usize,
    need: u64,
}

/// Per-connection state. Kept small: an idle connection holds no buffer.
pub(crate) struct Conn {
    pub(crate) state: ConnState,
    /// Distinguishes this connection from earlier ones in the same slot.
    pub(crate) generation: u32,
    pub(crate) peer: Peer,
    /// The listener it came in on (`Config::listeners`, then
    /// `Config::custom_listeners`).
    pub(crate) listener: u16,
    /// The certificate the client presented on a TLS listener.
    pub(crate) certificate: Option<std::sync::Arc<crate::hooks::ClientCertificate>>,
    pub(crate) protocol: Protocol,
    /// Keepalive window (1.5 × the client's keepalive); zero means none.
    pub(crate) keepalive: Duration,
    pub(crate) last_packet_at: Instant,
    /// When the connection was accepted, then when its CONNECT was (for
    /// the management API's "connected since").
    pub(crate) connected_at: Instant,
    /// The will to publish unless the client sends DISCONNECT.
    pub(crate) will: Option<Box<Will>>,
    /// Largest packet the client accepts (MQTT 5 Maximum Packet Size;
    /// `u32::MAX` when it set none).
    pub(crate) max_packet_size: u32,
    /// Whether the client accepts Reason Strings and User Properties on
    /// packets other than PUBLISH, CONNACK and DISCONNECT (MQTT 5 Request
    /// Problem Information).
    pub(crate) problem_information: bool,
    /// The topic aliases an MQTT 5 client has set, once it sets one.
    pub(crate) topic_aliases: Option<Box<TopicAliases>>,
    /// The topic aliases the broker sets on the PUBLISHes it sends, when
    /// the client accepts some.
    pub(crate) aliases_out: Option<Box<OutgoingAliases>>,
    /// The MQTT 5 enhanced authentication of this connection, if its
    /// CONNECT named a method.
    pub(crate) auth: Option<Box<AuthExchange>>,
    /// What a password file authenticated the client with, when one did.
    pub(crate) credentials: Option<Box<Credentials>>,
    /// The CONNECT being authenticated, while `AuthPending`.
    pub(crate) pending: Option<Box<PendingConnect>>,
    /// The bridge this connection is the link of, if it is one.
    pub(crate) bridge: Option<Box<BridgeConn>>,
    /// The client is another broker's bridge (its CONNECT had the bridge
    /// bit): its MQTT 3.1.1 subscriptions are No Local and Retain As
    /// Published, and it may publish its link's state under `$SYS`.
    pub(crate) remote_bridge: bool,
    /// The unparsed tail of a partly received packet (empty when idle).
    pub(crate) input: Vec<u8>,
    /// Encoded bytes (and spliced payloads) not yet written.
    pub(crate) output: OutputQueue,
    /// The part of `output` that waits for the store, if any.
    hold: Option<OutputHold>,
    /// Whether the connection is in the core's list of connections with
    /// fresh output.
    pub(crate) in_dirty_list: bool,
}

impl Conn {
    pub(crate) fn new(peer: Peer, listener: u16, generation: u32, now: Instant) -> Conn {
        Conn {
            state: ConnState::AwaitingConnect,
            generation,
            peer,
            listener,
            certificate: None,
            protocol: Protocol::V311,
            keepalive: Duration::ZERO,
            last_packet_at: now,
            connected_at: now,
            will: None,
            max_packet_size: u32::MAX,
            problem_information: true,
            topic_aliases: None,
            aliases_out: None,
            auth: None,
            credentials: None,
            pending: None,
            bridge: None,
            remote_bridge: false,
            input: Vec::new(),
            output: OutputQueue::default(),
            hold: None,
            in_dirty_list: false,
        }
    }

    /// Bytes encoded and not yet written.
    pub(crate) fn pending_output(&self) -> usize {
        self.output.pending()
    }

    /// Bytes of output that may be written once `applied` store operations
    /// are applied.
    pub(crate) fn writable_output(&self, applied: u64) -> usize {
        match self.hold {
            Some(hold) if applied < hold.need => hold.safe,
            _ => self.pending_output(),
        }
    }

    /// Holds the output past its first `safe` bytes until `need` store
    /// operations are applied (the bytes held already wait for at most as
    /// many). True if it was not held before.
    pub(crate) fn hold(&mut self, safe: usize, need: u64) -> bool {
        match &mut self.hold {
            Some(hold) => {
                hold.need = hold.need.max(need);
                false
            }
            None => {
                self.hold = Some(OutputHold { safe, need });
                true
            }
        }
    }

    /// Lets the held output go once `applied` operations cover it; true
    /// when nothing is held any more.
    pub(crate) fn release_held(&mut self, applied: u64) -> bool {
        match self.hold {
            Some(hold) if applied < hold.need => false,
            _ => {
                self.hold = None;
                true
            }
        }
    }

    /// Records that `written` bytes went out (all from the writable part).
    pub(crate) fn consumed(&mut self, written: usize) {
        if let Some(hold) = &mut self.hold {
            hold.safe = hold.safe.saturating_sub(written);
        }
    }

    /// Whether the client speaks MQTT 5.
    #[inline]
    pub(crate) fn is_v5(&self) -> bool {
        self.protocol.is_v5()
    }

    /// The form PUBLISH takes on this connection at `now_ms` of the
    /// broker's clock.
    #[inline]
    pub(crate) fn wire(&self, now_ms: u64) -> Wire {
        if self.is_v5() {
            Wire::V5 {
                now_ms,
                alias: AliasUse::None,
            }
        } else {
            Wire::V3
        }
    }

    /// `wire` with the topic alias the PUBLISH of `message` sets or uses,
    /// when the broker sets aliases on this connection. An alias adds its
    /// property (3 bytes, more than a topic of one or two bytes it stands
    /// for): a PUBLISH that fits the client's Maximum Packet Size only
    /// without it goes out with its topic alone [MQTT-3.1.2-24].
    #[inline(always)]
    pub(crate) fn with_alias(&mut self, wire: Wire, message: &Message) -> Wire {
        // Most connections (every 3.1.1 one) get no aliases: no call.
        if self.aliases_out.is_none() {
            return wire;
        }
        self.assign_alias(wire, message)
    }

    #[inline(never)]
    fn assign_alias(&mut self, wire: Wire, message: &Message) -> Wire {
        let max = self.max_packet_size;
        match (wire, self.aliases_out.as_mut()) {
            (Wire::V5 { now_ms, .. }, Some(aliases)) => {
                let topic = message.topic();
                let alias = if aliases.knows(topic) {
                    AliasUse::Use(1)
                } else {
                    AliasUse::Set(1)
                };
                if max != u32::MAX
                    && publish_wire_len(message, Wire::V5 { now_ms, alias }) > max as usize
                {
                    return wire;
                }
                Wire::V5 {
                    now_ms,
                    alias: aliases.assign(topic),
                }
            }
            _ => wire,
        }
    }

    /// Whether the PUBLISH of `message` is larger than the client takes
    /// (its Maximum Packet Size): the broker then never sends it
    /// [MQTT-3.1.2-24].
    #[inline]
    pub(crate) fn too_large(&self, message: &Message, wire: Wire) -> bool {
        self.max_packet_size != u32::MAX
            && publish_wire_len(message, wire) > self.max_packet_size as usize
    }

    /// `message` as it goes out on this connection: on a bridge's link,
    /// under its upstream topic.
    #[inline]
    pub(crate) fn crossing<'m>(&self, message: &'m Message) -> std::borrow::Cow<'m, Message> {
        match self.bridge.as_ref().and_then(|b| b.outgoing(message)) {
            Some(crossed) => std::borrow::Cow::Owned(crossed),
            None => std::borrow::Cow::Borrowed(message),
        }
    }

    /// The session it is attached to, if connected.
    pub(crate) fn session(&self) -> Option<SessionKey> {
        match self.state {
            ConnState::Connected(key) => Some(key),
            _ => None,
        }
    }
}
