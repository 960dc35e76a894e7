//! `mqlite_properties`: the MQTT 5 properties the host gives a message it
//! publishes (`mqlite_broker_publish_with()`, `mqlite_handle_publish_with()`,
//! `mqlite_message_rewrite_set_with()`). Opaque, so that later properties
//! come as new setters without changing any layout.
//!
//! Every setter checks its value at once (UTF-8, at most 65 535 bytes, a
//! Response Topic a valid topic name), so a publish never fails because of
//! the properties.

use std::ffi::c_char;

use super::panic::{boundary, c_str, guard};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_TOPIC};
use crate::PublishProperties;

/// The MQTT 5 properties of a message to publish: Payload Format
/// Indicator, Message Expiry Interval, Content Type, Response Topic,
/// Correlation Data and User Properties. Opaque: made with
/// `mqlite_properties_new()`, filled with the `mqlite_properties_set_*()`
/// and `mqlite_properties_add_user_property()` functions, given to the
/// `*_publish_with()` functions (which copy what they need), freed with
/// `mqlite_properties_free()`.
///
/// One object may serve any number of publishes, and be changed or freed
/// right after each. It is not locked: use it from one thread at a time
/// (several threads may publish with it at once as long as none changes
/// it).
///
/// MQTT 5 subscribers (and local subscriptions) get the properties; MQTT
/// 3.1.1 subscribers get the message without them.
pub struct mqlite_properties {
    pub(crate) inner: PublishProperties,
}

/// The most bytes a string or binary property can hold (a two-byte
/// length on the wire).
const MAX_PROPERTY_LEN: usize = u16::MAX as usize;

/// Checks that a string or binary property fits its two-byte length.
fn check_len(len: usize, what: &str) -> Result<(), Failure> {
    if len > MAX_PROPERTY_LEN {
        return Err(Failure::invalid(
            what,
            format!("{len} bytes; a property holds at most {MAX_PROPERTY_LEN}"),
        ));
    }
    Ok(())
}

/// A property string from a NUL-terminated C string: UTF-8 and at most
/// 65 535 bytes.
///
/// # Safety
/// `text` is NULL or NUL-terminated.
unsafe fn property_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, Failure> {
    // SAFETY: the caller's contract, passed on.
    let text = unsafe { c_str(text, what) }?;
    check_len(text.len(), what)?;
    Ok(text)
}

/// Runs `body` on the properties behind `properties`, or refuses NULL
/// (as `with_config` does: the exported callers' contract is that the
/// pointer is NULL or live, and not used by another thread now).
fn with_properties(
    function: &'static str,
    properties: *mut mqlite_properties,
    body: impl FnOnce(&mut PublishProperties) -> Result<(), Failure>,
) -> mqlite_result {
    boundary(function, || {
        // SAFETY: NULL or live and ours for the call (the exported
        // functions' documented contract).
        let properties =
            unsafe { properties.as_mut() }.ok_or_else(|| Failure::null("properties"))?;
        body(&mut properties.inner)
    })
}

/// The properties behind an optional `mqlite_properties` argument of a
/// publish: NULL is none.
///
/// # Safety
/// `properties` is NULL or live.
pub(crate) unsafe fn optional<'a>(
    properties: *const mqlite_properties,
) -> Option<&'a PublishProperties> {
    // SAFETY: NULL or live (the caller's contract).
    unsafe { properties.as_ref() }.map(|properties| &properties.inner)
}

/// Makes an empty set of properties (none set: no expiry, no content type,
/// no user properties, payload format 0).
///
/// # Parameters
/// None.
///
/// # Returns
/// The new object; NULL only if mqlite panicked (see
/// `mqlite_last_error_text()`).
///
/// # Memory and lifetimes
/// The caller owns it and frees it with `mqlite_properties_free()`.
#[no_mangle]
pub extern "C" fn mqlite_properties_new() -> *mut mqlite_properties {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mqlite_properties {
            inner: PublishProperties::default(),
        }))
    })
}

/// Frees properties made by `mqlite_properties_new()`.
///
/// # Parameters
/// - `properties`: the object, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used or freed again. Messages
/// already published with it are not affected (they hold copies).
///
/// # Safety
/// `properties` is NULL or from `mqlite_properties_new()` and not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_free(properties: *mut mqlite_properties) {
    guard((), || {
        if !properties.is_null() {
            // SAFETY: made by `Box::into_raw` in `mqlite_properties_new`,
            // and the caller gives up ownership here.
            drop(unsafe { Box::from_raw(properties) });
        }
    })
}

/// Removes every property, as if the object were new.
///
/// # Parameters
/// - `properties`: the object.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Nothing is kept.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_clear(
    properties: *mut mqlite_properties,
) -> mqlite_result {
    with_properties("mqlite_properties_clear", properties, |inner| {
        *inner = PublishProperties::default();
        Ok(())
    })
}

/// Sets the Payload Format Indicator: 1 says the payload is UTF-8 text,
/// 0 (the default) that it is unspecified bytes. The broker does not check
/// the payload against it.
///
/// # Parameters
/// - `properties`: the object.
/// - `indicator`: 0 or 1.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not 0
/// or 1).
///
/// # Memory and lifetimes
/// Nothing is kept but the value.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_set_payload_format(
    properties: *mut mqlite_properties,
    indicator: u8,
) -> mqlite_result {
    with_properties(
        "mqlite_properties_set_payload_format",
        properties,
        |inner| {
            inner.payload_is_utf8 = match indicator {
                0 => false,
                1 => true,
                _ => return Err(Failure::invalid("indicator", "must be 0 or 1")),
            };
            Ok(())
        },
    )
}

