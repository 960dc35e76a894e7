//! The `mqlite` binary and the broker from outside: its command line, configuration files (TOML and mosquitto.conf), access files, signals, real clients (mosquitto_pub/sub, rumqttc, MQTT 5 clients) and persistence across restarts.
//!
//! One test program for the group (one build and link instead of one per
//! file); each file is a module, run alone with `cargo test --test broker MODULE::`.

#[path = "../support/mod.rs"]
mod support;

mod bridge;
mod bridge_faults;
mod bridge_mosquitto;
mod bridge_tls;
mod cli;
mod cli_access;
mod cli_config;
mod cli_mosquitto;
mod cli_mosquitto_conf;
mod cli_passwd;
mod cli_service;
mod cli_signals;
mod cli_sys;
mod clients;
mod mqtt5_clients;
mod mqttsn;
mod persistence;
