//! Why a connection ended: shared by the core, which decides it, and the
//! hooks and logs, which report it.

/// Why a connection ended, as reported to hooks and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DISCONNECT.
    Disconnect,
    /// An MQTT 5 client sent DISCONNECT with reason 0x04 (Disconnect with
    /// Will Message): its will is published.
    DisconnectWithWill,
    /// No packet within 1.5 × keepalive.
    KeepaliveTimeout,
    /// No CONNECT within the connect timeout.
    ConnectTimeout,
    /// The client broke the protocol (malformed or unexpected packet).
    ProtocolError,
    /// Another connection took over its client id.
    Takeover,
    /// The socket closed or failed.
    Network,
    /// CONNECT was refused (CONNACK with a non-zero code).
    Refused,
    /// The host kicked the client.
    Kicked,
    /// The broker is stopping.
    Shutdown,
}

impl CloseReason {
    /// Whether the will message is published for this ending: every ending
    /// but a DISCONNECT (unless with reason 0x04), a refused CONNECT and a
    /// broker stop.
    pub fn publishes_will(self) -> bool {
        !matches!(
            self,
            CloseReason::Disconnect | CloseReason::Refused | CloseReason::Shutdown
        )
    }
}

impl CloseReason {
    /// The reason code of the DISCONNECT an MQTT 5 client is sent before
    /// the broker closes its connection, when the broker is the one
    /// closing it.
    pub fn disconnect_code(self) -> Option<crate::codec::ReasonCode> {
        use crate::codec::ReasonCode;
        match self {
            CloseReason::KeepaliveTimeout => Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
            CloseReason::ProtocolError => Some(ReasonCode::PROTOCOL_ERROR),
            CloseReason::Takeover => Some(ReasonCode::SESSION_TAKEN_OVER),
            CloseReason::Kicked => Some(ReasonCode::ADMINISTRATIVE_ACTION),
            CloseReason::Shutdown => Some(ReasonCode::SERVER_SHUTTING_DOWN),
            CloseReason::Disconnect
            | CloseReason::DisconnectWithWill
            | CloseReason::ConnectTimeout
            | CloseReason::Network
            | CloseReason::Refused => None,
        }
    }
}
