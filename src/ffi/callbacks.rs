//! Callback types, the userdata wrapper, the message rewrite object, and
//! the adapters that turn a C callback into a Rust hook.
//!
//! Every callback runs on the broker thread (the one inside
//! `mqlite_broker_run()` / `mqlite_broker_run_once()`), including those of
//! subscriptions made through a handle. A callback must not block, and must
//! not call `mqlite_broker_*` functions on its own broker (they answer
//! `MQLITE_BUSY`); it may use a `mqlite_handle`, whose requests are carried
//! out at the broker's next pass.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};

use super::panic::{boundary, str_len};
use super::properties::mqlite_properties;
use super::result::{mqlite_result, Failure, MQLITE_INVALID_TOPIC};
use super::types::{
    auth_decision_from_c, client_view, close_reason_to_c, mqlite_acl_access, mqlite_auth_decision,
    mqlite_client_info, mqlite_connect_info, mqlite_event, mqlite_message, mqlite_message_decision,
    qos_from_c, PeerText, MQLITE_ACL_PUBLISH, MQLITE_ACL_RECEIVE, MQLITE_ACL_SUBSCRIBE,
    MQLITE_CLOSE_NONE, MQLITE_EVENT_CONNECTED, MQLITE_EVENT_DISCONNECTED,
    MQLITE_EVENT_QUEUE_OVERFLOW, MQLITE_EVENT_SUBSCRIBED, MQLITE_EVENT_UNSUBSCRIBED,
    MQLITE_MESSAGE_DROP, MQLITE_MESSAGE_PASS, MQLITE_MESSAGE_REWRITE,
};
use super::views::{lending, ConnectValue, Lent};
use crate::core::Message;
use crate::hooks::{
    AclAccess, AclHook, AuthDecision, AuthHook, ClientInfo, ConnectInfo, Event, EventHook,
    LocalCallback, MessageDecision, MessageHook,
};

/// Decides whether a client may connect. Runs on the broker thread for
/// every CONNECT that passed the protocol checks and, for MQTT 5 enhanced
/// authentication, again for every AUTH packet of the exchange (each a new
/// step) and for a re-authentication of a connected client: the
/// `mqlite_connect_info_*()` accessors (authentication method and data,
/// step, re-authentication, user properties) tell which.
///
/// Parameters: `userdata` as given when the callback was set; `info`, what
/// the client presented.
///
/// Returns: one of `MQLITE_AUTH_*`: `_ACCEPT`, `_BAD_CREDENTIALS`,
/// `_NOT_AUTHORIZED`, `_PENDING`, and for enhanced authentication
/// `_CONTINUE` and `_ACCEPT_WITH_DATA` (their data set with
/// `mqlite_connect_info_set_reply_data()` before returning), or
/// `MQLITE_AUTH_REFUSE_REASON | code`. Any other value refuses the client
/// (0x87 Not authorized; CONNACK 0x05 for MQTT 3.1.1).
///
/// Memory and lifetimes: `info` and everything it points to are borrowed
/// and valid only during the call (strings NOT NUL-terminated: use the
/// lengths). The token may be kept.
pub type mqlite_auth_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        info: *const mqlite_connect_info,
    ) -> mqlite_auth_decision,
>;

/// Decides whether a client may publish to a topic, subscribe with a
/// filter, or receive a message. Runs on the broker thread, once per
/// delivery for `MQLITE_ACL_RECEIVE`: keep it cheap.
///
/// Parameters: `userdata` as given; `client`, who asks; `access`, one of
/// `MQLITE_ACL_*`; `topic` and `topic_len`, the topic name (or filter for
/// `MQLITE_ACL_SUBSCRIBE`), UTF-8, NOT NUL-terminated.
///
/// Returns: true to allow, false to refuse.
///
/// Memory and lifetimes: `client` and `topic` are borrowed, valid only
/// during the call.
pub type mqlite_acl_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        client: *const mqlite_client_info,
        access: mqlite_acl_access,
        topic: *const c_char,
        topic_len: usize,
    ) -> bool,
