//! Accessors of the lent views for listeners: which listener a client
//! came in on (`mqlite_connect_info_listener()`,
//! `mqlite_client_info_listener()`), and the certificate a client
//! presented on a TLS listener (`mqlite_connect_info_certificate_*()`).
//!
//! Like every accessor (see `view_access.rs`) they take the pointer the
//! callback was given and refuse anything else.

use std::ffi::c_char;

use super::message_access::out_span;
use super::panic::{boundary, out};
use super::result::mqlite_result;
use super::types::{mqlite_client_info, mqlite_connect_info};
use super::views;

/// The listener a connecting client came in on.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `listener_out`: receives the listener's number: plain listeners
///   (`mqlite_config_add_listener()`, or the default one) from 0 in the
///   order they were added, then custom listeners
///   (`mqlite_config_add_custom_listener()`) in the order they were added.
///   With two plain listeners, the first custom one is 2.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*listener_out` is written only on success; nothing is kept.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `listener_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_listener(
    info: *const mqlite_connect_info,
    listener_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_listener", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or writable.
        unsafe {
            out(
                listener_out,
                "listener_out",
                usize::from(connect.info.listener),
            )
        }
    })
}

/// The listener of a client's connection (its latest, for a client whose
/// session outlived a connection), numbered as for
/// `mqlite_connect_info_listener()`.
///
/// # Parameters
/// - `client`: a pointer a callback was given: the `client` of the ACL
///   callback, the `origin` of the message callback, `&event->client` in
///   the event callback, or the view from `mqlite_connect_info_client()`.
/// - `listener_out`: receives the listener's number.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*listener_out` is written only on success; nothing is kept.
///
/// # Safety
/// `client` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); `listener_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_info_listener(
    client: *const mqlite_client_info,
    listener_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_client_info_listener", || {
        // SAFETY: only used during this call, inside the callback.
        let client = unsafe { views::client(client, "client") }?;
        // SAFETY: NULL or writable.
        unsafe { out(listener_out, "listener_out", usize::from(client.listener)) }
    })
}

/// The subject of the certificate the client presented on a TLS listener,
/// verified by the handshake against the listener's CAs: RFC 4514, most
/// specific first (`CN=dev1,O=Acme`), as mosquitto's
/// `use_subject_as_username` gives it.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `subject_out`: receives the subject (UTF-8, NOT NUL-terminated), or
///   NULL when the client presented no certificate (and on a listener
///   without TLS or without CAs).
/// - `len_out`: receives its length in bytes (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*subject_out` is borrowed like `info`: valid only until the callback
/// returns; copy what you keep. Written only on success.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_certificate_subject(
    info: *const mqlite_connect_info,
    subject_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_certificate_subject", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        let value = connect
            .info
            .certificate
            .map(|certificate| certificate.subject.as_bytes());
        // SAFETY: NULL or writable.
        unsafe { out_span(subject_out, "subject_out", len_out, "len_out", value) }
    })
}

/// The Common Name of the certificate the client presented on a TLS
/// listener (as mosquitto's `use_identity_as_username` gives it; on such a
/// listener it is also the client's user name).
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `common_name_out`: receives the Common Name (UTF-8, NOT
///   NUL-terminated), or NULL when the client presented no certificate or
///   its subject has no Common Name.
/// - `len_out`: receives its length in bytes (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*common_name_out` is borrowed like `info`: valid only until the
/// callback returns; copy what you keep. Written only on success.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_certificate_common_name(
    info: *const mqlite_connect_info,
    common_name_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_certificate_common_name", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        let value = connect
            .info
            .certificate
            .and_then(|certificate| certificate.common_name.as_deref())
            .map(str::as_bytes);
        // SAFETY: NULL or writable.
        unsafe {
            out_span(
                common_name_out,
                "common_name_out",
                len_out,
                "len_out",
                value,
            )
        }
    })
}
