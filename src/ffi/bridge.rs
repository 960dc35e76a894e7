//! `mqlite_bridge`: a bridge to an upstream broker (mosquitto's
//! `connection` block), built by the host and added to a config with
//! `mqlite_config_add_bridge()` or to a running broker with
//! `mqlite_broker_add_bridge()` / `mqlite_handle_add_bridge()`, which copy
//! it. This file has the object, its addresses and topics; the other
//! settings are in `bridge_settings.rs`.
//!
//! A value wrong on its own (an address that is not `HOST[:PORT]`, a QoS
//! above 2, a topic filter that is not MQTT) is refused by the function it
//! is given to, so that the host learns which call was wrong; what cannot
//! work together (no topic at all) is refused where the whole bridge is
//! checked: by the functions that add it.

use std::ffi::c_char;

use super::config::{mqlite_config, with_config};
use super::panic::{arg, boundary, c_str, guard, out};
use super::result::{
    mqlite_result, Failure, MQLITE_INVALID_ADDRESS, MQLITE_INVALID_CONFIG, MQLITE_INVALID_TOPIC,
};
use super::types::qos_from_c;
use crate::bridge::split_address;
use crate::topic::is_valid_topic_filter;
use crate::{Bridge, BridgeDirection, BridgeTopic};

/// Which way a bridge topic carries messages, for
/// `mqlite_bridge_add_topic()`: one of the `MQLITE_BRIDGE_*` values.
pub type mqlite_bridge_direction = u32;
/// From the upstream broker into this one (mosquitto's `in`).
pub const MQLITE_BRIDGE_IN: mqlite_bridge_direction = 1;
/// From this broker to the upstream one (mosquitto's `out`).
pub const MQLITE_BRIDGE_OUT: mqlite_bridge_direction = 2;
/// Both ways, without echoing a message back where it came from
/// (mosquitto's `both`).
pub const MQLITE_BRIDGE_BOTH: mqlite_bridge_direction = 3;

/// A bridge to an upstream broker: an MQTT client inside the broker that
/// forwards chosen topics out to the upstream and in from it, keeping what
/// goes out queued (in the persistence file, when there is one) while the
/// link is down. Opaque: create it with `mqlite_bridge_new()`, give it
/// topics with `mqlite_bridge_add_topic()`, change it with the
/// `mqlite_bridge_set_*()` functions, add it with
/// `mqlite_config_add_bridge()`, `mqlite_broker_add_bridge()` or
/// `mqlite_handle_add_bridge()` (which copy it), free it with
/// `mqlite_bridge_free()`. Use it from one thread at a time.
pub struct mqlite_bridge {
    pub(super) bridge: Bridge,
}

/// Runs `body` on the bridge behind `bridge`, refusing NULL.
pub(super) fn with_bridge(
    function: &'static str,
    bridge: *mut mqlite_bridge,
    body: impl FnOnce(&mut Bridge) -> Result<(), Failure>,
) -> mqlite_result {
    boundary(function, || {
        // SAFETY: NULL or a live bridge from `mqlite_bridge_new`, used by
        // one thread at a time (the documented contract).
        let bridge = unsafe { bridge.as_mut() }.ok_or_else(|| Failure::null("bridge"))?;
        body(&mut bridge.bridge)
    })
}

/// A copy of the bridge behind `bridge` (NULL refused), checked whole, to
/// be added somewhere.
///
/// # Safety
/// `bridge` is NULL or a live bridge.
pub(super) unsafe fn checked_copy(bridge: *const mqlite_bridge) -> Result<Bridge, Failure> {
    // SAFETY: the caller's contract.
    let bridge = unsafe { arg(bridge, "bridge") }?;
    bridge.bridge.validate()?;
    Ok(bridge.bridge.clone())
}

/// An upstream address checked as the bridge will read it.
fn checked_address(text: &str) -> Result<String, Failure> {
    split_address(text, 1883).map_err(|why| Failure::new(MQLITE_INVALID_ADDRESS, why))?;
    Ok(text.to_string())
}