>;

/// Sees every accepted PUBLISH (from clients, wills, and the host) before
/// the retained store and the fan-out, and may pass, drop or rewrite it.
/// Runs on the broker thread.
///
/// Parameters: `userdata` as given; `origin`, the publishing client, or
/// NULL for a message published by the host; `message`, the message;
/// `rewrite`, where to put a replacement with `mqlite_message_rewrite_set()`.
///
/// Returns: one of `MQLITE_MESSAGE_*`. `MQLITE_MESSAGE_REWRITE` without a
/// successful `mqlite_message_rewrite_set()`, or any unknown value, drops
/// the message.
///
/// Memory and lifetimes: `origin`, `message` and `rewrite` are borrowed,
/// valid only during the call (strings NOT NUL-terminated).
pub type mqlite_message_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        origin: *const mqlite_client_info,
        message: *const mqlite_message,
        rewrite: *mut mqlite_message_rewrite,
    ) -> mqlite_message_decision,
>;

/// Told when a client connects, disconnects, subscribes or unsubscribes,
/// and when its queue overflows. Runs on the broker thread.
///
/// Parameters: `userdata` as given; `event`, what happened.
///
/// Memory and lifetimes: `event` and everything it points to are borrowed,
/// valid only during the call (strings NOT NUL-terminated).
pub type mqlite_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const mqlite_event)>;

/// Receives the messages of a local subscription
/// (`mqlite_broker_subscribe_local()`, `mqlite_handle_subscribe_local()`).
/// Runs on the broker thread, even for subscriptions made through a handle
/// from another thread.
///
/// Parameters: `userdata` as given; `message`, the message (QoS is the
/// lower of the published and the subscribed one; retained messages come
/// first on a new subscription, with `retain` set).
///
/// Memory and lifetimes: `message` and what it points to are borrowed,
/// valid only during the call (topic NOT NUL-terminated).
pub type mqlite_local_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, message: *const mqlite_message)>;

/// The host's `void *userdata`, carried to the broker thread.
///
/// The broker calls back on its own thread with this pointer, so the host
/// guarantees that whatever it points to may be used from that thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(*mut c_void);

// SAFETY: the pointer is never dereferenced by mqlite, only handed back to
// the host's callback; the host guarantees (as documented on every setter)
// that it may be used from the broker thread.
unsafe impl Send for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void) -> UserData {
        UserData(ptr)
    }

    /// The pointer. A method, not a field access, so closures capture the
    /// whole `Send` wrapper rather than the bare pointer.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// Where a message callback puts the message that replaces the one it was
/// given. Opaque; valid only during the callback.
pub struct mqlite_message_rewrite {
    message: Option<Message>,
    /// The expiry deadline of the message the callback was given, kept by
    /// `mqlite_message_rewrite_set_with()`.
    expires_at_ms: Option<u64>,
}

