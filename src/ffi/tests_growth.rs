//! The growth paths of the C ABI: `mqlite_stats` of any caller size, and
//! accessors that accept only the views lent to a running callback.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;

use super::broker::*;
use super::handle::*;
use super::result::*;
use super::stats::*;
use super::types::*;
use super::view_access::*;
use super::views::{find, lending, Lent, ViewKind};
use crate::codec::QoS;
use crate::core::Message;

#[test]
fn the_first_stats_struct_is_twelve_counters() {
    assert_eq!(STATS_SIZE_0_1, 96);
    assert_eq!(mqlite_stats_size(), size_of::<mqlite_stats>());
}

#[test]
fn stats_fill_the_callers_size_and_zero_the_rest() {
    const MARK: u8 = 0xA5;
    // SAFETY: objects made here and freed once; every buffer is local and
    // at least as large as the size passed.
    unsafe {
        let (broker, handle) = super::tests::quiet_broker();
        let mine = size_of::<mqlite_stats>();
        // A caller from a later header: 16 bytes more than the library has,
        // then a guard that must not be touched.
        let mut buf = [MARK; 512];
        let out = buf.as_mut_ptr().cast::<mqlite_stats>();
        assert_eq!(mqlite_broker_stats_sized(broker, out, mine + 16), MQLITE_OK);
        assert!(
            buf[mine..mine + 16].iter().all(|&b| b == 0),
            "unknown counters read 0"
        );
        assert!(
            buf[mine + 16..].iter().all(|&b| b == MARK),
            "nothing past the size"
        );

        // The 0.1 functions write the 0.1 struct and nothing beyond.
        let mut buf = [MARK; 512];
        let out = buf.as_mut_ptr().cast::<mqlite_stats>();
        assert_eq!(mqlite_broker_stats(broker, out), MQLITE_OK);
        assert!(buf[STATS_SIZE_0_1..].iter().all(|&b| b == MARK));

        // Sizes no mqlite_stats ever had are refused, and nothing written.
        let mut buf = [MARK; 512];
        let out = buf.as_mut_ptr().cast::<mqlite_stats>();
        assert_eq!(
            mqlite_broker_stats_sized(broker, out, size_of::<*const u8>()),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_handle_stats_sized(handle, 0, out, STATS_SIZE_0_1 - 1),
            MQLITE_INVALID_ARGUMENT
        );
        assert!(buf.iter().all(|&b| b == MARK));
        assert_eq!(
            mqlite_broker_stats_sized(broker, ptr::null_mut(), mine),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_handle_stats_sized(ptr::null(), 0, out, mine),
            MQLITE_NULL_PARAMETER
        );

        // Through a handle, answered by a pass on this thread.
        let address = handle as usize;
        let asker = std::thread::spawn(move || {
            let mut stats = mqlite_stats::default();
            let rc = mqlite_handle_stats_sized(
                address as *const mqlite_handle,
                5000,
                &mut stats,
                size_of::<mqlite_stats>(),
            );
            (rc, stats)
        });
        let mut running = false;
        while !asker.is_finished() {
            assert_eq!(mqlite_broker_run_once(broker, 10, &mut running), MQLITE_OK);
        }
        let (rc, _stats) = asker.join().unwrap();
        assert_eq!(rc, MQLITE_OK);
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}

#[test]
fn accessors_refuse_what_was_not_lent() {
    let fake = mqlite_client_info {
        client_id: ptr::null(),
        client_id_len: 0,
        username: ptr::null(),
        username_len: 0,
        peer: ptr::null(),
        peer_len: 0,
    };
    let mut transport = 0;
    // SAFETY: a local view and out-parameter; the accessors only look the
    // address up.
    unsafe {
        assert_eq!(
            mqlite_client_info_transport(&fake, &mut transport),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_client_info_transport(ptr::null(), &mut transport),
            MQLITE_NULL_PARAMETER
        );
        let mut client = ptr::null();
        assert_eq!(
            mqlite_connect_info_client(ptr::null(), &mut client),
            MQLITE_NULL_PARAMETER
        );
    }
    assert_eq!(transport, 0);
}

#[test]
fn lent_views_are_found_only_during_the_call_and_by_kind() {
    let message = Message::new("t", b"p", QoS::AtMostOnce, false).unwrap();
    let view = mqlite_message::view(&message);
    let value: *const () = (&message as *const Message).cast();
    let lent = [Lent::message(&view, &message)];
    let inside = lending(&lent, || {
        let again = [Lent::message(&view, &message)];
        let nested = lending(&again, || find(&view, ViewKind::Message) == Some(value));
        (
            nested,
            find(&view, ViewKind::Message) == Some(value),
            find(&view, ViewKind::Event).is_none(),
            find(&view, ViewKind::Client).is_none(),
        )
    });
    assert_eq!(inside, (true, true, true, true));
    assert!(
        find(&view, ViewKind::Message).is_none(),
        "withdrawn after the call"
    );
}

/// What `transport_from_a_callback_and_not_after` saw inside its callbacks.
#[derive(Default)]
struct Seen {
    acl: Vec<(mqlite_result, mqlite_transport)>,
    kept: Option<usize>,
}

extern "C" fn acl(
    userdata: *mut c_void,
    client: *const mqlite_client_info,
    _access: mqlite_acl_access,
    _topic: *const std::ffi::c_char,
    _topic_len: usize,
) -> bool {
    // SAFETY: the test's `Seen`, used only on this thread.
    let seen = unsafe { &mut *userdata.cast::<Seen>() };
    let mut transport = 0;
    // SAFETY: the pointer this callback was given; a local out-parameter.
    let rc = unsafe { mqlite_client_info_transport(client, &mut transport) };
    seen.acl.push((rc, transport));
    seen.kept = Some(client as usize);
    true
}

#[test]
fn transport_from_a_callback_and_not_after() {
    use std::io::{Read, Write};
    // SAFETY: objects made here and freed once; `seen` outlives the broker
    // and is used only on this thread.
    unsafe {
        let (broker, handle) = super::tests::quiet_broker();
        let mut seen = Seen::default();
        let userdata = (&mut seen as *mut Seen).cast();
        assert_eq!(
            mqlite_broker_set_acl_callback(broker, Some(acl), userdata),
            MQLITE_OK
        );
        let mut port = 0;
        assert_eq!(mqlite_broker_local_port(broker, 0, &mut port), MQLITE_OK);
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // CONNECT (3.1.1, clean, keepalive 60, id "g"), then SUBSCRIBE
        // "t" QoS 0, which asks the ACL callback.
        client
            .write_all(&[
                0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'g', 0x82, 6, 0, 1, 0,
                1, b't', 0,
            ])
            .unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(10)))
            .unwrap();
        let mut running = false;
        let mut got = Vec::new();
        for _ in 0..500 {
            assert_eq!(mqlite_broker_run_once(broker, 10, &mut running), MQLITE_OK);
            let mut buf = [0u8; 64];
            if let Ok(n) = client.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() >= 4 + 5 {
                break;
            }
        }
        assert_eq!(got.get(..4), Some(&[0x20, 2, 0, 0][..]), "CONNACK accepted");
        assert_eq!(seen.acl, [(MQLITE_OK, MQLITE_TRANSPORT_TCP)]);
        // The view the callback was given is refused once it returned.
        let kept = seen.kept.unwrap() as *const mqlite_client_info;
        let mut transport = 0;
        assert_eq!(
            mqlite_client_info_transport(kept, &mut transport),
            MQLITE_INVALID_ARGUMENT
        );
        drop(client);
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}
