//! Shared helpers for the broker integration tests (`mod support;`).
//!
//! - [`TestBroker`] (`broker.rs`): an in-process broker on `127.0.0.1:0`,
//!   run in its own thread, stopped and joined when dropped.
//! - [`RawClient`] (`raw.rs`): a tiny MQTT client over a plain
//!   `TcpStream`, built on `mqlite::codec` for well-formed packets and on
//!   raw byte slices for malformed ones. Every blocking read has a deadline
//!   of at most [`TIMEOUT`], so a misbehaving broker fails a test instead of
//!   hanging it.
//! - `encode.rs`: the packets a test sends ([`ConnectOptions`], [`encode`],
//!   [`frame`], [`field`], [`cat`]); `packets.rs`: the packets it receives
//!   ([`Pkt`], [`Msg`]).
//! - [`mqtt::Mqtt`] (`mqtt.rs`): rumqttc, a real client library, driven by
//!   a thread that forwards its events; the one rumqttc wrapper of the
//!   tests.
//! - [`binary::Mqlite`] (`binary.rs`): the `mqlite` binary as a child
//!   process, the one process wrapper of the tests: started on port 0 and
//!   read back from its `mqlite: listening on ADDR` line (a restart passes
//!   the port the first run got), stderr captured ([`child_output`]);
//!   [`binary::mqlite_exits`] for runs that must end on their own.
//! - [`TempDir`] (`tempdir.rs`): a scratch directory removed on drop.
//! - [`wait_until`], [`poll_until`], [`wait_for`] (`wait.rs`): a condition
//!   polled with a deadline, never a sleep standing for one; [`join_within`]
//!   for a thread that must finish.
//! - [`env_or`]: a test's knob from the environment (rounds, seeds,
//!   durations), refusing a value that does not parse.
//! - Per feature: [`cli`] (mosquitto's clients), [`persistence`] (the
//!   broker in-process or as the binary, restarted on one file),
//!   [`robust`] (the binary with a TOML config, `/proc` figures, `$SYS`),
//!   [`embedding`], [`conformance`], [`store`], [`crash`], [`auth`],
//!   [`pki`] (test certificates).
//!
//! Everything is re-exported here: users write `support::X`. Each test
//! target compiles this module on its own and uses only part of it, hence
//! the `dead_code` allowance (inherited by the submodules) and the
//! `unused_imports` one on the re-exports.

#![allow(dead_code)]

use std::time::Duration;

pub mod auth;
pub mod binary;
mod broker;
pub mod child_output;
pub mod cli;
pub mod conformance;
pub mod crash;
pub mod embedding;
mod encode;
pub mod mqtt;
pub mod mqttsn;
mod packets;
pub mod persistence;
pub mod pki;
mod raw;
mod rng;
pub mod robust;
pub mod store;
mod tempdir;
mod wait;

// Each target uses only some of these: an unused re-export is not an error.
#[allow(unused_imports)]
pub use self::{
    broker::{test_config, TestBroker},
    encode::{cat, encode, field, frame, ConnectOptions},
    packets::{Msg, Pkt},
    raw::{RawClient, Recv},
    rng::Rng,
    tempdir::TempDir,
    wait::{join_within, poll_until, wait_for, wait_until},
};

/// The longest any single wait lasts.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to listen before concluding that nothing more is coming.
pub const QUIET: Duration = Duration::from_millis(300);

/// The value of the environment variable `name`, parsed, or `default` when
/// it is not set. A value that does not parse is an error, not the default:
/// a typo must not silently run the default scenario.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
        Err(_) => default,
    }
}