/// Sets the Message Expiry Interval: the message is dropped from queues
/// and the retained store once it has waited that long, and subscribers
/// get what is left of it. It counts from when the broker takes the
/// message (at once for `mqlite_broker_publish_with()`, at the broker's
/// next pass for `mqlite_handle_publish_with()`).
///
/// # Parameters
/// - `properties`: the object.
/// - `seconds`: 0 to 4294967295, or -1 for none (the default: the message
///   does not expire).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (below
/// -1 or above 4294967295).
///
/// # Memory and lifetimes
/// Nothing is kept but the value.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_set_message_expiry_interval(
    properties: *mut mqlite_properties,
    seconds: i64,
) -> mqlite_result {
    with_properties(
        "mqlite_properties_set_message_expiry_interval",
        properties,
        |inner| {
            inner.message_expiry_interval = match seconds {
                -1 => None,
                _ => Some(u32::try_from(seconds).map_err(|_| {
                    Failure::invalid("seconds", "must be -1 or within 0..=4294967295")
                })?),
            };
            Ok(())
        },
    )
}

/// Sets the Content Type (a MIME type, by convention), or removes it.
///
/// # Parameters
/// - `properties`: the object.
/// - `content_type`: NUL-terminated UTF-8, at most 65535 bytes; NULL
///   removes the property.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`properties`),
/// `MQLITE_INVALID_UTF8`, `MQLITE_INVALID_ARGUMENT` (too long). On error
/// the object is left as it was.
///
/// # Memory and lifetimes
/// `content_type` is copied; the caller keeps it.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now;
/// `content_type` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_set_content_type(
    properties: *mut mqlite_properties,
    content_type: *const c_char,
) -> mqlite_result {
    with_properties("mqlite_properties_set_content_type", properties, |inner| {
        inner.content_type = if content_type.is_null() {
            None
        } else {
            // SAFETY: NUL-terminated (the caller's contract).
            Some(unsafe { property_str(content_type, "content_type") }?.to_string())
        };
        Ok(())
    })
}

/// Sets the Response Topic (where a responder should publish its answer),
/// or removes it.
///
/// # Parameters
/// - `properties`: the object.
/// - `topic`: NUL-terminated topic name (no wildcards), UTF-8, at most
///   65535 bytes; NULL removes the property.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`properties`),
/// `MQLITE_INVALID_UTF8`, `MQLITE_INVALID_TOPIC` (not a topic name). On
/// error the object is left as it was.
///
/// # Memory and lifetimes
/// `topic` is copied; the caller keeps it.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now;
/// `topic` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_set_response_topic(
    properties: *mut mqlite_properties,
    topic: *const c_char,
) -> mqlite_result {
    with_properties(
        "mqlite_properties_set_response_topic",
        properties,
        |inner| {
            inner.response_topic = if topic.is_null() {
                None
            } else {
                // SAFETY: NUL-terminated (the caller's contract).
                let topic = unsafe { c_str(topic, "topic") }?;
                if !crate::topic::is_valid_topic_name(topic) {
                    return Err(Failure::new(
                        MQLITE_INVALID_TOPIC,
                        format!("`{topic}` is not a valid topic name"),
                    ));
                }
                Some(topic.to_string())
            };
            Ok(())
        },
    )
}

/// Sets the Correlation Data (any bytes, which let the requester match an
/// answer to its request), or removes it.
///
/// # Parameters
/// - `properties`: the object.
/// - `data`, `data_len`: the bytes, at most 65535 (`data` may be NULL
///   when `data_len` is 0 only to remove the property; any non-NULL
///   pointer with `data_len` 0 sets empty data).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`properties`, or `data` NULL with
/// a length), `MQLITE_INVALID_ARGUMENT` (too long). On error the object is
/// left as it was.
///
/// # Memory and lifetimes
/// The bytes are copied; the caller keeps its buffer.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now;
/// `data` is NULL or points to `data_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_set_correlation_data(
    properties: *mut mqlite_properties,
    data: *const u8,
    data_len: usize,
) -> mqlite_result {
    with_properties(
        "mqlite_properties_set_correlation_data",
        properties,
        |inner| {
            if data.is_null() {
                if data_len != 0 {
                    return Err(Failure::null("data"));
                }
                inner.correlation_data = None;
                return Ok(());
            }
            check_len(data_len, "data_len")?;
            // SAFETY: not NULL; `data_len` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(data, data_len) };
            inner.correlation_data = Some(bytes.to_vec());
            Ok(())
        },
    )
}

/// Appends a User Property (a name and value pair). Names may repeat;
/// subscribers get the pairs in the order they were added.
///
/// # Parameters
/// - `properties`: the object.
/// - `name`, `value`: NUL-terminated UTF-8, at most 65535 bytes each
///   (empty allowed).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (too long). On error nothing is added.
///
/// # Memory and lifetimes
/// Both strings are copied; the caller keeps them.
///
/// # Safety
/// `properties` is NULL or live, and not used by another thread now;
/// `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_properties_add_user_property(
    properties: *mut mqlite_properties,
    name: *const c_char,
    value: *const c_char,
) -> mqlite_result {
    with_properties("mqlite_properties_add_user_property", properties, |inner| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let name = unsafe { property_str(name, "name") }?;
        // SAFETY: as above.
        let value = unsafe { property_str(value, "value") }?;
        inner
            .user_properties
            .push((name.to_string(), value.to_string()));
        Ok(())
    })
}
