//! The MQTT 5 faces of the C API: `mqlite_properties`, publishing with
//! them, the message accessors that read them back, and the decisions of
//! enhanced authentication. (tests/c/test_mqtt5.c checks them against real
//! MQTT 5 clients on the wire.)

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use super::broker::*;
use super::handle::*;
use super::message_access::*;
use super::properties::*;
use super::result::*;
use super::types::*;
use crate::codec::ReasonCode;
use crate::hooks::AuthDecision;

/// What `record` saw of each message: the accessors' answers.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    topic: String,
    payload_format: u8,
    content_type: Option<String>,
    response_topic: Option<String>,
    correlation_data: Option<Vec<u8>>,
    user_properties: Vec<(String, String)>,
    past_the_end: mqlite_result,
    expiry_interval: i64,
}

#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    kept: Option<usize>,
}

/// A lent (pointer, length) as an owned value; NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
unsafe fn owned(ptr: *const u8, len: usize) -> Option<Vec<u8>> {
    // SAFETY: the caller's contract.
    (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
}

fn text(bytes: Option<Vec<u8>>) -> Option<String> {
    bytes.map(|bytes| String::from_utf8(bytes).unwrap())
}

extern "C" fn record(userdata: *mut c_void, message: *const mqlite_message) {
    // SAFETY: the test's `Record`, used only on this thread; `message` is
    // the lent view, read only during the call.
    unsafe {
        let record = &mut *userdata.cast::<Record>();
        let view = &*message;
        let mut seen = Seen {
            topic: String::from_utf8(owned(view.topic.cast(), view.topic_len).unwrap()).unwrap(),
            ..Seen::default()
        };
        assert_eq!(
            mqlite_message_payload_format(message, &mut seen.payload_format),
            MQLITE_OK
        );
        let (mut p, mut n) = (ptr::null::<c_char>(), 0usize);
        assert_eq!(
            mqlite_message_content_type(message, &mut p, &mut n),
            MQLITE_OK
        );
        seen.content_type = text(owned(p.cast(), n));
        assert_eq!(
            mqlite_message_response_topic(message, &mut p, &mut n),
            MQLITE_OK
        );
        seen.response_topic = text(owned(p.cast(), n));
        let mut data = ptr::null::<u8>();
        assert_eq!(
            mqlite_message_correlation_data(message, &mut data, &mut n),
            MQLITE_OK
        );
        seen.correlation_data = owned(data, n);
        let mut count = 0usize;
        assert_eq!(
            mqlite_message_user_property_count(message, &mut count),
            MQLITE_OK
        );
        for index in 0..count {
            let (mut name, mut name_len) = (ptr::null::<c_char>(), 0usize);
            let (mut value, mut value_len) = (ptr::null::<c_char>(), 0usize);
            assert_eq!(
                mqlite_message_user_property(
                    message,
                    index,
                    &mut name,
                    &mut name_len,
                    &mut value,
                    &mut value_len
                ),
                MQLITE_OK
            );
            seen.user_properties.push((
                text(owned(name.cast(), name_len)).unwrap(),
                text(owned(value.cast(), value_len)).unwrap(),
            ));
        }
        seen.past_the_end =
            mqlite_message_user_property(message, count, &mut p, &mut n, &mut p, &mut n);
        assert_eq!(
            mqlite_message_expiry_interval(message, &mut seen.expiry_interval),
            MQLITE_OK
        );
        record.seen.push(seen);
        record.kept = Some(message as usize);
    }
}

/// Properties with every field set.
///
/// # Safety
/// The caller frees the object.
unsafe fn full_properties() -> *mut mqlite_properties {
    // SAFETY: an object made here; NUL-terminated literals.
    unsafe {
        let properties = mqlite_properties_new();
        assert!(!properties.is_null());
        assert_eq!(
            mqlite_properties_set_payload_format(properties, 1),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_message_expiry_interval(properties, 60),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_content_type(properties, c"text/plain".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_response_topic(properties, c"reply/here".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_correlation_data(properties, [0u8, 1, 2].as_ptr(), 3),
            MQLITE_OK
        );
        for (name, value) in [(c"k", c"1"), (c"k", c"2"), (c"", c"")] {
            assert_eq!(
                mqlite_properties_add_user_property(properties, name.as_ptr(), value.as_ptr()),
                MQLITE_OK
            );
        }
        properties
    }
}

fn full_seen(topic: &str) -> Seen {
    Seen {
        topic: topic.into(),
        payload_format: 1,
        content_type: Some("text/plain".into()),
        response_topic: Some("reply/here".into()),
        correlation_data: Some(vec![0, 1, 2]),
        user_properties: vec![
            ("k".into(), "1".into()),
            ("k".into(), "2".into()),
            (String::new(), String::new()),
        ],
        past_the_end: MQLITE_NOT_FOUND,
        // Set to 60 s, read back at once: what is left, rounded up.
        expiry_interval: 60,
    }
}

#[test]
fn publish_with_properties_and_read_them_back() {
    // SAFETY: objects made here and freed once; `record` outlives the
    // broker and is only used on this thread.
    unsafe {
        let (broker, handle) = super::tests::quiet_broker();
        let mut record = Record::default();
        let userdata = (&mut record as *mut Record).cast();
        assert_eq!(
            mqlite_broker_subscribe_local(
                broker,
                c"p/#".as_ptr(),
                2,
                Some(record_callback()),
                userdata,
                ptr::null_mut()
            ),
            MQLITE_OK
        );
        let properties = full_properties();
        // On the broker's thread: delivered before the call returns.
        assert_eq!(
            mqlite_broker_publish_with(
                broker,
                c"p/direct".as_ptr(),
                b"x".as_ptr(),
                1,
                1,
                false,
                properties
            ),
            MQLITE_OK
        );
        // Through a handle: at the next pass. The object may change (or be
        // freed) at once: the publish copied it.
        assert_eq!(
            mqlite_handle_publish_with(
                handle,
                c"p/handle".as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                properties
            ),
            MQLITE_OK
        );
        assert_eq!(mqlite_properties_clear(properties), MQLITE_OK);
        assert_eq!(
            mqlite_handle_publish_with(
                handle,
                c"p/cleared".as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                properties
            ),
            MQLITE_OK
        );
        mqlite_properties_free(properties);
        // NULL properties: a plain publish.
        assert_eq!(
            mqlite_broker_publish_with(
                broker,
                c"p/none".as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                ptr::null()
            ),
            MQLITE_OK
        );
        let mut running = false;
        assert_eq!(mqlite_broker_run_once(broker, 0, &mut running), MQLITE_OK);
        let nothing = |topic: &str| Seen {
            topic: topic.into(),
            past_the_end: MQLITE_NOT_FOUND,
            expiry_interval: -1,
            ..Seen::default()
        };
        assert_eq!(
            record.seen,
            [
                full_seen("p/direct"),
                nothing("p/none"),
                full_seen("p/handle"),
                nothing("p/cleared"),
            ]
        );
        // The view is refused once its callback returned.
        let kept = record.kept.unwrap() as *const mqlite_message;
        let mut count = 0usize;
        assert_eq!(
            mqlite_message_user_property_count(kept, &mut count),
            MQLITE_INVALID_ARGUMENT
        );
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}

fn record_callback() -> unsafe extern "C" fn(*mut c_void, *const mqlite_message) {
    record
}

#[test]
fn property_setters_refuse_bad_values() {
    // SAFETY: an object made here and freed once; literals and local
    // buffers of the lengths given.
    unsafe {
        let properties = mqlite_properties_new();
        let bad_utf8 = [b'a', 0xC3, 0x28, 0];
        let bad_utf8 = bad_utf8.as_ptr().cast::<c_char>();
        let long = vec![b'a'; 65536];
        let mut long_text = long.clone();
        long_text.push(0);
        let long_text = long_text.as_ptr().cast::<c_char>();
        let cases = [
            (
                mqlite_properties_set_payload_format(properties, 2),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_set_message_expiry_interval(properties, -2),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_set_message_expiry_interval(properties, 1 << 32),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_set_message_expiry_interval(properties, u32::MAX.into()),
                MQLITE_OK,
            ),
            (
                mqlite_properties_set_content_type(properties, bad_utf8),
                MQLITE_INVALID_UTF8,
            ),
            (
                mqlite_properties_set_content_type(properties, long_text),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_set_response_topic(properties, c"a/+".as_ptr()),
                MQLITE_INVALID_TOPIC,
            ),
            (
                mqlite_properties_set_response_topic(properties, c"".as_ptr()),
                MQLITE_INVALID_TOPIC,
            ),
            (
                mqlite_properties_set_correlation_data(properties, ptr::null(), 1),
                MQLITE_NULL_PARAMETER,
            ),
            (
                mqlite_properties_set_correlation_data(properties, long.as_ptr(), long.len()),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_add_user_property(properties, ptr::null(), c"v".as_ptr()),
                MQLITE_NULL_PARAMETER,
            ),
            (
                mqlite_properties_add_user_property(properties, c"k".as_ptr(), bad_utf8),
                MQLITE_INVALID_UTF8,
            ),
            (
                mqlite_properties_add_user_property(properties, c"k".as_ptr(), long_text),
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                mqlite_properties_set_content_type(ptr::null_mut(), c"t".as_ptr()),
                MQLITE_NULL_PARAMETER,
            ),
            (
                mqlite_properties_clear(ptr::null_mut()),
                MQLITE_NULL_PARAMETER,
            ),
        ];
        for (index, (got, expected)) in cases.iter().enumerate() {
            assert_eq!(got, expected, "case {index}");
        }
        // Refusals left the object as it was: only the expiry was set.
        assert_eq!(
            (*properties).inner,
            crate::PublishProperties {
                message_expiry_interval: Some(u32::MAX),
                ..Default::default()
            }
        );
        // NULL removes; -1 is no expiry.
        assert_eq!(
            mqlite_properties_set_content_type(properties, c"t".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_content_type(properties, ptr::null()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_correlation_data(properties, b"".as_ptr(), 0),
            MQLITE_OK
        );
        assert_eq!(
            (*properties).inner.correlation_data.as_deref(),
            Some(&[][..])
        );
        assert_eq!(
            mqlite_properties_set_correlation_data(properties, ptr::null(), 0),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_properties_set_message_expiry_interval(properties, -1),
            MQLITE_OK
        );
        assert_eq!((*properties).inner, crate::PublishProperties::default());
        mqlite_properties_free(properties);
        mqlite_properties_free(ptr::null_mut());
    }
}

#[test]
fn publish_with_refusals() {
    // SAFETY: objects made here and freed once; literals.
    unsafe {
        let (broker, handle) = super::tests::quiet_broker();
        let properties = mqlite_properties_new();
        assert_eq!(
            mqlite_broker_publish_with(
                broker,
                c"a/#".as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                properties
            ),
            MQLITE_INVALID_TOPIC
        );
        assert_eq!(
            mqlite_handle_publish_with(handle, c"a".as_ptr(), ptr::null(), 0, 3, false, properties),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_handle_publish_with(
                ptr::null(),
                c"a".as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                properties
            ),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_broker_publish_with(broker, ptr::null(), ptr::null(), 0, 0, false, properties),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(mqlite_handle_stop(handle), MQLITE_OK);
        assert_eq!(mqlite_broker_run(broker), MQLITE_OK);
        assert_eq!(
            mqlite_handle_publish_with(handle, c"a".as_ptr(), ptr::null(), 0, 0, false, properties),
            MQLITE_STOPPED
        );
        mqlite_properties_free(properties);
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}

#[test]
fn auth_decisions_from_c() {
    let data = || Some(b"d".to_vec());
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_ACCEPT, data(), false),
        Ok(AuthDecision::Accept)
    );
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_CONTINUE, data(), false),
        Ok(AuthDecision::Continue(b"d".to_vec()))
    );
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_CONTINUE, None, true),
        Ok(AuthDecision::Continue(Vec::new()))
    );
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_ACCEPT_WITH_DATA, data(), true),
        Ok(AuthDecision::AcceptWith(b"d".to_vec()))
    );
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_REFUSE_REASON | 0x8A, None, false),
        Ok(AuthDecision::Refuse(ReasonCode::BANNED))
    );
    assert_eq!(
        auth_decision_from_c(MQLITE_AUTH_PENDING, None, true),
        Ok(AuthDecision::Pending)
    );
    for refused in [
        MQLITE_AUTH_PENDING,
        MQLITE_AUTH_REFUSE_REASON,
        MQLITE_AUTH_REFUSE_REASON | 0x18,
        MQLITE_AUTH_REFUSE_REASON + 0x100,
        6,
        u32::MAX,
    ] {
        assert!(
            auth_decision_from_c(refused, None, false).is_err(),
            "{refused:#x}"
        );
    }
}

