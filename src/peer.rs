//! Who is at the other end of a connection: a TCP address, a Unix socket,
//! or a device behind one of the broker's gateways. The core carries it
//! and shows it to the hooks, events and logs without looking inside, so
//! a new transport or gateway adds a variant here, not a branch in
//! routing.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The other end of a client's connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Peer {
    /// A TCP connection (plain, or TLS / WebSocket over TCP) from this
    /// address.
    Tcp(SocketAddr),
    /// A Unix domain socket connection, to the listener at this path
    /// (local peers have no address of their own).
    Unix(Arc<Path>),
    /// A device speaking `protocol` to one of the broker's gateways, from
    /// this datagram address.
    Gateway {
        /// The gateway's protocol.
        protocol: GatewayProtocol,
        /// The device's address.
        addr: SocketAddr,
    },
}

/// The protocol of a gateway's devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GatewayProtocol {
    /// MQTT-SN 1.2 over UDP.
    MqttSn,
    /// OMA LwM2M 1.0 over CoAP / UDP.
    Lwm2m,
}

impl Peer {
    /// The peer's network address, where it has one (not for a Unix
    /// socket).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::Tcp(addr) | Peer::Gateway { addr, .. } => Some(*addr),
            Peer::Unix(_) => None,
        }
    }
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        Peer::Tcp(addr)
    }
}

impl fmt::Display for Peer {
    /// `127.0.0.1:5000` for TCP (as mosquitto logs it), `unix:PATH` for a
    /// Unix socket, `mqtt-sn:ADDR` / `lwm2m:ADDR` for a gateway's device.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix(path) => write!(f, "unix:{}", path.display()),
            Peer::Gateway { protocol, addr } => {
                let name = match protocol {
                    GatewayProtocol::MqttSn => "mqtt-sn",
                    GatewayProtocol::Lwm2m => "lwm2m",
                };
                write!(f, "{name}:{addr}")
            }
        }
    }
}
