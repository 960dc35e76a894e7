//! The MQTT-SN gateway's settings on a `mqlite_config` (Rust's
//! `Config::mqttsn`, an `MqttSnGateway`): `mqlite_config_set_mqttsn()`
//! turns it on, the other functions change it and answer
//! `MQLITE_INVALID_CONFIG` until it is on, so that a setting cannot be
//! given to a gateway that will not run. Its bound ports are read with
//! `mqlite_broker_mqttsn_port()` (`broker_listeners.rs`).
//!
//! A value wrong on its own (an address that is not `IP:PORT`, a reserved
//! topic id, a zero retry interval) is refused by the function it is given
//! to, so that the host learns which call was wrong; `mqlite_broker_new()`
//! checks the whole gateway again.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::time::Duration;

use super::config::{mqlite_config, with_config};
use super::panic::c_str;
use super::result::{
    mqlite_result, Failure, MQLITE_INVALID_ADDRESS, MQLITE_INVALID_CONFIG, MQLITE_INVALID_TOPIC,
};
use crate::topic::is_valid_topic_name;
use crate::MqttSnGateway;

/// A UDP address from C.
///
/// # Safety
/// `address` is NULL or NUL-terminated.
unsafe fn udp_address(address: *const c_char) -> Result<SocketAddr, Failure> {
    // SAFETY: the caller's contract.
    let text = unsafe { c_str(address, "address") }?;
    text.parse().map_err(|_| {
        Failure::new(
            MQLITE_INVALID_ADDRESS,
            format!("`{text}` is not IP:PORT (e.g. 0.0.0.0:1884 or [::]:0)"),
        )
    })
}

/// The refusal of a setting while the gateway is off.
fn gateway_off() -> Failure {
    Failure::new(
        MQLITE_INVALID_CONFIG,
        "the MQTT-SN gateway is off: call mqlite_config_set_mqttsn() first",
    )
}

/// Runs `body` on the gateway of the config behind `config`, refusing NULL
/// and a config whose gateway is off.
fn with_gateway(
    function: &'static str,
    config: *mut mqlite_config,
    body: impl FnOnce(&mut MqttSnGateway) -> Result<(), Failure>,
) -> mqlite_result {
    with_config(function, config, |config| {
        let gateway = config.config.mqttsn.as_mut().ok_or_else(gateway_off)?;
        body(gateway)
    })
}

/// Turns the MQTT-SN gateway on, listening on UDP `address` only, with
/// every other setting at its default (gateway id 1, ADVERTISE every
/// 900 s to `255.255.255.255:1884`, no predefined topics, no user name,
/// retries every 10 s up to 4 times, 1000 registered topics per client,
/// 10 000 clients). Called again, it replaces the listen addresses and
/// keeps the other settings. More addresses:
/// `mqlite_config_add_mqttsn_address()`. Port 0 picks a free port (read it
/// back with `mqlite_broker_mqttsn_port()`).
///
/// # Parameters
/// - `config`: the config.
/// - `address`: NUL-terminated `IP:PORT`, e.g. `"0.0.0.0:1884"`,
///   `"[::]:1884"`, `"127.0.0.1:0"`. Host names are not resolved.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS` (the config is left as it was).
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `address` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn(
    config: *mut mqlite_config,
    address: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_set_mqttsn", config, |config| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let addr = unsafe { udp_address(address) }?;
        config
            .config
            .mqttsn
            .get_or_insert_with(MqttSnGateway::default)
            .listen = vec![addr];
        Ok(())
    })
}

/// Adds another UDP address for the gateway to listen on.
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `address`: NUL-terminated `IP:PORT`, as for
///   `mqlite_config_set_mqttsn()`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS`, `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `address` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_mqttsn_address(
    config: *mut mqlite_config,
    address: *const c_char,
) -> mqlite_result {
    with_gateway("mqlite_config_add_mqttsn_address", config, |gateway| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        gateway.listen.push(unsafe { udp_address(address) }?);
        Ok(())
    })
}

/// Sets the gateway id sent in ADVERTISE and GWINFO (default 1).
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `gateway_id`: the new value, any.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_CONFIG` (the
/// gateway is off).
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_gateway_id(
    config: *mut mqlite_config,
    gateway_id: u8,
) -> mqlite_result {
    with_gateway("mqlite_config_set_mqttsn_gateway_id", config, |gateway| {
        gateway.gateway_id = gateway_id;
        Ok(())
    })
}

/// Sets how often the gateway sends ADVERTISE, in seconds (default 900);
/// 0 sends none (GWINFO still answers SEARCHGW).
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `interval_s`: 0 to 65535 (ADVERTISE carries it in 16 bits).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (above
/// 65535), `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_advertise_interval_s(
    config: *mut mqlite_config,
    interval_s: u32,
) -> mqlite_result {
    with_gateway(
        "mqlite_config_set_mqttsn_advertise_interval_s",
        config,
        |gateway| {
            if interval_s > 65_535 {
                return Err(Failure::invalid(
                    "interval_s",
                    format!("{interval_s} is above 65535 (it is sent in a 16-bit field)"),
                ));
            }
            gateway.advertise_interval =
                (interval_s > 0).then(|| Duration::from_secs(u64::from(interval_s)));
            Ok(())
        },
    )
}

