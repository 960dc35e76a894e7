//! Robustness: hostile and slow clients, floods, limits and their defaults, overload, and a short soak.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test robust MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod hostile;
mod hostile_floods;
mod hostile_slow;
mod limits;
mod limits_defaults;
mod limits_queues;
mod overload;
mod overload_consumers;
mod soak;
