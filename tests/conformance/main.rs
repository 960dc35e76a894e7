//! MQTT 3.1 / 3.1.1 conformance, statement by statement, against an in-process broker over raw sockets.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test conformance MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod connect;
mod malformed;
mod mqtt31;
mod publish_qos;
mod retain;
mod sessions;
mod subscribe;
mod wills_keepalive;