/// Adds a UDP address ADVERTISE is sent to (a broadcast or multicast
/// address). The first one added replaces the default
/// `255.255.255.255:1884`; later calls add more.
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `address`: NUL-terminated `IP:PORT`, e.g. `"224.0.0.1:1884"`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS`, `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `address` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_mqttsn_advertise_to(
    config: *mut mqlite_config,
    address: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_add_mqttsn_advertise_to", config, |config| {
        let gateway = config.config.mqttsn.as_mut().ok_or_else(gateway_off)?;
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let addr = unsafe { udp_address(address) }?;
        if !config.mqttsn_advertise_to_added {
            gateway.advertise_to.clear();
            config.mqttsn_advertise_to_added = true;
        }
        gateway.advertise_to.push(addr);
        Ok(())
    })
}

/// Adds a pre-defined topic id: a topic every client may use by this id
/// without registering it.
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `topic_id`: 1 to 65534 (0 and 65535 are reserved), not given before.
/// - `topic`: NUL-terminated UTF-8 topic name, without wildcards.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (a reserved id, or one already added),
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// `topic` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `topic` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_mqttsn_predefined_topic(
    config: *mut mqlite_config,
    topic_id: u16,
    topic: *const c_char,
) -> mqlite_result {
    with_gateway(
        "mqlite_config_add_mqttsn_predefined_topic",
        config,
        |gateway| {
            // SAFETY: NULL or NUL-terminated (the caller's contract).
            let topic = unsafe { c_str(topic, "topic") }?;
            if topic_id == 0 || topic_id == 0xFFFF {
                return Err(Failure::invalid(
                    "topic_id",
                    format!("{topic_id} is reserved (0 and 65535)"),
                ));
            }
            if gateway
                .predefined_topics
                .iter()
                .any(|(id, _)| *id == topic_id)
            {
                return Err(Failure::invalid(
                    "topic_id",
                    format!("{topic_id} is already pre-defined"),
                ));
            }
            if !is_valid_topic_name(topic) {
                return Err(Failure::new(
                    MQLITE_INVALID_TOPIC,
                    format!("`{topic}` is not a valid topic name"),
                ));
            }
            gateway
                .predefined_topics
                .push((topic_id, topic.to_string()));
            Ok(())
        },
    )
}

/// Sets the user name and password the auth callback and the password
/// file see for every MQTT-SN client (MQTT-SN's CONNECT carries none), or
/// none (the default).
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `username`: NUL-terminated UTF-8, or NULL for none.
/// - `password`: NUL-terminated UTF-8, or NULL for none; needs a
///   `username`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`config`), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (a password without a user name),
/// `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// Both strings are copied; the caller keeps them (and may wipe them at
/// once).
///
/// # Safety
/// `config` is NULL or a live config; `username` and `password` are NULL
/// or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_credentials(
    config: *mut mqlite_config,
    username: *const c_char,
    password: *const c_char,
) -> mqlite_result {
    with_gateway("mqlite_config_set_mqttsn_credentials", config, |gateway| {
        let text = |ptr: *const c_char, what: &str| -> Result<Option<String>, Failure> {
            if ptr.is_null() {
                return Ok(None);
            }
            // SAFETY: not NULL, NUL-terminated (the caller's contract).
            Ok(Some(unsafe { c_str(ptr, what) }?.to_string()))
        };
        let username = text(username, "username")?;
        let password = text(password, "password")?;
        if password.is_some() && username.is_none() {
            return Err(Failure::invalid("password", "needs a username"));
        }
        gateway.username = username;
        gateway.password = password;
        Ok(())
    })
}

/// Sets Tretry and Nretry: how long the gateway waits for an
/// acknowledgement before sending a PUBLISH, PUBREL or REGISTER again, and
/// how many times it does before giving the client up as lost (default
/// 10 000 ms and 4).
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `interval_ms`: more than 0.
/// - `max_retries`: any (0: never sent again).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (`interval_ms` 0), `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// Only the values are stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_retry(
    config: *mut mqlite_config,
    interval_ms: u64,
    max_retries: u32,
) -> mqlite_result {
    with_gateway("mqlite_config_set_mqttsn_retry", config, |gateway| {
        if interval_ms == 0 {
            return Err(Failure::invalid("interval_ms", "must be above 0"));
        }
        gateway.retry_interval = Duration::from_millis(interval_ms);
        gateway.max_retries = max_retries;
        Ok(())
    })
}

/// Sets how many topic ids one client may register (default 1000); a
/// REGISTER beyond it is answered "congestion".
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `max_registered_topics`: the new value (0: none may be registered).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_CONFIG` (the
/// gateway is off).
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_max_registered_topics(
    config: *mut mqlite_config,
    max_registered_topics: usize,
) -> mqlite_result {
    with_gateway(
        "mqlite_config_set_mqttsn_max_registered_topics",
        config,
        |gateway| {
            gateway.max_registered_topics = max_registered_topics;
            Ok(())
        },
    )
}

/// Sets how many clients the gateway keeps at once, in every state
/// (default 10 000; the broker's `max_connections` bounds them too); a
/// CONNECT beyond it is answered "congestion".
///
/// # Parameters
/// - `config`: the config, its gateway on.
/// - `max_clients`: at least 1.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (0),
/// `MQLITE_INVALID_CONFIG` (the gateway is off).
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_mqttsn_max_clients(
    config: *mut mqlite_config,
    max_clients: usize,
) -> mqlite_result {
    with_gateway("mqlite_config_set_mqttsn_max_clients", config, |gateway| {
        if max_clients == 0 {
            return Err(Failure::invalid("max_clients", "must be at least 1"));
        }
        gateway.max_clients = max_clients;
        Ok(())
    })
}