/// Makes a bridge named `name` to the upstream broker at `address`, with
/// no topic yet (add at least one with `mqlite_bridge_add_topic()`) and
/// every other setting at mosquitto's default: client id
/// `<hostname>.<name>`, clean session false, keep alive 60 s, reconnecting
/// after 5 s backing off to 30 s, `try_private` and notifications on,
/// MQTT 3.1.1, no TLS.
///
/// # Parameters
/// - `name`: NUL-terminated UTF-8, unique among the broker's bridges
///   (mosquitto's `connection NAME`): it names the bridge's local session,
///   its log lines, its default client id and its entry in the stats;
///   not empty, without `/`, `+` or `#`.
/// - `address`: NUL-terminated `HOST[:PORT]` of the upstream broker:
///   `"broker.example.com:1883"`, `"10.0.0.2"`, `"[::1]:1884"` (the port
///   defaults to 1883). A host name is resolved each time the bridge
///   connects. More addresses: `mqlite_bridge_add_address()`.
/// - `bridge_out`: receives the bridge.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (the name), `MQLITE_INVALID_ADDRESS`.
/// `*bridge_out` is written only on success.
///
/// # Memory and lifetimes
/// `name` and `address` are copied; the caller keeps them. The caller owns
/// the bridge and frees it with `mqlite_bridge_free()`.
///
/// # Safety
/// `name` and `address` are NULL or NUL-terminated; `bridge_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_new(
    name: *const c_char,
    address: *const c_char,
    bridge_out: *mut *mut mqlite_bridge,
) -> mqlite_result {
    boundary("mqlite_bridge_new", || {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let name = unsafe { c_str(name, "name") }?;
        // SAFETY: as above.
        let text = unsafe { c_str(address, "address") }?;
        // The rule of `Bridge::validate`, checked here so that the call
        // that gave the name is the one refused.
        if name.is_empty() || name.contains(['/', '+', '#']) {
            return Err(Failure::invalid(
                "name",
                format!("{name:?}: a bridge needs a name, without '/', '+' or '#'"),
            ));
        }
        let address = checked_address(text)?;
        if bridge_out.is_null() {
            return Err(Failure::null("bridge_out"));
        }
        let bridge = Bridge::new(name, &address, Vec::new());
        let made = Box::into_raw(Box::new(mqlite_bridge { bridge }));
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(bridge_out, "bridge_out", made) }
    })
}

/// Frees a bridge. A config or broker it was added to is not affected
/// (they hold copies).
///
/// # Parameters
/// - `bridge`: from `mqlite_bridge_new()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used (or freed) again.
///
/// # Safety
/// `bridge` is NULL or a bridge not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_free(bridge: *mut mqlite_bridge) {
    guard((), || {
        if !bridge.is_null() {
            // SAFETY: made by `Box::into_raw` in `mqlite_bridge_new`, and
            // the caller gives up ownership here.
            drop(unsafe { Box::from_raw(bridge) });
        }
    })
}

