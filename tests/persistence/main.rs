//! Persistence end to end: restarts on the same SQLite file, in-flight state, MQTT 5 session state, refusals on a bad file, and crashes (SIGKILL) under load.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test persistence MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod bridge;
mod crash;
mod inflight;
mod mqtt5;
mod refusals;
mod restart;
