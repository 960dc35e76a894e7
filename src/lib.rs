//! mqlite: an MQTT 3.1 / 3.1.1 / 5.0 broker that is a library.
//!
//! The layers, from the bytes up (see `docs/ARCHITECTURE.md`):
//!
//! - [`codec`]: packets to bytes and back, no I/O.
//! - [`topic`]: topic validation, the subscription trie and the retained tree.
//! - [`core`]: the sans-IO broker: connections, sessions, routing, timers. It
//!   takes bytes and `now`, and gives bytes, closes and the next deadline.
//! - `reactor`: the thin mio loop that drives the core in the caller's thread.
//! - [`Broker`] / [`BrokerHandle`]: the embedding API.
//!
//! ```no_run
//! let mut config = mqlite::Config::default();
//! config.listeners = vec!["127.0.0.1:0".parse().unwrap()];
//! let mut broker = mqlite::Broker::new(config).unwrap();
//! let handle = broker.handle();
//! std::thread::spawn(move || {
//!     handle.publish("greeting", b"hello", mqlite::QoS::AtMostOnce, true).ok();
//!     handle.stop();
//! });
//! broker.run().unwrap();
//! ```

#![warn(missing_docs)]

pub mod auth;
mod bridge;
mod broker;
mod clock;
mod close_reason;
pub mod codec;
mod config;
pub mod core;
mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
pub mod hooks;
mod listener;
mod local_receiver;
pub mod management;
mod message;
mod mqttsn;
mod peer;
mod publish_properties;
mod reactor;
pub mod store;
pub mod topic;

pub use bridge::{Bridge, BridgeDirection, BridgeProtocol, BridgeStart, BridgeTls, BridgeTopic};
pub use broker::{Broker, BrokerHandle, LocalReceiver};
pub use close_reason::CloseReason;
pub use codec::QoS;
pub use config::Config;
pub use core::{BridgeStats, LocalSubscription, Stats};
pub use error::Error;
pub use hooks::{
    AclAccess, AuthDecision, AuthToken, ClientInfo, ConnectInfo, Event, MessageDecision,
};
pub use listener::{ListenAddress, Listener, TlsSettings, TlsVersion, UnixSocket};
pub use management::{ConnectedClient, SessionInfo, SubscriptionInfo};
pub use message::Message;
pub use mqttsn::MqttSnGateway;
pub use peer::{GatewayProtocol, Peer};
pub use publish_properties::PublishProperties;

/// The README's Rust example, compiled by `cargo test --doc` so that it
/// stays true (it waits for Enter, so it is built, not run).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
