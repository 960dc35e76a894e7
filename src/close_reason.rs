//! Why a connection ended: shared by the core, which decides it, and the
//! hooks and logs, which report it.

/// Why a connection ended, as reported to hooks and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DISCONNECT.
    Disconnect,
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
    /// but a DISCONNECT, a refused CONNECT and a broker stop.
    pub fn publishes_will(self) -> bool {
        !matches!(
            self,
            CloseReason::Disconnect | CloseReason::Refused | CloseReason::Shutdown
        )
    }
}
