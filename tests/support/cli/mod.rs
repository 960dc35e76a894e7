//! For the tests of the `mqlite` binary's command line
//! (`tests/broker_cli*.rs`): the binary itself is [`Mqlite`]
//! (`support/binary.rs`); [`mosquitto`]: Debian's `mosquitto_pub` /
//! `mosquitto_sub` against it.

pub mod mosquitto;
pub mod mosquitto_broker;

// Each target uses only some of these.
#[allow(unused_imports)]
pub use super::binary::{mqlite_exits, run, wait_exit, Mqlite};
