//! Listeners and transports: TLS (with and without client certificates), WebSocket (plain and over TLS) and Unix sockets, with real clients.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test listeners MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod tls;
mod unix;
mod websocket;
