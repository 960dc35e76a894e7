//! Accessors of the views lent to callbacks: how the callback structs grow.
//!
//! `mqlite_client_info`, `mqlite_connect_info`, `mqlite_message` and
//! `mqlite_event` keep the layout of mqlite 0.1 forever, because programs
//! compiled against that header read them directly and cannot tell a field
//! the library does not have. What they gain instead comes through
//! functions named `mqlite_<struct>_<what>()`, which take the pointer the
//! callback was given (checked in `views.rs`) and write out-parameters: a
//! program compiled against a header that declares the function links only
//! with a library that has it.

use super::panic::{boundary, out};
use super::result::mqlite_result;
use super::types::{mqlite_client_info, mqlite_connect_info, mqlite_transport};
use super::types::{
    MQLITE_TRANSPORT_LWM2M, MQLITE_TRANSPORT_MQTT_SN, MQLITE_TRANSPORT_TCP, MQLITE_TRANSPORT_UNIX,
};
use super::views;
use crate::peer::{GatewayProtocol, Peer};

/// The client view of a CONNECT, for the accessors of `mqlite_client_info`
/// (such as `mqlite_client_info_transport()`) in the authentication
/// callback.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `client_out`: receives the client view: the client id, user name and
///   peer of `info`, and whatever later `mqlite_client_info_*()` accessors
///   tell.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given: a copy,
/// or one kept after the callback returned).
///
/// # Memory and lifetimes
/// `*client_out` is borrowed like `info`: valid only until the callback
/// returns, and only on the broker thread. Do not free it.
///
/// # Safety
/// `info` is NULL or any pointer (it is looked up, not read, unless it is
/// the callback's); `client_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_client(
    info: *const mqlite_connect_info,
    client_out: *mut *const mqlite_client_info,
) -> mqlite_result {
    boundary("mqlite_connect_info_client", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or writable.
        unsafe { out(client_out, "client_out", connect.client) }
    })
}

/// How a client is connected: one of the `MQLITE_TRANSPORT_*` values.
///
/// # Parameters
/// - `client`: a pointer a callback was given: the `client` of the ACL
///   callback, the `origin` of the message callback, `&event->client` in
///   the event callback, or the view from `mqlite_connect_info_client()`.
/// - `transport_out`: receives the transport. A value this header does not
///   name comes from a newer library: treat it as "some other transport".
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*transport_out` is written only on success; nothing is kept.
///
/// # Safety
/// `client` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); `transport_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_info_transport(
    client: *const mqlite_client_info,
    transport_out: *mut mqlite_transport,
) -> mqlite_result {
    boundary("mqlite_client_info_transport", || {
        // SAFETY: only used during this call, inside the callback.
        let client = unsafe { views::client(client, "client") }?;
        let transport = match client.peer {
            Peer::Tcp(_) => MQLITE_TRANSPORT_TCP,
            Peer::Unix(_) => MQLITE_TRANSPORT_UNIX,
            Peer::Gateway {
                protocol: GatewayProtocol::MqttSn,
                ..
            } => MQLITE_TRANSPORT_MQTT_SN,
            Peer::Gateway {
                protocol: GatewayProtocol::Lwm2m,
                ..
            } => MQLITE_TRANSPORT_LWM2M,
        };
        // SAFETY: NULL or writable.
        unsafe { out(transport_out, "transport_out", transport) }
    })
}
