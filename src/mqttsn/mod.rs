//! The MQTT-SN 1.2 gateway: UDP devices as clients of the core.
//!
//! The gateway is an adapter (see `docs/ARCHITECTURE.md`): each MQTT-SN
//! client is a connection of the core with a [`crate::Peer::Gateway`] peer,
//! fed the MQTT packets its datagrams stand for, and whose MQTT output is
//! turned back into datagrams. The core does not learn MQTT-SN.

mod client;
pub(crate) mod codec;
mod connect;
pub(crate) mod gateway;
mod inbound;
mod mqtt;
mod outbound;
pub(crate) mod packet;
mod settings;
#[cfg(test)]
mod tests;
mod topics;

pub use gateway::MqttSnStats;

/// The gateway's maps: looked up several times per datagram, so with a
/// fast hash (seeded per map) rather than SipHash.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub use settings::MqttSnGateway;
