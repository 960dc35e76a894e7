//! The C API: `libmqlite.a` / `libmqlite.so` with `include/mqlite.h`.
//!
//! Every item here is `extern "C"` and documented for C; `build.rs` runs
//! cbindgen over this module (and only this module) to write the header,
//! and a test checks that the committed `include/mqlite.h` is the generated
//! one. `docs/C_API.md` is the guide; the conventions are those of
//! rustls-ffi:
//!
//! - names are `mqlite_<type>_<verb>`; `mqlite_config`, `mqlite_broker`,
//!   `mqlite_handle`, `mqlite_properties`, `mqlite_listener`,
//!   `mqlite_bridge`, `mqlite_bridge_stats_list` and
//!   `mqlite_message_rewrite` are opaque;
//! - `_new`/`_free` pairs; `_free(NULL)` does nothing; `_free` takes
//!   ownership and the host must not use the pointer again (no
//!   pointer-nulling variant: a double free is the host's error, as with
//!   `free(3)`);
//! - every fallible function returns an `mqlite_result` (0 or a code from
//!   7001 up, never reused) and writes its out-parameters only on success;
//! - NULL or non-UTF-8 arguments are refused with a code, never a crash;
//! - every exported body runs inside a panic boundary (`panic.rs`): no
//!   panic crosses into C;
//! - callbacks are typed function pointers with a `void *userdata`, and get
//!   borrowed views valid only during the call.
//!
//! The modules, one concept each: [`result`] (codes and their text),
//! [`types`] (plain C structs and enumerations), [`callbacks`] (callback
//! types and their adapters), [`config`] (the MQTT-SN gateway's settings
//! in [`config_mqttsn`]), [`broker`] (with its callback
//! setters in `broker_hooks` and its direct calls in `broker_direct`),
//! [`handle`], [`stats`] (the counters, in a caller's struct of any
//! version), [`properties`] (the MQTT 5 properties of a message the host
//! publishes), `views` (the views lent to a running callback) and their
//! accessors, how the callback structs grow: [`view_access`] (clients),
//! [`message_access`] (a message's MQTT 5 properties),
//! [`connect_access`] (enhanced authentication and CONNECT properties),
//! [`listener_access`] (which listener a client came in on, its TLS
//! certificate) and [`event_access`] (a queue overflow's counts); the
//! management API's snapshots in [`management_lists`] (clients, and what
//! the lists share), [`management_sessions`] (sessions, a session's
//! subscriptions) and [`management_retained`], made by
//! `broker_management` and `handle_management`; [`listener`] (listeners with TLS, WebSocket, Unix
//! sockets and settings of their own; their ports and reload in
//! `broker_listeners`), [`bridge`] (bridges to upstream brokers, their
//! settings in [`bridge_settings`], their counters in [`bridge_stats`];
//! adding and removing them at run time in `broker_bridges`),
//! [`log_bridge`] (the `log` crate bridge), and `panic` (the boundary).
//!
//! The ABI only grows: see docs/C_API.md, "A C ABI that only grows". The
//! callback structs are frozen and gain data through accessors; the
//! caller-allocated `mqlite_stats` and `mqlite_bridge_stats` gain
//! counters at their end, read with functions that take the caller's size.

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod result;

pub mod types;

pub mod callbacks;

pub mod properties;

pub mod config;

pub mod config_access;

pub mod config_mqttsn;

pub mod listener;
pub mod listener_tls;

pub mod bridge;
pub mod bridge_settings;
pub mod bridge_stats;

pub mod broker;

mod broker_hooks;

mod broker_direct;

mod broker_listeners;

mod broker_bridges;

pub mod handle;

pub mod stats;

mod views;

pub mod view_access;

pub mod message_access;

pub mod connect_access;

pub mod listener_access;

pub mod event_access;

pub mod management_lists;
pub mod management_retained;
pub mod management_sessions;

mod broker_management;

mod handle_management;

pub mod log_bridge;

mod panic;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_growth;

#[cfg(test)]
mod tests_v5;

#[cfg(test)]
mod tests_listeners;

#[cfg(test)]
mod tests_bridges;

#[cfg(test)]
mod tests_docs;

#[cfg(test)]
mod tests_mqttsn;