/// Sets the message that replaces the one a message callback was given;
/// the callback then returns `MQLITE_MESSAGE_REWRITE`. The replacement has
/// no MQTT 5 properties and no expiry: `mqlite_message_rewrite_set_with()`
/// gives it properties and keeps the original's expiry.
///
/// # Parameters
/// - `rewrite`: the object the callback was given.
/// - `topic`, `topic_len`: the new topic name, UTF-8, without wildcards,
///   not necessarily NUL-terminated.
/// - `payload`, `payload_len`: the new payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag.
///
/// # Returns
/// `MQLITE_OK`; `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS). On error the
/// rewrite is left as it was. Calling it again replaces the earlier one.
///
/// # Memory and lifetimes
/// Topic and payload are copied; the caller keeps ownership of its
/// buffers. `rewrite` must only be used during the callback that got it.
///
/// # Safety
/// `rewrite` is NULL or the pointer the callback was given; `topic` and
/// `payload` are NULL or point to the given number of readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_rewrite_set(
    rewrite: *mut mqlite_message_rewrite,
    topic: *const c_char,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
) -> mqlite_result {
    boundary("mqlite_message_rewrite_set", || {
        // SAFETY: NULL or the live object handed to the callback.
        let rewrite = unsafe { rewrite.as_mut() }.ok_or_else(|| Failure::null("rewrite"))?;
        // SAFETY: NULL or `topic_len` readable bytes (the caller's contract).
        let topic = unsafe { str_len(topic, topic_len, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { super::panic::bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        if !crate::topic::is_valid_topic_name(topic) {
            return Err(Failure::new(
                MQLITE_INVALID_TOPIC,
                format!("`{topic}` is not a valid topic name"),
            ));
        }
        let message = Message::new(topic, payload, qos, retain)
            .ok_or_else(|| Failure::new(MQLITE_INVALID_TOPIC, "topic longer than 65535 bytes"))?;
        rewrite.message = Some(message);
        Ok(())
    })
}

/// `mqlite_message_rewrite_set()` with MQTT 5 properties: the replacement
/// carries `properties` (MQTT 5 subscribers and local subscriptions get
/// them) and keeps the Message Expiry deadline of the message the callback
/// was given, if it had one (the `properties`' own expiry interval is not
/// used here).
///
/// # Parameters
/// - `rewrite`: the object the callback was given.
/// - `topic`, `topic_len`: the new topic name, UTF-8, without wildcards,
///   not necessarily NUL-terminated.
/// - `payload`, `payload_len`: the new payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag.
/// - `properties`: from `mqlite_properties_new()`, or NULL for none. To
///   keep the original's, copy them with the `mqlite_message_*()`
///   accessors.
///
/// # Returns
/// `MQLITE_OK`; `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS). On error the
/// rewrite is left as it was. Calling it again replaces the earlier one.
///
/// # Memory and lifetimes
/// Topic, payload and properties are copied; the caller keeps ownership
/// of its buffers and may free `properties` at once. `rewrite` must only
/// be used during the callback that got it.
///
/// # Safety
/// `rewrite` is NULL or the pointer the callback was given; `topic` and
/// `payload` are NULL or point to the given number of readable bytes;
/// `properties` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_rewrite_set_with(
    rewrite: *mut mqlite_message_rewrite,
    topic: *const c_char,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
    properties: *const mqlite_properties,
) -> mqlite_result {
    boundary("mqlite_message_rewrite_set_with", || {
        // SAFETY: NULL or the live object handed to the callback.
        let rewrite = unsafe { rewrite.as_mut() }.ok_or_else(|| Failure::null("rewrite"))?;
        // SAFETY: NULL or `topic_len` readable bytes (the caller's contract).
        let topic = unsafe { str_len(topic, topic_len, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { super::panic::bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        if !crate::topic::is_valid_topic_name(topic) {
            return Err(Failure::new(
                MQLITE_INVALID_TOPIC,
                format!("`{topic}` is not a valid topic name"),
            ));
        }
        // SAFETY: NULL or live.
        let block = match unsafe { super::properties::optional(properties) } {
            Some(properties) => {
                properties.validate()?;
                properties.to_block()
            }
            None => crate::codec::PropertiesBuilder::new(),
        };
        let message = Message::with_properties(
            topic,
            block.unchecked(),
            payload,
            qos,
            retain,
            rewrite.expires_at_ms,
        )
        .ok_or_else(|| Failure::new(MQLITE_INVALID_TOPIC, "topic longer than 65535 bytes"))?;
        rewrite.message = Some(message);
        Ok(())
    })
}

/// A C view of a CONNECT, borrowing `info` and `peer`.
fn connect_view(info: &ConnectInfo<'_>, peer: &PeerText) -> mqlite_connect_info {
    let (username, username_len) = match info.username {
        Some(name) => (name.as_ptr().cast::<c_char>(), name.len()),
        None => (std::ptr::null(), 0),
    };
    let (password, password_len) = match info.password {
        Some(bytes) => (bytes.as_ptr(), bytes.len()),
        None => (std::ptr::null(), 0),
    };
    mqlite_connect_info {
        client_id: info.client_id.as_ptr().cast::<c_char>(),
        client_id_len: info.client_id.len(),
        username,
        username_len,
        password,
        password_len,
        peer: peer.ptr(),
        peer_len: peer.len(),
        token: info.token.to_u64(),
        protocol_level: info.protocol.level(),
        clean_session: info.clean_session,
    }
}

/// A Rust authentication hook calling `callback`.
pub(crate) fn auth_hook(
    callback: unsafe extern "C" fn(*mut c_void, *const mqlite_connect_info) -> mqlite_auth_decision,
    userdata: UserData,
) -> AuthHook {
    Box::new(move |info: &ConnectInfo<'_>| {
        let peer = PeerText::new(info.peer);
        let view = connect_view(info, &peer);
        let client = ClientInfo {
            client_id: info.client_id,
            username: info.username,
            peer: info.peer,
            listener: info.listener,
        };
        let client_view = client_view(&client, &peer);
        let value = ConnectValue {
            client: &client_view,
            info,
            reply: RefCell::new(None),
        };
        let lent = [
            Lent::connect(&view, &value),
            Lent::client(&client_view, &client),
        ];
        // SAFETY: a C function pointer the host set, called with its own
        // userdata and a view that outlives the call.
        let answer = lending(&lent, || unsafe { callback(userdata.get(), &view) });
        match auth_decision_from_c(answer, value.reply.take(), true) {
            Ok(decision) => decision,
            Err(why) => {
                ::log::warn!("auth callback answered {answer}: {why}; refused");
                AuthDecision::NotAuthorized
            }
        }
    })
}

/// A Rust ACL hook calling `callback`.
pub(crate) fn acl_hook(
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const mqlite_client_info,
        mqlite_acl_access,
        *const c_char,
        usize,
    ) -> bool,
    userdata: UserData,
) -> AclHook {
    Box::new(
        move |client: &ClientInfo<'_>, access: AclAccess, topic: &str| {
            let peer = PeerText::new(client.peer);
            let view = client_view(client, &peer);
            let access = match access {
                AclAccess::Publish => MQLITE_ACL_PUBLISH,
                AclAccess::Subscribe => MQLITE_ACL_SUBSCRIBE,
                AclAccess::Receive => MQLITE_ACL_RECEIVE,
                // An access added later is refused until C can name it.
                #[allow(unreachable_patterns)]
                _ => return false,
            };
            let lent = [Lent::client(&view, client)];
            // SAFETY: the host's function pointer, with its userdata and
            // views that outlive the call.
            lending(&lent, || unsafe {
                callback(
                    userdata.get(),
                    &view,
                    access,
                    topic.as_ptr().cast::<c_char>(),
                    topic.len(),
                )
            })
        },
    )
}

/// A Rust message hook calling `callback`.
pub(crate) fn message_hook(
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const mqlite_client_info,
        *const mqlite_message,
        *mut mqlite_message_rewrite,
    ) -> mqlite_message_decision,
    userdata: UserData,
) -> MessageHook {
    Box::new(move |origin: Option<&ClientInfo<'_>>, message: &Message| {
        let peer = origin.map(|client| PeerText::new(client.peer));
        let origin_view = match (origin, &peer) {
            (Some(client), Some(peer)) => Some(client_view(client, peer)),
            _ => None,
        };
        let origin_ptr = origin_view
            .as_ref()
            .map_or(std::ptr::null(), |view| view as *const mqlite_client_info);
        let view = mqlite_message::view(message);
        let mut rewrite = mqlite_message_rewrite {
            message: None,
            expires_at_ms: message.expires_at_ms(),
        };
        let message_lent = Lent::message(&view, message);
        let with_origin;
        let without_origin;
        let lent: &[Lent] = match (origin, &origin_view) {
            (Some(client), Some(client_view)) => {
                with_origin = [message_lent, Lent::client(client_view, client)];
                &with_origin
            }
            _ => {
                without_origin = [message_lent];
                &without_origin
            }
        };
        // SAFETY: the host's function pointer, with its userdata and
        // views (and a rewrite object) that outlive the call.
        let answer = lending(lent, || unsafe {
            callback(userdata.get(), origin_ptr, &view, &mut rewrite)
        });
        match answer {
            MQLITE_MESSAGE_PASS => MessageDecision::Pass,
            MQLITE_MESSAGE_DROP => MessageDecision::Drop,
            MQLITE_MESSAGE_REWRITE => match rewrite.message {
                Some(replacement) => MessageDecision::Rewrite(replacement),
                None => {
                    ::log::warn!(
                        "message callback answered MQLITE_MESSAGE_REWRITE without \
                             mqlite_message_rewrite_set(): dropped"
                    );
                    MessageDecision::Drop
                }
            },
            other => {
                ::log::warn!(
                    "message callback answered {other}, not an MQLITE_MESSAGE_* value: dropped"
                );
                MessageDecision::Drop
            }
        }
    })
}