/// Adds another upstream address, tried after the ones before it when a
/// connection fails (see `mqlite_bridge_set_round_robin()`).
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `address`: NUL-terminated `HOST[:PORT]`, as for `mqlite_bridge_new()`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS` (the bridge is left as it was).
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it.
///
/// # Safety
/// `bridge` is NULL or live; `address` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_add_address(
    bridge: *mut mqlite_bridge,
    address: *const c_char,
) -> mqlite_result {
    with_bridge("mqlite_bridge_add_address", bridge, |bridge| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let text = unsafe { c_str(address, "address") }?;
        bridge.addresses.push(checked_address(text)?);
        Ok(())
    })
}

/// A prefix from C: NULL is empty.
///
/// # Safety
/// `prefix` is NULL or NUL-terminated.
unsafe fn prefix(prefix: *const c_char, what: &str) -> Result<String, Failure> {
    if prefix.is_null() {
        return Ok(String::new());
    }
    // SAFETY: not NULL, NUL-terminated by the caller's contract.
    let text = unsafe { c_str(prefix, what) }?;
    if text.contains(['+', '#']) {
        return Err(Failure::new(
            MQLITE_INVALID_TOPIC,
            format!("`{what}` {text:?} may not hold wildcards"),
        ));
    }
    Ok(text.to_string())
}

/// Adds a topic the bridge carries (mosquitto's `topic PATTERN DIRECTION
/// QOS LOCAL-PREFIX REMOTE-PREFIX`). Locally its messages are on
/// `local_prefix + pattern`, upstream on `remote_prefix + pattern`; a
/// message that crosses has the one prefix replaced by the other. For
/// `MQLITE_BRIDGE_OUT` and `_BOTH` the bridge subscribes locally, for
/// `MQLITE_BRIDGE_IN` and `_BOTH` upstream.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `pattern`: NUL-terminated topic filter (wildcards allowed), or `""`
///   when a prefix alone names the topic.
/// - `direction`: `MQLITE_BRIDGE_IN`, `MQLITE_BRIDGE_OUT` or
///   `MQLITE_BRIDGE_BOTH`.
/// - `qos`: 0, 1 or 2: the QoS of the subscription on the sending side, and
///   so the QoS messages cross at (a QoS 0 message on a QoS 1 topic is
///   queued and acknowledged like a QoS 1 one).
/// - `local_prefix`, `remote_prefix`: NUL-terminated prefixes without
///   wildcards (usually ending in `/`), or NULL for none.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`bridge`, `pattern`),
/// `MQLITE_INVALID_UTF8`, `MQLITE_INVALID_ARGUMENT` (direction, QoS),
/// `MQLITE_INVALID_TOPIC` (a prefix with a wildcard, or a prefix and the
/// pattern that do not make a valid filter). On an error the bridge is
/// left as it was.
///
/// # Memory and lifetimes
/// The strings are copied; the caller keeps them.
///
/// # Safety
/// `bridge` is NULL or live; the strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_add_topic(
    bridge: *mut mqlite_bridge,
    pattern: *const c_char,
    direction: mqlite_bridge_direction,
    qos: u8,
    local_prefix: *const c_char,
    remote_prefix: *const c_char,
) -> mqlite_result {
    with_bridge("mqlite_bridge_add_topic", bridge, |bridge| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let pattern = unsafe { c_str(pattern, "pattern") }?;
        let direction = match direction {
            MQLITE_BRIDGE_IN => BridgeDirection::In,
            MQLITE_BRIDGE_OUT => BridgeDirection::Out,
            MQLITE_BRIDGE_BOTH => BridgeDirection::Both,
            other => {
                return Err(Failure::invalid(
                    "direction",
                    format!("{other} is not MQLITE_BRIDGE_IN, _OUT or _BOTH"),
                ))
            }
        };
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        let topic = BridgeTopic {
            // SAFETY: NULL or NUL-terminated (the caller's contract).
            local_prefix: unsafe { prefix(local_prefix, "local_prefix") }?,
            // SAFETY: as above.
            remote_prefix: unsafe { prefix(remote_prefix, "remote_prefix") }?,
            ..BridgeTopic::new(pattern, direction, qos)
        };
        for filter in [topic.local_filter(), topic.remote_filter()] {
            if !is_valid_topic_filter(&filter) {
                return Err(Failure::new(
                    MQLITE_INVALID_TOPIC,
                    format!("{filter:?} (prefix and pattern) is not a valid topic filter"),
                ));
            }
        }
        bridge.topics.push(topic);
        Ok(())
    })
}

/// Adds a copy of `bridge` to the config's bridges: the broker made from
/// the config starts it (it connects at the broker's first pass, and again
/// after every disconnection unless `mqlite_bridge_set_start_once()`).
///
/// # Parameters
/// - `config`: the config.
/// - `bridge`: the bridge; not consumed.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_CONFIG` (the
/// bridge has no topic, a password without a user name, or the config has
/// a bridge of that name already; the detail names the bridge and the
/// setting, and the config is left as it was). A bridge with TLS
/// (`mqlite_bridge_set_tls()`) is accepted here, but `mqlite_broker_new()`
/// refuses it with `MQLITE_INVALID_CONFIG` until bridges support TLS.
///
/// # Memory and lifetimes
/// Copies the bridge: the caller keeps it, may change it (later changes do
/// not reach the config) or add it elsewhere, and frees it with
/// `mqlite_bridge_free()`, at once if it likes.
///
/// # Safety
/// `config` is NULL or a live config; `bridge` is NULL or a live bridge.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_bridge(
    config: *mut mqlite_config,
    bridge: *const mqlite_bridge,
) -> mqlite_result {
    with_config("mqlite_config_add_bridge", config, |config| {
        // SAFETY: NULL or live (the caller's contract).
        let bridge = unsafe { checked_copy(bridge) }?;
        let bridges = &mut config.config.bridges;
        if bridges.iter().any(|b| b.name == bridge.name) {
            return Err(Failure::new(
                MQLITE_INVALID_CONFIG,
                format!(
                    "bridge {}: the config has a bridge of that name",
                    bridge.name
                ),
            ));
        }
        bridges.push(bridge);
        Ok(())
    })
}
