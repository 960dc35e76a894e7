//! The embedding API seen from real clients: hooks (auth, ACL, message, events), in-process publish and subscribe, the host loop, introspection and the store API.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test embedding MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod acl;
mod auth;
mod events;
mod hooks;
mod hostloop;
mod introspection;
mod local;
mod management;
mod message_hook;
mod publish;
mod store;