/// A Rust event hook calling `callback`.
pub(crate) fn event_hook(
    callback: unsafe extern "C" fn(*mut c_void, *const mqlite_event),
    userdata: UserData,
) -> EventHook {
    Box::new(move |event: &Event<'_>| {
        let client = match event {
            Event::Connected { client, .. }
            | Event::Disconnected { client, .. }
            | Event::Subscribed { client, .. }
            | Event::Unsubscribed { client, .. }
            | Event::QueueOverflow { client, .. } => client,
            // An event added later is not told to C until it has a kind.
            #[allow(unreachable_patterns)]
            _ => return,
        };
        let peer = PeerText::new(client.peer);
        let mut view = mqlite_event {
            kind: 0,
            client: client_view(client, &peer),
            protocol_level: 0,
            clean_session: false,
            session_present: false,
            qos: 0,
            reason: MQLITE_CLOSE_NONE,
            filter: std::ptr::null(),
            filter_len: 0,
        };
        match *event {
            Event::Connected {
                protocol,
                clean_session,
                session_present,
                ..
            } => {
                view.kind = MQLITE_EVENT_CONNECTED;
                view.protocol_level = protocol.level();
                view.clean_session = clean_session;
                view.session_present = session_present;
            }
            Event::Disconnected { reason, .. } => {
                view.kind = MQLITE_EVENT_DISCONNECTED;
                view.reason = close_reason_to_c(reason);
            }
            Event::Subscribed { filter, qos, .. } => {
                view.kind = MQLITE_EVENT_SUBSCRIBED;
                view.filter = filter.as_ptr().cast::<c_char>();
                view.filter_len = filter.len();
                view.qos = qos as u8;
            }
            Event::Unsubscribed { filter, .. } => {
                view.kind = MQLITE_EVENT_UNSUBSCRIBED;
                view.filter = filter.as_ptr().cast::<c_char>();
                view.filter_len = filter.len();
            }
            // The counts are read with `mqlite_event_queue_overflow()`: the
            // struct is frozen.
            Event::QueueOverflow { .. } => view.kind = MQLITE_EVENT_QUEUE_OVERFLOW,
            #[allow(unreachable_patterns)]
            _ => return,
        }
        let lent = [
            Lent::event(&view, event),
            Lent::client(&view.client, client),
        ];
        // SAFETY: the host's function pointer, with its userdata and a view
        // that outlives the call.
        lending(&lent, || unsafe { callback(userdata.get(), &view) })
    })
}

/// A Rust local-subscription callback calling `callback`.
pub(crate) fn local_callback(
    callback: unsafe extern "C" fn(*mut c_void, *const mqlite_message),
    userdata: UserData,
) -> LocalCallback {
    Box::new(move |message: &Message| {
        let view = mqlite_message::view(message);
        let lent = [Lent::message(&view, message)];
        // SAFETY: the host's function pointer, with its userdata and a view
        // that outlives the call.
        lending(&lent, || unsafe { callback(userdata.get(), &view) })
    })
}
