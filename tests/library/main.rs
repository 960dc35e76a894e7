//! The library's parts without a broker loop: the codec (round trip, malformed input, fuzz-style input), topic matching, password and ACL files, and the SQLite store.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test library MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod auth_files;
mod auth_password_file;
mod codec_fuzz;
mod codec_malformed;
mod codec_roundtrip;
mod store_sqlite;
mod store_sqlite_bodies;
mod store_sqlite_crash;
mod store_sqlite_log;
mod store_sqlite_migrations;
mod store_sqlite_refusals;
mod topic_matching;