#[test]
fn complete_auth_with_data_refusals() {
    // SAFETY: objects made here and freed once; local buffers.
    unsafe {
        let (broker, handle) = super::tests::quiet_broker();
        let long = vec![0u8; 65536];
        let cases = [
            (MQLITE_AUTH_PENDING, ptr::null(), 0, MQLITE_INVALID_ARGUMENT),
            (
                MQLITE_AUTH_REFUSE_REASON | 0x01,
                ptr::null(),
                0,
                MQLITE_INVALID_ARGUMENT,
            ),
            (
                MQLITE_AUTH_CONTINUE,
                long.as_ptr(),
                long.len(),
                MQLITE_INVALID_ARGUMENT,
            ),
            (MQLITE_AUTH_CONTINUE, ptr::null(), 3, MQLITE_NULL_PARAMETER),
            // A token nobody holds: queued, then harmless.
            (MQLITE_AUTH_ACCEPT_WITH_DATA, b"ok".as_ptr(), 2, MQLITE_OK),
            (MQLITE_AUTH_REFUSE_REASON | 0x8C, ptr::null(), 0, MQLITE_OK),
        ];
        for (decision, data, len, expected) in cases {
            assert_eq!(
                mqlite_handle_complete_auth_with_data(handle, 7, decision, data, len),
                expected,
                "{decision:#x}"
            );
        }
        assert_eq!(
            mqlite_handle_complete_auth_with_data(
                ptr::null(),
                7,
                MQLITE_AUTH_ACCEPT,
                ptr::null(),
                0
            ),
            MQLITE_NULL_PARAMETER
        );
        // The old function keeps its three decisions.
        assert_eq!(
            mqlite_handle_complete_auth(handle, 7, MQLITE_AUTH_CONTINUE),
            MQLITE_INVALID_ARGUMENT
        );
        let mut running = false;
        assert_eq!(mqlite_broker_run_once(broker, 0, &mut running), MQLITE_OK);
        let mut detail = [0 as c_char; 256];
        mqlite_last_error_text(detail.as_mut_ptr(), detail.len());
        let detail = CStr::from_ptr(detail.as_ptr()).to_string_lossy();
        assert!(detail.contains("mqlite_handle_complete_auth"), "{detail}");
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}
