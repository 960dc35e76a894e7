//! The broker's custom listeners seen from C: the port each is bound to
//! (and the MQTT-SN gateway's UDP ports), and reloading their certificates (with the password and ACL files) on
//! the broker's own thread. `mqlite_handle_reload()` does the same from
//! any thread.

use super::broker::{mqlite_broker, with_broker};
use super::panic::{boundary, out};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};

/// The port a custom listener (`mqlite_config_add_custom_listener()`) is
/// bound to, useful after asking for port 0. Plain listeners are read with
/// `mqlite_broker_local_port()`.
///
/// # Parameters
/// - `broker`: the broker.
/// - `index`: the custom listener, in the order they were added to the
///   config (0 for the first; plain listeners are not counted).
/// - `port_out`: receives the port, or 0 for a Unix socket listener (it
///   has none).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (no such
/// custom listener), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `*port_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_custom_port(
    broker: *const mqlite_broker,
    index: usize,
    port_out: *mut u16,
) -> mqlite_result {
    boundary("mqlite_broker_custom_port", || {
        // SAFETY: NULL or live.
        let addrs = unsafe { with_broker(broker, |broker| Ok(broker.custom_local_addrs())) }?;
        let addr = addrs.get(index).ok_or_else(|| {
            Failure::new(
                MQLITE_NOT_FOUND,
                format!("no custom listener {index} (there are {})", addrs.len()),
            )
        })?;
        // SAFETY: NULL or writable.
        unsafe { out(port_out, "port_out", addr.map_or(0, |addr| addr.port())) }
    })
}

/// The UDP port the MQTT-SN gateway (`mqlite_config_set_mqttsn()`) is
/// bound to on one of its addresses, useful after asking for port 0.
///
/// # Parameters
/// - `broker`: the broker.
/// - `index`: the address, in the order they were given to the config (0
///   for the one of `mqlite_config_set_mqttsn()`, then those of
///   `mqlite_config_add_mqttsn_address()`).
/// - `port_out`: receives the port.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (no gateway,
/// or no such address), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `*port_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_mqttsn_port(
    broker: *const mqlite_broker,
    index: usize,
    port_out: *mut u16,
) -> mqlite_result {
    boundary("mqlite_broker_mqttsn_port", || {
        // SAFETY: NULL or live.
        let addrs = unsafe { with_broker(broker, |broker| Ok(broker.mqttsn_addrs())) }?;
        let addr = addrs.get(index).ok_or_else(|| {
            Failure::new(
                MQLITE_NOT_FOUND,
                format!(
                    "no MQTT-SN gateway address {index} (there are {})",
                    addrs.len()
                ),
            )
        })?;
        // SAFETY: NULL or writable.
        unsafe { out(port_out, "port_out", addr.port()) }
    })
}

/// Reads the password file, the ACL file (broker-wide and per-listener)
/// and every TLS listener's certificate, key and CAs again, on the thread
/// that runs the broker, between passes (what SIGHUP does to mosquitto).
/// New connections use them; connected clients keep what they connected
/// with, except that a client the password file let in is checked again
/// against the new file and disconnected (as by a kick) if it no longer
/// passes, as in mosquitto 2.0. Callbacks the host set stay in place (they, not the files,
/// decide). If any file cannot be read or parsed nothing changes. From a
/// callback, or while another thread runs the broker, use
/// `mqlite_handle_reload()`.
///
/// # Parameters
/// - `broker`: the broker.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY` (called from a
/// callback or while another thread runs the broker),
/// `MQLITE_INVALID_CONFIG` (a password or ACL file; the detail names the
/// file and line), `MQLITE_LISTENER_FAILED` (a certificate or key; the
/// detail names the listener and the file).
///
/// # Memory and lifetimes
/// Nothing is kept.
///
/// # Safety
/// `broker` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_reload(broker: *mut mqlite_broker) -> mqlite_result {
    boundary("mqlite_broker_reload", || {
        // SAFETY: NULL or live.
        unsafe { with_broker(broker, |broker| Ok(broker.reload()?)) }
    })
}
